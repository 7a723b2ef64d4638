#include "model/deepseek2_lm.h"

#include <algorithm>

#include "core/error.h"

namespace frugal {

void Deepseek2Sequence::truncate(int64_t n_keep) {
  cache_.set_n_past(std::clamp<int64_t>(n_keep, 0, cache_.n_past()));
}

std::unique_ptr<SequenceState> Deepseek2Lm::new_sequence(int64_t n_ctx) const {
  return std::make_unique<Deepseek2Sequence>(model_.new_cache(n_ctx));
}

void Deepseek2Lm::forward(const Batch& batch, SequenceState& seq, std::span<float> logits) {
  auto* s = dynamic_cast<Deepseek2Sequence*>(&seq);
  FRUGAL_CHECK(s != nullptr, "a sequence of another model was passed to deepseek2");
  model_.forward(batch, s->cache(), logits);
}

}  // namespace frugal
