// Continuous batching against a real `frugal serve`: concurrent greedy requests equal the same
// requests run one at a time; a full queue answers 429; a client that disconnects frees its slot;
// SIGTERM lets running requests finish and exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "server/server_harness.h"

namespace frugal::test {
namespace {

using json = nlohmann::json;

json request_body(int i, bool stream) {
  std::string user = "Question number " + std::to_string(i) + ":";
  for (int k = 0; k < i; ++k) user += " and more";  // prompts of different lengths
  return {{"messages", {{{"role", "user"}, {"content", user}}}},
          {"max_tokens", 10 + i},
          {"temperature", 0},
          {"stream", stream}};
}

// The answer's text, from a whole response or a stream.
std::string answer_text(const HttpResult& r, bool stream) {
  if (r.status != 200) return "<status " + std::to_string(r.status) + ": " + r.body + ">";
  if (!stream) return json::parse(r.body)["choices"][0]["message"]["content"];
  std::string text;
  for (const std::string& d : sse_data(r.body)) {
    if (d == "[DONE]") break;
    const json ch = json::parse(d);
    if (!ch["choices"].empty() && ch["choices"][0]["delta"].contains("content"))
      text += ch["choices"][0]["delta"]["content"].get<std::string>();
  }
  return text;
}

// /health's {active, waiting}; {-1, -1} when it does not answer.
std::pair<int, int> load_of(int port) {
  const HttpResult h = http_request(port, "GET", "/health", "", {}, 5000);
  if (h.status != 200) return {-1, -1};
  const json j = json::parse(h.body);
  return {j["active"].get<int>(), j["waiting"].get<int>()};
}

// Polls /health until it reports `active` running and `waiting` queued, at most timeout_ms.
bool wait_load(int port, int active, int waiting, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (load_of(port) == std::make_pair(active, waiting)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string long_stream_request(int max_tokens) {
  const std::string body = json{
      {"messages", {{{"role", "user"}, {"content", "go on forever"}}}},
      {"max_tokens", max_tokens},
      {"temperature", 0},
      {"stream", true}}.dump();
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(ServerConcurrency, ConcurrentGreedyEqualsSequential) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ServerProcess server(model, {"--parallel", "4", "--ctx", "512"});
  ASSERT_TRUE(server.ok()) << server.log();
  constexpr int kN = 8;
  std::vector<std::string> alone(kN), together(kN);
  for (int i = 0; i < kN; ++i)
    alone[i] = answer_text(
        http_request(server.port(), "POST", "/v1/chat/completions", request_body(i, false).dump()),
        false);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] {
      const bool stream = i % 2 == 1;
      together[i] = answer_text(http_request(server.port(), "POST", "/v1/chat/completions",
                                             request_body(i, stream).dump(), {}, 60000),
                                stream);
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kN; ++i) EXPECT_EQ(together[i], alone[i]) << "request " << i;
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(ServerConcurrency, FullQueueAnswers429AndDisconnectFreesTheSlot) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ServerProcess server(model, {"--parallel", "1", "--queue", "0", "--ctx", "2048"});
  ASSERT_TRUE(server.ok()) << server.log();
  const int fd = open_connection(server.port(), long_stream_request(1900));
  ASSERT_GE(fd, 0);
  std::string got;
  // The stream began: its first chunk (the role) is sent once the request is submitted, before
  // any token is generated.
  ASSERT_TRUE(read_until(fd, "\"role\":\"assistant\"", &got, 30000)) << got;
  // The stream holds the only slot from the moment it began (it was admitted at submission, not
  // left queued for the engine thread to pick up later).
  EXPECT_EQ(load_of(server.port()), std::make_pair(1, 0));
  EXPECT_GT(metric_value(server.port(), "frugal_kv_cache_reserved_tokens"), 1900);
  const HttpResult busy =
      http_request(server.port(), "POST", "/v1/chat/completions", request_body(0, false).dump());
  EXPECT_EQ(busy.status, 429) << busy.body;
  EXPECT_NE(busy.body.find("rate_limit_error"), std::string::npos);
  EXPECT_NE(busy.body.find("1 running and 0 queued"), std::string::npos) << busy.body;
  ::close(fd);  // the client goes away mid-stream
  // Nothing running and nothing queued: what /health reports is what admission checks.
  EXPECT_TRUE(wait_load(server.port(), 0, 0, 5000)) << "the slot was not freed";
  // Its KV blocks are no longer reserved (what it computed stays in the prefix cache).
  EXPECT_EQ(metric_value(server.port(), "frugal_kv_cache_reserved_tokens"), 0);
  EXPECT_GT(metric_value(server.port(), "frugal_prefix_cache_tokens"), 0);
  const HttpResult next =
      http_request(server.port(), "POST", "/v1/chat/completions", request_body(1, false).dump());
  EXPECT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

// Resident memory of a process in KiB (Linux), or -1.
long rss_kib(int pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  std::fclose(f);
  return kib;
}

// A bounded soak: 16 clients x 200 requests (streaming and not, two rounds of 100 each) all
// answered 200 on a server with 4 slots and a queue of 16; resident memory stays flat between
// the rounds.
TEST(ServerConcurrency, SoakAllAnsweredMemoryFlat) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ServerProcess server(model, {"--parallel", "4", "--queue", "16", "--ctx", "256"});
  ASSERT_TRUE(server.ok()) << server.log();
  constexpr int kPerRound = 100;
  auto round = [&] {
    std::atomic<int> n_ok{0}, n_other{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 16; ++c)
      clients.emplace_back([&, c] {
        for (int k = 0; k < kPerRound; ++k) {
          json body = request_body((c + k) % 5, (c + k) % 2 == 0);
          body["max_tokens"] = 3;
          const HttpResult r =
              http_request(server.port(), "POST", "/v1/chat/completions", body.dump(), {}, 60000);
          (r.status == 200 ? n_ok : n_other).fetch_add(1);
        }
      });
    for (auto& t : clients) t.join();
    EXPECT_EQ(n_ok.load(), 16 * kPerRound);
    EXPECT_EQ(n_other.load(), 0);
  };
  round();
  const long rss1 = rss_kib(server.pid());
  round();
  const long rss2 = rss_kib(server.pid());
  ASSERT_GT(rss1, 0);
  EXPECT_LT(rss2 - rss1, 16 * 1024) << "RSS grew from " << rss1 << " to " << rss2 << " KiB";
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(ServerConcurrency, SigtermFinishesRunningRequestsAndExitsZero) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ServerProcess server(model, {"--parallel", "2", "--ctx", "512"});
  ASSERT_TRUE(server.ok()) << server.log();
  const int port = server.port();
  const int fd = open_connection(port, long_stream_request(40));
  ASSERT_GE(fd, 0);
  std::string got;
  ASSERT_TRUE(read_until(fd, "\"delta\":{\"content\"", &got, 30000)) << got;
  std::thread stopper([&] { EXPECT_EQ(server.stop(SIGTERM, 60000), 0) << server.log(); });
  EXPECT_TRUE(read_until(fd, "data: [DONE]", &got, 60000)) << "the running stream was not finished";
  EXPECT_NE(got.find("\"finish_reason\":\"length\""), std::string::npos);
  ::close(fd);
  stopper.join();
  EXPECT_EQ(http_request(port, "GET", "/health", "", {}, 2000).status, 0);  // no longer listening
}

}  // namespace
}  // namespace frugal::test
