#include "model/dense_lm.h"

#include <algorithm>

#include "core/error.h"

namespace frugal {

void DenseSequence::truncate(int64_t n_keep) {
  cache_.set_n_past(std::clamp<int64_t>(n_keep, 0, cache_.n_past()));
}

std::unique_ptr<SequenceState> DenseLm::new_sequence(int64_t n_ctx) const {
  return std::make_unique<DenseSequence>(model_.new_cache(n_ctx));
}

void DenseLm::forward(const Batch& batch, SequenceState& seq, std::span<float> logits) {
  auto* s = dynamic_cast<DenseSequence*>(&seq);
  FRUGAL_CHECK(s != nullptr,
               "a sequence of another model was passed to " + model_.config().architecture);
  model_.forward(batch, s->cache(), logits);
}

}  // namespace frugal
