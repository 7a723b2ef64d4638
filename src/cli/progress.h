// A progress line on stderr: on a terminal one line redrawn in place (at most 10 times a second)
// with a bar, percent, MB/s and a detail (e.g. the tensor being written); otherwise one plain
// line per 10% so logs stay short.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace frugal::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label, std::FILE* out = stderr);
  // done/total in bytes; MB/s is done / elapsed time.
  void update(uint64_t done, uint64_t total, std::string_view detail = {});
  // Draws 100% (when anything was drawn) and ends the line.
  void finish();

 private:
  void draw(uint64_t done, uint64_t total, std::string_view detail);

  std::string label_;
  std::FILE* out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int last_decile_ = -1;
  uint64_t total_ = 0;
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace frugal::cli
