// Self-speculative greedy decoding with the demo model's MTP layer (Generator, req.speculative):
// the tokens must be exactly those of plain greedy decoding and of the PyTorch model's own greedy
// continuations (tests/model/data/demo_golden.json), whatever the chunking of the prompt and
// through prefix reuse; and the drafts must mostly be accepted.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/causal_lm.h"
#include "runtime/generator.h"
#include "tokenizer/tokenizer.h"

namespace frugal {
namespace {

const std::string kModel = std::string(FRUGAL_SOURCE_DIR) + "/models/demo-v3-tiny.gguf";
const std::string kGolden = std::string(FRUGAL_SOURCE_DIR) + "/tests/model/data/demo_golden.json";

#define FRUGAL_REQUIRE_DEMO()                                                  \
  do {                                                                         \
    if (!std::filesystem::exists(kModel))                                      \
      GTEST_SKIP() << kModel << " is absent (make it with tools/train-demo/)"; \
  } while (0)

GenerationRequest greedy_request(std::vector<int32_t> prompt, int64_t max_tokens, bool spec) {
  GenerationRequest req;
  req.prompt = std::move(prompt);
  req.max_tokens = max_tokens;
  req.sampling.temperature = 0;
  req.speculative = spec;
  return req;
}

std::unique_ptr<CausalLm> load(bool mtp, int64_t max_batch) {
  ModelOptions opt;
  opt.mtp = mtp;
  opt.max_batch = max_batch;
  opt.max_context = 512;
  return load_causal_lm(kModel, opt);
}

TEST(Speculative, SameTokensAsPlainGreedyAndPyTorch) {
  FRUGAL_REQUIRE_DEMO();
  const Tokenizer tok = Tokenizer::from_path(kModel);
  std::ifstream f(kGolden);
  const auto g = nlohmann::json::parse(f);
  ASSERT_FALSE(g["cases"].empty());
  int64_t drafted = 0, accepted = 0;
  for (int64_t max_batch : {64, 3}) {  // 3: prompts fed in chunks, MTP entries across them
    auto plain_lm = load(false, max_batch), spec_lm = load(true, max_batch);
    Generator plain(*plain_lm, tok), spec(*spec_lm, tok);
    for (const auto& c : g["cases"]) {
      const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
      auto want = c["greedy_ids"].get<std::vector<int32_t>>();
      if (!want.empty() && want.back() == tok.eos_id()) want.pop_back();  // Generator drops EOS
      const GenerationResult p = plain.generate(greedy_request(prompt, 32, false));
      const GenerationResult s = spec.generate(greedy_request(prompt, 32, true));
      EXPECT_EQ(p.tokens, want) << c["prompt"];
      EXPECT_EQ(s.tokens, want) << c["prompt"];
      EXPECT_EQ(s.text, p.text);
      EXPECT_EQ(s.finish, p.finish);
      EXPECT_EQ(p.n_drafted, 0);
      EXPECT_GT(s.n_drafted, 0);
      drafted += s.n_drafted;
      accepted += s.n_accepted;
    }
  }
  std::printf("[demo] MTP drafts %lld, accepted %lld (%.1f%%)\n", static_cast<long long>(drafted),
              static_cast<long long>(accepted), 100.0 * accepted / drafted);
  EXPECT_GT(accepted, drafted / 2);  // measured ~80 % on these prompts
}

// Long runs, max_tokens reached in the middle of an accepted pair, and a call that reuses the
// cached prefix (the position before the new tokens is run again to rebuild the draft state).
TEST(Speculative, LongRunsAndPrefixReuseMatchPlainGreedy) {
  FRUGAL_REQUIRE_DEMO();
  const Tokenizer tok = Tokenizer::from_path(kModel);
  auto plain_lm = load(false, 8), spec_lm = load(true, 8);
  Generator plain(*plain_lm, tok), spec(*spec_lm, tok);
  const std::vector<int32_t> first = tok.encode("And God said, Let there be light");
  for (int64_t n : {1, 2, 3, 150}) {
    const auto p = plain.generate(greedy_request(first, n, false));
    const auto s = spec.generate(greedy_request(first, n, true));
    EXPECT_EQ(s.tokens, p.tokens) << n;
    EXPECT_EQ(static_cast<int64_t>(s.tokens.size()), n);
  }
  std::vector<int32_t> longer = first;
  for (int32_t id : tok.encode(": and there was light.\nAnd God saw the light", {.add_bos = false}))
    longer.push_back(id);
  const auto p = plain.generate(greedy_request(longer, 100, false));
  const auto s = spec.generate(greedy_request(longer, 100, true));
  EXPECT_GT(s.n_prompt_reused, 0);
  EXPECT_GT(s.n_drafted, 0);  // the draft state was rebuilt for the reused prefix
  EXPECT_EQ(s.tokens, p.tokens);
}

TEST(Speculative, SamplingIgnoresTheFlagAndModelsWithoutMtpCannotDraft) {
  FRUGAL_REQUIRE_DEMO();
  const Tokenizer tok = Tokenizer::from_path(kModel);
  auto spec_lm = load(true, 64), plain_lm = load(false, 64);
  Generator spec(*spec_lm, tok);
  GenerationRequest req = greedy_request(tok.encode("Blessed are the"), 8, true);
  req.sampling.temperature = 0.8f;
  req.sampling.seed = 7;
  EXPECT_EQ(spec.generate(req).n_drafted, 0);
  auto seq = plain_lm->new_sequence();
  EXPECT_FALSE(plain_lm->can_draft(*seq));
  std::vector<float> logits(static_cast<size_t>(plain_lm->n_vocab()));
  EXPECT_THROW(plain_lm->draft(*seq, 5, logits), Error);
  auto fresh = spec_lm->new_sequence();
  EXPECT_FALSE(spec_lm->can_draft(*fresh));  // nothing fed yet
}

}  // namespace
}  // namespace frugal
