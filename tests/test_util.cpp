#include "test_util.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace frugal::test {

std::string shared_data_dir() {
  const std::string dir = std::string(FRUGAL_SHARED_DIR) + "/data";
  return std::filesystem::is_directory(dir) ? dir : std::string();
}

std::string temp_dir() {
  static const std::string dir = [] {
    auto p = std::filesystem::temp_directory_path() / ("frugal-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p.string();
  }();
  return dir;
}

int run_command(const std::string& cmd, std::string* output) {
  FILE* p = ::popen(("{ " + cmd + "\n} 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    if (output) output->append(buf.data(), n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<int32_t> parse_id_array(const std::string& json) {
  std::vector<int32_t> ids;
  const size_t open = json.find('[');
  if (open == std::string::npos) return ids;
  std::stringstream ss(json.substr(open + 1, json.find(']', open) - open - 1));
  std::string item;
  while (std::getline(ss, item, ','))
    if (item.find_first_of("0123456789") != std::string::npos) ids.push_back(std::stoi(item));
  return ids;
}

std::string frugal_binary() { return FRUGAL_BINARY; }

}  // namespace frugal::test
