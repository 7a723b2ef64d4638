// Pieces of the deepseek2 forward pass shared by deepseek2.cpp, mla*.cpp and moe.cpp.
// Not part of the model's public API.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/blocks.h"
#include "model/deepseek2.h"

namespace frugal {

// Everything the forward pass writes, sized once at load, beyond the DecoderActivations (h, x,
// branch, ffn_gate / ffn_up [B, widest MLP], rope_cos / rope_sin [C, d_r / 2]).
// B = max_batch, H = n_heads, C = max_context, E = n_routed_experts, k = experts used per token.
struct Deepseek2Activations : DecoderActivations {
  std::vector<float> q_a;             // [B, q_lora_rank] query latent
  std::vector<float> q;               // [B, H, d_n + d_r]: q_nope then q_pe per head
  std::vector<float> kv;              // [B, kv_lora_rank + d_r] wkv_a output
  std::vector<float> q_abs;           // [B, H, kv_lora_rank] W_UK[h]^T q_nope
  std::vector<float> ctx;             // [B, H, kv_lora_rank] attention-weighted latents
  std::vector<float> o;               // [B, H * d_v] attention output before wo
  std::vector<float> router_logits;   // [B, E]
  std::vector<float> router_scratch;  // [2 E + n_groups]
  std::vector<int32_t> expert_idx;    // [B, k]
  std::vector<float> expert_w;        // [B, k]
  std::vector<int32_t> expert_start;  // [E + 2] offsets into expert_slots
  std::vector<int32_t> expert_slots;  // [B * k] token * k + j, grouped by expert
  std::vector<float> xe;              // [B, dim] tokens routed to one expert
  std::vector<float> ye;              // [B, dim] that expert's output

  Deepseek2Activations(const Deepseek2Config& c, int64_t max_batch, int64_t max_context);
};

// One chunk of rows going through one layer: the rows of one or more sequences, each sequence's
// rows a segment of consecutive tokens (step_plan.h).
struct Step {
  const Deepseek2Config& c;
  Deepseek2Activations& a;
  const int32_t* pos;                         // [n] position of each row
  int64_t n;                                  // rows in this chunk
  std::span<const SegmentRows> segs;          // the sequences' segments, in row order
  std::span<const LatentSequenceBatch> seqs;  // the step's sequences (segs[i].seq indexes it)

  LatentKvCache& cache(const SegmentRows& g) const { return *seqs[g.seq].cache; }
};

// attention branch: a.x [n, dim] -> out [n, dim]; writes each row's latents into its
// sequence's cache, and each segment attends over its own cache.
void mla_forward(const AttentionWeights& w, Step& s, int64_t layer, AttentionImpl impl, float* out);
// The reference path (expanded k_nope / v) for the rows of segment g; allocates. Called by
// mla_forward.
void mla_attend_naive(const AttentionWeights& w, Step& s, const LatentKvCache& cache, int64_t layer,
                      const SegmentRows& g);

// One transformer block on the residual stream a.h [n, dim] (deepseek2_block.cpp):
//   h += MLA(attn_norm(h)) over layer `cache_layer` of each segment's cache;  h += FFN(ffn_norm(h))
// with the MoE FFN when `moe`, else the dense SwiGLU MLP. Used by the MTP module; the main loop in
// deepseek2.cpp spells out the same steps (with tracing).
void block_forward(const LayerWeights& w, bool moe, Step& s, int64_t cache_layer,
                   AttentionImpl impl);

// MoE branch: a.x [n, dim] -> out [n, dim]. When trace_idx/trace_w are set, the chosen experts
// and weights are appended ([n, k]).
void moe_forward(const MoeWeights& w, Step& s, float* out, std::vector<int32_t>* trace_idx,
                 std::vector<float>* trace_w);

}  // namespace frugal
