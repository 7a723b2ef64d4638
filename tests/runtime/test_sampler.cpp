// Sampler: each stage checked against hand-computed distributions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "runtime/sampler.h"

namespace frugal {
namespace {

std::vector<int> histogram(SamplingParams p, const std::vector<float>& logits, int draws) {
  Sampler s(p);
  std::vector<int> h(logits.size(), 0);
  for (int i = 0; i < draws; ++i) {
    auto l = logits;
    ++h[s.sample(l, {}, {})];
  }
  return h;
}

TEST(Sampler, GreedyIsArgmaxWithLowestIndexOnTies) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(s.sample(l, {}, {}), 1);
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  // softmax([0, ln 2, ln 3]) = [1/6, 2/6, 3/6]
  SamplingParams p;
  p.seed = 7;
  const auto h = histogram(p, {0.0f, std::log(2.0f), std::log(3.0f)}, 60000);
  EXPECT_NEAR(h[0] / 60000.0, 1.0 / 6, 0.01);
  EXPECT_NEAR(h[1] / 60000.0, 2.0 / 6, 0.01);
  EXPECT_NEAR(h[2] / 60000.0, 3.0 / 6, 0.01);
}

TEST(Sampler, TemperatureSharpens) {
  // T = 0.5 squares the odds: [1, 4, 9] / 14
  SamplingParams p;
  p.temperature = 0.5f;
  p.seed = 3;
  const auto h = histogram(p, {0.0f, std::log(2.0f), std::log(3.0f)}, 60000);
  EXPECT_NEAR(h[2] / 60000.0, 9.0 / 14, 0.01);
  EXPECT_NEAR(h[0] / 60000.0, 1.0 / 14, 0.01);
}

TEST(Sampler, TopKTopPMinPTruncate) {
  const std::vector<float> l = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  SamplingParams k;
  k.top_k = 2;
  auto h = histogram(k, l, 20000);
  EXPECT_EQ(h[0] + h[1], 0);
  EXPECT_NEAR(h[3] / 20000.0, 0.4 / 0.7, 0.015);
  SamplingParams tp;
  tp.top_p = 0.65f;  // 0.4 < 0.65 <= 0.4 + 0.3: keeps ids 3 and 2
  h = histogram(tp, l, 20000);
  EXPECT_EQ(h[0] + h[1], 0);
  EXPECT_GT(h[2], 0);
  SamplingParams tp1;
  tp1.top_p = 0.4f;  // exactly the top token's mass: only it
  h = histogram(tp1, l, 2000);
  EXPECT_EQ(h[3], 2000);
  SamplingParams mp;
  mp.min_p = 0.6f;  // keeps prob >= 0.24: ids 2 and 3
  h = histogram(mp, l, 20000);
  EXPECT_EQ(h[0] + h[1], 0);
  EXPECT_NEAR(h[2] / 20000.0, 0.3 / 0.7, 0.015);
}

TEST(Sampler, PenaltiesMatchTheirFormulas) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;
  Sampler rep(p);
  std::vector<float> l = {3.0f, 2.0f, -1.0f};
  std::vector<int32_t> prompt = {0, 0}, gen = {2};
  // id0: 3/2 = 1.5 < id1: 2 -> greedy picks 1
  EXPECT_EQ(rep.sample(l, prompt, gen), 1);
  EXPECT_FLOAT_EQ(l[0], 1.5f);
  EXPECT_FLOAT_EQ(l[2], -2.0f);
  SamplingParams q;
  q.temperature = 0;
  q.presence_penalty = 0.5f;
  q.frequency_penalty = 0.25f;
  Sampler pf(q);
  std::vector<float> l2 = {3.0f, 2.0f, 0.0f};
  std::vector<int32_t> gen2 = {0, 0, 0, 1};
  pf.sample(l2, {}, gen2);
  EXPECT_FLOAT_EQ(l2[0], 3.0f - 0.5f - 0.75f);
  EXPECT_FLOAT_EQ(l2[1], 2.0f - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(l2[2], 0.0f);
  SamplingParams b;
  b.temperature = 0;
  b.logit_bias = {{2, 100.0f}};
  Sampler bias(b);
  std::vector<float> l3 = {3.0f, 2.0f, 0.0f};
  EXPECT_EQ(bias.sample(l3, {}, {}), 2);
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams p;
  p.seed = 1234;
  p.temperature = 1.3f;
  Sampler a(p), b(p);
  std::vector<float> base(100);
  for (size_t i = 0; i < base.size(); ++i) base[i] = std::sin(static_cast<float>(i));
  for (int i = 0; i < 50; ++i) {
    auto x = base, y = base;
    EXPECT_EQ(a.sample(x, {}, {}), b.sample(y, {}, {}));
  }
}

TEST(Sampler, RejectsBadParameters) {
  SamplingParams p;
  p.top_p = 0;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  p.temperature = -1;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  Sampler s(p);
  std::vector<float> masked(3, -std::numeric_limits<float>::infinity());
  EXPECT_THROW(s.sample(masked, {}, {}), Error);
}

TEST(Logprobs, AreLogSoftmaxOfRawLogits) {
  std::vector<float> l = {0.0f, std::log(3.0f)};
  EXPECT_NEAR(token_logprob(l, 1), std::log(0.75), 1e-6);
  auto top = top_logprobs(l, 5);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].token, 1);
  EXPECT_NEAR(top[1].logprob, std::log(0.25), 1e-6);
}

}  // namespace
}  // namespace frugal
