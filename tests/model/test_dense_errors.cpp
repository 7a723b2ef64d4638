// Bad dense model input is a frugal::Error naming the thing: missing or mis-shaped tensors (GGUF
// and HF forms), inconsistent metadata, and bad batches.
#include <gtest/gtest.h>

#include <string>

#include "expect_error.h"
#include "core/error.h"
#include "dense_test_util.h"
#include "gguf_edit.h"
#include "test_util.h"

namespace frugal::test {
namespace {

std::string tiny_gguf(const std::string& arch) {
  return synth_dense(tiny_dense(arch), temp_dir() + "/err-" + arch + ".gguf");
}

TEST(DenseErrors, GgufMissingTensorIsNamed) {
  const GgufFile f = GgufFile::open(tiny_gguf("qwen2"));
  for (const std::string name :
       {"blk.1.ffn_up.weight", "blk.1.attn_v.bias", "output_norm.weight"}) {
    const std::string out = temp_dir() + "/missing.gguf";
    copy_gguf(f, out,
              {[&](const GgufTensorInfo& t, GgufWriter&) { return t.name != name; }, nullptr});
    expect_error([&] { DenseModel::load(out); }, {"missing tensor", name});
  }
}

TEST(DenseErrors, GgufWrongShapeIsNamed) {
  const GgufFile f = GgufFile::open(tiny_gguf("llama"));
  const std::string out = temp_dir() + "/shape.gguf";
  copy_gguf(f, out,
            {[](const GgufTensorInfo& t, GgufWriter& w) {
               if (t.name != "blk.0.attn_k.weight") return true;
               // 64 x 32 -> 32 x 64: same bytes, wrong shape
               w.add_tensor(t.name, t.type, {t.ne[1], t.ne[0]},
                            std::vector<uint8_t>(t.data, t.data + t.n_bytes));
               return false;
             },
             nullptr});
  expect_error([&] { DenseModel::load(out); },
               {"blk.0.attn_k.weight", "expected shape [32, 64]", "found [64, 32]"});
}

TEST(DenseErrors, BadMetadataIsNamed) {
  const GgufFile f = GgufFile::open(tiny_gguf("qwen2"));
  const std::string out = temp_dir() + "/meta.gguf";
  copy_gguf(f, out, {nullptr, [](GgufWriter& w) {
                       w.set("qwen2.attention.head_count_kv", GgufValue::u32(3));
                     }});
  expect_error([&] { DenseModel::load(out); }, {"3 kv heads must divide 4"});
  copy_gguf(f, out, {nullptr, [](GgufWriter& w) {
                       w.set("qwen2.rope.dimension_count", GgufValue::u32(8));
                     }});
  expect_error([&] { DenseModel::load(out); }, {"partial RoPE"});
  copy_gguf(f, out, {nullptr, [](GgufWriter& w) {
                       w.set("general.architecture", GgufValue::str("mistral"));
                     }});
  expect_error([&] { load_causal_lm(out); }, {"unsupported architecture 'mistral'"});
}

TEST(DenseErrors, HfMissingOrMisShapedTensorIsNamed) {
  const DenseConfig c = tiny_dense("qwen2");
  const std::string gguf = synth_dense(c, temp_dir() + "/hf-err.gguf");
  const std::string missing = temp_dir() + "/hf-missing", shaped = temp_dir() + "/hf-shape";
  write_hf_from_gguf(c, gguf, missing, "model.layers.1.self_attn.k_proj.bias");
  expect_error([&] { DenseModel::load(missing); },
               {"missing tensor", "model.layers.1.self_attn.k_proj.bias"});
  write_hf_from_gguf(c, gguf, shaped, "", "model.layers.0.mlp.down_proj.weight");
  expect_error([&] { DenseModel::load(shaped); },
               {"model.layers.0.mlp.down_proj.weight", "expected shape [64, 128]"});
}

TEST(DenseErrors, BadBatchIsRejected) {
  DenseModel m = DenseModel::load(tiny_gguf("qwen2"));
  DenseKvCache cache = m.new_cache(8);
  std::vector<float> logits(2 * m.config().n_vocab);
  const std::vector<int32_t> bad_tok = {1, 512}, tok = {1, 2}, gap = {0, 2}, pos = {0, 1},
                             late = {3, 4};
  expect_error([&] { m.forward({bad_tok, pos}, cache, logits); }, {"token id 512", "out of range"});
  expect_error([&] { m.forward({tok, gap}, cache, logits); }, {"consecutive"});
  expect_error([&] { m.forward({tok, late}, cache, logits); }, {"first position 3"});
  std::vector<float> short_logits(5);
  expect_error([&] { m.forward({tok, pos}, cache, short_logits); }, {"logits buffer"});
  const std::vector<int32_t> nine(9, 1), nine_pos = positions_from(9);
  std::vector<float> l9(9 * m.config().n_vocab);
  expect_error([&] { m.forward({nine, nine_pos}, cache, l9); }, {"exceed the context of 8"});
  expect_error([&] { m.new_cache(100000); }, {"exceeds the model's max context"});
}

}  // namespace
}  // namespace frugal::test
