// frugal serve MODEL: the OpenAI- and DeepSeek-compatible HTTP server.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "core/error.h"
#include "runtime/disk_cache.h"
#include "runtime/scheduler.h"
#include "server/api_server.h"
#include "server/http.h"

namespace frugal::cli {
namespace {

constexpr const char* kHelp =
    "usage: frugal serve MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N]\n"
    "                          [--api-key KEY] [--chat-template NAME] [options]\n\n"
    "Serves MODEL (a GGUF file or Hugging Face directory) over HTTP with the OpenAI and DeepSeek\n"
    "APIs: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health,\n"
    "GET /metrics. Stops on SIGTERM or Ctrl-C: no new connections, running requests finish\n"
    "(cancelled after --drain-seconds), exit code 0.\n\n"
    "  --host ADDR        address to bind (default 127.0.0.1; 0.0.0.0 exposes the server)\n"
    "  --port N           TCP port (default 8080; 0 picks a free one)\n"
    "  --parallel N       sequences generated at once (default 1)\n"
    "  --queue N          requests waiting beyond the busy slots; more get 429 (default 16)\n"
    "  --api-key KEY      require 'Authorization: Bearer KEY' (default: $FRUGAL_API_KEY if set)\n"
    "  --chat-template NAME  deepseek-v3, deepseek-r1, deepseek-r1-distill, deepseek-v3.1,\n"
    "                     deepseek-v2 (default: detected from the tokenizer's template)\n"
    "  --model-id ID      the model name /v1/models lists (default: the file name)\n"
    "  --max-body-mib N   request body limit (default 8)\n"
    "  --threads N        HTTP connections served at once (default 4 x parallel + 8)\n"
    "  --drain-seconds N  on stop, wait this long for running requests (default 30)\n"
    "  --kv-cache-mib N   paged KV cache for running sequences; a request waits in the queue\n"
    "                     until its prompt + max_tokens fit (default: every slot at full context)\n"
    "  --cache-ram-mib N  prefix cache in RAM on top: prompts' KV blocks kept in a radix tree\n"
    "                     for requests that share a prefix (system prompt, chat history);\n"
    "                     least recently used first out (default 2048)\n"
    "  --cache-dir DIR    prefix cache disk tier: KV entries of finished requests are saved\n"
    "                     there in 256-token blocks and reused by later requests, also after a\n"
    "                     restart (default: off)\n"
    "  --cache-disk-mib N size bound of --cache-dir; least recently used blocks go first\n"
    "                     (default 4096)\n"
    "%s";

HttpServer* g_server = nullptr;
extern "C" void on_stop_signal(int) {
  if (g_server) g_server->request_stop();
}

void install_stop_handlers(HttpServer& server) {
  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

std::string default_model_id(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();
  return p.has_stem() ? p.stem().string() : "frugal";
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  auto flags = model_value_flags();
  flags.insert({"--host", "--port", "--parallel", "--queue", "--api-key", "--chat-template",
                "--model-id", "--max-body-mib", "--threads", "--drain-seconds", "--cache-dir",
                "--cache-disk-mib", "--kv-cache-mib", "--cache-ram-mib"});
  Args args(argc, argv, flags, model_bool_flags());
  if (args.help()) {
    std::printf(kHelp, kModelFlagsHelp);
    return 0;
  }
  const std::string& path = args.require_positional(0, "MODEL");
  const char* env_key = std::getenv("FRUGAL_API_KEY");
  ApiServerOptions api;
  api.api_key = args.get_or("--api-key", env_key ? env_key : "");
  api.model_id = args.get_or("--model-id", default_model_id(path));
  SchedulerOptions so;
  so.n_slots = static_cast<int>(args.get_int_or("--parallel", 1));
  so.max_waiting = static_cast<int>(args.get_int_or("--queue", 16));
  if (so.n_slots < 1 || so.n_slots > 256) throw Error("--parallel must be between 1 and 256");
  if (so.max_waiting < 0) throw Error("--queue must be at least 0");
  HttpOptions ho;
  ho.host = args.get_or("--host", "127.0.0.1");
  ho.port = static_cast<int>(args.get_int_or("--port", 8080));
  if (ho.port < 0 || ho.port > 65535) throw Error("--port must be between 0 and 65535");
  ho.max_body_bytes = static_cast<size_t>(args.get_int_or("--max-body-mib", 8)) << 20;
  ho.n_workers = static_cast<int>(args.get_int_or("--threads", 4 * so.n_slots + 8));
  const int drain_s = static_cast<int>(args.get_int_or("--drain-seconds", 30));

  LoadedModel m = load_model_and_tokenizer(path, args);
  so.cache_dir = args.get_or("--cache-dir", "");
  so.cache_disk_bytes = args.get_int_or("--cache-disk-mib", 4096) << 20;
  if (so.cache_disk_bytes < 0) throw Error("--cache-disk-mib must be at least 0");
  so.kv_cache_bytes = args.get_int_or("--kv-cache-mib", 0) << 20;
  if (so.kv_cache_bytes < 0) throw Error("--kv-cache-mib must be at least 0");
  so.cache_ram_bytes = args.get_int_or("--cache-ram-mib", 2048) << 20;
  if (so.cache_ram_bytes < 0) throw Error("--cache-ram-mib must be at least 0");
  if (!so.cache_dir.empty()) so.model_tag = model_file_tag(path, m.model->architecture());
  api.chat_format = chat_format_for(*m.tokenizer, args.get_or("--chat-template", ""));
  Scheduler scheduler(*m.model, *m.tokenizer, so);
  ApiServer api_server(scheduler, *m.tokenizer, api);
  HttpServer http(
      ho, [&](const HttpRequest& q, HttpResponder& r) { api_server.handle(q, r); },
      [&](int status, const std::string& msg) { return api_server.error_body(status, msg); });
  http.listen();
  install_stop_handlers(http);
  std::printf(
      "frugal serve: model %s (%s template), %d slot(s) of %lld tokens, listening on "
      "http://%s:%d\n",
      api.model_id.c_str(), chat_format_name(api.chat_format), so.n_slots,
      static_cast<long long>(scheduler.n_ctx()), ho.host.c_str(), http.port());
  const SchedulerStats st = scheduler.stats();
  std::printf("frugal serve: paged KV cache of %lld positions (%lld blocks of %lld)\n",
              static_cast<long long>(st.kv_blocks * st.kv_block_tokens),
              static_cast<long long>(st.kv_blocks), static_cast<long long>(st.kv_block_tokens));
  std::fflush(stdout);
  http.run();  // until SIGTERM / SIGINT
  std::fprintf(stderr, "frugal serve: stopping; waiting for running requests\n");
  scheduler.close();
  if (!scheduler.wait_idle(std::chrono::seconds(drain_s))) {
    std::fprintf(stderr, "frugal serve: cancelling the requests still running\n");
    scheduler.cancel_all();
  }
  http.join();
  g_server = nullptr;
  std::fprintf(stderr, "frugal serve: stopped\n");
  return 0;
}

}  // namespace frugal::cli
