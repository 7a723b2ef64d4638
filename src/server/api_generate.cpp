// Chat and text completions: prompt rendering, submission to the scheduler, and the answer as
// one JSON object or as a server-sent event stream.
#include <chrono>
#include <random>
#include <utility>
#include <vector>

#include "core/error.h"
#include "runtime/reasoning.h"
#include "server/api_server.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

using api::ApiError;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct ApiServer::Prepared {
  SequenceRequest seq;
  Clock::time_point received = Clock::now();
};

namespace {

const char* finish_name(SequenceEnd e) {
  return e == SequenceEnd::Length ? "length" : "stop";
}

std::string sse(const json& j) {
  return "data: " + api::dump(j) + "\n\n";
}

bool is_reasoning_format(ChatFormat f) {
  return f == ChatFormat::DeepSeekR1 || f == ChatFormat::DeepSeekR1Distill;
}

// Collects a chat answer: text split into reasoning and content, and logprob entries.
struct ChatAnswer {
  std::optional<ReasoningSplitter> splitter;
  std::string content, reasoning;
  std::vector<api::TokenLogprobEntry> logprobs;
  int64_t n_reasoning_tokens = 0;

  SplitPiece push(const SequenceEvent& ev) {
    if (!splitter) return {{}, ev.text};
    if (ev.token >= 0 && splitter->in_reasoning()) ++n_reasoning_tokens;
    return splitter->push(ev.text);
  }
  void append(const SplitPiece& p) {
    reasoning += p.reasoning;
    content += p.content;
  }
};

api::TokenLogprobEntry logprob_entry(const Tokenizer& tok, const SequenceEvent& ev) {
  api::TokenLogprobEntry e{tok.token_bytes(ev.token), ev.logprob, {}};
  for (const TokenLogprob& t : ev.top) e.top.emplace_back(tok.token_bytes(t.token), t.logprob);
  return e;
}

json delta_json(const SplitPiece& p) {
  json d = json::object();
  if (!p.reasoning.empty()) d["reasoning_content"] = p.reasoning;
  if (!p.content.empty()) d["content"] = p.content;
  return d;
}

ApiError failure(const SequenceEvent& done) {
  if (done.end == SequenceEnd::Cancelled)
    return ApiError(503, "service_unavailable_error",
                    "the request was cancelled: the server is shutting down");
  return ApiError(500, "server_error", "generation failed: " + done.error);
}

bool ended_normally(const SequenceEvent& done) {
  return done.end == SequenceEnd::Stop || done.end == SequenceEnd::Length;
}

// The stream's last events: `last` chunks (or an error event), then [DONE].
void end_stream(HttpResponder& out, const SequenceEvent& done, const std::vector<json>& last) {
  if (ended_normally(done)) {
    for (const json& chunk : last) out.write(sse(chunk));
  } else {
    out.write("data: " + api::error_json(failure(done)) + "\n\n");
  }
  out.write("data: [DONE]\n\n");
  out.end();
}

}  // namespace

bool ApiServer::abandoned(const SequenceEvent& done, HttpResponder& out) {
  if (done.end != SequenceEnd::Cancelled || !out.client_gone()) return false;
  if (!out.responded()) metrics_.count_response(499);  // nginx's "client closed request"
  return true;
}

api::ResponseMeta ApiServer::meta(const char* id_prefix) const {
  static const uint64_t salt = std::random_device{}();
  char id[64];
  std::snprintf(id, sizeof id, "%s%016llx%06llx", id_prefix, static_cast<unsigned long long>(salt),
                static_cast<unsigned long long>(n_ids_.fetch_add(1)));
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return {id, now, opt_.model_id};
}

std::vector<int32_t> ApiServer::chat_prompt_ids(const api::ChatRequest& r,
                                                bool* starts_in_reasoning) const {
  ChatOptions co = chat_options_for(tokenizer_);
  co.add_generation_prompt = true;
  std::vector<ChatSegment> segments;
  try {
    segments = render_chat_segments(opt_.chat_format, r.messages, co);
  } catch (const Error& e) {
    throw api::invalid_request(e.what(), "messages");
  }
  *starts_in_reasoning = is_reasoning_format(opt_.chat_format);
  if (r.assistant_prefix) {
    // Chat prefix completion: the answer so far follows the generation prompt.
    if (*starts_in_reasoning) {
      if (r.reasoning_prefix) segments.push_back({*r.reasoning_prefix, true});
      if (!r.assistant_prefix->empty()) {
        segments.push_back({r.reasoning_prefix ? "\n</think>\n\n" : "</think>\n\n", false});
        *starts_in_reasoning = false;
      }
    }
    segments.push_back({*r.assistant_prefix, true});
  }
  if (r.gen.json_object && *starts_in_reasoning) {
    // JSON mode answers without thinking: the reasoning block is closed, so the constrained
    // output is the content.
    segments.push_back({"</think>\n\n", false});
    *starts_in_reasoning = false;
  }
  return encode_chat(tokenizer_, segments);
}

std::string ApiServer::render_completion_prompt(const api::CompletionRequest& r) const {
  if (!r.suffix) return r.prompt;
  static constexpr const char* kFim[] = {"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"};
  for (const char* t : kFim)
    if (!tokenizer_.find_token(t))
      throw api::invalid_request(
          "this model has no fill-in-the-middle tokens; 'suffix' is not supported", "suffix");
  return std::string(kFim[0]) + r.prompt + kFim[1] + *r.suffix + kFim[2];
}

ApiServer::Prepared ApiServer::prepare(const api::GenerationOptions& g,
                                       std::vector<int32_t> prompt) const {
  check_model(g.model);
  Prepared p;
  p.seq.prompt = std::move(prompt);
  const int64_t n_prompt = static_cast<int64_t>(p.seq.prompt.size());
  const int64_t n_ctx = scheduler_.n_ctx();
  if (n_prompt == 0) throw api::invalid_request("the prompt is empty", "prompt");
  if (n_prompt >= n_ctx)
    throw api::invalid_request("the prompt has " + std::to_string(n_prompt) +
                                   " tokens; this model's context holds " + std::to_string(n_ctx) +
                                   " (prompt and completion together)",
                               "messages", "context_length_exceeded");
  p.seq.max_tokens = std::min(g.max_tokens.value_or(n_ctx), n_ctx - n_prompt);
  p.seq.sampling = g.sampling;
  if (!g.seed_given)
    p.seq.sampling.seed = std::random_device{}() * 0x100000001ull + std::random_device{}();
  p.seq.stop = g.stop;
  p.seq.n_top_logprobs = g.logprobs ? g.top_logprobs : -1;
  p.seq.json_object = g.json_object;
  return p;
}

std::shared_ptr<SequenceStream> ApiServer::submit(Prepared& p) {
  try {
    return scheduler_.submit(std::move(p.seq));
  } catch (const QueueFullError& e) {
    throw ApiError(429, "rate_limit_error", e.what(), {}, "queue_full");
  } catch (const Error& e) {
    throw ApiError(503, "service_unavailable_error", e.what());
  }
}

SequenceEvent ApiServer::drive(SequenceStream& seq, HttpResponder& out, bool streaming,
                               const std::function<bool(const SequenceEvent&)>& on_token) {
  const Clock::time_point start = Clock::now();
  Clock::time_point last_token = start, last_write = start;
  bool first = true, gone = false;
  std::vector<SequenceEvent> events;
  while (true) {
    if (!seq.wait(events, std::chrono::milliseconds(100))) {
      if (!gone && streaming && Clock::now() - last_write > std::chrono::seconds(5)) {
        out.write(": keep-alive\n\n");  // SSE comment while queued or prefilling
        last_write = Clock::now();
      }
      if (!gone && out.client_gone()) {
        gone = true;
        seq.cancel();
      }
      continue;
    }
    for (SequenceEvent& ev : events) {
      if (ev.kind == SequenceEvent::Kind::Finished) return std::move(ev);
      const Clock::time_point now = Clock::now();
      if (ev.token >= 0) {
        if (first)
          metrics_.observe_ttft(std::chrono::duration<double>(now - start).count());
        else
          metrics_.observe_inter_token(std::chrono::duration<double>(now - last_token).count());
        first = false;
        last_token = now;
      }
      if (!gone && !on_token(ev)) {
        gone = true;
        seq.cancel();
      }
      last_write = now;
    }
  }
}

void ApiServer::handle_chat(const HttpRequest& req, HttpResponder& out) {
  const api::ChatRequest r = api::parse_chat_request(req.body);
  bool in_reasoning = false;
  Prepared p = prepare(r.gen, chat_prompt_ids(r, &in_reasoning));  // BOS from the template
  const api::ResponseMeta m = meta("chatcmpl-");
  const bool want_logprobs = r.gen.logprobs;
  auto seq = submit(p);
  ChatAnswer answer;
  if (is_reasoning_format(opt_.chat_format)) answer.splitter.emplace(in_reasoning);
  if (r.gen.stream) {
    metrics_.count_response(200);
    out.begin_stream(200, "text/event-stream");
    out.write(sse(
        api::chat_chunk_json(m, {{"role", "assistant"}, {"content", ""}}, nullptr, std::nullopt)));
  }
  auto on_token = [&](const SequenceEvent& ev) {
    const SplitPiece piece = answer.push(ev);
    std::optional<json> lp;
    if (want_logprobs && ev.token >= 0) {
      answer.logprobs.push_back(logprob_entry(tokenizer_, ev));
      lp = api::chat_logprobs_json({answer.logprobs.back()});
    }
    if (!r.gen.stream) return answer.append(piece), true;
    if (piece.reasoning.empty() && piece.content.empty() && !lp) return !out.client_gone();
    return out.write(sse(api::chat_chunk_json(m, delta_json(piece), nullptr, lp)));
  };
  const SequenceEvent done = drive(*seq, out, r.gen.stream, on_token);
  if (abandoned(done, out)) return;
  SplitPiece tail = answer.splitter ? answer.splitter->flush() : SplitPiece{};
  const api::Usage usage{done.n_prompt, done.n_generated, done.n_cached, answer.n_reasoning_tokens};
  metrics_.add_tokens(done.n_prompt, done.n_generated, done.n_cached);
  if (r.gen.stream) {
    std::vector<json> last;
    if (!tail.reasoning.empty() || !tail.content.empty())
      last.push_back(api::chat_chunk_json(m, delta_json(tail), nullptr, std::nullopt));
    last.push_back(api::chat_chunk_json(m, json::object(), finish_name(done.end), std::nullopt));
    if (r.gen.include_usage)
      last.push_back(api::usage_chunk_json(m, "chat.completion.chunk", usage));
    return end_stream(out, done, last);
  }
  if (!ended_normally(done)) throw failure(done);
  answer.append(tail);
  std::optional<std::string> reasoning;
  if (answer.splitter) reasoning = answer.reasoning;
  std::optional<json> lp;
  if (want_logprobs) lp = api::chat_logprobs_json(answer.logprobs);
  send_json(out, 200,
            api::dump(api::chat_completion_json(m, answer.content, reasoning, finish_name(done.end),
                                                lp, usage)));
}

void ApiServer::handle_completion(const HttpRequest& req, HttpResponder& out) {
  const api::CompletionRequest r = api::parse_completion_request(req.body);
  // A raw completion prompt is the client's own markup: special tokens in it are matched.
  Prepared p = prepare(r.gen, tokenizer_.encode(render_completion_prompt(r),
                                                {.add_bos = true, .parse_special = true}));
  const api::ResponseMeta m = meta("cmpl-");
  auto seq = submit(p);
  std::string text = r.echo ? r.prompt : std::string();
  const size_t offset0 = text.size();
  std::vector<api::TokenLogprobEntry> logprobs;
  if (r.gen.stream) {
    metrics_.count_response(200);
    out.begin_stream(200, "text/event-stream");
    if (r.echo) out.write(sse(api::text_completion_json(m, text, nullptr, std::nullopt, {}, true)));
  }
  auto on_token = [&](const SequenceEvent& ev) {
    std::optional<json> lp;
    if (r.gen.logprobs && ev.token >= 0) {
      logprobs.push_back(logprob_entry(tokenizer_, ev));
      lp = api::completion_logprobs_json({logprobs.back()}, offset0);
    }
    if (!r.gen.stream) return text += ev.text, true;
    if (ev.text.empty() && !lp) return !out.client_gone();
    return out.write(sse(api::text_completion_json(m, ev.text, nullptr, lp, {}, true)));
  };
  const SequenceEvent done = drive(*seq, out, r.gen.stream, on_token);
  if (abandoned(done, out)) return;
  const api::Usage usage{done.n_prompt, done.n_generated, done.n_cached, 0};
  metrics_.add_tokens(done.n_prompt, done.n_generated, done.n_cached);
  if (r.gen.stream) {
    std::vector<json> last = {
        api::text_completion_json(m, "", finish_name(done.end), std::nullopt, {}, true)};
    if (r.gen.include_usage) last.push_back(api::usage_chunk_json(m, "text_completion", usage));
    return end_stream(out, done, last);
  }
  if (!ended_normally(done)) throw failure(done);
  std::optional<json> lp;
  if (r.gen.logprobs) lp = api::completion_logprobs_json(logprobs, offset0);
  send_json(out, 200,
            api::dump(api::text_completion_json(m, text, finish_name(done.end), lp, usage, false)));
}

}  // namespace frugal
