#include "model/router.h"

#include <cmath>
#include <limits>

#include "kernels/kernels.h"

namespace frugal {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Index of the largest value in x[0, n); ties go to the lowest index.
int64_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

// Ranking score of one group: max (group_limited_greedy) or sum of the top two (noaux_tc).
float group_score(const float* s, int64_t n, TopkMethod m) {
  float top1 = kNegInf, top2 = kNegInf;
  for (int64_t i = 0; i < n; ++i) {
    if (s[i] > top1) {
      top2 = top1;
      top1 = s[i];
    } else if (s[i] > top2) {
      top2 = s[i];
    }
  }
  return m == TopkMethod::NoauxTc && n > 1 ? top1 + top2 : top1;
}

// Sets the selection scores of every expert outside the topk_groups best groups to -inf.
void mask_groups(const RouterParams& p, float* sel, float* group_scores) {
  const int64_t per = p.n_experts / p.n_groups;
  for (int64_t g = 0; g < p.n_groups; ++g)
    group_scores[g] = group_score(sel + g * per, per, p.method);
  for (int64_t kept = 0; kept < p.topk_groups; ++kept)
    group_scores[argmax(group_scores, p.n_groups)] = kNegInf;
  // Kept groups are now -inf in group_scores; the others still hold a score.
  for (int64_t g = 0; g < p.n_groups; ++g) {
    if (group_scores[g] == kNegInf) continue;
    for (int64_t i = 0; i < per; ++i) sel[g * per + i] = kNegInf;
  }
}

}  // namespace

RouterParams RouterParams::from(const Deepseek2Config& c) {
  return {c.scoring,     c.topk_method,    c.n_routed_experts, c.n_groups,
          c.topk_groups, c.n_experts_used, c.norm_topk_prob,   c.routed_scaling_factor};
}

void route_token(const RouterParams& p, const float* logits, const float* bias, float* scratch,
                 int32_t* idx, float* weight) {
  const int64_t n = p.n_experts;
  float* s = scratch;        // [n] scores
  float* sel = scratch + n;  // [n] selection scores (biased, masked)
  for (int64_t e = 0; e < n; ++e) s[e] = logits[e];
  if (p.scoring == ExpertScoring::Softmax) {
    softmax(s, n);
  } else {
    for (int64_t e = 0; e < n; ++e) s[e] = 1.0f / (1.0f + std::exp(-s[e]));
  }
  for (int64_t e = 0; e < n; ++e) sel[e] = s[e] + (bias ? bias[e] : 0.0f);
  const bool grouped =
      p.method != TopkMethod::Greedy && p.n_groups > 1 && p.topk_groups < p.n_groups;
  if (grouped) mask_groups(p, sel, scratch + 2 * n);
  float sum = 0;
  for (int64_t j = 0; j < p.k; ++j) {
    const int64_t e = argmax(sel, n);
    sel[e] = kNegInf;
    idx[j] = static_cast<int32_t>(e);
    weight[j] = s[e];
    sum += s[e];
  }
  const float norm = p.norm_topk_prob ? 1.0f / (sum + 1e-20f) : 1.0f;
  for (int64_t j = 0; j < p.k; ++j) weight[j] *= norm * p.routed_scaling_factor;
}

}  // namespace frugal
