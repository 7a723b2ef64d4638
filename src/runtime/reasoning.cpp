#include "runtime/reasoning.h"

#include <algorithm>

namespace frugal {
namespace {
constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest suffix of s that is a proper prefix of tag.
size_t partial_tag_suffix(const std::string& s, std::string_view tag) {
  for (size_t k = std::min(tag.size() - 1, s.size()); k > 0; --k)
    if (s.compare(s.size() - k, k, tag.data(), k) == 0) return k;
  return 0;
}
}  // namespace

SplitPiece ReasoningSplitter::push(std::string_view text) {
  SplitPiece out;
  held_.append(text);
  while (true) {
    if (in_reasoning_) {
      const size_t at = held_.find(kClose);
      if (at == std::string::npos) {
        const size_t keep = partial_tag_suffix(held_, kClose);
        out.reasoning += held_.substr(0, held_.size() - keep);
        held_.erase(0, held_.size() - keep);
        return out;
      }
      out.reasoning += held_.substr(0, at);
      held_.erase(0, at + kClose.size());
      in_reasoning_ = false;
      seen_content_ = true;  // one reasoning block at most
      strip_newlines_ = true;
      continue;
    }
    if (strip_newlines_) {  // the answer begins: drop the newlines that follow </think>
      const size_t first = held_.find_first_not_of('\n');
      held_.erase(0, first == std::string::npos ? held_.size() : first);
      if (held_.empty()) return out;
      strip_newlines_ = false;
    }
    // Only an answer that has shown nothing but whitespace yet may open a reasoning block.
    const size_t at = held_.find(kOpen);
    const size_t scan_end = at == std::string::npos ? held_.size() - partial_tag_suffix(held_, kOpen) : at;
    const bool only_space = held_.find_first_not_of(" \t\r\n") >= scan_end;
    if (seen_content_ || !only_space) {
      seen_content_ = true;
      out.content += held_;
      held_.clear();
      return out;
    }
    if (at == std::string::npos) return out;  // whitespace and maybe half a tag: wait
    held_.erase(0, at + kOpen.size());
    in_reasoning_ = true;
  }
}

SplitPiece ReasoningSplitter::flush() {
  SplitPiece out;
  (in_reasoning_ ? out.reasoning : out.content) = held_;
  held_.clear();
  return out;
}

}  // namespace frugal
