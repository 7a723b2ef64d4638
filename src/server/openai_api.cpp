#include "server/openai_api.h"

#include <cctype>
#include <cmath>

#include "tokenizer/utf8.h"

namespace frugal::api {
namespace {

using json = nlohmann::json;

json parse_object(std::string_view body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    throw invalid_request(std::string("the request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object())
    throw invalid_request("the request body must be a JSON object, found " +
                          std::string(j.type_name()));
  return j;
}

// The field, or nullptr when absent or null (OpenAI treats null as "not given").
const json* field(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string type_error(const char* key, const char* expected, const json& v) {
  return std::string("'") + key + "' must be " + expected + ", found " + v.type_name();
}

std::optional<double> get_number(const json& j, const char* key, double lo, double hi) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw invalid_request(type_error(key, "a number", *v), key);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw invalid_request("'" + std::string(key) + "' must be between " + json(lo).dump() +
                              " and " + json(hi).dump() + ", found " + v->dump(),
                          key);
  return x;
}

std::optional<int64_t> get_int(const json& j, const char* key, int64_t lo, int64_t hi) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw invalid_request(type_error(key, "an integer", *v), key);
  const int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)
                        ? INT64_MAX
                        : v->get<int64_t>();
  if (x < lo || x > hi)
    throw invalid_request("'" + std::string(key) + "' must be between " + std::to_string(lo) +
                              " and " + std::to_string(hi) + ", found " + v->dump(),
                          key);
  return x;
}

std::optional<bool> get_bool(const json& j, const char* key) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw invalid_request(type_error(key, "a boolean", *v), key);
  return v->get<bool>();
}

std::optional<std::string> get_string(const json& j, const char* key) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw invalid_request(type_error(key, "a string", *v), key);
  return v->get<std::string>();
}

std::vector<std::string> parse_stop(const json& j) {
  const json* v = field(j, "stop");
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array())
    throw invalid_request(type_error("stop", "a string or an array of strings", *v), "stop");
  if (v->size() > 4)
    throw invalid_request("'stop' holds at most 4 strings, found " + std::to_string(v->size()),
                          "stop");
  std::vector<std::string> out;
  for (const json& s : *v) {
    if (!s.is_string()) throw invalid_request(type_error("stop[]", "a string", s), "stop");
    out.push_back(s.get<std::string>());
  }
  return out;
}

void parse_logit_bias(const json& j, SamplingParams& p) {
  const json* v = field(j, "logit_bias");
  if (!v) return;
  if (!v->is_object())
    throw invalid_request(type_error("logit_bias", "an object", *v), "logit_bias");
  for (const auto& [key, bias] : v->items()) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (...) {
    }
    if (used != key.size() || id < 0 || id > INT32_MAX)
      throw invalid_request("'logit_bias' keys must be token ids, found '" + key + "'",
                            "logit_bias");
    if (!bias.is_number() || bias.get<double>() < -100 || bias.get<double>() > 100)
      throw invalid_request("'logit_bias' values must be numbers between -100 and 100",
                            "logit_bias");
    p.logit_bias[static_cast<int32_t>(id)] = bias.get<float>();
  }
}

void parse_response_format(const json& j, GenerationOptions& g) {
  const json* v = field(j, "response_format");
  if (!v) return;
  if (!v->is_object())
    throw invalid_request(type_error("response_format", "an object", *v), "response_format");
  const auto type = get_string(*v, "type");
  if (!type || (*type != "text" && *type != "json_object"))
    throw invalid_request("'response_format.type' must be \"text\" or \"json_object\"",
                          "response_format");
  g.json_object = *type == "json_object";
}

// Fields common to both endpoints (chat's logprobs are parsed by the caller).
GenerationOptions parse_common(const json& j) {
  GenerationOptions g;
  g.model = get_string(j, "model").value_or("");
  auto max_tokens = get_int(j, "max_completion_tokens", 1, INT32_MAX);
  if (!max_tokens) max_tokens = get_int(j, "max_tokens", 1, INT32_MAX);
  g.max_tokens = max_tokens;
  SamplingParams& p = g.sampling;
  p.temperature = static_cast<float>(get_number(j, "temperature", 0, 2).value_or(1.0));
  p.top_p = static_cast<float>(get_number(j, "top_p", 0, 1).value_or(1.0));
  if (p.top_p <= 0) throw invalid_request("'top_p' must be greater than 0 and at most 1", "top_p");
  p.top_k = static_cast<int32_t>(get_int(j, "top_k", 0, INT32_MAX).value_or(0));
  p.min_p = static_cast<float>(get_number(j, "min_p", 0, 1).value_or(0.0));
  p.presence_penalty = static_cast<float>(get_number(j, "presence_penalty", -2, 2).value_or(0.0));
  p.frequency_penalty = static_cast<float>(get_number(j, "frequency_penalty", -2, 2).value_or(0.0));
  p.repetition_penalty =
      static_cast<float>(get_number(j, "repetition_penalty", 0.01, 10).value_or(1.0));
  if (auto seed = get_int(j, "seed", INT64_MIN, INT64_MAX)) {
    p.seed = static_cast<uint64_t>(*seed);
    g.seed_given = true;
  }
  parse_logit_bias(j, p);
  g.stop = parse_stop(j);
  if (auto n = get_int(j, "n", 1, 128); n && *n != 1)
    throw invalid_request("only n = 1 is supported, found " + std::to_string(*n), "n");
  g.stream = get_bool(j, "stream").value_or(false);
  if (const json* so = field(j, "stream_options")) {
    if (!so->is_object())
      throw invalid_request(type_error("stream_options", "an object", *so), "stream_options");
    g.include_usage = get_bool(*so, "include_usage").value_or(false);
  }
  parse_response_format(j, g);
  return g;
}

// content: a string, or an array of {"type": "text", "text": ...} parts.
std::string message_content(const json& m, size_t index) {
  const std::string where = "messages[" + std::to_string(index) + "].content";
  const json* c = field(m, "content");
  if (!c) return {};
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array())
    throw invalid_request(
        "'" + where + "' must be a string or an array of text parts, found " + c->type_name(),
        where);
  std::string out;
  for (const json& part : *c) {
    const json* type = part.is_object() ? field(part, "type") : nullptr;
    if (!type || *type != "text")
      throw invalid_request(
          "'" + where +
              "' parts must be {\"type\": \"text\", \"text\": ...}; other kinds are not supported",
          where);
    const json* text = field(part, "text");
    if (!text || !text->is_string())
      throw invalid_request("'" + where + "' text parts need a string 'text'", where);
    out += text->get<std::string>();
  }
  return out;
}

void parse_messages(const json& j, ChatRequest& r) {
  const json* ms = field(j, "messages");
  if (!ms) throw invalid_request("'messages' is required", "messages");
  if (!ms->is_array()) throw invalid_request(type_error("messages", "an array", *ms), "messages");
  if (ms->empty()) throw invalid_request("'messages' must hold at least one message", "messages");
  for (size_t i = 0; i < ms->size(); ++i) {
    const json& m = (*ms)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object())
      throw invalid_request("'" + where + "' must be an object, found " + m.type_name(),
                            "messages");
    const json* role = field(m, "role");
    if (!role || !role->is_string())
      throw invalid_request("'" + where + ".role' is required and must be a string", "messages");
    const std::string r_name = role->get<std::string>();
    if (r_name != "system" && r_name != "user" && r_name != "assistant" && r_name != "developer")
      throw invalid_request("'" + where + ".role' must be system, user or assistant, found '" +
                                r_name.substr(0, 64) + "'",
                            "messages");
    ChatMessage msg{r_name == "developer" ? "system" : r_name, message_content(m, i), false};
    const bool prefix = get_bool(m, "prefix").value_or(false);
    if (prefix && (r_name != "assistant" || i + 1 != ms->size()))
      throw invalid_request(
          "'prefix': true is allowed only on the last message, which must be an assistant message",
          "messages");
    if (prefix) {
      r.assistant_prefix = msg.content;
      r.reasoning_prefix = get_string(m, "reasoning_content");
      continue;
    }
    if (field(m, "tool_calls") || r_name == "tool")
      throw invalid_request("tool calls are not supported yet", "messages");
    r.messages.push_back(std::move(msg));
  }
  if (r.messages.empty())
    throw invalid_request("'messages' needs a message besides the prefix", "messages");
}

// JSON mode asks the prompt to mention JSON (as OpenAI and DeepSeek require).
bool mentions_json(const ChatRequest& r) {
  for (const ChatMessage& m : r.messages) {
    std::string lower = m.content;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("json") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

ApiError invalid_request(const std::string& message, const std::string& param,
                         const std::string& code) {
  return ApiError(400, "invalid_request_error", message, param, code);
}

const char* error_type_for_status(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 503:
      return "service_unavailable_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string error_json(const ApiError& e) {
  json err = {{"message", e.what()}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return dump(json{{"error", err}});
}

ChatRequest parse_chat_request(std::string_view body) {
  const json j = parse_object(body);
  ChatRequest r;
  r.gen = parse_common(j);
  r.gen.logprobs = get_bool(j, "logprobs").value_or(false);
  if (auto top = get_int(j, "top_logprobs", 0, 20)) {
    if (!r.gen.logprobs)
      throw invalid_request("'top_logprobs' requires 'logprobs': true", "top_logprobs");
    r.gen.top_logprobs = static_cast<int>(*top);
  }
  if (field(j, "tools") || field(j, "functions"))
    throw invalid_request("function calling ('tools') is not supported yet", "tools");
  parse_messages(j, r);
  if (r.gen.json_object && !mentions_json(r))
    throw invalid_request(
        "'messages' must contain the word 'json' in some form to use 'response_format' of type "
        "'json_object'",
        "messages");
  if (r.gen.json_object && r.assistant_prefix)
    throw invalid_request(
        "'response_format' of type 'json_object' cannot be combined with chat prefix completion "
        "('prefix': true)",
        "response_format");
  return r;
}

CompletionRequest parse_completion_request(std::string_view body) {
  const json j = parse_object(body);
  CompletionRequest r;
  r.gen = parse_common(j);
  const json* p = field(j, "prompt");
  if (!p) throw invalid_request("'prompt' is required", "prompt");
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
  if (!p->is_string()) throw invalid_request(type_error("prompt", "a string", *p), "prompt");
  r.prompt = p->get<std::string>();
  r.suffix = get_string(j, "suffix");
  r.echo = get_bool(j, "echo").value_or(false);
  if (auto lp = get_int(j, "logprobs", 0, 5)) {
    r.gen.logprobs = true;
    r.gen.top_logprobs = static_cast<int>(*lp);
  }
  if (auto best_of = get_int(j, "best_of", 1, 20); best_of && *best_of != 1)
    throw invalid_request("only best_of = 1 is supported", "best_of");
  return r;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string valid_utf8(std::string_view bytes) {
  return repair_utf8(bytes);
}

}  // namespace frugal::api
