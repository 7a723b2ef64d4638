// Multi-token prediction (deepseek-arch.md §5) on a loaded Deepseek2Model. MTP module 0 turns the
// main model's final hidden state h_i (the residual stream after the last layer, before
// output_norm) and the token t_{i+1} into logits for t_{i+2}:
//   u = eh_proj [enorm(Embed[t_{i+1}]) ; hnorm(h_i)]
//   u += MLA(attn_norm(u));  u += FFN(ffn_norm(u))        (the module's own block)
//   logits = output(shared_head_norm(u))                   (the main model's embedding and head)
// Its attention runs causally over its own latent KV cache (one layer per module), entry i at
// position i. Only the first module is run (DeepSeek-V3/R1 have one).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/causal_lm.h"
#include "model/deepseek2.h"
#include "model/kv_cache.h"

namespace frugal {

struct Deepseek2Activations;

// n entries at consecutive positions.
struct MtpBatch {
  std::span<const float> hidden;         // [n, dim] h_i of the main model at positions[j]
  std::span<const int32_t> next_tokens;  // [n] t_{i+1}: the token at positions[j] + 1
  std::span<const int32_t> positions;    // [n] i
  LogitsMode logits = LogitsMode::All;
};

class Deepseek2Mtp {
 public:
  // The model must outlive this object. Throws frugal::Error when it has no MTP module loaded.
  explicit Deepseek2Mtp(const Deepseek2Model& model);
  Deepseek2Mtp(Deepseek2Mtp&&) noexcept;
  Deepseek2Mtp& operator=(Deepseek2Mtp&&) noexcept;
  ~Deepseek2Mtp();

  // A cache for the MTP layers of n_ctx positions (0 = the model's max_context).
  LatentKvCache new_cache(int64_t n_ctx = 0) const;

  // logits: [n, n_vocab] (All), [n_vocab] (Last) or empty (only fill the cache). Throws
  // frugal::Error for bad ids, positions or sizes (as Deepseek2Model::forward).
  void forward(const MtpBatch& batch, LatentKvCache& cache, std::span<float> logits);

 private:
  void forward_chunk(const MtpBatch& b, int64_t first, int64_t n, LatentKvCache& cache,
                     float* logits, bool last_only);

  const Deepseek2Model* model_;
  std::unique_ptr<Deepseek2Activations> act_;
  std::vector<float> eh_in_;  // [max_batch, 2 dim]: [enorm(Embed[t_{i+1}]) ; hnorm(h_i)]
};

}  // namespace frugal
