#include "model/step_plan.h"

namespace frugal {

StepChunk::StepChunk(int64_t max_batch)
    : tokens(static_cast<size_t>(max_batch)),
      pos(static_cast<size_t>(max_batch)),
      segs(static_cast<size_t>(max_batch)),
      out_rows(static_cast<size_t>(max_batch)) {}

void check_batch(const Batch& b, int64_t n_vocab, int64_t n_past, int64_t n_ctx, size_t seq,
                 size_t n_seqs) {
  auto fail = [&](const std::string& what) {  // the message is built only on failure
    const std::string where =
        n_seqs == 1 ? std::string("forward")
                    : "forward: sequence " + std::to_string(seq) + " of " + std::to_string(n_seqs);
    throw Error(where + ": " + what);
  };
  const size_t n = b.tokens.size();
  if (n == 0) fail("empty batch");
  if (b.positions.size() != n)
    fail(std::to_string(n) + " tokens but " + std::to_string(b.positions.size()) + " positions");
  for (size_t i = 0; i < n; ++i)
    if (b.tokens[i] < 0 || b.tokens[i] >= n_vocab)
      fail("token id " + std::to_string(b.tokens[i]) + " at index " + std::to_string(i) +
           " is out of range [0, " + std::to_string(n_vocab) + ")");
  const int64_t p0 = b.positions[0];
  if (p0 < 0 || p0 > n_past)
    fail("first position " + std::to_string(p0) + " must be in [0, " + std::to_string(n_past) +
         "] (the cache holds " + std::to_string(n_past) + " positions)");
  for (size_t i = 1; i < n; ++i)
    if (b.positions[i] != p0 + static_cast<int64_t>(i))
      fail("positions must be consecutive; position[" + std::to_string(i) +
           "] = " + std::to_string(b.positions[i]) + ", expected " +
           std::to_string(p0 + static_cast<int64_t>(i)));
  if (p0 + static_cast<int64_t>(n) > n_ctx)
    fail(std::to_string(n) + " tokens from position " + std::to_string(p0) +
         " exceed the context of " + std::to_string(n_ctx) + " positions");
}

void check_step_logits(size_t n_logits, size_t want) {
  if (n_logits != want)
    throw Error("forward: logits buffer holds " + std::to_string(n_logits) + " floats, expected " +
                std::to_string(want));
}

}  // namespace frugal
