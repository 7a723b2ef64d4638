// Perplexity and KL divergence (runtime/perplexity.h): a hand-built model whose probabilities are
// known in closed form gives exp(mean NLL) computed here independently; a model against its own
// saved run has KL 0 and 100% top-1 agreement; a Q4_K copy has KL > 0; bad input is an error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/quantize.h"
#include "model/quantize_test_util.h"
#include "runtime/logit_file.h"
#include "runtime/perplexity.h"
#include "test_util.h"

namespace frugal::test {
namespace {

// logits[v] = kBoost when v == (token + 1) % V, else 0: the next token is "token + 1" with
// probability e^kBoost / (e^kBoost + V - 1), any other with 1 / (e^kBoost + V - 1).
constexpr int64_t kVocab = 8;
constexpr float kBoost = 2.0f;

class CountingLm final : public CausalLm {
 public:
  class State final : public SequenceState {
   public:
    explicit State(int64_t n) : n_ctx_(n) {}
    int64_t n_ctx() const override { return n_ctx_; }
    int64_t n_past() const override { return n_past_; }
    void truncate(int64_t n_keep) override { n_past_ = std::min(n_past_, n_keep); }
    size_t bytes_per_token() const override { return 0; }
    size_t bytes() const override { return 0; }
    int64_t n_ctx_, n_past_ = 0;
  };
  std::string architecture() const override { return "counting"; }
  int64_t n_vocab() const override { return kVocab; }
  int64_t context_length() const override { return 1024; }
  std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx) const override {
    return std::make_unique<State>(n_ctx);
  }
  void forward(const Batch& b, SequenceState& seq, std::span<float> logits) override {
    auto& s = static_cast<State&>(seq);
    EXPECT_EQ(b.positions[0], s.n_past_) << "pieces of a chunk must follow each other";
    const size_t n = b.tokens.size();
    const size_t first = b.logits == LogitsMode::All ? 0 : n - 1;
    ASSERT_EQ(logits.size(), (n - first) * kVocab);
    for (size_t i = first; i < n; ++i) {
      float* row = &logits[(i - first) * kVocab];
      for (int64_t v = 0; v < kVocab; ++v) row[v] = v == (b.tokens[i] + 1) % kVocab ? kBoost : 0.0f;
    }
    s.n_past_ = b.positions[n - 1] + 1;
    ++calls;
  }
  int calls = 0;
};

std::vector<int32_t> counting_text(size_t n) {
  std::vector<int32_t> t;
  for (size_t i = 0; i < n; ++i)
    t.push_back(static_cast<int32_t>(i % 5 == 4 ? (i * 3) % kVocab : i % kVocab));
  return t;
}

TEST(Perplexity, HandBuiltModelGivesExpOfMeanNll) {
  const std::vector<int32_t> text = counting_text(100);
  for (int64_t batch : {512, 3, 1}) {
    PerplexityOptions opt;
    opt.n_ctx = 16;
    opt.n_batch = batch;
    opt.bos = 7;
    const std::vector<int32_t> chunks = perplexity_chunks(text, opt);
    ASSERT_EQ(chunks.size(), 6u * 16);  // 100 tokens: 6 whole chunks
    CountingLm lm;
    const PerplexityResult r = run_perplexity(lm, chunks, opt);
    // Independently: tokens 9..15 of each chunk (first = 8), predicted from the token before.
    const double z = std::exp(double(kBoost)) + kVocab - 1;
    std::vector<double> nll;
    for (size_t c = 0; c < 6; ++c)
      for (size_t j = 8; j < 15; ++j) {
        const int32_t cur = text[c * 16 + j], next = text[c * 16 + j + 1];
        nll.push_back(-std::log((next == (cur + 1) % kVocab ? std::exp(double(kBoost)) : 1.0) / z));
      }
    double mean = 0, sq = 0;
    for (double x : nll) mean += x / nll.size();
    for (double x : nll) sq += (x - mean) * (x - mean);
    const double se = std::sqrt(sq / (nll.size() - 1) / nll.size());
    EXPECT_EQ(r.nll.n, 42);
    EXPECT_EQ(r.n_chunks, 6);
    EXPECT_NEAR(r.ppl(), std::exp(mean), 1e-9 * std::exp(mean)) << "batch " << batch;
    EXPECT_NEAR(r.ppl_error(), std::exp(mean) * se, 1e-9) << "batch " << batch;
    EXPECT_EQ(chunks[16], 7) << "BOS replaces each chunk's first token";
  }
}

TEST(Perplexity, UniformModelHasPerplexityVocabSize) {
  class Uniform final : public CausalLm {
   public:
    std::string architecture() const override { return "uniform"; }
    int64_t n_vocab() const override { return 1000; }
    int64_t context_length() const override { return 64; }
    std::unique_ptr<SequenceState> new_sequence(int64_t n) const override {
      return std::make_unique<CountingLm::State>(n);
    }
    void forward(const Batch&, SequenceState&, std::span<float> logits) override {
      std::fill(logits.begin(), logits.end(), 0.5f);
    }
  } lm;
  PerplexityOptions opt;
  opt.n_ctx = 3;
  const std::vector<int32_t> text = {1, 2, 3, 4, 5, 6, 7};
  const PerplexityResult r = run_perplexity(lm, perplexity_chunks(text, opt), opt);
  EXPECT_EQ(r.nll.n, 2);  // ctx 3: one token per chunk, 2 chunks
  EXPECT_NEAR(r.ppl(), 1000.0, 1e-6);
  EXPECT_NEAR(r.ppl_error(), 0.0, 1e-9);
}

class PerplexityModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    f32_ = temp_dir() + "/ppl-f32.gguf";
    write_quantizable_synth(f32_);
    for (int i = 0; i < 200; ++i) text_.push_back((i * 131 + 7) % 512);
  }
  // Runs `model` over the text (ctx 32, 4 chunks), saving to / comparing with base files.
  static PerplexityResult run(const std::string& model, const std::string& save,
                              const std::string& base) {
    PerplexityOptions opt;
    opt.n_ctx = 32;
    opt.n_batch = 20;
    opt.max_chunks = 4;
    opt.bos = 0;
    ModelOptions mo;
    mo.max_context = 32;
    auto lm = load_causal_lm(model, mo);
    const std::vector<int32_t> chunks = perplexity_chunks(text_, opt);
    std::unique_ptr<LogitFileWriter> w;
    std::unique_ptr<LogitFileReader> r;
    if (!save.empty())
      w = std::make_unique<LogitFileWriter>(save, perplexity_log_header(lm->n_vocab(), 4, opt),
                                            chunks);
    if (!base.empty()) r = std::make_unique<LogitFileReader>(base);
    PerplexityResult res = run_perplexity(*lm, chunks, opt, w.get(), r.get());
    if (w) w->close();
    return res;
  }
  static std::string f32_;
  static std::vector<int32_t> text_;
};
std::string PerplexityModel::f32_;
std::vector<int32_t> PerplexityModel::text_;

TEST_F(PerplexityModel, KlOfAModelAgainstItselfIsZero) {
  const std::string base = temp_dir() + "/ppl-base.bin";
  const PerplexityResult a = run(f32_, base, "");
  EXPECT_EQ(std::filesystem::file_size(base), 64 + 4 * 32 * 4 + 4 * 15 * (16 + 2 * 512));
  const PerplexityResult b = run(f32_, "", base);
  ASSERT_TRUE(b.kl);
  EXPECT_EQ(b.kl->kl.n, 60);
  EXPECT_LT(std::abs(b.kl->kl.mean()), 1e-7);
  EXPECT_EQ(b.kl->top1_same.mean(), 1.0);
  EXPECT_NEAR(b.kl->base_ppl(), a.ppl(), 1e-5 * a.ppl());
  EXPECT_NEAR(b.ppl(), a.ppl(), 1e-9 * a.ppl());
}

TEST_F(PerplexityModel, Q4KModelHasPositiveKl) {
  const std::string base = temp_dir() + "/ppl-base-2.bin", q4 = temp_dir() + "/ppl-q4k.gguf";
  run(f32_, base, "");
  quantize_model(f32_, q4, QuantMix::parse("Q4_K"));
  const PerplexityResult r = run(q4, "", base);
  std::printf("[perplexity] Q4_K vs F32: mean KL %.5f, top-1 %.1f%%, PPL %.2f vs %.2f\n",
              r.kl->kl.mean(), 100 * r.kl->top1_same.mean(), r.ppl(), r.kl->base_ppl());
  EXPECT_GT(r.kl->kl.mean(), 1e-4);
  EXPECT_GT(r.kl->kl.std_error(), 0.0);
  EXPECT_LT(r.kl->top1_same.mean(), 1.0 + 1e-12);
  EXPECT_GE(r.kl->kl_quantile(1.0), r.kl->kl_quantile(0.5));
}

TEST_F(PerplexityModel, SavedRunOfOtherTokensIsRejected) {
  const std::string base = temp_dir() + "/ppl-base-3.bin";
  run(f32_, base, "");
  const auto saved = text_;
  text_[40] = (text_[40] + 1) % 512;
  EXPECT_THROW(run(f32_, "", base), Error);
  text_ = saved;
}

TEST(Perplexity, LogitFileRoundTripsWithinHalfAStep) {
  const std::string path = temp_dir() + "/ppl-roundtrip.bin";
  LogitFileHeader h{kVocab, 4, 1, 2, 1};
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  std::vector<float> lp = {-0.5f, -1.25f, -3.0f, -7.5f, -12.0f, -29.0f, -45.0f, -2.0f};
  {
    LogitFileWriter w(path, h, tokens);
    w.add(lp, 1.25f, 0);
    w.close();
  }
  LogitFileReader r(path);
  EXPECT_EQ(r.tokens(), tokens);
  SavedLogProbs s;
  r.next(s);
  EXPECT_EQ(s.nll, 1.25f);
  EXPECT_EQ(s.top, 0);
  const float step = kLogProbRange / 65535.0f;
  for (size_t v = 0; v < lp.size(); ++v)
    EXPECT_NEAR(s.log_probs[v], lp[v] < -0.5f - kLogProbRange ? -0.5f - kLogProbRange : lp[v],
                step * 0.51f)
        << v;
  EXPECT_THROW(r.next(s), Error);  // no more records
}

TEST(Perplexity, BadInputIsAnError) {
  auto expect_error = [](auto fn, const std::string& part) {
    try {
      fn();
      ADD_FAILURE() << "no error (expected one mentioning '" << part << "')";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  PerplexityOptions opt;
  opt.n_ctx = 8;
  const std::vector<int32_t> none, few = {1, 2, 3};
  expect_error([&] { perplexity_chunks(none, opt); }, "empty");
  expect_error([&] { perplexity_chunks(few, opt); }, "fewer than one chunk of 8");
  opt.n_ctx = 2;
  expect_error([&] { perplexity_chunks(few, opt); }, "--ctx must be at least 3");
  opt.n_ctx = 3;
  opt.n_batch = 0;
  expect_error([&] { perplexity_chunks(few, opt); }, "--batch");
  expect_error([] { LogitFileReader r(temp_dir() + "/absent.bin"); }, "absent.bin: cannot open");
  std::ofstream(temp_dir() + "/junk.bin")
      << "definitely not a logit file, but long enough to read a header from it.....";
  expect_error([] { LogitFileReader r(temp_dir() + "/junk.bin"); }, "not a logit file");
}

}  // namespace
}  // namespace frugal::test
