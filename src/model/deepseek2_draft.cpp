// Deepseek2Lm's MTP draft head (CausalLm::draft): every forward also feeds the MTP layer the
// entries its tokens complete (entry i = h_i with the token at i + 1, deepseek2_mtp.h), so that
// draft() needs one MTP entry: the last position's h with the token chosen after it.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "model/blocks.h"
#include "model/deepseek2_lm.h"

namespace frugal {

// A forward that rewinds to position q > 0 invalidates the MTP entry q - 1 unless it was made
// with the same token at q; remaking it needs h_{q-1}. When that is gone (prefix reuse across
// requests), position q - 1 is run again in front of the batch (same token, same cache prefix:
// the same cache row) to get it back; with LogitsMode::All (whose rows the caller maps to its
// tokens) the draft state is marked stale instead.
void Deepseek2Lm::forward_with_mtp(const Batch& b, Deepseek2Sequence& seq,
                                   std::span<float> logits) {
  const int64_t V = model_.config().n_vocab, B = model_.options().max_batch;
  check_batch(b, V, seq.n_past(), seq.n_ctx(), logits.size());
  MtpSequenceState& st = *seq.mtp();
  const int64_t q = b.positions[0];
  const bool entry_before_ok = q == 0 || (st.cache.n_past() >= q && st.tokens[q] == b.tokens[0]);
  const int64_t refeed =
      !entry_before_ok && !st.has_hidden(q - 1) && b.logits == LogitsMode::Last ? 1 : 0;
  const int64_t n = static_cast<int64_t>(b.tokens.size()) + refeed;
  for (int64_t i = 0; i < n; i += B) {  // chunks of max_batch: last_hidden holds one chunk
    const int64_t m = std::min(B, n - i);
    for (int64_t j = 0; j < m; ++j) {
      const int64_t k = i + j - refeed;  // index into b
      st.chunk_tokens[j] = k < 0 ? st.tokens[q - 1] : b.tokens[k];
      st.chunk_pos[j] = static_cast<int32_t>(q - refeed + i + j);
    }
    const auto mz = static_cast<size_t>(m);
    Batch chunk{std::span<const int32_t>(st.chunk_tokens).first(mz),
                std::span<const int32_t>(st.chunk_pos).first(mz), b.logits};
    std::span<float> out = logits;
    if (b.logits == LogitsMode::All)
      out = logits.subspan(static_cast<size_t>(i * V), mz * static_cast<size_t>(V));
    else if (i + m < n)
      out = scratch_logits_;
    model_.forward(chunk, seq.cache(), out);
    mtp_after_chunk(chunk, st);
  }
}

// Runs the MTP entries from the position before the chunk (unless draft() already made it with
// the chunk's first token) to the chunk's second-to-last position, then keeps the chunk's h.
void Deepseek2Lm::mtp_after_chunk(const Batch& chunk, MtpSequenceState& st) {
  const int64_t dim = model_.config().dim, m = static_cast<int64_t>(chunk.tokens.size());
  const int64_t p = chunk.positions[0];
  int64_t first = p;
  if (p == 0) {
    st.current = true;
  } else if (st.cache.n_past() < p || st.tokens[p] != chunk.tokens[0]) {
    first = p - 1;
    if (!st.has_hidden(p - 1) || st.cache.n_past() < p - 1) st.current = false;
  }
  std::copy(chunk.tokens.begin(), chunk.tokens.end(), st.tokens.begin() + p);
  const std::span<const float> h = model_.last_hidden(m);  // [m, dim]
  const int64_t n_entries = p + m - 1 - first;
  if (st.current && n_entries > 0) {
    for (int64_t e = first; e < p + m - 1; ++e) {
      const float* src = e < p ? &st.hidden[(e - st.hidden_first) * dim] : &h[(e - p) * dim];
      std::memcpy(&st.entries[(e - first) * dim], src, static_cast<size_t>(dim) * sizeof(float));
      st.entry_pos[e - first] = static_cast<int32_t>(e);
    }
    const auto k = static_cast<size_t>(n_entries);
    mtp_->forward({std::span<const float>(st.entries).first(k * static_cast<size_t>(dim)),
                   std::span<const int32_t>(st.tokens).subspan(static_cast<size_t>(first + 1), k),
                   std::span<const int32_t>(st.entry_pos).first(k), LogitsMode::All},
                  st.cache, {});
  }
  std::copy(h.begin(), h.end(), st.hidden.begin());
  st.hidden_first = p;
  st.n_hidden = m;
}

bool Deepseek2Lm::can_draft(const SequenceState& seq) const {
  const auto* s = dynamic_cast<const Deepseek2Sequence*>(&seq);
  if (!mtp_ || s == nullptr || s->mtp() == nullptr) return false;
  const MtpSequenceState& st = *s->mtp();
  const int64_t last = s->n_past() - 1;
  return st.current && last >= 0 && s->n_past() < s->n_ctx() && st.has_hidden(last) &&
         st.cache.n_past() >= last;
}

void Deepseek2Lm::draft(SequenceState& seq, int32_t next, std::span<float> logits) {
  if (!can_draft(seq))
    throw Error(mtp_ ? "draft: the sequence's MTP state is not current (nothing fed yet, the "
                       "context is full, or it was rewound past its last hidden state)"
                     : "draft: the model was loaded without MTP (ModelOptions::mtp)");
  auto& s = static_cast<Deepseek2Sequence&>(seq);
  MtpSequenceState& st = *s.mtp();
  const int64_t dim = model_.config().dim;
  const auto last = static_cast<int32_t>(s.n_past() - 1);
  st.tokens[last + 1] = next;
  mtp_->forward({std::span<const float>(st.hidden).subspan(
                     static_cast<size_t>((last - st.hidden_first) * dim), static_cast<size_t>(dim)),
                 std::span<const int32_t>(&st.tokens[last + 1], 1),
                 std::span<const int32_t>(&last, 1), LogitsMode::Last},
                st.cache, logits);
}

}  // namespace frugal
