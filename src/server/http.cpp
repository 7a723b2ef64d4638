#include "server/http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.h"
#include "server/http_request.h"

namespace frugal {

const char* http_status_text(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// ---- HttpResponder ----------------------------------------------------------------------

bool HttpResponder::write_all(std::string_view data) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(write_timeout_ms_);
  while (!data.empty() && !broken_) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && Clock::now() < deadline) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    broken_ = true;  // EPIPE / ECONNRESET / a client that stopped reading
  }
  return !broken_;
}

std::string HttpResponder::status_line_and_headers(int status, std::string_view content_type,
                                                   const HttpHeaders& extra) const {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + http_status_text(status) + "\r\n";
  if (!content_type.empty()) h.append("Content-Type: ").append(content_type).append("\r\n");
  for (const auto& [k, v] : extra) h.append(k).append(": ").append(v).append("\r\n");
  h.append(keep_alive_ && !stopping_.load() ? "Connection: keep-alive\r\n"
                                            : "Connection: close\r\n");
  return h;
}

bool HttpResponder::send(int status, std::string_view content_type, std::string_view body,
                         const HttpHeaders& extra) {
  if (responded()) return false;
  status_ = status;
  std::string out = status_line_and_headers(status, content_type, extra);
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
  if (!head_only_) out.append(body);
  return write_all(out);
}

bool HttpResponder::begin_stream(int status, std::string_view content_type,
                                 const HttpHeaders& extra) {
  if (responded()) return false;
  status_ = status;
  streaming_ = true;
  std::string out = status_line_and_headers(status, content_type, extra);
  out.append("Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
  return write_all(out);
}

bool HttpResponder::write(std::string_view data) {
  if (!streaming_ || data.empty()) return !broken_;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out = size;
  out.append(data).append("\r\n");
  return write_all(out);
}

bool HttpResponder::end() {
  if (!streaming_) return !broken_;
  streaming_ = false;
  return write_all("0\r\n\r\n");
}

bool HttpResponder::client_gone() {
  if (broken_) return true;
  pollfd p{fd_, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) broken_ = true;
  return broken_;
}

// Half-closes, then reads (and drops) what the client still sends for a short while, so a client
// still sending a body we refused reads our answer instead of a connection reset.
static void close_gracefully(int fd) {
  ::shutdown(fd, SHUT_WR);
  char sink[16384];
  for (int i = 0; i < 64; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) break;
    if (::recv(fd, sink, sizeof sink, 0) <= 0) break;
  }
  ::close(fd);
}

// ---- HttpServer ---------------------------------------------------------------------------

HttpServer::HttpServer(HttpOptions opt, HttpHandler handler, HttpErrorBody error_body)
    : opt_(std::move(opt)), handler_(std::move(handler)), error_body_(std::move(error_body)) {
  if (!error_body_)
    error_body_ = [](int, const std::string& m) {
      return std::make_pair(m + "\n", std::string("text/plain"));
    };
}

HttpServer::~HttpServer() {
  request_stop();
  join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void HttpServer::listen() {
  const std::string where = opt_.host + ":" + std::to_string(opt_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(opt_.host.c_str(), std::to_string(opt_.port).c_str(), &hints, &res))
    throw Error("cannot resolve " + where + ": " + ::gai_strerror(rc));
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  const int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok =
      fd >= 0 && ::bind(fd, res->ai_addr, res->ai_addrlen) == 0 && ::listen(fd, 128) == 0;
  const int err = errno;
  ::freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    throw Error("cannot listen on " + where + ": " + std::strerror(err));
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  listen_fd_ = fd;
  for (int i = 0; i < opt_.n_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void HttpServer::run() {
  FRUGAL_CHECK(listen_fd_ >= 0, "HttpServer::run before listen");
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::unique_lock lk(mu_);
    if (static_cast<int>(pending_.size()) >= opt_.max_pending) {
      lk.unlock();
      reject(fd, 503, "the server is busy: too many connections");
      continue;
    }
    pending_.push_back(fd);
    lk.unlock();
    cv_.notify_one();
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void HttpServer::join() {
  {
    std::lock_guard lk(mu_);
    workers_quit_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  for (int fd : pending_) ::close(fd);
  pending_.clear();
}

void HttpServer::reject(int fd, int status, const std::string& message) {
  HttpResponder r(fd, stopping_, 1000);
  r.set_keep_alive(false);
  auto [body, type] = error_body_(status, message);
  r.send(status, type, body);
  close_gracefully(fd);
}

void HttpServer::worker_loop() {
  while (true) {
    int fd;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return workers_quit_ || !pending_.empty(); });
      if (pending_.empty()) return;  // quitting and nothing left
      fd = pending_.front();
      pending_.pop_front();
    }
    n_busy_.fetch_add(1);
    serve_connection(fd);
    n_busy_.fetch_sub(1);
  }
}

void HttpServer::serve_connection(int fd) {
  RequestReader reader(fd, opt_, stopping_);
  HttpRequest req;
  while (true) {
    const ReadOutcome got = reader.read(req);
    if (got.kind == ReadOutcome::Kind::Closed) break;
    if (got.kind == ReadOutcome::Kind::Error) {
      HttpResponder r(fd, stopping_, opt_.write_timeout_ms);
      r.set_keep_alive(false);
      auto [body, type] = error_body_(got.status, got.message);
      r.send(got.status, type, body);
      break;
    }
    HttpResponder r(fd, stopping_, opt_.write_timeout_ms);
    const std::string* conn = req.header("connection");
    const bool close_asked = conn && (*conn == "close" || *conn == "Close");
    const bool http10_keep = conn && (*conn == "keep-alive" || *conn == "Keep-Alive");
    r.set_keep_alive(!close_asked && (req.version == "HTTP/1.1" || http10_keep));
    r.set_head_only(req.method == "HEAD");
    std::string failure = "the handler sent no response";
    try {
      handler_(req, r);
    } catch (const std::exception& e) {
      failure = std::string("internal error: ") + e.what();
      r.set_keep_alive(false);
    }
    if (!r.responded() && !r.client_gone()) {
      auto [body, type] = error_body_(500, failure);
      r.send(500, type, body);
    }
    if (!r.keep_alive() || stopping_.load()) break;
  }
  close_gracefully(fd);
}

}  // namespace frugal
