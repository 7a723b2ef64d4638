// The weights of a deepseek2 model as views (WeightMatrix) into a mapped file or into buffers
// converted at load, and the tensor table that lists every tensor once. The table drives
// loading (GGUF and HF), shape checks, memory accounting, `frugal info` and `frugal synth`.
// Shapes are PyTorch order ([out, in]; experts [n_experts, out, in]).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/deepseek2_config.h"
#include "model/weight_views.h"

namespace frugal {

struct AttentionWeights {
  const float* attn_norm = nullptr;  // [dim]
  WeightMatrix wq;                   // [n_heads * (d_n + d_r), dim]      (no q_lora only)
  WeightMatrix wq_a;                 // [q_lora_rank, dim]                (q_lora only)
  const float* q_norm = nullptr;     // [q_lora_rank]                     (q_lora only)
  WeightMatrix wq_b;                 // [n_heads * (d_n + d_r), q_lora_rank]
  WeightMatrix wkv_a;                // [kv_lora_rank + d_r, dim]: latent rows, then k_pe rows
  const float* kv_norm = nullptr;    // [kv_lora_rank]
  std::vector<WeightMatrix> k_b;     // n_heads x [kv_lora_rank, d_n]  (W_UK[h] transposed)
  std::vector<WeightMatrix> v_b;     // n_heads x [d_v, kv_lora_rank]  (W_UV[h])
  WeightMatrix wo;                   // [dim, n_heads * d_v]
};

struct MoeWeights {
  WeightMatrix router;                // [n_routed_experts, dim]
  const float* score_bias = nullptr;  // [n_routed_experts] e_score_correction_bias (noaux_tc only)
  std::vector<WeightMatrix> gate;     // n_routed_experts x [moe_ffn, dim]
  std::vector<WeightMatrix> up;       // n_routed_experts x [moe_ffn, dim]
  std::vector<WeightMatrix> down;     // n_routed_experts x [dim, moe_ffn]
  SwiGluWeights shared;  // gate/up [n_shared * moe_ffn, dim], down [dim, n_shared * moe_ffn]
                         // (empty when no shared experts)
};

struct LayerWeights {
  AttentionWeights attn;
  const float* ffn_norm = nullptr;  // [dim]
  SwiGluWeights mlp;                // dense layers only: gate/up [ffn, dim], down [dim, ffn]
  MoeWeights moe;                   // MoE layers only
};

// One multi-token-prediction module (deepseek-arch.md §5), layer n_layers + k of the file:
//   u = eh_proj [enorm(Embed[t_{i+1}]) ; hnorm(h_i)];  u = Block(u);  logits = output(norm(u))
// The embedding and output head are the main model's (the file's copies, if any, are not read).
struct MtpWeights {
  WeightMatrix eh_proj;                     // [dim, 2 dim]: columns [embedding ; hidden]
  const float* enorm = nullptr;             // [dim] RMSNorm of the embedding
  const float* hnorm = nullptr;             // [dim] RMSNorm of the main model's hidden state
  const float* shared_head_norm = nullptr;  // [dim] RMSNorm before the shared output head
  LayerWeights block;                       // attention + FFN, as a main layer
};

struct Deepseek2Weights {
  WeightMatrix token_embd;             // [n_vocab, dim]
  std::vector<LayerWeights> layers;    // [n_layers]
  const float* output_norm = nullptr;  // [dim]
  WeightMatrix output;                 // [n_vocab, dim] (lm_head, not tied)
  std::vector<MtpWeights> mtp;         // [n_mtp_layers]
  // Buffers made at load (converted norms, transposed k_b, FP8 -> BF16); the views above may
  // point into them. Inner buffers never move once filled.
  OwnedBuffers owned;
};

enum class TensorRole {
  Vector,   // float vector (norms, score bias): converted to F32 at load if stored otherwise
  Matrix,   // 2-D weight used as stored
  Experts,  // 3-D stack [n_experts, out, in]; HF stores one 2-D tensor per expert ({e} in name)
  KvB,      // wkv_b [n_heads * (d_n + d_v), kv_lora]; split into k_b/v_b at load, or read as
            // the newer GGUF pair attn_k_b [H, kv_lora, d_n] / attn_v_b [H, d_v, kv_lora]
};

struct TensorEntry {
  std::string gguf_name;       // e.g. "blk.1.ffn_gate_exps.weight"
  std::string hf_name;         // e.g. "model.layers.1.mlp.experts.{e}.gate_proj.weight"
  std::vector<int64_t> shape;  // PyTorch order
  TensorRole role = TensorRole::Matrix;
  bool keep_f32 = false;  // synth writes it as F32 (norms, router, bias)
  // Destination (one of, by role).
  const float** vector = nullptr;
  WeightMatrix* matrix = nullptr;
  std::vector<WeightMatrix>* experts = nullptr;
  AttentionWeights* attn = nullptr;  // KvB
};

// Every tensor of the model, once, in file order: the main model, then the MTP modules.
// Destinations point into `w` (w.layers and w.mtp are resized first).
std::vector<TensorEntry> deepseek2_tensor_table(const Deepseek2Config& c, Deepseek2Weights& w);

// The matrices matmul streams (every projection, expert and the output head; not the token
// embedding, which is only looked up by row): the candidates for ModelFiles::pack.
std::vector<WeightMatrix*> streamed_matrices(Deepseek2Weights& w);

}  // namespace frugal
