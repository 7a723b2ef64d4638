// ModelOptions::repack: Q8_0 projections, experts and output heads are copied interleaved
// (kernels/interleave.h) at load, the token embedding is not, and every logit is bit-identical
// to the model run straight from the mapped file.
#include <gtest/gtest.h>

#include "dense_test_util.h"
#include "kernels/gemm.h"
#include "model/deepseek2.h"
#include "model/deepseek2_synth.h"
#include "oracle_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

bool packing_expected() {
  return kern::active_kernel_table().q8_0_x4 != nullptr;
}

TEST(WeightPack, Deepseek2LogitsAreBitIdentical) {
  const std::string path = temp_dir() + "/pack-ds2.gguf";
  SynthOptions opt;
  opt.type = GgmlType::Q8_0;
  write_deepseek2_synth(deepseek2_preset("tiny"), opt, path);
  ModelOptions plain;
  plain.repack = false;
  Deepseek2Model a = Deepseek2Model::load(path, plain);
  Deepseek2Model b = Deepseek2Model::load(path);
  const int expect = packing_expected() ? 4 : 1;
  const LayerWeights& moe_layer = b.weights().layers.back();
  EXPECT_EQ(moe_layer.attn.wkv_a.interleave, expect);
  ASSERT_FALSE(moe_layer.moe.gate.empty());
  EXPECT_EQ(moe_layer.moe.gate[1].interleave, expect);
  EXPECT_EQ(b.weights().output.interleave, expect);
  EXPECT_EQ(b.weights().token_embd.interleave, 1);
  EXPECT_EQ(a.weights().output.interleave, 1);
  const std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
  EXPECT_EQ(run_logits(a, tokens), run_logits(b, tokens));
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
    const int expect = packing_expected() ? 4 : 1;
    EXPECT_EQ(b.weights().layers[0].wq.interleave, expect) << arch;
    EXPECT_EQ(b.weights().output.interleave, expect) << arch;
    EXPECT_EQ(b.weights().token_embd.interleave, 1) << arch;
    const auto tokens = test_tokens(9, static_cast<int32_t>(c.n_vocab));
    EXPECT_EQ(dense_logits(a, tokens), dense_logits(b, tokens)) << arch;
  }
}

}  // namespace
}  // namespace frugal::test
