#include "model/causal_lm.h"

#include <string>

#include "core/error.h"
#include "model/step_plan.h"

namespace frugal {

void CausalLm::forward_multi(std::span<const SequenceBatch> seqs, std::span<float> logits) {
  if (seqs.empty()) throw Error("forward: no sequences to run");
  size_t want = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i].state == nullptr)
      throw Error("forward: sequence " + std::to_string(i) + " has no state");
    for (size_t j = 0; j < i; ++j)
      if (seqs[j].state == seqs[i].state)
        throw Error("forward: sequences " + std::to_string(j) + " and " + std::to_string(i) +
                    " share one state (each sequence needs its own)");
    want += static_cast<size_t>(logit_rows(seqs[i].batch) * n_vocab());
  }
  check_step_logits(logits.size(), want);
  size_t offset = 0;
  for (const SequenceBatch& s : seqs) {
    const size_t n = static_cast<size_t>(logit_rows(s.batch) * n_vocab());
    forward(s.batch, *s.state, logits.subspan(offset, n));
    offset += n;
  }
}

}  // namespace frugal
