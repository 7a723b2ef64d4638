// JSON mode end to end in the runtime: the sampler under a token constraint (greedy and sampled
// draws against the masked, renormalised distribution) and constrained generation through the
// scheduler on a tiny random-weight model with the real DeepSeek-V3 tokenizer: every output is
// one JSON object (checked with nlohmann::json) or, cut by max_tokens, a prefix of one.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "model/causal_lm.h"
#include "model/deepseek2_synth.h"
#include "runtime/json_constraint.h"
#include "runtime/json_grammar.h"
#include "runtime/sampler.h"
#include "runtime/scheduler.h"
#include "test_util.h"
#include "stream_util.h"
#include "tiny_model.h"
#include "tokenizer/tokenizer.h"

namespace frugal {
namespace {

SamplingParams params(float temperature, int32_t top_k, uint64_t seed) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.seed = seed;
  return p;
}

struct EvenIds final : TokenConstraint {
  bool allows(int32_t id) const override { return id % 2 == 0; }
};

TEST(ConstrainedSampler, GreedyTakesTheBestAllowedToken) {
  std::vector<float> logits = {1, 9, 3, 8, 3, 7};
  Sampler s(params(0, 0, 0));
  EvenIds even;
  EXPECT_EQ(s.sample(logits, {}, {}, &even), 2);  // 2 and 4 tie at 3: the lower id
  EXPECT_EQ(constrained_argmax(logits, even), 2);
  struct None final : TokenConstraint {
    bool allows(int32_t) const override { return false; }
  } none;
  EXPECT_EQ(constrained_argmax(logits, none), -1);
  EXPECT_THROW(s.sample(logits, {}, {}, &none), Error);
}

// Sampling with the constraint draws from softmax(logits) restricted to allowed ids.
TEST(ConstrainedSampler, SamplesTheMaskedRenormalisedDistribution) {
  const std::vector<float> base = {2.0f, 3.0f, 1.0f, 2.5f, 0.0f, 1.5f, -1.0f, 0.5f};
  EvenIds even;
  double z = 0;
  for (size_t i = 0; i < base.size(); i += 2) z += std::exp(base[i]);
  Sampler s(params(1, 0, 7));
  std::map<int32_t, int> counts;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = base;
    const int32_t id = s.sample(l, {}, {}, &even);
    ASSERT_EQ(id % 2, 0);
    ++counts[id];
  }
  for (size_t i = 0; i < base.size(); i += 2) {
    const double expected = std::exp(base[i]) / z;
    EXPECT_NEAR(counts[static_cast<int32_t>(i)] / double(n), expected, 0.01) << "id " << i;
  }
}

// With top-k leaving no allowed candidate, the whole vocabulary is masked and truncated again.
TEST(ConstrainedSampler, FallsBackToTheMaskedVocabulary) {
  std::vector<float> logits = {0, 5, 1, 6, 2, 7};
  Sampler s(params(1, 2, 1));
  EvenIds even;
  for (int i = 0; i < 50; ++i) {
    std::vector<float> l = logits;
    const int32_t id = s.sample(l, {}, {}, &even);
    EXPECT_TRUE(id == 2 || id == 4) << id;  // the top 2 of the allowed ids
  }
}

using test::TinyModel;

// Built once per process; null members when ../shared/data is absent.
TinyModel& tiny() {
  static TinyModel m = [] {
    ModelOptions opt;
    opt.max_context = 512;
    return test::make_tiny_model("tiny-json-mode", opt);
  }();
  return m;
}

#define REQUIRE_TINY()                                               \
  if (!tiny().model)                                                 \
  GTEST_SKIP() << "../shared/data/tokenizer/deepseek-v3 is absent: " \
                  "no tokenizer for the test model"

using Output = test::Outcome;

Output run(Scheduler& s, SequenceRequest req) {
  return test::collect(*s.submit(std::move(req)), 120);
}

// Checks one constrained output; returns true when it closed the object.
bool check_output(const Output& o, int64_t max_tokens, const std::string& what) {
  EXPECT_TRUE(o.done.end == SequenceEnd::Stop || o.done.end == SequenceEnd::Length) << what;
  if (o.done.end == SequenceEnd::Stop) {
    EXPECT_TRUE(nlohmann::json::accept(o.text)) << what << ": " << o.text;
    if (nlohmann::json::accept(o.text)) {
      EXPECT_TRUE(nlohmann::json::parse(o.text).is_object()) << what << ": " << o.text;
    }
    return true;
  }
  EXPECT_EQ(static_cast<int64_t>(o.tokens.size()), max_tokens) << what;
  JsonGrammar g;
  EXPECT_TRUE(g.feed_all(o.text)) << what << ": not a prefix of a JSON object: " << o.text;
  EXPECT_FALSE(g.done()) << what << ": closed but not stopped";
  return false;
}

SequenceRequest json_request(int64_t max_tokens, float temperature, uint64_t seed) {
  SequenceRequest r;
  r.prompt = tiny().tok->encode("Answer in JSON: a list of three fruits with their colours.");
  r.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  r.json_object = true;
  return r;
}

int32_t single_token(const std::string& text) {
  const auto ids = tiny().tok->encode(text, {.add_bos = false});
  EXPECT_EQ(ids.size(), 1u) << text;
  return ids.at(0);
}

TEST(JsonMode, ConstrainedGenerationYieldsOneObject) {
  REQUIRE_TINY();
  Scheduler s(*tiny().model, *tiny().tok, [] { SchedulerOptions o; o.n_slots = 2; return o; }());
  const int64_t max_tokens = 40;
  // Unbiased: a random-weight model rarely closes the object within max_tokens.
  for (uint64_t seed = 1; seed <= 4; ++seed)
    check_output(run(s, json_request(max_tokens, 1.0f, seed)), max_tokens,
                 "seed " + std::to_string(seed));
  check_output(run(s, json_request(max_tokens, 0.0f, 0)), max_tokens, "greedy");
  // Biased towards structure, so that objects close: every closed one ends the sequence (Stop)
  // right at its closing brace.
  int n_closed = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SequenceRequest r = json_request(200, 1.0f, seed);
    for (const char* t : {"\"", "}", "]", ",", ":", "1", "true", "[", "{", "\":"})
      r.sampling.logit_bias[single_token(t)] = 6.0f + static_cast<float>(seed % 3);
    const Output o = run(s, std::move(r));
    if (check_output(o, 200, "biased seed " + std::to_string(seed))) {
      ++n_closed;
      EXPECT_EQ(o.text.back(), '}');
    }
  }
  EXPECT_GE(n_closed, 4);
}

// The constraint never allows added tokens (BOS, EOS, chat markup) inside the object, and only
// end-of-generation tokens after it.
TEST(JsonMode, AddedTokensOnlyAsTheEnd) {
  REQUIRE_TINY();
  const Tokenizer& tok = *tiny().tok;
  JsonConstraint c(tok);
  for (int32_t id = 0; id < tok.n_tokens(); ++id)
    if (is_added_token_type(tok.token_type(id))) {
      ASSERT_FALSE(c.allows(id)) << id;
    }
  c.accept(single_token("{"));
  EXPECT_FALSE(c.allows(tok.eos_id()));
  c.accept(single_token("}"));
  EXPECT_TRUE(c.done());
  EXPECT_TRUE(c.allows(tok.eos_id()));
  EXPECT_FALSE(c.allows(single_token("}")));
  EXPECT_THROW(c.accept(single_token("}")), Error);
}

}  // namespace
}  // namespace frugal
