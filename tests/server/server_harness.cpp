#include "server/server_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "test_util.h"

namespace frugal::test {
namespace {

long long now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string dechunk(const std::string& s) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t eol = s.find("\r\n", pos);
    if (eol == std::string::npos) break;
    const size_t n = std::stoul(s.substr(pos, eol - pos), nullptr, 16);
    if (n == 0) break;
    out.append(s, eol + 2, n);
    pos = eol + 2 + n + 2;
  }
  return out;
}

// True once `data` holds a whole response (by Content-Length or the last chunk).
bool response_complete(const std::string& data) {
  const size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  std::string head = data.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t cl = head.find("content-length:");
  if (cl != std::string::npos)
    return data.size() >= head_end + 4 + std::stoul(head.substr(cl + 15));
  if (head.find("transfer-encoding: chunked") != std::string::npos)
    return data.size() >= 5 && data.compare(data.size() - 5, 5, "0\r\n\r\n") == 0;
  return false;
}

HttpResult parse_response(const std::string& data) {
  HttpResult r;
  const size_t head_end = data.find("\r\n\r\n");
  if (data.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return r;
  r.status = std::atoi(data.c_str() + 9);
  r.headers = data.substr(0, head_end);
  for (char& c : r.headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  r.body = data.substr(head_end + 4);
  if (r.header_has("transfer-encoding: chunked")) r.body = dechunk(r.body);
  return r;
}

}  // namespace

bool HttpResult::header_has(const std::string& needle) const {
  return headers.find(needle) != std::string::npos;
}

namespace {
std::string g_model_to_remove;
void remove_test_model() {
  std::filesystem::remove(g_model_to_remove);
}
}  // namespace

const std::string& tiny_model() {
  static const std::string path = [] {
    const std::string data = shared_data_dir();
    const std::string tok = data + "/tokenizer/deepseek-v3/tokenizer.json";
    if (data.empty() || !std::filesystem::exists(tok)) return std::string();
    const std::string out = temp_dir() + "/tiny-server.gguf";
    std::string log;
    const int rc =
        run_command(frugal_binary() + " synth --arch deepseek2 --preset tiny --tokenizer " + tok +
                        " --out " + out,
                    &log);
    if (rc != 0) throw std::runtime_error("frugal synth failed: " + log);
    g_model_to_remove = out;  // 140 MB: not left behind in /tmp
    std::atexit(remove_test_model);
    return out;
  }();
  return path;
}

int open_connection(int port, const std::string& raw) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer early (413) and close
    sent += static_cast<size_t>(n);
  }
  return fd;
}

bool read_until(int fd, const std::string& needle, std::string* acc, int timeout_ms) {
  const long long deadline = now_ms() + timeout_ms;
  char buf[4096];
  while (acc->find(needle) == std::string::npos) {
    if (now_ms() >= deadline) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    acc->append(buf, static_cast<size_t>(n));
  }
  return true;
}

HttpResult http_raw(int port, const std::string& raw, int timeout_ms, bool until_close) {
  const long long deadline = now_ms() + timeout_ms;
  const int fd = open_connection(port, raw);
  if (fd < 0) return {};
  std::string data;
  char buf[65536];
  while (now_ms() < deadline && (until_close || !response_complete(data))) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return parse_response(data);
}

HttpResult http_request(int port, const std::string& method, const std::string& path,
                        const std::string& body, const std::vector<std::string>& headers,
                        int timeout_ms) {
  std::string raw = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : headers) raw += h + "\r\n";
  if (!body.empty() || method == "POST")
    raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  raw += "\r\n" + body;
  return http_raw(port, raw, timeout_ms);
}

double metric_value(int port, const std::string& name) {
  const HttpResult m = http_request(port, "GET", "/metrics");
  const size_t at = m.body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(m.body.substr(at + name.size() + 2));
}

double metric_value_above(int port, const std::string& name, double floor, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  double v = metric_value(port, name);
  while (v <= floor && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    v = metric_value(port, name);
  }
  return v;
}

std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t eol = body.find('\n', pos);
    if (eol == std::string::npos) eol = body.size();
    const std::string line = body.substr(pos, eol - pos);
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
    pos = eol + 1;
  }
  return out;
}

ServerProcess::ServerProcess(const std::string& model, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  std::vector<std::string> argv_s = {frugal_binary(), "serve",    model, "--port", "0",
                                     "--host",        "127.0.0.1"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_fd_ = fds[0];
  const long long deadline = now_ms() + 60000;
  char buf[4096];
  while (now_ms() < deadline && port_ == 0) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    log_.append(buf, static_cast<size_t>(n));
    const size_t at = log_.find("listening on http://127.0.0.1:");
    if (at != std::string::npos && log_.find('\n', at) != std::string::npos)
      port_ = std::atoi(log_.c_str() + at + 30);
  }
}

int ServerProcess::stop(int sig, int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  const long long deadline = now_ms() + timeout_ms;
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(pid_, &status, WNOHANG)) == 0 && now_ms() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (done == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  char buf[4096];
  ssize_t n;
  while (out_fd_ >= 0 && (n = ::read(out_fd_, buf, sizeof buf)) > 0)
    log_.append(buf, static_cast<size_t>(n));
  if (done == 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop(SIGKILL, 5000);
  if (out_fd_ >= 0) ::close(out_fd_);
}

}  // namespace frugal::test
