// The BPE merge loop over one pre-token piece: start from one symbol per byte, repeatedly merge
// the adjacent pair with the lowest merge rank (leftmost on ties) until no pair is in the table.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/token_index.h"
#include "tokenizer/vocab.h"

namespace frugal {

class BpeModel {
 public:
  // `token_to_id` maps stored token strings to ids. Throws frugal::Error when a byte has no token
  // or a merge names strings that are not tokens.
  BpeModel(const VocabData& data, const TokenIndex& token_to_id);

  // Appends the ids of `raw` (the piece's UTF-8 bytes, not byte-level-mapped) to `out`.
  void encode_piece(std::string_view raw, std::vector<int32_t>& out) const;

  int32_t byte_id(uint8_t b) const { return byte_id_[b]; }
  size_t n_merges() const { return n_merges_; }

 private:
  struct Merge {
    uint64_t key = kEmpty;  // (left id << 32) | right id
    int32_t rank = 0;
    int32_t id = 0;  // id of the merged token
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  static constexpr size_t kShortPiece = 48;  // pieces up to this many bytes use encode_short

  const Merge* find_merge(int32_t left, int32_t right) const;
  void encode_short(std::string_view raw, std::vector<int32_t>& out) const;
  void insert_merge(int32_t left, int32_t right, int32_t rank, int32_t id);

  std::array<int32_t, 256> byte_id_{};
  std::vector<Merge> table_;  // open addressing, linear probing; size a power of two
  uint64_t mask_ = 0;
  size_t n_merges_ = 0;
};

}  // namespace frugal
