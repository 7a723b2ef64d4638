// Test helpers for the server: a tiny generated model, a `frugal serve` child process on a free
// loopback port, and a minimal HTTP client (loopback only; every call bounded in time).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace frugal::test {

// A tiny random-weight deepseek2 GGUF with the DeepSeek-V3 tokenizer, made once per test process
// by `frugal synth`; "" when ../shared/data is absent.
const std::string& tiny_model();

#define FRUGAL_REQUIRE_TINY_MODEL(var)                                            \
  const std::string var = ::frugal::test::tiny_model();                           \
  if (var.empty())                                                                \
  GTEST_SKIP() << "../shared/data/tokenizer/deepseek-v3 is absent: cannot build " \
                  "the test model (see README, 'Reference data')"

struct HttpResult {
  int status = 0;       // 0: no response (connection failed or timed out)
  std::string headers;  // raw header block, lower-cased names
  std::string body;     // de-chunked
  bool header_has(const std::string& needle) const;
};

// Sends `raw` (a whole request) to 127.0.0.1:port and reads the answer until the server closes
// or (unless until_close) a complete response arrived; at most timeout_ms.
HttpResult http_raw(int port, const std::string& raw, int timeout_ms = 30000,
                    bool until_close = false);
// A request with Content-Length and "Connection: close".
HttpResult http_request(int port, const std::string& method, const std::string& path,
                        const std::string& body = "", const std::vector<std::string>& headers = {},
                        int timeout_ms = 30000);
// For tests that drop a connection mid-response: connect and send `raw`; -1 on failure.
int open_connection(int port, const std::string& raw);
// Reads from fd into *acc until it contains `needle` (true) or timeout_ms passes (false).
bool read_until(int fd, const std::string& needle, std::string* acc, int timeout_ms);

// The JSON payloads of an SSE body's "data:" lines ("[DONE]" included as is).
std::vector<std::string> sse_data(const std::string& body);

// Value of the metric line "name value" in GET /metrics of the server on `port`; -1 when absent.
double metric_value(int port, const std::string& name);
// metric_value once it exceeds `floor`, polling for up to timeout_ms (state the scheduler updates
// just after a response went out); the last value read when it never does.
double metric_value_above(int port, const std::string& name, double floor, int timeout_ms = 5000);

class ServerProcess {
 public:
  // Starts `frugal serve MODEL --port 0 ARGS...` and waits (at most 60 s) for its "listening" line.
  ServerProcess(const std::string& model, const std::vector<std::string>& args);
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  int pid() const { return static_cast<int>(pid_); }
  const std::string& log() const { return log_; }
  // Sends `sig` and waits up to timeout_ms; returns the exit code, or -1 (killed / timed out).
  int stop(int sig, int timeout_ms = 30000);

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int out_fd_ = -1;
  std::string log_;
};

}  // namespace frugal::test
