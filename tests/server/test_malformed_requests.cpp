// A table of malformed requests sent to a real `frugal serve`; each must get its status and
// OpenAI error type, and the server must keep answering afterwards.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "server/server_harness.h"

namespace frugal::test {
namespace {

constexpr const char* kKey = "test-key-123";
const std::string kAuth = std::string("Authorization: Bearer ") + kKey;

struct BadCase {
  const char* name;
  const char* method;
  const char* path;
  std::string body;
  int status;
  const char* type;  // expected error.type
  std::vector<std::string> headers = {kAuth};
};

std::string chat(const std::string& extra) {
  return R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":2)" +
         (extra.empty() ? "" : "," + extra) + "}";
}

// About 6000 tokens; the test server's context is 1024.
std::string long_prompt_chat() {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += " word" + std::to_string(i);
  return R"({"messages":[{"role":"user","content":")" + text + R"("}]})";
}

std::vector<BadCase> bad_cases() {
  const char* inv = "invalid_request_error";
  const char* C = "/v1/chat/completions";
  const char* T = "/v1/completions";
  return {
      {"not_json", "POST", C, "{messages: [}", 400, inv},
      {"empty_body", "POST", C, "", 400, inv},
      {"json_array", "POST", C, "[1,2]", 400, inv},
      {"json_string", "POST", C, "\"hello\"", 400, inv},
      {"truncated_json", "POST", C, R"({"messages":[{"role":"user","content":"hi"})", 400, inv},
      {"invalid_utf8", "POST", C, "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}",
       400, inv},
      {"missing_messages", "POST", C, R"({"max_tokens":2})", 400, inv},
      {"messages_not_array", "POST", C, R"({"messages":"hi"})", 400, inv},
      {"empty_messages", "POST", C, R"({"messages":[]})", 400, inv},
      {"message_not_object", "POST", C, R"({"messages":["hi"]})", 400, inv},
      {"missing_role", "POST", C, R"({"messages":[{"content":"hi"}]})", 400, inv},
      {"role_not_string", "POST", C, R"({"messages":[{"role":5,"content":"hi"}]})", 400, inv},
      {"unknown_role", "POST", C, R"({"messages":[{"role":"wizard","content":"hi"}]})", 400, inv},
      {"tool_role", "POST", C, R"({"messages":[{"role":"tool","content":"hi"}]})", 400, inv},
      {"content_number", "POST", C, R"({"messages":[{"role":"user","content":42}]})", 400, inv},
      {"content_image_part", "POST", C,
       R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
       400, inv},
      {"content_part_no_text", "POST", C,
       R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})", 400, inv},
      {"temperature_string", "POST", C, chat(R"("temperature":"hot")"), 400, inv},
      {"temperature_negative", "POST", C, chat(R"("temperature":-0.5)"), 400, inv},
      {"temperature_too_high", "POST", C, chat(R"("temperature":2.5)"), 400, inv},
      {"top_p_zero", "POST", C, chat(R"("top_p":0)"), 400, inv},
      {"top_p_too_high", "POST", C, chat(R"("top_p":1.5)"), 400, inv},
      {"max_tokens_zero", "POST", C, chat(R"("max_tokens":0)"), 400, inv},
      {"max_tokens_negative", "POST", C,
       R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":-5})", 400, inv},
      {"max_tokens_string", "POST", C,
       R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":"10"})", 400, inv},
      {"max_tokens_fraction", "POST", C,
       R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":1.5})", 400, inv},
      {"stop_number", "POST", C, chat(R"("stop":7)"), 400, inv},
      {"too_many_stops", "POST", C, chat(R"("stop":["a","b","c","d","e"])"), 400, inv},
      {"stop_array_number", "POST", C, chat(R"("stop":["a",1])"), 400, inv},
      {"frequency_penalty_high", "POST", C, chat(R"("frequency_penalty":3)"), 400, inv},
      {"presence_penalty_low", "POST", C, chat(R"("presence_penalty":-2.5)"), 400, inv},
      {"logprobs_string", "POST", C, chat(R"("logprobs":"yes")"), 400, inv},
      {"top_logprobs_without_logprobs", "POST", C, chat(R"("top_logprobs":3)"), 400, inv},
      {"top_logprobs_too_many", "POST", C, chat(R"("logprobs":true,"top_logprobs":21)"), 400, inv},
      {"n_two", "POST", C, chat(R"("n":2)"), 400, inv},
      {"stream_string", "POST", C, chat(R"("stream":"yes")"), 400, inv},
      {"stream_options_not_object", "POST", C, chat(R"("stream":true,"stream_options":true)"), 400,
       inv},
      {"response_format_xml", "POST", C, chat(R"("response_format":{"type":"xml"})"), 400, inv},
      {"json_mode_without_json_in_prompt", "POST", C,
       chat(R"("response_format":{"type":"json_object"})"), 400, inv},
      {"response_format_string", "POST", C, chat(R"("response_format":"json")"), 400, inv},
      {"seed_string", "POST", C, chat(R"("seed":"abc")"), 400, inv},
      {"logit_bias_bad_key", "POST", C, chat(R"("logit_bias":{"abc":1})"), 400, inv},
      {"logit_bias_out_of_range", "POST", C, chat(R"("logit_bias":{"5":101})"), 400, inv},
      {"tools_unsupported", "POST", C,
       chat(R"("tools":[{"type":"function","function":{"name":"f"}}])"), 400, inv},
      {"prefix_not_last", "POST", C,
       R"({"messages":[{"role":"assistant","content":"a","prefix":true},{"role":"user","content":"hi"}]})",
       400, inv},
      {"prefix_on_user", "POST", C,
       R"({"messages":[{"role":"user","content":"hi","prefix":true}]})", 400, inv},
      {"prompt_longer_than_context", "POST", C, long_prompt_chat(), 400, inv},
      {"unknown_model", "POST", C, chat(R"("model":"gpt-17")"), 404, inv},
      {"completion_missing_prompt", "POST", T, R"({"max_tokens":2})", 400, inv},
      {"completion_prompt_number", "POST", T, R"({"prompt":12})", 400, inv},
      {"completion_logprobs_too_many", "POST", T, R"({"prompt":"a","logprobs":6})", 400, inv},
      {"completion_best_of", "POST", T, R"({"prompt":"a","best_of":3})", 400, inv},
      {"get_on_chat", "GET", C, "", 405, inv},
      {"delete_models", "DELETE", "/v1/models", "", 405, inv},
      {"post_health", "POST", "/health", "{}", 405, inv},
      {"unknown_path", "GET", "/v1/engines", "", 404, inv},
      {"unknown_model_path", "GET", "/v1/models/nope", "", 404, inv},
      {"missing_auth", "POST", C, chat(""), 401, "authentication_error", {}},
      {"wrong_key",
       "POST",
       C,
       chat(""),
       401,
       "authentication_error",
       {"Authorization: Bearer wrong-key-123"}},
      {"not_bearer",
       "POST",
       C,
       chat(""),
       401,
       "authentication_error",
       {std::string("Authorization: Basic ") + kKey}},
      {"key_prefix_only",
       "POST",
       C,
       chat(""),
       401,
       "authentication_error",
       {"Authorization: Bearer test-key"}},
      {"models_without_auth", "GET", "/v1/models", "", 401, "authentication_error", {}},
  };
}

class MalformedRequests : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string& model = tiny_model();
    if (model.empty()) return;
    server_ = std::make_unique<ServerProcess>(
        model, std::vector<std::string>{"--api-key", kKey, "--ctx", "1024", "--model-id", "tiny"});
  }
  static void TearDownTestSuite() { server_.reset(); }
  static std::unique_ptr<ServerProcess> server_;
};
std::unique_ptr<ServerProcess> MalformedRequests::server_;

void expect_error(const HttpResult& r, int status, const std::string& type,
                  const std::string& what) {
  ASSERT_EQ(r.status, status) << what << ": " << r.body;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << what << ": " << r.body;
  const auto& e = j["error"];
  EXPECT_EQ(e.value("type", ""), type) << what;
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << what;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << what;
}

TEST_F(MalformedRequests, TableOfBadRequests) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ASSERT_TRUE(server_ && server_->ok()) << server_->log();
  const auto cases = bad_cases();
  ASSERT_GE(cases.size(), 40u);
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    expect_error(http_request(server_->port(), c.method, c.path, c.body, c.headers), c.status,
                 c.type, c.name);
  }
  // Still healthy, and a good request still works.
  EXPECT_EQ(http_request(server_->port(), "GET", "/health").status, 200);
  EXPECT_EQ(http_request(server_->port(), "POST", "/v1/chat/completions",
                         chat(R"("temperature":0)"), {kAuth})
                .status,
            200);
}

TEST_F(MalformedRequests, ProtocolErrors) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ASSERT_TRUE(server_ && server_->ok());
  const int port = server_->port();
  const std::string big(9u << 20, 'a');  // over the 8 MiB default
  expect_error(http_request(port, "POST", "/v1/chat/completions", big, {kAuth}), 413,
               "invalid_request_error", "body over limit");
  expect_error(http_raw(port, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n"), 411,
               "invalid_request_error", "no Content-Length");
  expect_error(http_raw(port,
                        "POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: "
                        "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
               411, "invalid_request_error", "chunked body");
  expect_error(http_raw(port, "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
               400, "invalid_request_error", "bad Content-Length");
  expect_error(http_raw(port, "GARBAGE\r\n\r\n"), 400, "invalid_request_error", "bad request line");
  expect_error(http_raw(port, "GET /health HTTP/9.9\r\n\r\n"), 505, "server_error", "bad version");
  expect_error(http_raw(port, "GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n"), 400,
               "invalid_request_error", "bad header");
  expect_error(
      http_raw(port, "GET /health HTTP/1.1\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n"), 431,
      "invalid_request_error", "headers too large");
  EXPECT_EQ(http_request(port, "GET", "/health").status, 200);
}

TEST_F(MalformedRequests, ExpectContinueAndJsonMode) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ASSERT_TRUE(server_ && server_->ok());
  const std::string body =
      R"({"messages":[{"role":"user","content":"Answer in JSON"}],"max_tokens":2,)"
      R"("response_format":{"type":"json_object"}})";
  const int fd =
      open_connection(server_->port(), "POST /v1/chat/completions HTTP/1.1\r\n" + kAuth +
                                           "\r\nExpect: 100-continue\r\nContent-Length: " +
                                           std::to_string(body.size()) + "\r\n\r\n");
  ASSERT_GE(fd, 0);
  std::string got;
  ASSERT_TRUE(read_until(fd, "HTTP/1.1 100 Continue\r\n\r\n", &got, 10000)) << got;
  ASSERT_EQ(::send(fd, body.data(), body.size(), MSG_NOSIGNAL), static_cast<ssize_t>(body.size()));
  EXPECT_TRUE(read_until(fd, "\"chat.completion\"", &got, 30000)) << got;
  EXPECT_NE(got.find("HTTP/1.1 200 OK"), std::string::npos) << got;
  ::close(fd);
}

TEST(ServerAuth, ApiKeyFromEnvironment) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ::setenv("FRUGAL_API_KEY", "env-key-456", 1);
  ServerProcess server(model, {"--ctx", "256"});
  ::unsetenv("FRUGAL_API_KEY");
  ASSERT_TRUE(server.ok()) << server.log();
  EXPECT_EQ(http_request(server.port(), "GET", "/v1/models").status, 401);
  EXPECT_EQ(
      http_request(server.port(), "GET", "/v1/models", "", {"Authorization: Bearer env-key-456"})
          .status,
      200);
  EXPECT_EQ(http_request(server.port(), "GET", "/health").status, 200);  // health needs no key
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST_F(MalformedRequests, KeepAliveServesSeveralRequests) {
  FRUGAL_REQUIRE_TINY_MODEL(model);
  ASSERT_TRUE(server_ && server_->ok());
  // Two pipelined requests on one connection; the second closes it.
  const std::string raw = "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\n" +
                          kAuth + "\r\nConnection: close\r\n\r\n";
  const HttpResult r = http_raw(server_->port(), raw, 30000, /*until_close=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"object\":\"list\""), std::string::npos)
      << r.body;  // both answers arrived
}

}  // namespace
}  // namespace frugal::test
