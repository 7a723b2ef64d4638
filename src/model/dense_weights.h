// The weights of a dense qwen2 / llama model as views into a mapped file (or buffers converted
// at load), and the tensor table that lists every tensor once. The table drives loading (GGUF
// and HF), shape checks and `frugal synth`. Shapes are PyTorch order ([out, in]).
// In a llama GGUF the rows of wq / wk are permuted per head (adjacent RoPE pairs); the config's
// rope_pairs says which convention the views hold, so no weight is copied.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/dense_config.h"
#include "model/weight_views.h"

namespace frugal {

struct DenseLayerWeights {
  const float* attn_norm = nullptr;  // [dim]
  WeightMatrix wq;                   // [n_heads * head_dim, dim]
  WeightMatrix wk;                   // [n_kv_heads * head_dim, dim]
  WeightMatrix wv;                   // [n_kv_heads * head_dim, dim]
  const float* bq = nullptr;         // [n_heads * head_dim]     (qkv_bias only)
  const float* bk = nullptr;         // [n_kv_heads * head_dim]  (qkv_bias only)
  const float* bv = nullptr;         // [n_kv_heads * head_dim]  (qkv_bias only)
  WeightMatrix wo;                   // [dim, n_heads * head_dim]
  const float* ffn_norm = nullptr;   // [dim]
  SwiGluWeights mlp;                 // gate/up [ffn, dim], down [dim, ffn]
};

struct DenseWeights {
  WeightMatrix token_embd;                // [n_vocab, dim]
  std::vector<DenseLayerWeights> layers;  // [n_layers]
  const float* output_norm = nullptr;     // [dim]
  WeightMatrix output;                    // [n_vocab, dim]; a view of token_embd when tied
  OwnedBuffers owned;                     // conversions made at load
};

// Every tensor of the model, once, in file order (output.weight only when untied;
// rope_freqs.weight is config, read by DenseConfig::from_gguf). Destinations point into `w`.
std::vector<TensorSpec> dense_tensor_table(const DenseConfig& c, DenseWeights& w);

// The matrices matmul streams (projections and the output head, also when it is tied to the
// token embedding): the candidates for ModelFiles::pack.
std::vector<WeightMatrix*> streamed_matrices(DenseWeights& w);

// Fills `w` from `src`; throws frugal::Error naming a missing or mis-shaped tensor.
void load_dense_weights(const DenseConfig& c, const WeightSource& src, DenseWeights& w);

}  // namespace frugal
