#include "server/http_request.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>

namespace frugal {
namespace {

long long now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int parse_request_line(std::string_view line, HttpRequest& out, std::string* error) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    *error = "malformed request line: expected 'METHOD TARGET HTTP/1.1'";
    return 400;
  }
  out.method = std::string(line.substr(0, sp1));
  out.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  out.version = std::string(line.substr(sp2 + 1));
  if (out.method.empty() || !std::all_of(out.method.begin(), out.method.end(), is_token_char)) {
    *error = "malformed request method";
    return 400;
  }
  if (out.target.empty() || out.target[0] != '/') {
    *error = "the request target must be a path starting with '/'";
    return 400;
  }
  if (out.version != "HTTP/1.1" && out.version != "HTTP/1.0") {
    *error = "unsupported protocol version '" + out.version.substr(0, 16) + "' (expected HTTP/1.1)";
    return out.version.rfind("HTTP/", 0) == 0 ? 505 : 400;
  }
  out.path = out.target.substr(0, out.target.find('?'));
  return 0;
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

int parse_request_head(std::string_view head, HttpRequest& out, std::string* error) {
  size_t eol = head.find("\r\n");
  if (int st = parse_request_line(head.substr(0, eol), out, error)) return st;
  while (eol != std::string_view::npos) {
    const size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view line =
        head.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (line[0] == ' ' || line[0] == '\t' || colon == std::string_view::npos || colon == 0 ||
        !std::all_of(line.begin(), line.begin() + colon, is_token_char)) {
      *error = "malformed header line";
      return 400;
    }
    out.headers.emplace_back(lower(line.substr(0, colon)),
                             std::string(trim(line.substr(colon + 1))));
  }
  return 0;
}

RequestReader::Fill RequestReader::fill(long long deadline_ms, bool stop_aware) {
  char chunk[16384];
  while (true) {
    if (stop_aware && stopping_.load()) return Fill::Stopping;
    const long long left = deadline_ms - now_ms();
    if (left <= 0) return Fill::Timeout;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (r < 0 && errno != EINTR) return Fill::Eof;
    if (r <= 0) continue;
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
      return Fill::Data;
    }
    if (n == 0 || (errno != EINTR && errno != EAGAIN)) return Fill::Eof;
  }
}

ReadOutcome RequestReader::read(HttpRequest& out) {
  out = HttpRequest{};
  long long deadline = now_ms() + opt_.keep_alive_timeout_ms;
  bool begun = !buf_.empty();
  if (begun) deadline = now_ms() + opt_.request_timeout_ms;
  size_t head_end;
  while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (buf_.size() > opt_.max_header_bytes)
      return {ReadOutcome::Kind::Error, 431,
              "the request headers are larger than " + std::to_string(opt_.max_header_bytes) +
                  " bytes"};
    const Fill f = fill(deadline, !begun);
    if (f == Fill::Timeout && begun)
      return {ReadOutcome::Kind::Error, 408, "the request was not received in time"};
    if (f != Fill::Data) return {ReadOutcome::Kind::Closed, 0, {}};
    if (!begun) {
      begun = true;
      deadline = now_ms() + opt_.request_timeout_ms;
    }
  }
  if (head_end > opt_.max_header_bytes)
    return {
        ReadOutcome::Kind::Error, 431,
        "the request headers are larger than " + std::to_string(opt_.max_header_bytes) + " bytes"};
  std::string error;
  if (int st = parse_request_head(std::string_view(buf_).substr(0, head_end), out, &error))
    return {ReadOutcome::Kind::Error, st, error};
  buf_.erase(0, head_end + 4);
  return read_body(out);
}

ReadOutcome RequestReader::read_body(HttpRequest& out) {
  if (out.header("transfer-encoding"))
    return {ReadOutcome::Kind::Error, 411,
            "chunked request bodies are not supported; send Content-Length"};
  const std::string* cl = out.header("content-length");
  const bool needs_body = out.method == "POST" || out.method == "PUT" || out.method == "PATCH";
  if (!cl) {
    if (needs_body)
      return {ReadOutcome::Kind::Error, 411,
              "a " + out.method + " request needs a Content-Length header"};
    return {ReadOutcome::Kind::Request, 0, {}};
  }
  if (cl->empty() || cl->size() > 18 || !std::all_of(cl->begin(), cl->end(), ::isdigit))
    return {ReadOutcome::Kind::Error, 400, "invalid Content-Length '" + cl->substr(0, 32) + "'"};
  const size_t length = std::stoull(*cl);
  if (length > opt_.max_body_bytes)
    return {ReadOutcome::Kind::Error, 413,
            "the request body has " + std::to_string(length) + " bytes; the limit is " +
                std::to_string(opt_.max_body_bytes)};
  const std::string* expect = out.header("expect");
  if (expect && lower(*expect) == "100-continue" && buf_.size() < length) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    ::send(fd_, kContinue.data(), kContinue.size(), MSG_NOSIGNAL);
  }
  const long long deadline = now_ms() + opt_.request_timeout_ms;
  while (buf_.size() < length) {
    const Fill f = fill(deadline, false);
    if (f == Fill::Timeout)
      return {ReadOutcome::Kind::Error, 408, "the request body was not received in time"};
    if (f != Fill::Data) return {ReadOutcome::Kind::Closed, 0, {}};
  }
  out.body = buf_.substr(0, length);
  buf_.erase(0, length);
  return {ReadOutcome::Kind::Request, 0, {}};
}

}  // namespace frugal
