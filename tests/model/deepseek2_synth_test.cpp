// `frugal synth` models: deterministic, loadable, sane logits; presets have the real shapes;
// the latent KV cache holds kv_lora_rank + qk_rope_head_dim values per token per layer.
#include "model/deepseek2_synth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "format/gguf.h"
#include "format/quant.h"
#include "kernels/kernels.h"
#include "oracle_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(Deepseek2Synth, DeterministicLoadableAndSane) {
  const std::string a = temp_dir() + "/synth-a.gguf", b = temp_dir() + "/synth-b.gguf";
  const std::string c = temp_dir() + "/synth-c.gguf";
  SynthOptions opt;
  opt.type = GgmlType::Q8_0;
  opt.seed = 5;
  write_deepseek2_synth(deepseek2_preset("tiny"), opt, a);
  write_deepseek2_synth(deepseek2_preset("tiny"), opt, b);
  opt.seed = 6;
  write_deepseek2_synth(deepseek2_preset("tiny"), opt, c);
  EXPECT_EQ(read_all(a), read_all(b));
  EXPECT_NE(read_all(a), read_all(c));
  Deepseek2Model m = Deepseek2Model::load(a);
  EXPECT_EQ(m.config().n_vocab, 1024);
  EXPECT_TRUE(m.config().yarn);
  EXPECT_EQ(m.config().topk_method, TopkMethod::NoauxTc);
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto logits = run_logits(m, tokens);
  double ss = 0;
  for (float v : logits) {
    ASSERT_TRUE(std::isfinite(v));
    ss += double(v) * v;
  }
  const double rms = std::sqrt(ss / logits.size());
  EXPECT_GT(rms, 0.1);
  EXPECT_LT(rms, 10.0);
}

// From a quantized attn_kv_b, the loader builds each head's k_b = W_UK[h]^T as Q8_0 (F32 from a
// float one): its rows are the file's W_UK columns to within one Q8_0 rounding step of the
// k_b block (max |x| / 127 / 2 per value), and v_b stays the file's W_UV rows exactly.
TEST(Deepseek2Synth, QuantizedKvbGivesQ8_0KbOfTheTransposedWuk) {
  const std::string path = temp_dir() + "/synth-kvb-q8.gguf";
  SynthOptions opt;
  opt.type = GgmlType::Q8_0;
  write_deepseek2_synth(deepseek2_preset("tiny"), opt, path);
  ModelOptions mo;
  mo.repack = false;
  const Deepseek2Model m = Deepseek2Model::load(path, mo);
  const Deepseek2Config& c = m.config();
  const int64_t H = c.n_heads, dn = c.qk_nope_head_dim, dv = c.v_head_dim, r = c.kv_lora_rank;
  const GgufFile f = GgufFile::open(path);
  const GgufTensorInfo* kv_b = f.find_tensor("blk.0.attn_kv_b.weight");
  ASSERT_NE(kv_b, nullptr);
  ASSERT_EQ(kv_b->type, GgmlType::Q8_0);
  const size_t rb = row_bytes(GgmlType::Q8_0, r);
  auto file_row = [&](int64_t i) {  // row i of wkv_b [H (dn + dv), r], dequantized
    std::vector<float> out(static_cast<size_t>(r));
    dequantize_row(GgmlType::Q8_0, kv_b->data + rb * static_cast<size_t>(i), out.data(), r);
    return out;
  };
  const AttentionWeights& a = m.weights().layers[0].attn;
  std::vector<float> k_row(static_cast<size_t>(dn)), v_row(static_cast<size_t>(r));
  for (int64_t h = 0; h < H; ++h) {
    ASSERT_EQ(a.k_b[h].type, GgmlType::Q8_0);
    ASSERT_EQ(a.k_b[h].rows, r);
    ASSERT_EQ(a.k_b[h].cols, dn);
    std::vector<std::vector<float>> wuk;  // wuk[d][j] = W_UK[h][d, j]
    for (int64_t d = 0; d < dn; ++d) wuk.push_back(file_row(h * (dn + dv) + d));
    for (int64_t j = 0; j < r; ++j) {
      weight_row(a.k_b[h], j, k_row.data());
      for (int64_t b = 0; b < dn; b += 32) {
        float mx = 0.0f;
        for (int64_t d = b; d < b + 32; ++d) mx = std::max(mx, std::fabs(wuk[d][j]));
        for (int64_t d = b; d < b + 32; ++d)
          ASSERT_NEAR(k_row[d], wuk[d][j], mx / 127.0f * 0.51f + 1e-7f) << "h" << h << " j" << j;
      }
    }
    for (int64_t d = 0; d < dv; ++d) {
      weight_row(a.v_b[h], d, v_row.data());
      ASSERT_EQ(v_row, file_row(h * (dn + dv) + dn + d)) << "h" << h << " d" << d;
    }
  }
}

TEST(Deepseek2Synth, PresetsHaveRealShapes) {
  const Deepseek2Config lite = deepseek2_preset("v2-lite");
  EXPECT_EQ(lite.n_layers, 27);
  EXPECT_EQ(lite.dim, 2048);
  EXPECT_EQ(lite.n_heads, 16);
  EXPECT_EQ(lite.q_lora_rank, 0);
  EXPECT_EQ(lite.n_routed_experts, 64);
  EXPECT_EQ(lite.n_experts_used, 6);
  EXPECT_EQ(lite.n_shared_experts, 2);
  EXPECT_EQ(lite.moe_ffn_dim, 1408);
  EXPECT_EQ(lite.dense_ffn_dim, 10944);
  EXPECT_EQ(lite.n_vocab, 102400);
  const Deepseek2Config v3 = deepseek2_preset("v3");
  EXPECT_EQ(v3.n_layers, 61);
  EXPECT_EQ(v3.dim, 7168);
  EXPECT_EQ(v3.n_heads, 128);
  EXPECT_EQ(v3.q_lora_rank, 1536);
  EXPECT_EQ(v3.n_routed_experts, 256);
  EXPECT_EQ(v3.n_groups, 8);
  EXPECT_EQ(v3.topk_groups, 4);
  EXPECT_EQ(v3.n_vocab, 129280);
  EXPECT_NEAR(v3.softmax_scale(), 0.1352337, 1e-6);  // deepseek-arch.md §2.3
  EXPECT_NEAR(lite.softmax_scale(), 0.114720, 1e-5);
  // YaRN for V3: indices 0..10 keep f_i, >= 23 use f_i / 40.
  const auto f = v3.rope_freqs();
  EXPECT_DOUBLE_EQ(f[10], std::pow(10000.0, -20.0 / 64));
  EXPECT_DOUBLE_EQ(f[23], std::pow(10000.0, -46.0 / 64) / 40);
  EXPECT_THROW(deepseek2_preset("v4"), Error);
}

TEST(Deepseek2Synth, LatentKvCacheBytesPerToken) {
  for (const char* name : {"v2-lite", "v3"}) {
    const Deepseek2Config c = deepseek2_preset(name);
    const LatentKvCache cache(c.n_layers, 1, c.kv_lora_rank, c.qk_rope_head_dim);
    EXPECT_EQ(cache.row_size(), 576);
    std::printf("[kv] %s: %zu bytes per token (float32, %lld layers x 576 values)\n", name,
                cache.bytes_per_token(), static_cast<long long>(c.n_layers));
  }
  EXPECT_EQ(LatentKvCache(27, 1, 512, 64).bytes_per_token(), 27u * 576 * 4);  // V2-Lite: 62208
  EXPECT_EQ(LatentKvCache(61, 1, 512, 64).bytes_per_token(), 61u * 576 * 4);  // V3: 140544
}

TEST(Deepseek2Cli, SynthThenLogits) {
  const std::string dir = temp_dir();
  std::string out;
  ASSERT_EQ(run_command(frugal_binary() + " synth --preset tiny --q-lora 0 --seed 2 --out " + dir +
                            "/cli.gguf",
                        &out),
            0)
      << out;
  ASSERT_EQ(run_command(frugal_binary() + " logits " + dir + "/cli.gguf --tokens 5,6,7 --out " +
                            dir + "/cli.npy",
                        &out),
            0)
      << out;
  const NpyArray a = read_npy(dir + "/cli.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 1024}));
  Deepseek2Model m = Deepseek2Model::load(dir + "/cli.gguf");
  EXPECT_LE(max_abs_diff(a.to_float(), run_logits(m, {5, 6, 7})), 1e-6);
  EXPECT_NE(run_command(frugal_binary() + " logits " + dir + "/cli.gguf --tokens 5,99999 --out " +
                            dir + "/x.npy",
                        &out),
            0);
  EXPECT_NE(out.find("out of range"), std::string::npos) << out;
  EXPECT_EQ(run_command(frugal_binary() + " logits --help", &out), 0);
  EXPECT_EQ(run_command(frugal_binary() + " synth --help", &out), 0);
}

}  // namespace
}  // namespace frugal::test
