// The OpenAI / DeepSeek API's JSON <-> request and response structs (reference:
// ../shared/docs/reference/sampling-and-api.md §2-3). Parsing validates every field it knows
// and throws ApiError with OpenAI's error shape; unknown fields are ignored, as OpenAI-compatible
// engines usually do.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/sampler.h"
#include "tokenizer/chat_template.h"

namespace frugal::api {

// An error answered as {"error": {"message", "type", "param", "code"}}.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string type, const std::string& message, std::string param = {},
           std::string code = {})
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}
  int status;
  std::string type;   // invalid_request_error, authentication_error, not_found_error, ...
  std::string param;  // the offending field, or empty
  std::string code;   // e.g. context_length_exceeded, or empty
};

ApiError invalid_request(const std::string& message, const std::string& param = {},
                         const std::string& code = {});
// The OpenAI error type for an HTTP status.
const char* error_type_for_status(int status);
std::string error_json(const ApiError& e);

// Fields shared by chat and text completions.
struct GenerationOptions {
  std::string model;                  // empty: the served model
  std::optional<int64_t> max_tokens;  // absent: until EOS or the context end
  SamplingParams sampling;
  bool seed_given = false;
  std::vector<std::string> stop;  // at most 4
  bool logprobs = false;
  int top_logprobs = 0;  // 0..20 (chat); 0..5 for text completions' `logprobs`
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool json_object = false;    // response_format {"type": "json_object"}: constrained decoding
};

struct ChatRequest {
  GenerationOptions gen;
  std::vector<ChatMessage> messages;  // the conversation; a prefix message is not included
  std::optional<std::string> assistant_prefix;  // chat prefix completion: text to continue
  std::optional<std::string> reasoning_prefix;  // its reasoning_content (R1 thinking prefix)
};

struct CompletionRequest {
  GenerationOptions gen;
  std::string prompt;
  std::optional<std::string> suffix;  // fill-in-the-middle
  bool echo = false;
};

ChatRequest parse_chat_request(std::string_view body);
CompletionRequest parse_completion_request(std::string_view body);

// ---- responses ----

struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0, cache_hit_tokens = 0, reasoning_tokens = 0;
};
nlohmann::json usage_json(const Usage& u);

// One generated token's logprob entry (chat format).
struct TokenLogprobEntry {
  std::string token;  // the token's bytes (may be partial UTF-8; made valid for JSON)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;
};
nlohmann::json chat_logprobs_json(const std::vector<TokenLogprobEntry>& entries);
nlohmann::json completion_logprobs_json(const std::vector<TokenLogprobEntry>& entries,
                                        size_t text_offset0);

// A model id and an object envelope.
struct ResponseMeta {
  std::string id;       // chatcmpl-... / cmpl-...
  int64_t created = 0;  // unix seconds
  std::string model;
};

nlohmann::json chat_completion_json(const ResponseMeta& m, const std::string& content,
                                    const std::optional<std::string>& reasoning, const char* finish,
                                    const std::optional<nlohmann::json>& logprobs, const Usage& u);
// A streamed chunk; `delta` is {"role"?, "content"?, "reasoning_content"?}.
nlohmann::json chat_chunk_json(const ResponseMeta& m, nlohmann::json delta, const char* finish,
                               const std::optional<nlohmann::json>& logprobs);
nlohmann::json text_completion_json(const ResponseMeta& m, const std::string& text,
                                    const char* finish,
                                    const std::optional<nlohmann::json>& logprobs, const Usage& u,
                                    bool chunk);
nlohmann::json usage_chunk_json(const ResponseMeta& m, const char* object, const Usage& u);

// Compact JSON text; invalid UTF-8 in strings becomes U+FFFD instead of throwing.
std::string dump(const nlohmann::json& j);

// Text safe for JSON: invalid UTF-8 bytes become U+FFFD.
std::string valid_utf8(std::string_view bytes);

}  // namespace frugal::api
