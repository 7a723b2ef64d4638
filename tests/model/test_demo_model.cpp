// The committed demo model (models/demo-v3-tiny.gguf, trained by tools/train-demo/) against the
// goldens its own PyTorch model wrote (tests/model/data/demo_*): tokenizer ids, logits at every
// position (absorbed and naive MLA), and greedy continuations through the KV cache.
//
// Tolerance: the GGUF holds F16 matrices and F32 norms / router / bias, and the goldens were
// computed in float32 from exactly those values; what is left is float32 summation order, so
// max |Δlogit| <= 1e-3 (measured ~5e-6) and the argmax must agree at every position.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "demo_util.h"
#include "oracle_util.h"
#include "tokenizer/tokenizer.h"

namespace frugal::test {
namespace {

constexpr double kLogitTolerance = 1e-3;
const std::string& kModel = kDemoModel;
const std::string& kData = kDemoData;
constexpr const char* kBos = "<｜begin▁of▁sentence｜>";

nlohmann::json golden() {
  return demo_golden();
}

// KL(softmax(p) || softmax(q)) of two logit rows, in nats.
double kl_divergence(const float* p, const float* q, int64_t n) {
  const double mp = *std::max_element(p, p + n), mq = *std::max_element(q, q + n);
  double zp = 0.0, zq = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    zp += std::exp(p[i] - mp);
    zq += std::exp(q[i] - mq);
  }
  double kl = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double lp = p[i] - mp - std::log(zp), lq = q[i] - mq - std::log(zq);
    kl += std::exp(lp) * (lp - lq);
  }
  return kl;
}

TEST(DemoModel, ConfigIsDeepSeekV3Shaped) {
  FRUGAL_REQUIRE_DEMO();
  const Deepseek2Config& c = demo_model().config();
  EXPECT_TRUE(c.has_q_lora());
  EXPECT_TRUE(c.yarn);
  EXPECT_EQ(c.scoring, ExpertScoring::Sigmoid);
  EXPECT_EQ(c.topk_method, TopkMethod::NoauxTc);
  EXPECT_GT(c.n_groups, 1);
  EXPECT_GT(c.n_shared_experts, 0);
  EXPECT_EQ(c.n_dense_layers, 1);
  EXPECT_EQ(c.n_mtp_layers, 1);
}

TEST(DemoModel, TokenizerMatchesTheTrainingTokenizer) {
  FRUGAL_REQUIRE_DEMO();
  const GgufFile gguf = GgufFile::open(kModel);
  const Tokenizer tok = Tokenizer::from_gguf(gguf);
  const auto g = golden();
  for (const auto& c : g["cases"]) {
    const std::string prompt = c["prompt"];
    EncodeOptions opt;
    opt.add_bos = prompt.rfind(kBos, 0) != 0;  // chat prompts carry their BOS already
    EXPECT_EQ(tok.encode(prompt, opt), c["prompt_ids"].get<std::vector<int32_t>>()) << prompt;
  }
  EXPECT_EQ(tok.encode(g["logits_prompt"].get<std::string>()),
            g["logits_ids"].get<std::vector<int32_t>>());
}

TEST(DemoModel, LogitsMatchPyTorch) {
  FRUGAL_REQUIRE_DEMO();
  const auto g = golden();
  const auto tokens = g["logits_ids"].get<std::vector<int32_t>>();
  const auto want = read_npy(kData + g["logits_file"].get<std::string>()).to_float();
  Deepseek2Model& m = demo_model();
  const int64_t V = m.config().n_vocab;
  for (AttentionImpl impl : {AttentionImpl::Absorbed, AttentionImpl::Naive}) {
    m.set_attention(impl);
    const auto logits = run_logits(m, tokens);
    const double d = max_abs_diff(logits, want);
    std::printf("[demo] %s MLA: max |dlogit| = %.3g over %zu positions\n",
                impl == AttentionImpl::Absorbed ? "absorbed" : "naive", d, tokens.size());
    EXPECT_LE(d, kLogitTolerance);
    for (size_t t = 0; t < tokens.size(); ++t)
      EXPECT_EQ(argmax_row(&logits[t * V], V), argmax_row(&want[t * V], V)) << "position " << t;
  }
  m.set_attention(AttentionImpl::Absorbed);
}

// The int8 latent cache (`--cache-type q8`) rounds every cached value to 1/254 of its row part's
// largest, and its AVX-512 kernel rounds q and the softmax weights to 8 bits as well; against the
// PyTorch float32 goldens the next-token distributions must stay close: mean KL below 1e-3 nats
// (Q8_0 weights are held to a similar bound) and the same argmax at almost every position.
TEST(DemoModel, Int8CacheStaysCloseToPyTorch) {
  FRUGAL_REQUIRE_DEMO();
  const auto g = golden();
  const auto tokens = g["logits_ids"].get<std::vector<int32_t>>();
  const auto want = read_npy(kData + g["logits_file"].get<std::string>()).to_float();
  ModelOptions opt;
  opt.kv_cache_type = GgmlType::I8;
  Deepseek2Model m = Deepseek2Model::load(kModel, opt);
  ASSERT_EQ(m.new_cache().type(), GgmlType::I8);
  const int64_t V = m.config().n_vocab;
  const auto logits = run_logits(m, tokens);
  double kl_sum = 0.0;
  size_t same_argmax = 0;
  const size_t n = tokens.size();
  for (size_t t = 0; t < n; ++t) {
    kl_sum += kl_divergence(&want[t * V], &logits[t * V], V);
    same_argmax += argmax_row(&logits[t * V], V) == argmax_row(&want[t * V], V);
  }
  const double d = max_abs_diff(logits, want);
  std::printf("[demo] q8 cache: max |dlogit| %.3g, mean KL %.3g, argmax agrees at %zu/%zu\n", d,
              kl_sum / n, same_argmax, n);
  EXPECT_GT(d, 1e-4) << "the cache type had no effect";
  EXPECT_LT(kl_sum / n, 1e-3);
  EXPECT_GE(same_argmax * 20, n * 19);
}

// Prefill the prompt, then one token at a time through the latent KV cache.
TEST(DemoModel, GreedyContinuationsMatchPyTorch) {
  FRUGAL_REQUIRE_DEMO();
  const GgufFile gguf = GgufFile::open(kModel);
  const Tokenizer tok = Tokenizer::from_gguf(gguf);
  Deepseek2Model& m = demo_model();
  const int64_t V = m.config().n_vocab;
  const auto g = golden();
  ASSERT_FALSE(g["cases"].empty());
  for (const auto& c : g["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = c["greedy_ids"].get<std::vector<int32_t>>();
    LatentKvCache cache = m.new_cache();
    std::vector<float> logits(static_cast<size_t>(V));
    const auto pos = iota_positions(prompt.size());
    m.forward({prompt, pos, LogitsMode::Last}, cache, logits);
    std::vector<int32_t> got;
    while (got.size() < want.size()) {
      const auto next = static_cast<int32_t>(argmax_row(logits.data(), V));
      got.push_back(next);
      if (next == tok.eos_id()) break;
      const auto p = static_cast<int32_t>(prompt.size() + got.size() - 1);
      m.forward({std::span(&next, 1), std::span(&p, 1), LogitsMode::Last}, cache, logits);
    }
    EXPECT_EQ(got, want) << c["prompt"].get<std::string>();
    EXPECT_EQ(tok.decode(got, /*skip_control=*/true), c["greedy_text"].get<std::string>());
    std::printf("[demo] %s -> %s\n", c["prompt"].get<std::string>().c_str(),
                tok.decode(got, true).c_str());
  }
}

}  // namespace
}  // namespace frugal::test
