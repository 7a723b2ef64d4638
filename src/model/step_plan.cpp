#include "model/step_plan.h"

#include "model/blocks.h"

namespace frugal {

StepChunk::StepChunk(int64_t max_batch)
    : tokens(static_cast<size_t>(max_batch)),
      pos(static_cast<size_t>(max_batch)),
      segs(static_cast<size_t>(max_batch)),
      out_rows(static_cast<size_t>(max_batch)) {}

void check_sequence(const Batch& b, size_t i, size_t n, int64_t n_vocab, int64_t n_past,
                    int64_t n_ctx) {
  const std::string where =
      n == 1 ? std::string("forward")
             : "forward: sequence " + std::to_string(i) + " of " + std::to_string(n);
  check_batch(b, n_vocab, n_past, n_ctx, where);
}

void check_step_logits(size_t n_logits, size_t want) {
  if (n_logits != want)
    throw Error("forward: logits buffer holds " + std::to_string(n_logits) + " floats, expected " +
                std::to_string(want));
}

}  // namespace frugal
