// Reading one HTTP/1.1 request from a socket: the head (request line + headers) within a size
// limit, then a Content-Length body within its limit. Internal to the HTTP server; separate so
// the parser can be tested on strings.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "server/http.h"

namespace frugal {

// Parses a request head (without the final blank line). Returns 0 on success, else the status to
// answer (400, 501, 505) with *error set.
int parse_request_head(std::string_view head, HttpRequest& out, std::string* error);

struct ReadOutcome {
  enum class Kind { Request, Closed, Error } kind = Kind::Closed;
  int status = 0;  // Error: the status to answer
  std::string message;
};

// Reads requests from one connection; bytes after a request stay buffered for the next.
class RequestReader {
 public:
  RequestReader(int fd, const HttpOptions& opt, const std::atomic<bool>& stopping)
      : fd_(fd), opt_(opt), stopping_(stopping) {}
  // Closed: the client closed, stayed idle past the keep-alive timeout, or the server is stopping
  // before a new request began.
  ReadOutcome read(HttpRequest& out);

 private:
  enum class Fill { Data, Eof, Timeout, Stopping };
  Fill fill(long long deadline_ms, bool stop_aware);
  ReadOutcome read_body(HttpRequest& out);

  int fd_;
  const HttpOptions& opt_;
  const std::atomic<bool>& stopping_;
  std::string buf_;
};

}  // namespace frugal
