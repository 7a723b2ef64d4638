// Finds added tokens (<｜User｜>, <think>, ...) in raw text: leftmost, then longest match, as the
// Aho-Corasick LeftmostLongest matcher of Hugging Face tokenizers does.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace frugal {

class AddedTokenMatcher {
 public:
  struct Match {
    size_t begin = 0;
    size_t end = 0;
    int32_t id = -1;
  };

  // Registers `text` (non-empty) as token `id`; a later registration of the same text wins.
  void add(std::string_view text, int32_t id);
  bool empty() const { return nodes_.size() <= 1; }
  // Finds the leftmost match starting at or after `pos`, taking the longest one there.
  bool find(std::string_view text, size_t pos, Match& match) const;

 private:
  int32_t child(int32_t node, uint8_t byte) const;
  std::vector<int32_t> nodes_{-1};               // node -> token id ending here, or -1
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child node
  std::array<bool, 256> first_byte_{};           // bytes that can start a token
  int only_first_byte_ = -1;                     // the single byte every token starts with, or -1
};

}  // namespace frugal
