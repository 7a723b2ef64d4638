#include "model/deepseek2_lm.h"

#include <algorithm>

#include "core/error.h"

namespace frugal {

void Deepseek2Sequence::truncate(int64_t n_keep) {
  cache_.truncate(n_keep);
  if (!mtp_) return;
  const int64_t last = cache_.n_past() - 1;  // its entry needs the token after it
  mtp_->cache.set_n_past(std::clamp<int64_t>(last, 0, mtp_->cache.n_past()));
  if (last >= 0 && !mtp_->has_hidden(last)) mtp_->current = false;
}

std::span<const int32_t> Deepseek2Sequence::kv_blocks() const {
  const int64_t bt = cache_.pool().block_tokens();
  const auto n = static_cast<size_t>((cache_.n_past() + bt - 1) / bt);
  return cache_.blocks().first(std::min(n, cache_.blocks().size()));
}

void Deepseek2Sequence::adopt_kv_blocks(std::span<const int32_t> blocks, int64_t n_past) {
  cache_.adopt_blocks(blocks, n_past);
  if (mtp_) mtp_->current = false;  // the draft head never saw these positions
}

size_t Deepseek2Sequence::bytes_per_token() const {
  return cache_.bytes_per_token() + (mtp_ ? mtp_->cache.bytes_per_token() : 0);
}

size_t Deepseek2Sequence::bytes() const {
  return cache_.bytes() + (mtp_ ? mtp_->cache.bytes() : 0);
}

Deepseek2Lm::Deepseek2Lm(Deepseek2Model model)
    : model_(std::move(model)), scratch_logits_(static_cast<size_t>(model_.config().n_vocab)) {
  if (model_.options().mtp) mtp_ = std::make_unique<Deepseek2Mtp>(model_);
}

std::unique_ptr<SequenceState> Deepseek2Lm::new_sequence(int64_t n_ctx) const {
  return sequence_with(model_.new_cache(n_ctx));
}

std::unique_ptr<SequenceState> Deepseek2Lm::new_sequence(int64_t n_ctx,
                                                         std::shared_ptr<KvBlockPool> pool) const {
  FRUGAL_CHECK(pool != nullptr, "new_sequence: no pool");
  return sequence_with(model_.new_cache(n_ctx, std::move(pool)));
}

std::unique_ptr<SequenceState> Deepseek2Lm::sequence_with(LatentKvCache cache) const {
  if (!mtp_) return std::make_unique<Deepseek2Sequence>(std::move(cache));
  auto st = std::make_unique<MtpSequenceState>();
  st->cache = mtp_->new_cache(cache.n_ctx());
  st->tokens.assign(static_cast<size_t>(cache.n_ctx()), 0);
  const size_t rows = static_cast<size_t>(model_.options().max_batch * model_.config().dim);
  st->hidden.assign(rows, 0.0f);
  st->entries.assign(rows, 0.0f);
  st->entry_pos.assign(static_cast<size_t>(model_.options().max_batch), 0);
  st->chunk_tokens = st->entry_pos;
  st->chunk_pos = st->entry_pos;
  return std::make_unique<Deepseek2Sequence>(std::move(cache), std::move(st));
}

void Deepseek2Lm::forward(const Batch& batch, SequenceState& seq, std::span<float> logits) {
  const SequenceBatch one{batch, &seq};
  forward_multi({&one, 1}, logits);
}

void Deepseek2Lm::forward_multi(std::span<const SequenceBatch> seqs, std::span<float> logits) {
  step_.clear();
  bool with_mtp = false;
  for (const SequenceBatch& sb : seqs) {
    auto* s = dynamic_cast<Deepseek2Sequence*>(sb.state);
    if (s == nullptr)
      throw Error("forward: sequence " + std::to_string(step_.size()) +
                  (sb.state ? " was made by another model, not deepseek2" : " has no state"));
    with_mtp = with_mtp || s->mtp() != nullptr;
    step_.push_back({sb.batch, &s->cache()});
  }
  if (!with_mtp) {
    model_.forward_multi(step_, logits);
    return;
  }
  // Sequences that feed an MTP head run one at a time (the head needs each one's hidden states).
  size_t out = 0;
  for (const SequenceBatch& sb : seqs) {
    auto& s = static_cast<Deepseek2Sequence&>(*sb.state);
    const size_t n = (sb.batch.logits == LogitsMode::All ? sb.batch.tokens.size() : 1) *
                     static_cast<size_t>(model_.config().n_vocab);
    FRUGAL_CHECK(out + n <= logits.size(), "forward_multi: logits buffer too small");
    if (s.mtp() != nullptr)
      forward_with_mtp(sb.batch, s, logits.subspan(out, n));
    else
      model_.forward(sb.batch, s.cache(), logits.subspan(out, n));
    out += n;
  }
}

}  // namespace frugal
