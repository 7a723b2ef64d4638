// How one forward step over several sequences is cut into chunks of at most max_batch rows.
// The rows of every sequence are laid out one sequence after the other, in the order given
// (sequence 0's tokens, then sequence 1's, ...); a chunk takes the next max_batch of them, so a
// sequence's tokens may span several chunks, and a chunk may hold many sequences (a segment each).
// Row-wise work (norms, projections, MoE, output head) runs over the whole chunk; attention runs
// per segment over that sequence's own cache.
//
// Logits: each sequence's wanted rows (all of them, or only its last token's) are written back
// to back in sequence order, so the rows one chunk wants land on consecutive logits rows
// starting at StepChunk::out_first.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/causal_lm.h"

namespace frugal {

// One sequence's rows inside a chunk.
struct SegmentRows {
  int64_t seq = 0;   // index into the step's list of sequences
  int64_t row0 = 0;  // first row in the chunk
  int64_t n = 0;     // rows (consecutive tokens, at consecutive positions)
};

// One chunk of a step; every buffer holds max_batch entries, allocated once at load.
struct StepChunk {
  explicit StepChunk(int64_t max_batch);
  std::vector<int32_t> tokens;    // [B] token of each row
  std::vector<int32_t> pos;       // [B] position of each row
  std::vector<SegmentRows> segs;  // [B] the sequences' segments, in row order (n_segs used)
  std::vector<int32_t> out_rows;  // [B] rows whose logits are wanted, ascending (n_out used)
  int64_t n_rows = 0, n_segs = 0, n_out = 0;
  int64_t out_first = 0;  // logits row (of n_vocab floats) that out_rows[0] writes

  std::span<const SegmentRows> segments() const {
    return {segs.data(), static_cast<size_t>(n_segs)};
  }
};

// Where the next chunk starts: a sequence, a token in it, and the next logits row.
struct StepCursor {
  size_t seq = 0;
  int64_t token = 0;
  int64_t out_row = 0;
};

// Logits rows a batch asks for: n_tokens (All) or 1 (Last).
inline int64_t logit_rows(const Batch& b) {
  return b.logits == LogitsMode::All ? static_cast<int64_t>(b.tokens.size()) : 1;
}

// Fills `chunk` with the next rows of seqs (each element has a `.batch`), at most
// chunk.tokens.size() of them; false when every row has been taken.
template <class Seq>
bool next_chunk(std::span<const Seq> seqs, StepCursor& cur, StepChunk& chunk) {
  const int64_t max_rows = static_cast<int64_t>(chunk.tokens.size());
  chunk.n_rows = chunk.n_segs = chunk.n_out = 0;
  chunk.out_first = cur.out_row;
  while (cur.seq < seqs.size() && chunk.n_rows < max_rows) {
    const Batch& b = seqs[cur.seq].batch;
    const int64_t n_tok = static_cast<int64_t>(b.tokens.size());
    const int64_t m = std::min(max_rows - chunk.n_rows, n_tok - cur.token);
    chunk.segs[chunk.n_segs++] = {static_cast<int64_t>(cur.seq), chunk.n_rows, m};
    for (int64_t i = 0; i < m; ++i) {
      const int64_t t = cur.token + i, row = chunk.n_rows + i;
      chunk.tokens[row] = b.tokens[t];
      chunk.pos[row] = b.positions[t];
      if (b.logits == LogitsMode::All || t == n_tok - 1)
        chunk.out_rows[chunk.n_out++] = static_cast<int32_t>(row);
    }
    chunk.n_rows += m;
    cur.token += m;
    if (cur.token == n_tok) {
      ++cur.seq;
      cur.token = 0;
    }
  }
  cur.out_row += chunk.n_out;
  return chunk.n_rows > 0;
}

// Checks a Batch against a sequence whose cache holds n_past of n_ctx positions: non-empty,
// token ids in [0, n_vocab), consecutive positions starting at most at n_past, fitting in n_ctx.
// Throws frugal::Error naming the problem, and the sequence ("forward: sequence 2 of 3: ...")
// when it is one of n_seqs > 1. The logits buffer is checked by check_step_logits.
void check_batch(const Batch& b, int64_t n_vocab, int64_t n_past, int64_t n_ctx, size_t seq = 0,
                 size_t n_seqs = 1);

// Throws frugal::Error unless the logits buffer holds `want` floats.
void check_step_logits(size_t n_logits, size_t want);

// Checks every sequence of a step before anything runs: each `.batch` against its `.cache`, no
// cache twice, and `n_logits` the sum of the sequences' logits sizes ([n_tokens, n_vocab] for
// LogitsMode::All, [n_vocab] for Last). Throws frugal::Error naming the sequence.
template <class Seq>
void check_sequences(std::span<const Seq> seqs, int64_t n_vocab, size_t n_logits) {
  if (seqs.empty()) throw Error("forward: no sequences to run");
  size_t want = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i].cache == nullptr)
      throw Error("forward: sequence " + std::to_string(i) + " has no cache");
    for (size_t j = 0; j < i; ++j)
      if (seqs[j].cache == seqs[i].cache)
        throw Error("forward: sequences " + std::to_string(j) + " and " + std::to_string(i) +
                    " share one cache (each sequence needs its own)");
    check_batch(seqs[i].batch, n_vocab, seqs[i].cache->n_past(), seqs[i].cache->n_ctx(), i,
                seqs.size());
    want += static_cast<size_t>(logit_rows(seqs[i].batch) * n_vocab);
  }
  check_step_logits(n_logits, want);
}

}  // namespace frugal
