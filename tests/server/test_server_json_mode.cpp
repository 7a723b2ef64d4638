// response_format {"type": "json_object"} over HTTP on the tiny random-weight model: answers,
// streamed or not, are one JSON object (finish_reason "stop") or, cut by max_tokens ("length"),
// a prefix of one; R1-style prompts skip the reasoning block; prefix completion is refused.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "runtime/json_grammar.h"
#include "server/server_harness.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace frugal::test {
namespace {

using json = nlohmann::json;

// Token ids as logit_bias keys: structure made likely, so that random weights close objects.
json structural_bias(float bias) {
  const Tokenizer tok = Tokenizer::from_hf(shared_data_dir() + "/tokenizer/deepseek-v3");
  json b = json::object();
  for (const char* t : {"\"", "}", "]", ",", ":", "1", "true", "[", "{", "\":"}) {
    const auto ids = tok.encode(t, {.add_bos = false});
    if (ids.size() == 1) b[std::to_string(ids[0])] = bias;
  }
  return b;
}

json json_chat(int max_tokens, int seed, float bias) {
  return {{"messages", {{{"role", "user"}, {"content", "Reply with a JSON object about fruit."}}}},
          {"max_tokens", max_tokens},
          {"temperature", 1},
          {"seed", seed},
          {"logit_bias", structural_bias(bias)},
          {"response_format", {{"type", "json_object"}}}};
}

// One object when finished by "stop"; a prefix of one when cut by max_tokens.
void check_answer(const std::string& content, const std::string& finish, int n_completion,
                  int max_tokens) {
  if (finish == "stop") {
    ASSERT_TRUE(json::accept(content)) << content;
    EXPECT_TRUE(json::parse(content).is_object()) << content;
    return;
  }
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(n_completion, max_tokens);
  JsonGrammar g;
  EXPECT_TRUE(g.feed_all(content)) << content;
}

class ServerJsonMode : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--parallel", "2", "--ctx", "512"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>(model_, args);
    ASSERT_TRUE(server_->ok()) << server_->log();
  }
  json post(const json& body, int expected_status = 200) {
    const HttpResult r =
        http_request(server_->port(), "POST", "/v1/chat/completions", body.dump(), {}, 120000);
    EXPECT_EQ(r.status, expected_status) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  void SetUp() override {
    model_ = tiny_model();
    if (model_.empty()) GTEST_SKIP() << "../shared/data/tokenizer/deepseek-v3 is absent";
  }
  std::string model_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServerJsonMode, AnswersAreJsonObjects) {
  start();
  int n_stop = 0;
  for (int seed = 1; seed <= 6; ++seed) {
    const json j = post(json_chat(120, seed, 7.0f));
    const std::string content = j["choices"][0]["message"]["content"];
    const std::string finish = j["choices"][0]["finish_reason"];
    check_answer(content, finish, j["usage"]["completion_tokens"], 120);
    n_stop += finish == "stop";
  }
  // Random weights: how many close within 120 tokens depends on the model and cache type; at
  // least one must, so the close -> finish "stop" path is exercised.
  EXPECT_GE(n_stop, 1);
  // Unbiased and short: cut by max_tokens, still a prefix of an object.
  const json cut = post(json_chat(5, 1, 0.0f));
  check_answer(cut["choices"][0]["message"]["content"], cut["choices"][0]["finish_reason"],
               cut["usage"]["completion_tokens"], 5);
}

TEST_F(ServerJsonMode, StreamedAnswerEqualsTheWholeOne) {
  start();
  json body = json_chat(120, 3, 7.0f);
  const json whole = post(body);
  body["stream"] = true;
  const HttpResult r =
      http_request(server_->port(), "POST", "/v1/chat/completions", body.dump(), {}, 120000);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string content, finish;
  for (const std::string& d : sse_data(r.body)) {
    if (d == "[DONE]") break;
    const json ch = json::parse(d);
    if (ch["choices"].empty()) continue;
    const json& c = ch["choices"][0];
    if (c["delta"].contains("content")) content += c["delta"]["content"].get<std::string>();
    if (c["finish_reason"].is_string()) finish = c["finish_reason"];
  }
  EXPECT_EQ(content, whole["choices"][0]["message"]["content"]);
  EXPECT_EQ(finish, whole["choices"][0]["finish_reason"]);
}

TEST_F(ServerJsonMode, ReasoningTemplateAnswersWithoutThinking) {
  start({"--chat-template", "deepseek-r1"});
  const json j = post(json_chat(120, 2, 7.0f));
  const json& msg = j["choices"][0]["message"];
  EXPECT_EQ(msg.value("reasoning_content", ""), "");
  check_answer(msg["content"], j["choices"][0]["finish_reason"], j["usage"]["completion_tokens"],
               120);
}

TEST_F(ServerJsonMode, PrefixCompletionIsRefused) {
  start();
  json body = json_chat(8, 1, 0.0f);
  body["messages"].push_back({{"role", "assistant"}, {"content", "{"}, {"prefix", true}});
  const json j = post(body, 400);
  EXPECT_EQ(j["error"]["param"], "response_format") << j.dump();
}

}  // namespace
}  // namespace frugal::test
