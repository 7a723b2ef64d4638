// HF directories with DeepSeek's FP8 e4m3 weights (+ 128x128 weight_scale_inv): the loader
// dequantizes them to BF16 at load. With power-of-two block scales (as V3.1's ue8m0) every
// dequantized value is exact in BF16, so the FP8 directory must give the same logits as a
// directory holding those values in F32.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/half.h"
#include "format/quant.h"
#include "format/safetensors.h"
#include "oracle_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

struct OutTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

void write_safetensors(const std::string& path, const std::vector<OutTensor>& ts) {
  nlohmann::json h = nlohmann::json::object();
  uint64_t off = 0;
  for (const auto& t : ts) {
    h[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(header.data(), static_cast<std::streamsize>(n));
  for (const auto& t : ts)
    f.write(reinterpret_cast<const char*>(t.bytes.data()),
            static_cast<std::streamsize>(t.bytes.size()));
}

std::vector<float> to_f32(const StTensor& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = t.dtype == StDtype::BF16 ? bf16_to_f32(load_le<uint16_t>(t.data + 2 * i))
                                      : load_le<float>(t.data + 4 * i);
  return out;
}

template <typename T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  return {p, p + v.size() * sizeof(T)};
}

// w [rows, cols] -> FP8 codes, per-block power-of-two scales, and the exact dequantized values.
void quantize_fp8(const std::vector<float>& w, int64_t rows, int64_t cols, std::vector<uint8_t>& q,
                  std::vector<float>& scale, std::vector<float>& deq) {
  q.resize(w.size());
  deq.resize(w.size());
  scale.resize(static_cast<size_t>(((rows + 127) / 128) * ((cols + 127) / 128)));
  quantize_fp8_block_scaled(w.data(), rows, cols, q.data(), scale.data());
  dequantize_fp8_block_scaled(q.data(), scale.data(), rows, cols, 0, rows, deq.data());
}

bool is_fp8_weight(const StTensor& t) {
  const std::string suffix = "_proj.weight";
  return t.shape.size() == 2 && t.name.size() > suffix.size() &&
         t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(HfFp8, Fp8DirectoryEqualsItsDequantizedValues) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  const std::string src = oracle_dir("pub-v3") + "/hf";
  const std::string fp8_dir = temp_dir() + "/v3-fp8", f32_dir = temp_dir() + "/v3-fp8-as-f32";
  for (const auto& d : {fp8_dir, f32_dir}) {
    std::filesystem::create_directories(d);
    std::filesystem::copy_file(src + "/config.json", d + "/config.json",
                               std::filesystem::copy_options::overwrite_existing);
  }
  const SafetensorsModel in = SafetensorsModel::open(src);
  std::vector<OutTensor> fp8, f32;
  int n_fp8 = 0;
  for (const StTensor* t : in.tensors()) {
    const std::vector<float> w = to_f32(*t);
    if (!is_fp8_weight(*t)) {
      fp8.push_back({t->name, "F32", t->shape, as_bytes(w)});
      f32.push_back({t->name, "F32", t->shape, as_bytes(w)});
      continue;
    }
    std::vector<uint8_t> q;
    std::vector<float> scale, deq;
    quantize_fp8(w, t->shape[0], t->shape[1], q, scale, deq);
    fp8.push_back({t->name, "F8_E4M3", t->shape, q});
    fp8.push_back({t->name + "_scale_inv",
                   "F32",
                   {(t->shape[0] + 127) / 128, (t->shape[1] + 127) / 128},
                   as_bytes(scale)});
    f32.push_back({t->name, "F32", t->shape, as_bytes(deq)});
    ++n_fp8;
  }
  EXPECT_GT(n_fp8, 20);
  write_safetensors(fp8_dir + "/model.safetensors", fp8);
  write_safetensors(f32_dir + "/model.safetensors", f32);
  Deepseek2Model a = Deepseek2Model::load(fp8_dir);
  Deepseek2Model b = Deepseek2Model::load(f32_dir);
  const auto tokens = load_tokens(oracle_dir("pub-v3") + "/A/tokens.npy");
  const auto la = run_logits(a, tokens), lb = run_logits(b, tokens);
  EXPECT_LE(max_abs_diff(la, lb), 1e-6);
  // FP8 rounding moves the logits away from the BF16 oracle, but not far.
  const double d = max_abs_diff(la, read_npy(oracle_dir("pub-v3") + "/A/logits.npy").to_float());
  std::printf("[fp8] pub-v3 A FP8 weights vs BF16 oracle: max |dlogit| = %.3g\n", d);
  EXPECT_LE(d, 0.5);
}

TEST(HfFp8, MissingScaleIsAnError) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  const std::string dir = temp_dir() + "/v3-fp8-noscale";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(oracle_dir("pub-v3") + "/hf/config.json", dir + "/config.json",
                             std::filesystem::copy_options::overwrite_existing);
  const SafetensorsModel in = SafetensorsModel::open(oracle_dir("pub-v3") + "/hf");
  std::vector<OutTensor> out;
  for (const StTensor* t : in.tensors()) {
    const std::vector<float> w = to_f32(*t);
    if (t->name == "model.layers.0.self_attn.o_proj.weight")
      out.push_back({t->name, "F8_E4M3", t->shape, std::vector<uint8_t>(w.size())});
    else
      out.push_back({t->name, "F32", t->shape, as_bytes(w)});
  }
  write_safetensors(dir + "/model.safetensors", out);
  try {
    Deepseek2Model::load(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("o_proj.weight_scale_inv"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace frugal::test
