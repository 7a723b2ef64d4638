// The dense decoder of the R1-Distill models (qwen2, llama): loading from GGUF or a Hugging Face
// directory, and one forward pass for prefill and decode alike (tokens + positions of one or
// several sequences, each causal over its own per-layer K/V cache; step_plan.h). Math:
// deepseek-arch.md §8.
//   h = Embed[token]; for each layer: h += GQA(attn_norm(h)); h += SwiGLU(ffn_norm(h))
//   logits = output(output_norm(h))
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/blocks.h"
#include "model/causal_lm.h"
#include "model/dense_config.h"
#include "model/dense_kv_cache.h"
#include "model/dense_weights.h"
#include "model/model_files.h"

namespace frugal {

// Everything the forward pass writes, sized once at load, beyond the DecoderActivations (h, x,
// branch, ffn_gate / ffn_up [B, ffn], rope_cos / rope_sin [C, head_dim / 2]).
// B = max_batch, C = max_context.
struct DenseActivations : DecoderActivations {
  std::vector<float> q;        // [B, n_heads, head_dim]
  std::vector<float> k;        // [B, n_kv_heads, head_dim]
  std::vector<float> v;        // [B, n_kv_heads, head_dim]
  std::vector<float> o;        // [B, n_heads, head_dim] attention output before wo

  DenseActivations(const DenseConfig& c, int64_t max_batch, int64_t max_context);
};

// One sequence's part of a multi-sequence forward: its tokens and its cache.
struct DenseSequenceBatch {
  Batch batch;
  DenseKvCache* cache = nullptr;
};

// One chunk of rows going through one layer: the rows of one or more sequences, each sequence's
// rows a segment of consecutive tokens (step_plan.h).
struct DenseStep {
  const DenseConfig& c;
  DenseActivations& a;
  const int32_t* pos;                        // [n] position of each row
  int64_t n;                                 // rows in this chunk
  std::span<const SegmentRows> segs;         // the sequences' segments, in row order
  std::span<const DenseSequenceBatch> seqs;  // the step's sequences (segs[i].seq indexes it)

  DenseKvCache& cache(const SegmentRows& g) const { return *seqs[g.seq].cache; }
};

// Attention branch: a.x [n, dim] -> out [n, dim]; writes each row's K/V into its sequence's
// cache, and each segment attends over its own cache.
void dense_attention(const DenseLayerWeights& w, DenseStep& s, int64_t layer, float* out);

class DenseModel {
 public:
  // A GGUF file, or a directory with config.json + safetensors. Throws frugal::Error.
  static DenseModel load(const std::string& path, const ModelOptions& opt = {});

  DenseModel(DenseModel&&) noexcept;
  DenseModel& operator=(DenseModel&&) noexcept;
  ~DenseModel();

  const DenseConfig& config() const { return config_; }
  const DenseWeights& weights() const { return weights_; }
  const ModelOptions& options() const { return opt_; }

  // A cache of n_ctx positions (0 = options().max_context).
  DenseKvCache new_cache(int64_t n_ctx = 0) const;
  // A block pool for caches that share it (paged KV cache), and a cache drawing on one.
  std::shared_ptr<KvBlockPool> new_kv_pool(int64_t n_blocks) const;
  DenseKvCache new_cache(int64_t n_ctx, std::shared_ptr<KvBlockPool> pool) const;

  // logits: [n_tokens, n_vocab] (LogitsMode::All) or [n_vocab] (Last). Throws frugal::Error for a
  // token id out of range, bad positions, or a sequence longer than the cache.
  void forward(const Batch& batch, DenseKvCache& cache, std::span<float> logits);
  // Several sequences in one step (CausalLm::forward_multi): logits are each sequence's
  // [n_tokens, n_vocab] (All) or [n_vocab] (Last), back to back in order.
  void forward_multi(std::span<const DenseSequenceBatch> seqs, std::span<float> logits);

 private:
  DenseModel();
  void init(const ModelOptions& opt);
  void forward_chunk(std::span<const DenseSequenceBatch> seqs, float* logits);

  DenseConfig config_;
  ModelOptions opt_;
  ModelFiles files_;  // the mappings the weight views point into
  DenseWeights weights_;
  std::unique_ptr<DenseActivations> act_;
};

}  // namespace frugal
