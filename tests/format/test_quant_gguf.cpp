// Known answers from llama.cpp (../shared/data/quant, see its README): every tensor of every
// q-TYPE.gguf must dequantize to the array gguf-py's NumPy reference produced, and our
// quantizers, run on the original base-f32.gguf weights, must be about as accurate as
// llama-quantize's output for the same tensor and type.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "format/npy.h"
#include "format/quant.h"
#include "test_util.h"

namespace frugal {
namespace {

// "blk.0.ffn_down.weight" -> "blk_0_ffn_down_weight" (the .npz key convention).
std::string npz_key(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

// Distance in units in the last place between two finite floats of the same sign.
int64_t ulp_distance(float a, float b) {
  if (a == b) return 0;
  if (std::signbit(a) != std::signbit(b)) return std::numeric_limits<int64_t>::max();
  const auto ia = static_cast<int64_t>(std::bit_cast<uint32_t>(std::fabs(a)));
  const auto ib = static_cast<int64_t>(std::bit_cast<uint32_t>(std::fabs(b)));
  return std::llabs(ia - ib);
}

std::vector<float> dequantize_tensor(const GgufTensorInfo& t) {
  std::vector<float> y(static_cast<size_t>(t.n_elements));
  dequantize_row(t.type, t.data, y.data(), t.n_elements);
  return y;
}

std::vector<std::string> quant_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("q-", 0) == 0 && entry.path().extension() == ".gguf") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(QuantGguf, EveryTensorMatchesGgufPyDequantization) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  const std::string dir = data + "/quant";
  const auto files = quant_files(dir);
  ASSERT_FALSE(files.empty()) << "no q-*.gguf in " << dir;
  std::map<std::string, int> tensors_per_type;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    const GgufFile gguf = GgufFile::open(dir + "/" + file);
    const std::string stem = file.substr(0, file.size() - 5);
    const auto expected = read_npz(dir + "/" + stem + ".dequant.npz");
    ASSERT_EQ(expected.size(), gguf.tensors().size());
    for (const GgufTensorInfo& t : gguf.tensors()) {
      SCOPED_TRACE(t.name + " " + type_name(t.type));
      const auto it = expected.find(npz_key(t.name));
      ASSERT_NE(it, expected.end()) << "no array " << npz_key(t.name);
      const NpyArray& want = it->second;
      // Row-major shape = GGUF ne reversed.
      std::vector<int64_t> shape(t.ne.rbegin() + (4 - t.n_dims), t.ne.rend());
      ASSERT_EQ(want.shape, shape);
      ASSERT_EQ(want.dtype, "f4");
      const std::vector<float> ref = want.to_float();
      const std::vector<float> got = dequantize_tensor(t);
      int64_t max_ulp = 0, n_diff = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        const int64_t d = ulp_distance(got[i], ref[i]);
        n_diff += d != 0;
        max_ulp = std::max(max_ulp, d);
        ASSERT_LE(d, 1) << "element " << i << ": got " << got[i] << ", gguf-py " << ref[i];
      }
      RecordProperty(file + ":" + t.name + ":max_ulp", std::to_string(max_ulp));
      ++tensors_per_type[type_name(t.type)];
    }
  }
  for (const char* type : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K",
                           "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    EXPECT_GT(tensors_per_type[type], 0) << "no tensor of type " << type << " was checked";
}

double squared_error(const float* x, const float* y, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; ++i)
    e += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
  return e;
}

// Our reference quantizers on the original weights (with their few large outliers per row) are
// within 10% of llama-quantize's RMSE for every tensor and type llama.cpp chose (llama.cpp uses
// importance-weighted searches; ours are plain least-squares fits, so small differences either
// way are expected). Observed ratios: legacy types and F16/BF16 1.00 (mostly byte-identical
// blocks), Q6_K 0.99, IQ4_* 0.95-0.99, Q3_K 0.94-0.95, Q2_K 0.68-0.95, Q4_K/Q5_K 1.01-1.05.
TEST(QuantGguf, QuantizersMatchLlamaQuantizeAccuracyOnBaseWeights) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  const std::string dir = data + "/quant";
  const GgufFile base = GgufFile::open(dir + "/base-f32.gguf");
  for (const std::string& file : quant_files(dir)) {
    const GgufFile q = GgufFile::open(dir + "/" + file);
    const auto ref = read_npz(dir + "/" + file.substr(0, file.size() - 5) + ".dequant.npz");
    for (const GgufTensorInfo& t : q.tensors()) {
      if (t.type == GgmlType::F32) continue;
      SCOPED_TRACE(file + " " + t.name + " " + type_name(t.type));
      const GgufTensorInfo& src = base.tensor(t.name);
      ASSERT_EQ(src.type, GgmlType::F32);
      const auto* x = reinterpret_cast<const float*>(src.data);
      const size_t n = static_cast<size_t>(src.n_elements);
      std::vector<uint8_t> packed(row_bytes(t.type, src.n_elements));
      quantize_row(t.type, x, packed.data(), src.n_elements);
      std::vector<float> ours(n);
      dequantize_row(t.type, packed.data(), ours.data(), src.n_elements);
      const std::vector<float> theirs = ref.at(npz_key(t.name)).to_float();
      const double rmse_ours = std::sqrt(squared_error(x, ours.data(), n) / n);
      const double rmse_llama = std::sqrt(squared_error(x, theirs.data(), n) / n);
      EXPECT_LE(rmse_ours, 1.10 * rmse_llama + 1e-9)
          << "ours " << rmse_ours << " vs llama.cpp " << rmse_llama;
      RecordProperty(file + ":" + t.name + ":rmse_ratio", std::to_string(rmse_ours / rmse_llama));
    }
  }
}

}  // namespace
}  // namespace frugal
