// The API server: routes HTTP requests to the OpenAI / DeepSeek endpoints, checks the API key,
// turns requests into token sequences for the scheduler and streams the results back.
//   POST /v1/chat/completions  POST /v1/completions  GET /v1/models  GET /health  GET /metrics
// ("/v1" may also be "/beta" or left out, as DeepSeek's base URLs allow).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/scheduler.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/openai_api.h"
#include "tokenizer/chat_template.h"

namespace frugal {

class Tokenizer;

struct ApiServerOptions {
  std::string model_id = "frugal";  // the id /v1/models lists; requests may also name
                                    // deepseek-chat / deepseek-reasoner
  std::string api_key;              // non-empty: requests need "Authorization: Bearer KEY"
  ChatFormat chat_format = ChatFormat::DeepSeekV3;
};

class ApiServer {
 public:
  ApiServer(Scheduler& scheduler, const Tokenizer& tokenizer, ApiServerOptions opt);

  // The HttpHandler.
  void handle(const HttpRequest& req, HttpResponder& out);
  // The HttpErrorBody: OpenAI-shaped error JSON (and counted in the metrics).
  std::pair<std::string, std::string> error_body(int status, const std::string& message);
  const ServerMetrics& metrics() const { return metrics_; }

 private:
  struct Prepared;  // a validated request turned into a SequenceRequest

  void route(const HttpRequest& req, HttpResponder& out);
  void check_auth(const HttpRequest& req) const;
  void check_model(const std::string& model) const;
  void send_json(HttpResponder& out, int status, const std::string& body);
  void send_error(HttpResponder& out, const api::ApiError& e);

  void handle_chat(const HttpRequest& req, HttpResponder& out);
  void handle_completion(const HttpRequest& req, HttpResponder& out);
  void handle_models(const HttpRequest& req, HttpResponder& out);

  // The chat prompt's ids: template markup may hold special tokens, message text never does.
  std::vector<int32_t> chat_prompt_ids(const api::ChatRequest& r, bool* starts_in_reasoning) const;
  std::string render_completion_prompt(const api::CompletionRequest& r) const;
  Prepared prepare(const api::GenerationOptions& g, std::vector<int32_t> prompt) const;
  std::shared_ptr<SequenceStream> submit(Prepared& p);
  // Waits for the sequence's events, giving each Token event to on_token (false: client gone);
  // cancels the sequence when the client goes away. Returns the Finished event.
  SequenceEvent drive(SequenceStream& seq, HttpResponder& out, bool streaming,
                      const std::function<bool(const SequenceEvent&)>& on_token);
  // True when the sequence ended because its client left: nothing more to send.
  bool abandoned(const SequenceEvent& done, HttpResponder& out);
  api::ResponseMeta meta(const char* id_prefix) const;

  Scheduler& scheduler_;
  const Tokenizer& tokenizer_;
  ApiServerOptions opt_;
  ServerMetrics metrics_;
  mutable std::atomic<uint64_t> n_ids_{0};
};

}  // namespace frugal
