// Unit tests of the request-head parser and the API's JSON parsing (no sockets, no model).
#include <gtest/gtest.h>

#include "server/http_request.h"
#include "server/openai_api.h"

namespace frugal {
namespace {

TEST(HttpParse, RequestLineAndHeaders) {
  HttpRequest r;
  std::string err;
  ASSERT_EQ(
      parse_request_head(
          "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length:  12 \r\nX-Y:z", r,
          &err),
      0)
      << err;
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/chat/completions");
  EXPECT_EQ(r.target, "/v1/chat/completions?x=1");
  ASSERT_NE(r.header("content-length"), nullptr);
  EXPECT_EQ(*r.header("content-length"), "12");
  EXPECT_EQ(*r.header("x-y"), "z");
  EXPECT_EQ(r.header("missing"), nullptr);
}

TEST(HttpParse, Rejects) {
  const std::pair<const char*, int> cases[] = {
      {"GET", 400},
      {"GET /x", 400},
      {"GET x HTTP/1.1", 400},
      {"GET /x HTTP/2.0", 505},
      {"GET /x HTTP/1.1 extra", 400},
      {"G(T /x HTTP/1.1", 400},
      {"GET /x HTTP/1.1\r\nNoColon", 400},
      {"GET /x HTTP/1.1\r\n folded: x", 400},
      {"GET /x HTTP/1.1\r\n: empty-name", 400},
      {"GET /x FTP/1.1", 400},
  };
  for (const auto& [head, status] : cases) {
    HttpRequest r;
    std::string err;
    EXPECT_EQ(parse_request_head(head, r, &err), status) << head;
    EXPECT_FALSE(err.empty()) << head;
  }
}

TEST(OpenAiParse, ChatDefaultsAndFields) {
  const auto r =
      api::parse_chat_request(R"({"model":"m","messages":[{"role":"system","content":"s"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b json"}]}],
      "temperature":0.5,"top_p":0.9,"seed":7,"stop":"x","max_tokens":9,"logprobs":true,"top_logprobs":2,
      "stream":true,"stream_options":{"include_usage":true},"response_format":{"type":"json_object"},"unknown":1})");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "ab json");
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.gen.sampling.top_p, 0.9f);
  EXPECT_EQ(r.gen.sampling.seed, 7u);
  EXPECT_TRUE(r.gen.seed_given);
  EXPECT_EQ(r.gen.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r.gen.max_tokens, 9);
  EXPECT_TRUE(r.gen.logprobs);
  EXPECT_EQ(r.gen.top_logprobs, 2);
  EXPECT_TRUE(r.gen.stream && r.gen.include_usage && r.gen.json_object);
}

TEST(OpenAiParse, PrefixMessageAndNulls) {
  const auto r = api::parse_chat_request(R"({"messages":[{"role":"user","content":"q"},
      {"role":"assistant","content":"A","prefix":true,"reasoning_content":"R"}],"temperature":null,"stop":null})");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.assistant_prefix, "A");
  EXPECT_EQ(r.reasoning_prefix, "R");
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, 1.0f);  // null = default
  EXPECT_FALSE(r.gen.max_tokens.has_value());
}

TEST(OpenAiParse, ErrorsNameTheField) {
  try {
    api::parse_chat_request(R"({"messages":[{"role":"user","content":"q"}],"temperature":"x"})");
    FAIL();
  } catch (const api::ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "temperature");
    EXPECT_NE(std::string(e.what()).find("temperature"), std::string::npos);
  }
  const std::string j = api::error_json(api::invalid_request("bad", "p", "c"));
  EXPECT_EQ(j,
            R"({"error":{"code":"c","message":"bad","param":"p","type":"invalid_request_error"}})");
}

}  // namespace
}  // namespace frugal
