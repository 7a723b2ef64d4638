// The deepseek2 model (DeepSeek-V2, V2-Lite, V3, R1): loading from GGUF or a Hugging Face
// directory, and one forward pass for prefill and decode alike (tokens + positions of one or
// several sequences, each causal over its own latent KV cache; step_plan.h). Math:
// ../shared/docs/reference/deepseek-arch.md.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/deepseek2_config.h"
#include "model/deepseek2_weights.h"
#include "model/kv_cache.h"
#include "model/model_files.h"

namespace frugal {

struct Deepseek2Activations;

// Optional debugging record of a forward pass (allocates; never needed for inference).
struct ForwardTrace {
  std::vector<std::vector<float>> hidden;            // [n_layers + 1] -> [n_tokens, dim]
  std::vector<std::vector<int32_t>> router_indices;  // [n_moe_layers] -> [n_tokens, k]
  std::vector<std::vector<float>> router_weights;    // [n_moe_layers] -> [n_tokens, k]
};

// One sequence's part of a multi-sequence forward: its tokens and its cache.
struct LatentSequenceBatch {
  Batch batch;
  LatentKvCache* cache = nullptr;
};

class Deepseek2Model {
 public:
  // A GGUF file, or a directory with config.json + safetensors. Throws frugal::Error.
  static Deepseek2Model load(const std::string& path, const ModelOptions& opt = {});

  Deepseek2Model(Deepseek2Model&&) noexcept;
  Deepseek2Model& operator=(Deepseek2Model&&) noexcept;
  ~Deepseek2Model();

  const Deepseek2Config& config() const { return config_; }
  const Deepseek2Weights& weights() const { return weights_; }
  const ModelOptions& options() const { return opt_; }
  void set_attention(AttentionImpl impl) { opt_.attention = impl; }

  // A cache of n_ctx positions (0 = options().max_context).
  LatentKvCache new_cache(int64_t n_ctx = 0) const;
  // A block pool for caches that share it (paged KV cache), and a cache drawing on one.
  std::shared_ptr<KvBlockPool> new_kv_pool(int64_t n_blocks) const;
  LatentKvCache new_cache(int64_t n_ctx, std::shared_ptr<KvBlockPool> pool) const;

  // logits: [n_tokens, n_vocab] (LogitsMode::All) or [n_vocab] (Last). Throws frugal::Error for a
  // token id out of range, bad positions, or a sequence longer than the cache.
  void forward(const Batch& batch, LatentKvCache& cache, std::span<float> logits,
               ForwardTrace* trace = nullptr);
  // Several sequences in one step (CausalLm::forward_multi): logits are each sequence's
  // [n_tokens, n_vocab] (All) or [n_vocab] (Last), back to back in order. The trace, if any,
  // records the chunks' rows in order (sequence after sequence).
  void forward_multi(std::span<const LatentSequenceBatch> seqs, std::span<float> logits,
                     ForwardTrace* trace = nullptr);

  // [n_tokens, dim]: the residual stream after the last layer (before output_norm) of the tokens
  // of the last forward() call, which must have had n_tokens <= options().max_batch tokens (one
  // chunk). Valid until the next forward(); what MTP reads (deepseek2_mtp.h).
  std::span<const float> last_hidden(int64_t n_tokens) const;

 private:
  Deepseek2Model();
  void init(const ModelOptions& opt);
  void forward_chunk(std::span<const LatentSequenceBatch> seqs, float* logits, ForwardTrace* trace);

  Deepseek2Config config_;
  ModelOptions opt_;
  ModelFiles files_;  // the mappings the weight views point into
  Deepseek2Weights weights_;
  std::unique_ptr<Deepseek2Activations> act_;
};

}  // namespace frugal
