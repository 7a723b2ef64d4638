// A small HTTP/1.1 server over POSIX sockets: an accept thread hands connections to a bounded
// pool of workers; each worker reads requests (with size limits and timeouts against slow
// clients), calls the handler, and keeps the connection alive when the client allows it.
// Responses are complete (Content-Length) or streamed (chunked transfer encoding, for SSE); a
// failed write or a hung-up socket tells the handler that the client is gone.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace frugal {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;   // "GET", "POST", ...
  std::string target;   // as sent: path + optional "?query"
  std::string path;     // target without the query
  std::string version;  // "HTTP/1.1"
  HttpHeaders headers;  // names lower-cased, values trimmed
  std::string body;
  // The value of the first header named `name` (lower case), or nullptr.
  const std::string* header(std::string_view name) const;
};

// One request's way back to its client; given to the handler.
class HttpResponder {
 public:
  HttpResponder(int fd, const std::atomic<bool>& stopping, int write_timeout_ms)
      : fd_(fd), stopping_(stopping), write_timeout_ms_(write_timeout_ms) {}

  // A whole response with Content-Length. False when the client is gone.
  bool send(int status, std::string_view content_type, std::string_view body,
            const HttpHeaders& extra = {});
  // A streamed response: headers now, then write() pieces (chunked), then end().
  bool begin_stream(int status, std::string_view content_type, const HttpHeaders& extra = {});
  bool write(std::string_view data);
  bool end();

  // True when the client hung up or a write failed (non-blocking check).
  bool client_gone();
  bool responded() const { return status_ != 0; }
  int status() const { return status_; }
  bool broken() const { return broken_; }
  void set_keep_alive(bool keep) { keep_alive_ = keep; }
  void set_head_only(bool head) { head_only_ = head; }  // HEAD: headers without the body
  bool keep_alive() const { return keep_alive_ && !broken_; }
  bool server_stopping() const { return stopping_.load(); }

 private:
  bool write_all(std::string_view data);
  std::string status_line_and_headers(int status, std::string_view content_type,
                                      const HttpHeaders& extra) const;

  int fd_;
  const std::atomic<bool>& stopping_;
  int write_timeout_ms_;
  int status_ = 0;
  bool broken_ = false, streaming_ = false, keep_alive_ = true, head_only_ = false;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponder&)>;
// Body and content type of an error the HTTP layer itself answers (400, 408, 411, 413, 431, 503).
using HttpErrorBody =
    std::function<std::pair<std::string, std::string>(int status, const std::string& message)>;

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0: any free port (see HttpServer::port())
  int n_workers = 16;                   // connections served at once
  int max_pending = 64;                 // accepted connections waiting for a worker; more -> 503
  size_t max_header_bytes = 16 * 1024;  // request line + headers; more -> 431
  size_t max_body_bytes = 8 << 20;      // more -> 413
  int request_timeout_ms = 15000;       // to receive one whole request once it has begun
  int keep_alive_timeout_ms = 5000;     // idle time between requests on one connection
  int write_timeout_ms = 15000;         // a client that does not read for this long is dropped
};

const char* http_status_text(int status);

class HttpServer {
 public:
  HttpServer(HttpOptions opt, HttpHandler handler, HttpErrorBody error_body = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; throws frugal::Error naming the address when that fails.
  void listen();
  int port() const { return port_; }
  // Accepts until request_stop(), then closes the listening socket and returns; workers keep
  // finishing the requests in flight (join() waits for them).
  void run();
  // Safe from a signal handler (a lock-free atomic store).
  void request_stop() { stopping_.store(true); }
  bool stopping() const { return stopping_.load(); }
  // Waits for every worker to end (each finishes its current request, then closes).
  void join();
  int n_busy() const { return n_busy_.load(); }

 private:
  void worker_loop();
  void serve_connection(int fd);
  void reject(int fd, int status, const std::string& message);

  HttpOptions opt_;
  HttpHandler handler_;
  HttpErrorBody error_body_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> n_busy_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> pending_;
  bool workers_quit_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace frugal
