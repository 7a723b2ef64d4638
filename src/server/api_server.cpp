// Routing, authentication, errors, and the small endpoints; generation is in api_generate.cpp.
#include "server/api_server.h"

#include <chrono>

#include "core/error.h"

namespace frugal {

using api::ApiError;
using json = nlohmann::json;

namespace {

// Equal strings in time that depends only on the lengths, not on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

// "/v1/x", "/beta/x" and "/x" all name endpoint "/x".
std::string endpoint_of(const std::string& path) {
  for (std::string_view prefix : {"/v1/", "/beta/"})
    if (path.rfind(prefix, 0) == 0) return path.substr(prefix.size() - 1);
  return path;
}

}  // namespace

ApiServer::ApiServer(Scheduler& scheduler, const Tokenizer& tokenizer, ApiServerOptions opt)
    : scheduler_(scheduler), tokenizer_(tokenizer), opt_(std::move(opt)) {}

std::pair<std::string, std::string> ApiServer::error_body(int status, const std::string& message) {
  metrics_.count_response(status);
  return {api::error_json(ApiError(status, api::error_type_for_status(status), message)),
          "application/json"};
}

void ApiServer::send_json(HttpResponder& out, int status, const std::string& body) {
  metrics_.count_response(status);
  out.send(status, "application/json", body);
}

void ApiServer::send_error(HttpResponder& out, const ApiError& e) {
  if (out.responded()) return;  // a stream already began; the stream itself reports errors
  metrics_.count_response(e.status);
  HttpHeaders extra;
  if (e.status == 401) extra.emplace_back("WWW-Authenticate", "Bearer");
  if (e.status == 429) extra.emplace_back("Retry-After", "1");
  out.send(e.status, "application/json", api::error_json(e), extra);
}

void ApiServer::handle(const HttpRequest& req, HttpResponder& out) {
  try {
    route(req, out);
  } catch (const ApiError& e) {
    send_error(out, e);
  } catch (const std::bad_alloc&) {
    send_error(out, ApiError(500, "server_error", "out of memory"));
  } catch (const std::exception& e) {
    send_error(out, ApiError(500, "server_error", std::string("internal error: ") + e.what()));
  }
}

void ApiServer::check_auth(const HttpRequest& req) const {
  if (opt_.api_key.empty()) return;
  const std::string* h = req.header("authorization");
  if (!h)
    throw ApiError(401, "authentication_error", "missing API key: send 'Authorization: Bearer KEY'",
                   {}, "invalid_api_key");
  const std::string_view v(*h);
  const bool bearer = v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ");
  if (!bearer || !constant_time_equal(v.substr(7), opt_.api_key))
    throw ApiError(401, "authentication_error", "invalid API key", {}, "invalid_api_key");
}

void ApiServer::check_model(const std::string& model) const {
  if (model.empty() || model == opt_.model_id || model == "deepseek-chat" ||
      model == "deepseek-reasoner")
    return;
  throw ApiError(404, "invalid_request_error",
                 "the model '" + model.substr(0, 128) + "' does not exist; this server serves '" +
                     opt_.model_id + "'",
                 "model", "model_not_found");
}

void ApiServer::route(const HttpRequest& req, HttpResponder& out) {
  const std::string ep = endpoint_of(req.path);
  struct Route {
    const char* path;
    const char* method;
    bool auth;
    void (ApiServer::*fn)(const HttpRequest&, HttpResponder&);
  };
  static const Route kRoutes[] = {
      {"/chat/completions", "POST", true, &ApiServer::handle_chat},
      {"/completions", "POST", true, &ApiServer::handle_completion},
      {"/models", "GET", true, &ApiServer::handle_models},
  };
  for (const Route& r : kRoutes) {
    if (ep != r.path && !(std::string_view(r.path) == "/models" && ep.rfind("/models/", 0) == 0))
      continue;
    if (req.method != r.method)
      throw ApiError(
          405, "invalid_request_error",
          "method " + req.method + " is not allowed on " + req.path + " (use " + r.method + ")");
    if (r.auth) check_auth(req);
    return (this->*r.fn)(req, out);
  }
  if (req.path == "/health" || req.path == "/metrics") {
    if (req.method != "GET")
      throw ApiError(405, "invalid_request_error",
                     "method " + req.method + " is not allowed on " + req.path + " (use GET)");
    if (req.path == "/metrics") {
      metrics_.count_response(200);
      out.send(200, "text/plain; version=0.0.4", metrics_.render(scheduler_.stats()));
      return;
    }
    if (out.server_stopping()) return send_json(out, 503, R"({"status":"stopping"})");
    const SchedulerStats st = scheduler_.stats();
    return send_json(out, 200,
                     api::dump(json{{"status", "ok"},
                                    {"slots", st.n_slots},
                                    {"active", st.n_active},
                                    {"waiting", st.n_waiting}}));
  }
  throw ApiError(404, "invalid_request_error",
                 "no endpoint " + req.method + " " + req.path.substr(0, 200), {}, "unknown_url");
}

void ApiServer::handle_models(const HttpRequest& req, HttpResponder& out) {
  static const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  const json model = {
      {"id", opt_.model_id}, {"object", "model"}, {"created", created}, {"owned_by", "frugal"}};
  const std::string ep = endpoint_of(req.path);
  if (ep.size() > 8) {  // /models/{id}
    check_model(ep.substr(8));
    return send_json(out, 200, api::dump(model));
  }
  send_json(out, 200, api::dump(json{{"object", "list"}, {"data", json::array({model})}}));
}

}  // namespace frugal
