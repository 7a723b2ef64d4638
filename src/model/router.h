// MoE routing for one token: scores -> chosen experts and their weights
// (deepseek-arch.md §3.3). Pure function on plain buffers, so hand-computed cases can test it.
#pragma once

#include <cstdint>

#include "model/deepseek2_config.h"

namespace frugal {

struct RouterParams {
  ExpertScoring scoring = ExpertScoring::Softmax;
  TopkMethod method = TopkMethod::Greedy;
  int64_t n_experts = 0;
  int64_t n_groups = 1;     // contiguous groups of n_experts / n_groups
  int64_t topk_groups = 1;  // groups kept (group-limited methods only)
  int64_t k = 0;            // experts chosen per token
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;

  static RouterParams from(const Deepseek2Config& c);
};

// logits [n_experts]: router outputs (gate weight . x). bias [n_experts] or null: added to the
// scores for choosing only (noaux_tc). scratch [2 * n_experts + n_groups]. Writes idx [k]
// (descending by selection score; ties go to the lower expert index) and weight [k]:
//   scores s = softmax(logits) or sigmoid(logits); weight_e = s_e (never biased),
//   normalised to sum 1 if norm_topk_prob, then times routed_scaling_factor.
void route_token(const RouterParams& p, const float* logits, const float* bias, float* scratch,
                 int32_t* idx, float* weight);

}  // namespace frugal
