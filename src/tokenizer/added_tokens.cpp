#include "tokenizer/added_tokens.h"

#include <cstring>

namespace frugal {

int32_t AddedTokenMatcher::child(int32_t node, uint8_t byte) const {
  auto it = edges_.find((uint64_t(node) << 8) | byte);
  return it == edges_.end() ? -1 : it->second;
}

void AddedTokenMatcher::add(std::string_view text, int32_t id) {
  if (text.empty()) return;
  const uint8_t first = uint8_t(text[0]);
  if (empty()) {
    only_first_byte_ = first;
  } else if (only_first_byte_ != first) {
    only_first_byte_ = -1;
  }
  first_byte_[first] = true;
  int32_t node = 0;
  for (unsigned char c : text) {
    int32_t next = child(node, c);
    if (next < 0) {
      next = int32_t(nodes_.size());
      nodes_.push_back(-1);
      edges_.emplace((uint64_t(node) << 8) | c, next);
    }
    node = next;
  }
  nodes_[node] = id;
}

bool AddedTokenMatcher::find(std::string_view text, size_t pos, Match& match) const {
  if (empty()) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t i = pos; i < text.size(); ++i) {
    if (only_first_byte_ >= 0) {  // one possible first byte (DeepSeek: '<'): jump with memchr
      const void* hit = std::memchr(p + i, only_first_byte_, text.size() - i);
      if (hit == nullptr) return false;
      i = size_t(static_cast<const uint8_t*>(hit) - p);
    } else if (!first_byte_[p[i]]) {
      continue;
    }
    int32_t node = 0, best_id = -1;
    size_t best_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      node = child(node, p[j]);
      if (node < 0) break;
      if (nodes_[node] >= 0) best_id = nodes_[node], best_end = j + 1;
    }
    if (best_id >= 0) {
      match = {i, best_end, best_id};
      return true;
    }
  }
  return false;
}

}  // namespace frugal
