#include "model/dense_lm.h"

#include <algorithm>

#include "core/error.h"

namespace frugal {

void DenseSequence::truncate(int64_t n_keep) {
  cache_.truncate(n_keep);
}

std::span<const int32_t> DenseSequence::kv_blocks() const {
  const int64_t bt = cache_.pool().block_tokens();
  const auto n = static_cast<size_t>((cache_.n_past() + bt - 1) / bt);
  return cache_.blocks().first(std::min(n, cache_.blocks().size()));
}

std::unique_ptr<SequenceState> DenseLm::new_sequence(int64_t n_ctx) const {
  return std::make_unique<DenseSequence>(model_.new_cache(n_ctx));
}

std::unique_ptr<SequenceState> DenseLm::new_sequence(int64_t n_ctx,
                                                     std::shared_ptr<KvBlockPool> pool) const {
  FRUGAL_CHECK(pool != nullptr, "new_sequence: no pool");
  return std::make_unique<DenseSequence>(model_.new_cache(n_ctx, std::move(pool)));
}

void DenseLm::forward(const Batch& batch, SequenceState& seq, std::span<float> logits) {
  const SequenceBatch one{batch, &seq};
  forward_multi({&one, 1}, logits);
}

void DenseLm::forward_multi(std::span<const SequenceBatch> seqs, std::span<float> logits) {
  step_.clear();
  for (const SequenceBatch& sb : seqs) {
    auto* s = dynamic_cast<DenseSequence*>(sb.state);
    if (s == nullptr)
      throw Error("forward: sequence " + std::to_string(step_.size()) +
                  (sb.state ? " was made by another model, not " + model_.config().architecture
                            : std::string(" has no state")));
    step_.push_back({sb.batch, &s->cache()});
  }
  model_.forward_multi(step_, logits);
}

}  // namespace frugal
