// Hugging Face -> GGUF through the quantize path (`frugal convert`): the converted oracle model
// gives the logits of the oracle's own model-f32.gguf (written by llama.cpp's converter), and an
// FP8 e4m3 directory converts to the values the loader computes from it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/half.h"
#include "format/gguf.h"
#include "format/quant.h"
#include "format/safetensors.h"
#include "model/quantize.h"
#include "oracle_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

TEST(QuantizeHf, ConvertedOracleMatchesItsF32Gguf) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  const std::string out = temp_dir() + "/convert-pub-v3-f32.gguf";
  const QuantizeReport r =
      quantize_model(oracle_dir("pub-v3") + "/hf", out, QuantMix::parse("F32"));
  EXPECT_EQ(r.tensors.size(),
            GgufFile::open(oracle_dir("pub-v3") + "/model-f32.gguf").tensors().size());
  Deepseek2Model converted = Deepseek2Model::load(out);
  Deepseek2Model oracle = Deepseek2Model::load(oracle_dir("pub-v3") + "/model-f32.gguf");
  for (const char* sample : {"A", "B"}) {
    const auto tokens = load_tokens(oracle_dir("pub-v3") + "/" + sample + "/tokens.npy");
    const double d = max_abs_diff(run_logits(converted, tokens), run_logits(oracle, tokens));
    std::printf("[convert] pub-v3 %s: max |dlogit| vs model-f32.gguf = %.3g\n", sample, d);
    EXPECT_LE(d, 1e-4) << sample;
  }
  // The mix rule also applies when converting.
  const std::string q8 = temp_dir() + "/convert-pub-v3-q8.gguf";
  quantize_model(oracle_dir("pub-v3") + "/hf", q8, QuantMix::parse("Q8_0"));
  const GgufFile f = GgufFile::open(q8);
  EXPECT_EQ(f.tensor("blk.1.ffn_up_exps.weight").type, GgmlType::Q8_0);
  EXPECT_EQ(f.tensor("blk.1.ffn_up_exps.weight").ne[2], 8);
  EXPECT_EQ(f.tensor("blk.1.ffn_gate_inp.weight").type, GgmlType::F32);
  EXPECT_EQ(f.get<std::string>("general.architecture"), "deepseek2");
}

TEST(QuantizeHf, TokenizerInTheDirectoryIsEmbedded) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  FRUGAL_REQUIRE_SHARED_DATA(data);
  namespace fs = std::filesystem;
  const std::string dir = temp_dir() + "/convert-with-tokenizer";
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors", "model.safetensors.index.json"})
    if (!fs::exists(dir + "/" + f))
      fs::create_symlink(oracle_dir("pub-v3") + "/hf/" + f, dir + "/" + f);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (!fs::exists(dir + "/" + f))
      fs::create_symlink(data + "/tokenizer/deepseek-v3/" + f, dir + "/" + f);
  const std::string out = temp_dir() + "/convert-with-tokenizer.gguf";
  const QuantizeReport r = quantize_model(dir, out, QuantMix::parse("BF16"));
  const GgufFile f = GgufFile::open(out);
  EXPECT_EQ(f.get<std::string>("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 128815u);
  EXPECT_EQ(f.get<std::string>("general.name"), "convert-with-tokenizer");
  EXPECT_EQ(f.tensor("blk.0.attn_q_a.weight").type, GgmlType::BF16);
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
  for (const std::string& n : r.notes) EXPECT_EQ(n.find("tokenizer"), std::string::npos) << n;
}

// FP8 directory: every *_proj.weight of the oracle as FP8 with power-of-two 128x128 block scales
// (so the dequantized values are exact in BF16, which the loader converts FP8 to).
void write_fp8_dir(const std::string& src, const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(src + "/config.json", dir + "/config.json",
                             std::filesystem::copy_options::overwrite_existing);
  const SafetensorsModel in = SafetensorsModel::open(src);
  nlohmann::json header = nlohmann::json::object();
  std::vector<uint8_t> data;
  auto put = [&](const std::string& name, const char* dtype, const std::vector<int64_t>& shape,
                 const void* p, size_t n) {
    header[name] = {
        {"dtype", dtype}, {"shape", shape}, {"data_offsets", {data.size(), data.size() + n}}};
    data.insert(data.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  };
  for (const StTensor* t : in.tensors()) {
    std::vector<float> w(static_cast<size_t>(t->n_elements()));
    for (size_t i = 0; i < w.size(); ++i)
      w[i] = t->dtype == StDtype::BF16 ? bf16_to_f32(load_le<uint16_t>(t->data + 2 * i))
                                       : load_le<float>(t->data + 4 * i);
    const bool fp8 = t->shape.size() == 2 && t->name.ends_with("_proj.weight");
    if (!fp8) {
      put(t->name, "F32", t->shape, w.data(), w.size() * 4);
      continue;
    }
    const int64_t rows = t->shape[0], cols = t->shape[1], br = (rows + 127) / 128,
                  bc = (cols + 127) / 128;
    std::vector<float> scale(static_cast<size_t>(br * bc));
    std::vector<uint8_t> q(w.size());
    quantize_fp8_block_scaled(w.data(), rows, cols, q.data(), scale.data());
    put(t->name, "F8_E4M3", t->shape, q.data(), q.size());
    put(t->name + "_scale_inv", "F32", {br, bc}, scale.data(), scale.size() * 4);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::ofstream f(dir + "/model.safetensors", std::ios::binary);
  const uint64_t n = h.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(h.data(), static_cast<std::streamsize>(n));
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

TEST(QuantizeHf, Fp8DirectoryConvertsToTheLoadersValues) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  const std::string dir = temp_dir() + "/convert-fp8";
  write_fp8_dir(oracle_dir("pub-v3") + "/hf", dir);
  const std::string out = temp_dir() + "/convert-fp8-f32.gguf";
  const QuantizeReport r = quantize_model(dir, out, QuantMix::parse("F32"));
  int n_fp8 = 0;
  for (const QuantizedTensor& t : r.tensors) n_fp8 += t.source_type == "F8_E4M3";
  EXPECT_GT(n_fp8, 20);
  Deepseek2Model converted = Deepseek2Model::load(out);
  Deepseek2Model direct = Deepseek2Model::load(dir);
  const auto tokens = load_tokens(oracle_dir("pub-v3") + "/A/tokens.npy");
  EXPECT_LE(max_abs_diff(run_logits(converted, tokens), run_logits(direct, tokens)), 1e-5);
}

}  // namespace
}  // namespace frugal::test
