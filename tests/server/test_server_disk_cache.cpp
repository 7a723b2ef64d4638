// The prefix cache's disk tier (--cache-dir) through `frugal serve` on the tiny model: blocks
// saved by one server process are loaded by the next (>= 1K prompt_cache_hit_tokens for a shared
// 1K-token prefix, the same answer as without any cache, hits in /metrics), and corrupt or
// truncated files are ignored with a warning while the request is still answered correctly.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "server/server_harness.h"
#include "test_util.h"

namespace frugal::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string long_system_prompt() {
  std::string system = "Rules:";
  for (int i = 0; i < 600; ++i) system += " rule" + std::to_string(i);
  return system;
}

json ask(const ServerProcess& server, const std::string& question) {
  const json body = {{"messages",
                      {{{"role", "system"}, {"content", long_system_prompt()}},
                       {{"role", "user"}, {"content", question}}}},
                     {"max_tokens", 8},
                     {"temperature", 0}};
  const HttpResult r =
      http_request(server.port(), "POST", "/v1/chat/completions", body.dump(), {}, 120000);
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body, nullptr, false);
}

double metric(const ServerProcess& server, const std::string& name) {
  return metric_value(server.port(), name);
}

std::vector<std::string> args_with(const std::string& dir) {
  std::vector<std::string> a = {"--parallel", "1", "--ctx", "2048"};
  if (!dir.empty()) a.insert(a.end(), {"--cache-dir", dir});
  return a;
}

// "Question B" answered with nothing cached anywhere.
const json& cold_answer(const std::string& model) {
  static const json answer = [&] {
    ServerProcess server(model, args_with(""));
    EXPECT_TRUE(server.ok()) << server.log();
    return ask(server, "Question B");
  }();
  return answer;
}

std::string fresh_dir(const std::string& name) {
  const std::string dir = temp_dir() + "/" + name;
  fs::remove_all(dir);
  return dir;
}

// Server 1 answers "Question A" and stops; its blocks stay in `dir`.
void fill_cache(const std::string& model, const std::string& dir) {
  ServerProcess server(model, args_with(dir));
  ASSERT_TRUE(server.ok()) << server.log();
  ask(server, "Question A");
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
  int n_files = 0;
  for (const auto& e : fs::directory_iterator(dir)) n_files += e.path().extension() == ".kv";
  EXPECT_GE(n_files, 4) << "1K shared tokens make at least 4 blocks of 256";
}

TEST(ServerDiskCache, SurvivesARestart) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  const json& cold = cold_answer(model);
  ASSERT_GT(cold["usage"]["prompt_tokens"].get<int>(), 1024);
  const std::string dir = fresh_dir("kv-restart");
  fill_cache(model, dir);
  ServerProcess server(model, args_with(dir));
  ASSERT_TRUE(server.ok()) << server.log();
  const json warm = ask(server, "Question B");
  EXPECT_GE(warm["usage"]["prompt_cache_hit_tokens"].get<int>(), 1024);
  EXPECT_EQ(warm["choices"][0]["message"]["content"], cold["choices"][0]["message"]["content"]);
  EXPECT_GE(metric(server, "frugal_prompt_cache_disk_hit_tokens_total"), 1024);
  EXPECT_GE(metric(server, "frugal_prompt_cache_hit_tokens_total"), 1024);
  EXPECT_EQ(metric(server, "frugal_prompt_cache_disk_errors_total"), 0);
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(ServerDiskCache, CorruptFilesAreIgnoredWithAWarning) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  const json& cold = cold_answer(model);
  const std::string dir = fresh_dir("kv-corrupt");
  fill_cache(model, dir);
  int i = 0;
  for (const auto& e : fs::directory_iterator(dir)) {  // every block damaged, two ways
    const std::string path = e.path().string();
    if (i++ % 2 == 0) {
      fs::resize_file(path, fs::file_size(path) / 2);
    } else {
      const auto at = static_cast<std::streamoff>(fs::file_size(path) - 100);
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(at);
      const char c = static_cast<char>(f.get());
      f.seekp(at);
      f.put(static_cast<char>(c ^ 0x5A));
    }
  }
  ServerProcess server(model, args_with(dir));
  ASSERT_TRUE(server.ok()) << server.log();
  const json j = ask(server, "Question B");
  EXPECT_EQ(j["choices"][0]["message"]["content"], cold["choices"][0]["message"]["content"]);
  EXPECT_LT(j["usage"]["prompt_cache_hit_tokens"].get<int>(), 256);
  EXPECT_GE(metric(server, "frugal_prompt_cache_disk_errors_total"), 1);
  EXPECT_EQ(server.stop(SIGTERM), 0);
  EXPECT_NE(server.log().find("warning: prompt cache: ignoring"), std::string::npos)
      << server.log();
}

TEST(ServerDiskCache, BadDirectoryIsAnError) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  const std::string file = temp_dir() + "/not-a-dir";
  std::ofstream(file) << "x";
  ServerProcess server(model, args_with(file + "/sub"));
  EXPECT_FALSE(server.ok());
  server.stop(SIGKILL);
  EXPECT_NE(server.log().find("--cache-dir"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace frugal::test
