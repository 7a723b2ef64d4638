// GGUF -> GGUF re-quantization (model/quantize.h): every type loads and keeps the logits close to
// the F32 model's, tensors get the types the mix rule states (written out independently here),
// metadata is carried over, row lengths that do not fit a type fall back, bad input is an error.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "core/error.h"
#include "format/gguf.h"
#include "model/quantize.h"
#include "model/quantize_test_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

class QuantizeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    f32_ = temp_dir() + "/quantize-base-f32.gguf";
    write_quantizable_synth(f32_);
    ref_logits_ = causal_lm_logits(f32_, tokens());
  }
  static std::vector<int32_t> tokens() {
    std::vector<int32_t> t;
    for (int32_t i = 0; i < 32; ++i) t.push_back((i * 197 + 11) % 512);
    return t;
  }
  static std::string quantize(const std::string& type) {
    const std::string out = temp_dir() + "/quantize-" + type + ".gguf";
    quantize_model(f32_, out, QuantMix::parse(type));
    return out;
  }
  static std::string f32_;
  static std::vector<float> ref_logits_;
};
std::string QuantizeTest::f32_;
std::vector<float> QuantizeTest::ref_logits_;

// Median relative logit error allowed per type: about 1.6x what was measured. A random-weight
// model amplifies weight error (Q8_0 ~0.018, Q6_K ~0.045, Q4_K ~0.19, Q4_K_M ~0.074).
const std::map<std::string, double> kTolerance = {
    {"F16", 0.002},   {"BF16", 0.015}, {"Q8_0", 0.035}, {"Q6_K", 0.08},   {"Q5_K_M", 0.09},
    {"Q5_K", 0.16},   {"Q5_1", 0.16},  {"Q5_0", 0.16},  {"Q4_K_M", 0.13}, {"Q4_K_S", 0.22},
    {"Q4_K", 0.33},   {"Q4_1", 0.33},  {"Q4_0", 0.33},  {"IQ4_NL", 0.33}, {"IQ4_XS", 0.33},
    {"Q3_K_M", 0.33}, {"Q2_K", 0.45},  {"Q3_K", 0.55},
};

TEST_F(QuantizeTest, EveryTypeLoadsAndStaysCloseToF32) {
  std::map<std::string, double> err;
  for (const auto& [type, tol] : kTolerance) {
    const std::string out = quantize(type);
    err[type] = median_relative_error(causal_lm_logits(out, tokens()), ref_logits_, 512);
    std::printf("[quantize] %-7s %8.1f KB  median relative logit error %.4f (tolerance %.3f)\n",
                type.c_str(), std::filesystem::file_size(out) / 1024.0, err[type], tol);
    EXPECT_LE(err[type], tol) << type;
    EXPECT_GT(err[type], 0.0) << type;
  }
  // More bits, less error; a mix beats its routed-expert type alone.
  EXPECT_LT(err["F16"], err["Q8_0"]);
  EXPECT_LT(err["Q8_0"], err["Q6_K"]);
  EXPECT_LT(err["Q6_K"], err["Q4_K"]);
  EXPECT_LT(err["Q4_K_M"], err["Q4_K"]);
  EXPECT_LT(err["Q5_K_M"], err["Q5_K"]);
  EXPECT_LT(err["Q3_K_M"], err["Q3_K"]);
}

TEST_F(QuantizeTest, F32ToF32IsAnExactCopy) {
  const std::string out = quantize("F32");
  EXPECT_EQ(relative_rms(causal_lm_logits(out, tokens()), ref_logits_), 0.0);
}

// The mix rule, written out by tensor name rather than through quant_mix.cpp's groups.
GgmlType expected_q4_k_m(const std::string& name) {
  if (name.find("norm") != std::string::npos || name.find("ffn_gate_inp") != std::string::npos ||
      name.find("exp_probs_b") != std::string::npos)
    return GgmlType::F32;
  if (name.find("_exps") != std::string::npos) return GgmlType::Q4_K;
  return GgmlType::Q6_K;  // attention, shared experts, dense FFN, token_embd, output
}

GgmlType expected_q2_k(const std::string& name) {
  if (expected_q4_k_m(name) == GgmlType::F32) return GgmlType::F32;
  return name.find("_exps") != std::string::npos ? GgmlType::Q2_K : GgmlType::Q4_K;
}

TEST_F(QuantizeTest, TensorTypesFollowTheMixRule) {
  using Rule = GgmlType (*)(const std::string&);
  for (const auto& [mix, rule] : {std::pair<std::string, Rule>{"Q4_K_M", expected_q4_k_m},
                                  std::pair<std::string, Rule>{"Q2_K", expected_q2_k}}) {
    const GgufFile out = GgufFile::open(quantize(mix));
    int n_exps = 0;
    for (const GgufTensorInfo& t : out.tensors()) {
      EXPECT_EQ(type_name(t.type), std::string(type_name(rule(t.name)))) << mix << " " << t.name;
      n_exps += t.name.find("_exps") != std::string::npos;
    }
    EXPECT_EQ(n_exps, 3);
    EXPECT_EQ(out.tensor("blk.1.ffn_gate_inp.weight").type, GgmlType::F32);
    EXPECT_EQ(out.tensor("blk.1.exp_probs_b.bias").type, GgmlType::F32);
  }
}

TEST_F(QuantizeTest, MetadataIsCarriedOverAndFileTypeUpdated) {
  const GgufFile in = GgufFile::open(f32_);
  const GgufFile out = GgufFile::open(quantize("Q4_K_M"));
  for (const auto& [key, value] : in.metadata()) {
    if (key == "general.file_type") continue;
    const GgufValue* v = out.find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(v->type, value.type) << key;
    EXPECT_EQ(v->to_display_string(1 << 20), value.to_display_string(1 << 20)) << key;
  }
  EXPECT_EQ(out.get<uint32_t>("general.file_type"), 15u);  // llama_ftype MOSTLY_Q4_K_M
  // Tensor order, names and shapes are the input's.
  ASSERT_EQ(out.tensors().size(), in.tensors().size());
  for (size_t i = 0; i < in.tensors().size(); ++i) {
    EXPECT_EQ(out.tensors()[i].name, in.tensors()[i].name);
    EXPECT_EQ(out.tensors()[i].ne, in.tensors()[i].ne);
  }
}

TEST_F(QuantizeTest, TensorInItsTargetTypeIsCopiedUnchanged) {
  const std::string q8 = quantize("Q8_0");
  const std::string again = temp_dir() + "/quantize-q8-again.gguf";
  const QuantizeReport r = quantize_model(q8, again, QuantMix::parse("Q8_0"));
  const GgufFile a = GgufFile::open(q8), b = GgufFile::open(again);
  for (const GgufTensorInfo& t : a.tensors()) {
    const GgufTensorInfo& u = b.tensor(t.name);
    ASSERT_EQ(t.n_bytes, u.n_bytes);
    EXPECT_EQ(std::memcmp(t.data, u.data, t.n_bytes), 0) << t.name;
  }
  EXPECT_EQ(r.output_bytes, std::filesystem::file_size(q8));
}

TEST(Quantize, RowsThatDoNotFitFallBackWithANote) {
  // The tiny preset's rows are 128 or 64 wide: no K-quant block (256) fits.
  const std::string in = temp_dir() + "/quantize-tiny-f32.gguf",
                    out = temp_dir() + "/quantize-tiny-q4k.gguf";
  write_deepseek2_synth(deepseek2_preset("tiny"), SynthOptions{}, in);
  const QuantizeReport r = quantize_model(in, out, QuantMix::parse("Q4_K"));
  const GgufFile f = GgufFile::open(out);
  EXPECT_EQ(f.tensor("blk.0.attn_q_a.weight").type, GgmlType::Q5_0);  // row 128
  EXPECT_EQ(f.tensor("blk.0.attn_q_b.weight").type, GgmlType::Q5_0);  // row 64
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type, GgmlType::Q4_K);  // row 256 fits
  bool noted = false;
  for (const QuantizedTensor& t : r.tensors)
    if (t.name == "blk.0.attn_q_a.weight") noted = t.note.find("Q5_0") != std::string::npos;
  EXPECT_TRUE(noted);
  // Q6_K -> Q8_0; a row of 48 fits no 32-block type -> F16.
  QuantMix q6 = QuantMix::parse("Q6_K");
  EXPECT_EQ(choose_tensor_type(q6, "blk.0.attn_q_a.weight", 2, 128).type, GgmlType::Q8_0);
  EXPECT_EQ(choose_tensor_type(q6, "blk.0.attn_q_a.weight", 2, 48).type, GgmlType::F16);
  EXPECT_EQ(choose_tensor_type(q6, "blk.0.attn_q_a.weight", 2, 512).note, "");
  EXPECT_EQ(choose_tensor_type(q6, "blk.0.attn_norm.weight", 1, 48).type, GgmlType::F32);
  EXPECT_NO_THROW(load_causal_lm(out));
}

TEST(Quantize, DenseModelTakesTheRoutedTypeForItsBulk) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  const std::string in = data + "/quant/base-f32.gguf";  // llama, hidden 256, FFN 512
  const std::string out = temp_dir() + "/quantize-llama-q4km.gguf";
  const QuantizeReport r = quantize_model(in, out, QuantMix::parse("Q4_K_M"));
  const GgufFile f = GgufFile::open(out);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, GgmlType::Q4_K);
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type, GgmlType::Q4_K);
  EXPECT_EQ(f.tensor("output.weight").type, GgmlType::Q6_K);
  EXPECT_EQ(f.tensor("token_embd.weight").type, GgmlType::Q6_K);
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
  EXPECT_EQ(f.get<std::string>("general.architecture"), "llama");
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("no routed experts"), std::string::npos);
  EXPECT_NO_THROW(load_causal_lm(out));
}

TEST(Quantize, BadInputIsAnError) {
  const std::string dir = temp_dir();
  auto expect_error = [](auto fn, const std::string& part) {
    try {
      fn();
      ADD_FAILURE() << "no error (expected one mentioning '" << part << "')";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error([] { QuantMix::parse("Q4_K_XL"); }, "unknown quantization type 'Q4_K_XL'");
  expect_error([] { QuantMix::parse("IQ2_XXS"); }, "Q4_K_M");
  expect_error(
      [&] { quantize_model(dir + "/absent.gguf", dir + "/o.gguf", QuantMix::parse("Q8_0")); },
      "absent.gguf: no such file");
  // A Hugging Face directory of another family.
  const std::string llama = dir + "/hf-llama";
  std::filesystem::create_directories(llama);
  std::ofstream(llama + "/config.json") << R"({"model_type": "llama", "vocab_size": 10})";
  expect_error([&] { quantize_model(llama, dir + "/o.gguf", QuantMix::parse("Q8_0")); },
               "deepseek2 family only");
  // Not a GGUF file.
  std::ofstream(dir + "/junk.gguf") << "not a gguf";
  expect_error(
      [&] { quantize_model(dir + "/junk.gguf", dir + "/o.gguf", QuantMix::parse("Q8_0")); },
      "junk.gguf");
  EXPECT_FALSE(std::filesystem::exists(dir + "/o.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/o.gguf.partial"));
}

}  // namespace
}  // namespace frugal::test
