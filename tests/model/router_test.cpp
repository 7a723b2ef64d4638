// Hand-computed routing cases (deepseek-arch.md §3.3).
#include "model/router.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace frugal {
namespace {

struct Routed {
  std::vector<int32_t> idx;
  std::vector<float> w;
};

Routed route(const RouterParams& p, const std::vector<float>& logits,
             const std::vector<float>* bias = nullptr) {
  std::vector<float> scratch(2 * p.n_experts + p.n_groups);
  Routed r{std::vector<int32_t>(p.k), std::vector<float>(p.k)};
  route_token(p, logits.data(), bias ? bias->data() : nullptr, scratch.data(), r.idx.data(),
              r.w.data());
  return r;
}

float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}

RouterParams softmax_greedy(int64_t n, int64_t k, float scale = 1.0f) {
  return {ExpertScoring::Softmax, TopkMethod::Greedy, n, 1, 1, k, false, scale};
}

TEST(Router, SoftmaxGreedyKeepsUnnormalisedProbabilities) {
  const std::vector<float> logits = {0, 1, 2, 3};
  const Routed r = route(softmax_greedy(4, 2, 16.0f), logits);
  const double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_EQ(r.idx, (std::vector<int32_t>{3, 2}));
  EXPECT_NEAR(r.w[0], 16.0 * std::exp(3.0) / z, 1e-5);  // softmax prob times routed_scaling_factor
  EXPECT_NEAR(r.w[1], 16.0 * std::exp(2.0) / z, 1e-5);
}

TEST(Router, TiesGoToTheLowerExpertIndex) {
  const Routed r = route(softmax_greedy(4, 2), {1, 1, 1, 0});
  EXPECT_EQ(r.idx, (std::vector<int32_t>{0, 1}));
  EXPECT_FLOAT_EQ(r.w[0], r.w[1]);
}

TEST(Router, GroupLimitedGreedyRanksGroupsByTheirMax) {
  // 4 groups of 2; keep 1 group. Greedy would take experts 0 and 4; the best group is {0, 1}.
  RouterParams p{ExpertScoring::Softmax, TopkMethod::GroupLimitedGreedy, 8, 4, 1, 2, false, 1.0f};
  const std::vector<float> logits = {5, 0, 4, 0, 4.5f, 0, 0, 0};
  EXPECT_EQ(route(p, logits).idx, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(route(softmax_greedy(8, 2), logits).idx, (std::vector<int32_t>{0, 4}));
}

TEST(Router, NoauxTcRanksGroupsBySumOfTopTwo) {
  // Group 0 holds the single best expert, but group 1's top-2 sum is larger.
  RouterParams p{ExpertScoring::Sigmoid, TopkMethod::NoauxTc, 4, 2, 1, 2, true, 2.5f};
  const std::vector<float> zero_bias = {0, 0, 0, 0};
  const Routed r = route(p, {3, -5, 1, 1}, &zero_bias);
  EXPECT_EQ(r.idx, (std::vector<int32_t>{2, 3}));
  EXPECT_NEAR(r.w[0], 1.25f, 1e-6);  // equal sigmoid scores normalised to 0.5, times 2.5
  EXPECT_NEAR(r.w[1], 1.25f, 1e-6);
}

TEST(Router, BiasChangesSelectionButNotWeights) {
  RouterParams p{ExpertScoring::Sigmoid, TopkMethod::NoauxTc, 4, 1, 1, 2, true, 2.5f};
  const std::vector<float> logits = {0, 0.1f, 0.2f, 0.3f};
  const std::vector<float> none = {0, 0, 0, 0}, bias = {1, 0, 0, 0};
  EXPECT_EQ(route(p, logits, &none).idx, (std::vector<int32_t>{3, 2}));
  const Routed r = route(p, logits, &bias);
  EXPECT_EQ(r.idx, (std::vector<int32_t>{0, 3}));
  const float s0 = sigmoid(0), s3 = sigmoid(0.3f);  // unbiased scores
  EXPECT_NEAR(r.w[0], 2.5f * s0 / (s0 + s3), 1e-6);
  EXPECT_NEAR(r.w[1], 2.5f * s3 / (s0 + s3), 1e-6);
  // Without normalisation the weights are the raw sigmoid scores times the scale.
  p.norm_topk_prob = false;
  const Routed raw = route(p, logits, &bias);
  EXPECT_NEAR(raw.w[0], 2.5f * s0, 1e-6);
  EXPECT_NEAR(raw.w[1], 2.5f * s3, 1e-6);
}

TEST(Router, BiasAlsoDecidesWhichGroupsSurvive) {
  // Group scores use biased scores: a bias on group 0 outweighs group 1's larger raw scores.
  RouterParams p{ExpertScoring::Sigmoid, TopkMethod::NoauxTc, 4, 2, 1, 1, true, 1.0f};
  const std::vector<float> logits = {0, 0, 2, 2}, bias = {2, 2, 0, 0};
  const Routed r = route(p, logits, &bias);
  EXPECT_EQ(r.idx, (std::vector<int32_t>{0}));
  EXPECT_NEAR(r.w[0], 1.0f, 1e-6);  // one expert, normalised
}

}  // namespace
}  // namespace frugal
