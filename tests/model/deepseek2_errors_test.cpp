// Bad input gives frugal::Error with a message naming the problem.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "core/error.h"
#include "format/hf_config.h"
#include "gguf_edit.h"
#include "oracle_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

std::string f32_gguf() {
  return oracle_dir("pub-v3") + "/model-f32.gguf";
}

std::string edited(const std::string& name, const GgufEdit& edit) {
  const std::string out = temp_dir() + "/" + name + ".gguf";
  copy_gguf(GgufFile::open(f32_gguf()), out, edit);
  return out;
}

TEST(Deepseek2Errors, MissingTensorIsNamed) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  GgufEdit e;
  e.tensor = [](const GgufTensorInfo& t, GgufWriter&) {
    return t.name != "blk.1.attn_kv_a_norm.weight";
  };
  const std::string path = edited("missing", e);
  expect_error([&] { Deepseek2Model::load(path); },
               {"missing tensor", "blk.1.attn_kv_a_norm.weight", "[32]"});
}

TEST(Deepseek2Errors, WrongShapeIsNamed) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  GgufEdit e;
  e.tensor = [](const GgufTensorInfo& t, GgufWriter& w) {
    if (t.name != "blk.2.attn_output.weight") return true;
    w.add_tensor(t.name, GgmlType::F32, {16, 256}, std::vector<uint8_t>(16 * 256 * 4));
    return false;
  };
  const std::string path = edited("shape", e);
  expect_error([&] { Deepseek2Model::load(path); },
               {"blk.2.attn_output.weight", "expected shape [128, 32]", "found [256, 16]"});
}

TEST(Deepseek2Errors, UnsupportedArchitecture) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  GgufEdit e;
  e.meta = [](GgufWriter& w) { w.set("general.architecture", GgufValue::str("llama")); };
  const std::string path = edited("arch", e);
  expect_error([&] { Deepseek2Model::load(path); }, {"unsupported architecture", "llama"});
  expect_error(
      [] {
        Deepseek2Config::from_hf(HfConfig::parse(R"({"model_type": "qwen2"})", "config.json"));
      },
      {"unsupported model_type", "qwen2"});
}

TEST(Deepseek2Errors, TokenOutOfRangeAndContextOverflow) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  Deepseek2Model m = Deepseek2Model::load(f32_gguf());
  const int64_t V = m.config().n_vocab;
  LatentKvCache cache = m.new_cache(16);
  std::vector<float> logits(20 * V);
  const std::vector<int32_t> bad = {1, 2, 4096};
  const auto pos = iota_positions(20);
  expect_error(
      [&] {
        m.forward({bad, std::span(pos).first(3)}, cache, std::span(logits).first(3 * V));
      },
      {"token id 4096", "index 2", "out of range [0, 4096)"});
  const std::vector<int32_t> negative = {-1};
  expect_error(
      [&] {
        m.forward({negative, std::span(pos).first(1)}, cache, std::span(logits).first(V));
      },
      {"token id -1"});
  const std::vector<int32_t> long_prompt(20, 5);
  expect_error(
      [&] {
        m.forward({long_prompt, pos}, cache, logits);
      },
      {"20 tokens", "context of 16"});
  expect_error([&] { m.new_cache(1 << 20); }, {"exceeds the model's max context"});
  // Positions must continue the cache.
  const std::vector<int32_t> one = {5};
  const std::vector<int32_t> far = {7};
  expect_error(
      [&] {
        m.forward({one, far}, cache, std::span(logits).first(V));
      },
      {"first position 7"});
}

TEST(Deepseek2Config, FromGgufAndHfAgree) {
  for (const char* name : {"pub-v2lite", "pub-v3"}) {
    FRUGAL_REQUIRE_ORACLE(name);
    const auto g = Deepseek2Config::from_gguf(GgufFile::open(oracle_dir(name) + "/model-f32.gguf"));
    const auto h = Deepseek2Config::from_hf(HfConfig::load(oracle_dir(name) + "/hf"));
    EXPECT_EQ(g.n_vocab, h.n_vocab);
    EXPECT_EQ(g.q_lora_rank, h.q_lora_rank);
    EXPECT_EQ(g.qk_nope_head_dim, h.qk_nope_head_dim);
    EXPECT_EQ(g.v_head_dim, h.v_head_dim);
    EXPECT_EQ(g.scoring, h.scoring);
    EXPECT_EQ(g.topk_method, h.topk_method);
    EXPECT_EQ(g.n_groups, h.n_groups);
    EXPECT_EQ(g.topk_groups, h.topk_groups);
    EXPECT_EQ(g.norm_topk_prob, h.norm_topk_prob);
    EXPECT_EQ(g.yarn, h.yarn);
    EXPECT_FLOAT_EQ(g.routed_scaling_factor, h.routed_scaling_factor);
    EXPECT_NEAR(g.softmax_scale(), h.softmax_scale(), 1e-7);
    const auto fg = g.rope_freqs(), fh = h.rope_freqs();
    for (size_t i = 0; i < fg.size(); ++i) EXPECT_NEAR(fg[i], fh[i], 1e-9);
  }
  // The README's softmax scales.
  const auto v3 = Deepseek2Config::from_hf(HfConfig::load(oracle_dir("pub-v3") + "/hf"));
  EXPECT_NEAR(v3.softmax_scale(), 0.2646422580, 1e-9);
  EXPECT_TRUE(v3.yarn);
  const auto v2 = Deepseek2Config::from_hf(HfConfig::load(oracle_dir("pub-v2lite") + "/hf"));
  EXPECT_NEAR(v2.softmax_scale(), 0.2041241452, 1e-9);
  EXPECT_FALSE(v2.yarn);
}

}  // namespace
}  // namespace frugal::test
