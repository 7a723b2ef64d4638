#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>

namespace frugal::cli {

ProgressBar::ProgressBar(std::string label, std::FILE* out)
    : label_(std::move(label)),
      out_(out),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(uint64_t done, uint64_t total, std::string_view detail) {
  total_ = total;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  } else {
    const int decile = total > 0 ? static_cast<int>(done * 10 / total) : 10;
    if (decile == last_decile_) return;
    last_decile_ = decile;
  }
  last_draw_ = now;
  draw(done, total, detail);
}

void ProgressBar::draw(uint64_t done, uint64_t total, std::string_view detail) {
  const double frac = total > 0 ? std::min(1.0, static_cast<double>(done) / total) : 1.0;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double mb_s = secs > 0 ? static_cast<double>(done) / 1e6 / secs : 0.0;
  if (!tty_) {
    std::fprintf(out_, "%s: %3.0f%%  %.1f MB/s\n", label_.c_str(), 100 * frac, mb_s);
    drawn_ = true;
    return;
  }
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::string d(detail.substr(0, 40));
  // \r, then clear to the end of the line (ESC [ K) so a shorter line leaves no residue.
  std::fprintf(out_, "\r%s [%s] %5.1f%%  %7.1f MB/s  %s\x1b[K", label_.c_str(), bar.c_str(),
               100 * frac, mb_s, d.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (tty_) {
    draw(total_, total_, "done");
    std::fputc('\n', out_);
  } else if (last_decile_ != 10) {
    draw(total_, total_, "");
  }
}

}  // namespace frugal::cli
