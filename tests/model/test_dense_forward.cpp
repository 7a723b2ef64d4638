// Dense qwen2 / llama forward pass: incremental decode == full forward, chunked prefill ==
// single chunk, rewinding the cache, the HF directory form == the GGUF form (llama: q/k rows
// un-permuted and half-split RoPE vs the GGUF's adjacent pairs), load_causal_lm dispatch,
// llama3 frequencies, preset shapes and `frugal synth --arch`.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "dense_test_util.h"
#include "format/npy.h"
#include "model/causal_lm.h"
#include "test_util.h"

namespace frugal::test {
namespace {

class DenseArch : public ::testing::TestWithParam<std::string> {};

TEST_P(DenseArch, IncrementalDecodeEqualsFullForward) {
  const DenseConfig c = tiny_dense(GetParam());
  DenseModel m = DenseModel::load(synth_dense(c, temp_dir() + "/inc-" + GetParam() + ".gguf"));
  const auto tokens = test_tokens(20, static_cast<int32_t>(c.n_vocab));
  const auto full = dense_logits(m, tokens);
  const int64_t V = c.n_vocab;
  DenseKvCache cache = m.new_cache();
  const size_t n_prefill = 6;
  std::vector<float> got(tokens.size() * V);
  const auto pos = positions_from(tokens.size());
  m.forward({std::span(tokens).first(n_prefill), std::span(pos).first(n_prefill)}, cache,
            std::span(got).first(n_prefill * V));
  for (size_t t = n_prefill; t < tokens.size(); ++t)
    m.forward({std::span(tokens).subspan(t, 1), std::span(pos).subspan(t, 1), LogitsMode::Last},
              cache, std::span(got).subspan(t * V, V));
  EXPECT_EQ(cache.n_past(), static_cast<int64_t>(tokens.size()));
  EXPECT_LE(max_abs_delta(full, got), 1e-4);
}

TEST_P(DenseArch, ChunkedPrefillAndRewind) {
  const DenseConfig c = tiny_dense(GetParam());
  const std::string path = synth_dense(c, temp_dir() + "/chunk-" + GetParam() + ".gguf");
  DenseModel whole = DenseModel::load(path);
  ModelOptions small;
  small.max_batch = 5;
  DenseModel chunked = DenseModel::load(path, small);
  const auto tokens = test_tokens(17, static_cast<int32_t>(c.n_vocab));
  const auto a = dense_logits(whole, tokens);
  EXPECT_LE(max_abs_delta(a, dense_logits(chunked, tokens)), 1e-4);
  // Last-only logits of a prompt, then rewind to 10 and run the tail again.
  const int64_t V = c.n_vocab;
  const auto pos = positions_from(tokens.size());
  DenseKvCache cache = chunked.new_cache();
  std::vector<float> last(V);
  chunked.forward({tokens, pos, LogitsMode::Last}, cache, last);
  EXPECT_LE(max_abs_delta(last, std::vector<float>(a.end() - V, a.end())), 1e-4);
  const size_t keep = 10;
  std::vector<float> tail((tokens.size() - keep) * V);
  chunked.forward({std::span(tokens).subspan(keep), std::span(pos).subspan(keep)}, cache, tail);
  EXPECT_LE(max_abs_delta(tail, std::vector<float>(a.begin() + keep * V, a.end())), 1e-4);
}

TEST_P(DenseArch, HfDirectoryMatchesGguf) {
  struct Form {
    bool tied;
    GgmlType type;  // BF16: what R1-Distill checkpoints ship; norms and biases stay F32
  };
  for (const Form form :
       {Form{false, GgmlType::F32}, Form{true, GgmlType::F32}, Form{false, GgmlType::BF16}}) {
    DenseConfig c = tiny_dense(GetParam());
    c.tied_output = form.tied;
    const std::string label = GetParam() + (form.tied ? "-tied-" : "-") + type_name(form.type);
    const std::string dir = temp_dir() + "/hf-" + label;
    const std::string gguf = synth_dense(c, dir + ".gguf", form.type);
    write_hf_from_gguf(c, gguf, dir);
    DenseModel g = DenseModel::load(gguf), h = DenseModel::load(dir);
    EXPECT_EQ(h.config().rope_pairs, RopePairs::HalfSplit);
    EXPECT_EQ(g.config().rope_pairs,
              GetParam() == "llama" ? RopePairs::Adjacent : RopePairs::HalfSplit);
    EXPECT_EQ(h.config().tied_output, form.tied);
    EXPECT_EQ(g.config().tied_output, form.tied);
    EXPECT_EQ(h.config().qkv_bias, GetParam() == "qwen2");
    EXPECT_EQ(h.weights().layers[0].wq.type, form.type);
    const auto gr = g.config().rope_freqs(), hr = h.config().rope_freqs();
    for (size_t i = 0; i < gr.size(); ++i) EXPECT_NEAR(gr[i] / hr[i], 1.0, 1e-6) << i;
    const auto tokens = test_tokens(300, static_cast<int32_t>(c.n_vocab));
    const double d = max_abs_delta(dense_logits(g, tokens), dense_logits(h, tokens));
    std::printf("[dense-hf] %-18s HF dir vs GGUF: max |dlogit| = %.3g over 300 positions\n",
                label.c_str(), d);
    EXPECT_LE(d, 1e-4);
  }
}

TEST_P(DenseArch, LoadCausalLmDispatches) {
  const DenseConfig c = tiny_dense(GetParam());
  const std::string path = synth_dense(c, temp_dir() + "/lm-" + GetParam() + ".gguf");
  auto lm = load_causal_lm(path);
  EXPECT_EQ(lm->architecture(), GetParam());
  EXPECT_EQ(lm->n_vocab(), c.n_vocab);
  EXPECT_EQ(lm->context_length(), c.context_length);
  auto seq = lm->new_sequence(32);
  EXPECT_EQ(seq->n_ctx(), 32);
  EXPECT_EQ(seq->bytes_per_token(), static_cast<size_t>(2 * c.n_layers * c.kv_dim() * 4));
  const auto tokens = test_tokens(5, static_cast<int32_t>(c.n_vocab));
  const auto pos = positions_from(5);
  std::vector<float> logits(5 * c.n_vocab);
  lm->forward({tokens, pos}, *seq, logits);
  DenseModel m = DenseModel::load(path);
  EXPECT_LE(max_abs_delta(logits, dense_logits(m, tokens)), 1e-6);
  seq->truncate(2);
  EXPECT_EQ(seq->n_past(), 2);
}

INSTANTIATE_TEST_SUITE_P(Dense, DenseArch, ::testing::Values("qwen2", "llama"));

TEST(DenseConfig, Llama3FrequenciesFollowThePublishedRule) {
  // R1-Distill-Llama-8B: theta 5e5, head_dim 128, factor 8, low 1, high 4, original 8192.
  const DenseConfig c = dense_preset("llama", "r1-distill-llama-8b");
  const auto f = c.rope_freqs();
  ASSERT_EQ(f.size(), 64u);
  for (int64_t i = 0; i < 64; ++i) {
    const double base = std::pow(500000.0, -2.0 * i / 128), wavelen = 2 * std::numbers::pi / base;
    double want = base;  // wavelength < 2048: kept
    if (wavelen > 8192) {
      want = base / 8;
    } else if (wavelen >= 2048) {
      const double a = (8192 / wavelen - 1) / 3;
      want = (1 - a) * base / 8 + a * base;
    }
    EXPECT_NEAR(f[i], want, 1e-15 * base) << i;
  }
  // The tiny test preset (theta 1e4, head_dim 16, original 256) exercises all three bands.
  const auto t = tiny_dense("llama").rope_freqs();
  EXPECT_DOUBLE_EQ(t[2], std::pow(10000.0, -4.0 / 16));
  EXPECT_DOUBLE_EQ(t[5], std::pow(10000.0, -10.0 / 16) / 8);
  EXPECT_GT(t[3], std::pow(10000.0, -6.0 / 16) / 8);
  EXPECT_LT(t[3], std::pow(10000.0, -6.0 / 16));
}

TEST(DenseSynth, PresetsHaveRealShapes) {
  const DenseConfig q15 = dense_preset("qwen2", "r1-distill-qwen-1.5b");
  EXPECT_EQ(q15.dim, 1536);
  EXPECT_EQ(q15.n_layers, 28);
  EXPECT_EQ(q15.n_heads, 12);
  EXPECT_EQ(q15.n_kv_heads, 2);
  EXPECT_EQ(q15.head_dim, 128);
  EXPECT_EQ(q15.ffn_dim, 8960);
  EXPECT_EQ(q15.n_vocab, 151936);
  EXPECT_TRUE(q15.qkv_bias);
  EXPECT_FALSE(q15.tied_output);
  const DenseConfig q7 = dense_preset("qwen2", "r1-distill-qwen-7b");
  EXPECT_EQ(q7.dim, 3584);
  EXPECT_EQ(q7.n_heads, 28);
  EXPECT_EQ(q7.n_kv_heads, 4);
  EXPECT_EQ(q7.ffn_dim, 18944);
  EXPECT_EQ(q7.n_vocab, 152064);
  const DenseConfig l8 = dense_preset("llama", "r1-distill-llama-8b");
  EXPECT_EQ(l8.dim, 4096);
  EXPECT_EQ(l8.n_layers, 32);
  EXPECT_EQ(l8.n_heads, 32);
  EXPECT_EQ(l8.n_kv_heads, 8);
  EXPECT_EQ(l8.ffn_dim, 14336);
  EXPECT_EQ(l8.n_vocab, 128256);
  EXPECT_FLOAT_EQ(l8.rope_theta, 500000.0f);
  EXPECT_TRUE(l8.llama3.on);
  EXPECT_FALSE(l8.qkv_bias);
  EXPECT_THROW(dense_preset("qwen2", "r1-distill-llama-8b"), Error);
  EXPECT_THROW(dense_preset("mistral", "tiny"), Error);
}

TEST(DenseSynth, CliWritesLoadableDeterministicModels) {
  const std::string dir = temp_dir();
  std::string out;
  for (const std::string arch : {"qwen2", "llama"}) {
    const std::string a = dir + "/cli-" + arch + "-a.gguf", b = dir + "/cli-" + arch + "-b.gguf";
    const std::string cmd =
        frugal_binary() + " synth --arch " + arch + " --preset tiny --type Q8_0 --seed 4 --out ";
    ASSERT_EQ(run_command(cmd + a, &out), 0) << out;
    ASSERT_EQ(run_command(cmd + b, &out), 0) << out;
    ASSERT_EQ(run_command("cmp " + a + " " + b, &out), 0) << out;
    auto lm = load_causal_lm(a);
    EXPECT_EQ(lm->architecture(), arch);
    DenseModel m = DenseModel::load(a);
    EXPECT_EQ(m.weights().layers[0].wq.type, GgmlType::Q8_0);
    const auto logits = dense_logits(m, {1, 2, 3, 4});
    // `frugal logits` runs dense models through CausalLm.
    const std::string npy = dir + "/cli-" + arch + ".npy";
    ASSERT_EQ(
        run_command(frugal_binary() + " logits " + a + " --tokens 1,2,3,4 --out " + npy, &out), 0)
        << out;
    EXPECT_LE(max_abs_delta(read_npy(npy).to_float(), logits), 1e-6);
    double ss = 0;
    for (float v : logits) {
      ASSERT_TRUE(std::isfinite(v));
      ss += double(v) * v;
    }
    const double rms = std::sqrt(ss / logits.size());
    EXPECT_GT(rms, 0.1);
    EXPECT_LT(rms, 10.0);
  }
  EXPECT_NE(
      run_command(frugal_binary() + " synth --arch qwen2 --preset nope --out " + dir + "/x.gguf",
                  &out),
      0);
  EXPECT_NE(out.find("nope"), std::string::npos) << out;
  EXPECT_EQ(run_command(frugal_binary() + " synth --arch llama --help", &out), 0);
  // `frugal bench` runs dense models through CausalLm; their cache stays f32 whatever
  // --cache-type asks (it is the deepseek2 latent cache's option), and bench says so.
  ASSERT_EQ(run_command(frugal_binary() + " bench " + dir +
                            "/cli-qwen2-a.gguf -p 8 -n 4 -t 1 --runs 1 --cache-type q8",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("decode  tg4"), std::string::npos) << out;
  EXPECT_NE(out.find("f32 cache"), std::string::npos) << out;
}

}  // namespace
}  // namespace frugal::test
