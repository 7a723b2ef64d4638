#include "tokenizer/bpe.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace frugal {

namespace {

inline uint64_t pair_key(int32_t l, int32_t r) {
  return (uint64_t(uint32_t(l)) << 32) | uint32_t(r);
}

inline uint64_t mix(uint64_t k) {  // splitmix64 finaliser
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebULL;
  return k ^ (k >> 31);
}

}  // namespace

BpeModel::BpeModel(const VocabData& data, const TokenIndex& token_to_id) {
  for (int b = 0; b < 256; ++b) {
    std::string mapped;
    append_utf8(mapped, byte_to_unicode(uint8_t(b)));
    const int32_t id = token_to_id.find(mapped);
    if (id < 0) {
      throw Error("tokenizer: vocabulary has no token for byte " + std::to_string(b) + " ('" +
                  mapped + "'); a byte-level BPE vocabulary needs all 256");
    }
    byte_id_[b] = id;
  }
  size_t cap = 16;
  while (cap < data.merges.size() * 2) cap <<= 1;
  table_.assign(cap, Merge{});
  mask_ = cap - 1;
  std::string joined;
  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    const auto& [l, r] = data.merges[rank];
    const int32_t li = token_to_id.find(l), ri = token_to_id.find(r);
    joined.assign(l).append(r);
    const int32_t mi = token_to_id.find(joined);
    if (li < 0 || ri < 0 || mi < 0) {
      throw Error("tokenizer: merge " + std::to_string(rank) + " ('" + l + "' '" + r +
                  "') names a token missing from the vocabulary");
    }
    // The first (lowest-rank) occurrence of a pair wins, as in Hugging Face.
    if (!find_merge(li, ri)) {
      insert_merge(li, ri, int32_t(rank), mi);
    }
  }
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    const Merge& m = table_[i];
    if (m.key == key) return &m;
    if (m.key == kEmpty) return nullptr;
  }
}

void BpeModel::insert_merge(int32_t left, int32_t right, int32_t rank, int32_t id) {
  const uint64_t key = pair_key(left, right);
  uint64_t i = mix(key) & mask_;
  while (table_[i].key != kEmpty) i = (i + 1) & mask_;
  table_[i] = {key, rank, id};
  ++n_merges_;
}

namespace {

struct Symbol {
  int32_t id;
  int32_t prev;  // index of the previous live symbol, -1 at the start
  int32_t next;  // index of the next live symbol, -1 at the end
  bool live;
};

// A candidate merge of symbols[left] with its next symbol. Stale when either side changed since.
struct Candidate {
  int32_t rank;
  int32_t left;
  int32_t left_id;
  int32_t right_id;
  int32_t merged_id;
};

// Min-heap order: lower rank first, then leftmost.
struct LaterCandidate {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  }
};

}  // namespace

// Short pieces: symbols in a flat array with the rank of each adjacent pair cached; each step
// scans for the lowest rank (leftmost on ties), merges, and re-ranks the two neighbours. O(n^2),
// fastest for the few-byte pieces that make up almost all text.
void BpeModel::encode_short(std::string_view raw, std::vector<int32_t>& out) const {
  constexpr int32_t kNone = INT32_MAX;
  const size_t n = raw.size();
  int32_t ids[kShortPiece];
  int32_t ranks[kShortPiece];   // ranks[i]: rank of merging ids[i] with ids[i + 1]
  int32_t merged[kShortPiece];  // merged[i]: the resulting id
  for (size_t i = 0; i < n; ++i) ids[i] = byte_id_[uint8_t(raw[i])];
  auto rank_at = [&](size_t i) {
    if (const Merge* m = find_merge(ids[i], ids[i + 1])) {
      ranks[i] = m->rank, merged[i] = m->id;
    } else {
      ranks[i] = kNone;
    }
  };
  size_t len = n;
  for (size_t i = 0; i + 1 < len; ++i) rank_at(i);
  while (len > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < len; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == kNone) break;
    ids[best] = merged[best];
    for (size_t i = best + 1; i + 1 < len; ++i) {
      ids[i] = ids[i + 1], ranks[i] = ranks[i + 1], merged[i] = merged[i + 1];
    }
    --len;
    if (best > 0) rank_at(best - 1);
    if (best + 1 < len) rank_at(best);
  }
  out.insert(out.end(), ids, ids + len);
}

void BpeModel::encode_piece(std::string_view raw, std::vector<int32_t>& out) const {
  const size_t n = raw.size();
  if (n == 0) return;
  if (n == 1) {
    out.push_back(byte_id_[uint8_t(raw[0])]);
    return;
  }
  if (n <= kShortPiece) {
    encode_short(raw, out);
    return;
  }
  thread_local std::vector<Symbol> syms;
  thread_local std::vector<Candidate> heap;
  syms.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    syms[i] = {byte_id_[uint8_t(raw[i])], int32_t(i) - 1, i + 1 < n ? int32_t(i + 1) : -1, true};
  }
  auto push_pair = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = syms[left].next;
    if (right < 0) return;
    if (const Merge* m = find_merge(syms[left].id, syms[right].id)) {
      heap.push_back({m->rank, left, syms[left].id, syms[right].id, m->id});
      std::push_heap(heap.begin(), heap.end(), LaterCandidate{});
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) push_pair(int32_t(i));

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), LaterCandidate{});
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = syms[c.left];
    if (!left.live || left.id != c.left_id || left.next < 0) continue;
    Symbol& right = syms[left.next];
    if (right.id != c.right_id) continue;
    // Merge right into left.
    left.id = c.merged_id;
    right.live = false;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = c.left;
    push_pair(left.prev);
    push_pair(c.left);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

}  // namespace frugal
