// Response JSON of the OpenAI / DeepSeek API (declared in openai_api.h).
#include "server/openai_api.h"

namespace frugal::api {

using json = nlohmann::json;

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_cache_hit_tokens", u.cache_hit_tokens},
          {"prompt_cache_miss_tokens", u.prompt_tokens - u.cache_hit_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cache_hit_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", u.reasoning_tokens}}}};
}

static json bytes_json(const std::string& token) {
  json b = json::array();
  for (unsigned char c : token) b.push_back(static_cast<int>(c));
  return b;
}

json chat_logprobs_json(const std::vector<TokenLogprobEntry>& entries) {
  json content = json::array();
  for (const auto& e : entries) {
    json top = json::array();
    for (const auto& [tok, lp] : e.top)
      top.push_back({{"token", valid_utf8(tok)}, {"logprob", lp}, {"bytes", bytes_json(tok)}});
    content.push_back({{"token", valid_utf8(e.token)},
                       {"logprob", e.logprob},
                       {"bytes", bytes_json(e.token)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json completion_logprobs_json(const std::vector<TokenLogprobEntry>& entries, size_t text_offset0) {
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(),
       offsets = json::array();
  size_t offset = text_offset0;
  for (const auto& e : entries) {
    tokens.push_back(valid_utf8(e.token));
    token_logprobs.push_back(e.logprob);
    json alt = json::object();
    for (const auto& [tok, lp] : e.top) alt[valid_utf8(tok)] = lp;
    top.push_back(alt);
    offsets.push_back(offset);
    offset += e.token.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", token_logprobs},
          {"top_logprobs", top},
          {"text_offset", offsets}};
}

static json envelope(const ResponseMeta& m, const char* object) {
  return {{"id", m.id},
          {"object", object},
          {"created", m.created},
          {"model", m.model},
          {"system_fingerprint", "fp_frugal"}};
}

static json finish_json(const char* finish) {
  return finish ? json(finish) : json(nullptr);
}

json chat_completion_json(const ResponseMeta& m, const std::string& content,
                          const std::optional<std::string>& reasoning, const char* finish,
                          const std::optional<json>& logprobs, const Usage& u) {
  json message = {{"role", "assistant"}, {"content", content}};
  if (reasoning) message["reasoning_content"] = *reasoning;
  json choice = {{"index", 0},
                 {"message", message},
                 {"logprobs", logprobs ? *logprobs : json(nullptr)},
                 {"finish_reason", finish_json(finish)}};
  json out = envelope(m, "chat.completion");
  out["choices"] = json::array({choice});
  out["usage"] = usage_json(u);
  return out;
}

json chat_chunk_json(const ResponseMeta& m, json delta, const char* finish,
                     const std::optional<json>& logprobs) {
  json choice = {{"index", 0},
                 {"delta", std::move(delta)},
                 {"logprobs", logprobs ? *logprobs : json(nullptr)},
                 {"finish_reason", finish_json(finish)}};
  json out = envelope(m, "chat.completion.chunk");
  out["choices"] = json::array({choice});
  return out;
}

json text_completion_json(const ResponseMeta& m, const std::string& text, const char* finish,
                          const std::optional<json>& logprobs, const Usage& u, bool chunk) {
  json choice = {{"index", 0},
                 {"text", text},
                 {"logprobs", logprobs ? *logprobs : json(nullptr)},
                 {"finish_reason", finish_json(finish)}};
  json out = envelope(m, "text_completion");
  out["choices"] = json::array({choice});
  if (!chunk) out["usage"] = usage_json(u);
  return out;
}

json usage_chunk_json(const ResponseMeta& m, const char* object, const Usage& u) {
  json out = envelope(m, object);
  out["choices"] = json::array();
  out["usage"] = usage_json(u);
  return out;
}

}  // namespace frugal::api
