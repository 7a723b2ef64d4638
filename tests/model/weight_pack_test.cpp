// ModelOptions::repack: Q8_0 (and Q5_0, Q4_K, Q6_K) projections, experts and output heads are
// copied interleaved (kernels/interleave.h) at load, the token embedding is not, and the logits agree with the model
// run straight from the mapped file to float rounding (the interleaved kernel adds the same
// integer block sums in another order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dense_test_util.h"
#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "model/deepseek2.h"
#include "model/deepseek2_synth.h"
#include "oracle_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

// Float rounding only: |a - b| <= 1e-3 (1 + |a|), and the same argmax per position.
void expect_logits_near(const std::vector<float>& a, const std::vector<float>& b,
                        const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  float worst = 0.0f;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]) / (1.0f + std::fabs(a[i])));
  EXPECT_LT(worst, 1e-3f) << what;
}

bool packing_expected() {
  return kern::active_kernel_table().q8_0_r16 != nullptr;
}

TEST(WeightPack, Deepseek2LogitsAgree) {
  const std::string path = temp_dir() + "/pack-ds2.gguf";
  SynthOptions opt;
  opt.type = GgmlType::Q8_0;
  write_deepseek2_synth(deepseek2_preset("tiny"), opt, path);
  ModelOptions plain;
  plain.repack = false;
  Deepseek2Model a = Deepseek2Model::load(path, plain);
  Deepseek2Model b = Deepseek2Model::load(path);
  const int expect = packing_expected() ? kQ8_0Interleave : 1;
  const LayerWeights& moe_layer = b.weights().layers.back();
  EXPECT_EQ(moe_layer.attn.wkv_a.interleave, expect);
  ASSERT_FALSE(moe_layer.moe.gate.empty());
  EXPECT_EQ(moe_layer.moe.gate[1].interleave, expect);
  EXPECT_EQ(b.weights().output.interleave, expect);
  EXPECT_EQ(b.weights().token_embd.interleave, 1);
  EXPECT_EQ(a.weights().output.interleave, 1);
  const std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
  expect_logits_near(run_logits(a, tokens), run_logits(b, tokens), "deepseek2");
}

// The other r16 types, on a deepseek2 model whose widths are whole K-quant super-blocks (the
// attention output, 128 wide, stays F32).
TEST(WeightPack, Deepseek2KQuantsAndQ5_0LogitsAgree) {
  Deepseek2Config c = deepseek2_preset("tiny");
  c.dim = 256, c.q_lora_rank = 256, c.kv_lora_rank = 256, c.moe_ffn_dim = 256, c.dense_ffn_dim = 512;
  for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q5_0}) {
    const std::string path = temp_dir() + "/pack-ds2-" + type_name(type) + ".gguf";
    SynthOptions opt;
    opt.type = type;
    write_deepseek2_synth(c, opt, path);
    ModelOptions plain;
    plain.repack = false;
    Deepseek2Model a = Deepseek2Model::load(path, plain);
    Deepseek2Model b = Deepseek2Model::load(path);
    const kern::KernelTable& k = kern::active_kernel_table();
    const bool packs = type == GgmlType::Q4_K ? k.q4_k_r16 != nullptr
                       : type == GgmlType::Q5_K ? k.q5_k_r16 != nullptr
                       : type == GgmlType::Q6_K ? k.q6_k_r16 != nullptr
                                                : k.q5_0_r16 != nullptr;
    const LayerWeights& moe_layer = b.weights().layers.back();
    ASSERT_FALSE(moe_layer.moe.gate.empty());
    EXPECT_EQ(moe_layer.moe.gate[1].type, type) << type_name(type);
    EXPECT_EQ(moe_layer.moe.gate[1].interleave, packs ? 16 : 1) << type_name(type);
    EXPECT_EQ(moe_layer.moe.down[1].interleave, packs ? 16 : 1) << type_name(type);
    EXPECT_EQ(b.weights().output.interleave, packs ? 16 : 1) << type_name(type);
    const std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
    expect_logits_near(run_logits(a, tokens), run_logits(b, tokens), type_name(type));
  }
}

TEST(WeightPack, DenseTiedOutputIsPackedAndEmbeddingStillReads) {
  for (const char* arch : {"qwen2", "llama"}) {
    DenseConfig c = tiny_dense(arch);
    c.tied_output = std::string(arch) == "qwen2";  // output head = token embedding
    const std::string path = synth_dense(c, temp_dir() + "/pack-" + arch + ".gguf", GgmlType::Q8_0);
    ModelOptions plain;
    plain.repack = false;
    DenseModel a = DenseModel::load(path, plain);
    DenseModel b = DenseModel::load(path);
    const int expect = packing_expected() ? kQ8_0Interleave : 1;
    EXPECT_EQ(b.weights().layers[0].wq.interleave, expect) << arch;
    EXPECT_EQ(b.weights().output.interleave, expect) << arch;
    EXPECT_EQ(b.weights().token_embd.interleave, 1) << arch;
    const auto tokens = test_tokens(9, static_cast<int32_t>(c.n_vocab));
    expect_logits_near(dense_logits(a, tokens), dense_logits(b, tokens), arch);
  }
}

}  // namespace
}  // namespace frugal::test
