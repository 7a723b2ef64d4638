// Batch invariance of the GEMM (what the multi-sequence forward relies on): a token row's result
// is bit-identical whatever the other rows of the call are and however many there are, since the
// tiles (1..4 tokens, 1 or kRows weight rows) and matmul()'s split of the rows across threads
// both change with n_tok. Checked for every family this CPU runs on each kernel directly, and
// through matmul() on sizes large enough to be split across the thread pool.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "format/quant.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

namespace frugal::kern {
namespace {

std::vector<float> random_floats(int64_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& f : v) f = dist(rng);
  return v;
}

// [rows] rows of `type`, random weights.
std::vector<uint8_t> random_weights(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const std::vector<float> src = random_floats(rows * cols, seed, 0.05f);
  const size_t stride = row_bytes(type, cols);
  std::vector<uint8_t> w(stride * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(type, src.data() + r * cols, w.data() + r * stride, cols);
  return w;
}

// y [n_tok, rows] of one table's kernel on float activations x [n_tok, cols], weights w
// [rows] rows of `type`.
std::vector<float> run_kernel(const KernelTable& k, GgmlType type, const uint8_t* w, int64_t rows,
                              int64_t cols, const float* x, int64_t n_tok) {
  const TypeKernel tk = find_kernel(k, type);
  const size_t stride = act_row_bytes(tk.act, cols);
  std::vector<uint8_t> raw(stride * static_cast<size_t>(n_tok) + 64);
  uint8_t* xa = raw.data() + (64 - reinterpret_cast<uintptr_t>(raw.data()) % 64) % 64;
  for (int64_t t = 0; t < n_tok; ++t) {
    if (tk.act == ActFormat::F32)
      std::memcpy(xa + t * stride, x + t * cols, static_cast<size_t>(cols) * sizeof(float));
    else
      find_quantizer(k, tk.act)(x + t * cols, cols, xa + t * stride);
  }
  std::vector<float> y(static_cast<size_t>(n_tok * rows));
  tk.gemm({w, row_bytes(type, cols), rows, cols, xa, stride, n_tok, y.data(), rows});
  return y;
}

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                           GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_1, GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

std::vector<const KernelTable*> all_tables() {
  std::vector<const KernelTable*> t{&ref_kernel_table()};
  if (cpu_features().has_avx2_set()) t.push_back(&avx2_kernel_table());
  if (cpu_features().has_avx512_set()) t.push_back(&avx512_kernel_table());
  return t;
}

TEST(GemmBatchInvariance, EachKernelGivesATokenTheSameBitsAtEveryBatchSize) {
  const int64_t rows = 11, cols = 512;  // 11 rows: full tiles and single-row remainders
  for (const KernelTable* k : all_tables())
    for (GgmlType type : kTypes) {
      if (find_kernel(*k, type).gemm == nullptr) continue;
      const auto w = random_weights(type, rows, cols, 5);
      const auto x = random_floats(17 * cols, 9, 1.0f);  // up to 17 tokens
      for (int64_t n_tok : {2, 3, 4, 5, 8, 17}) {
        const auto batch = run_kernel(*k, type, w.data(), rows, cols, x.data(), n_tok);
        for (int64_t t = 0; t < n_tok; ++t) {
          const auto alone = run_kernel(*k, type, w.data(), rows, cols, &x[t * cols], 1);
          EXPECT_EQ(std::memcmp(alone.data(), &batch[t * rows], rows * sizeof(float)), 0)
              << k->name << " " << type_name(type) << " n_tok=" << n_tok << " token " << t;
        }
      }
    }
}

TEST(GemmBatchInvariance, EachKernelGivesAWeightRowTheSameBitsInAnyTile) {
  // A row computed in a full tile of kRows rows or as a single-row remainder (which one depends
  // on the matrix height, e.g. the number of cached positions attention multiplies by).
  const int64_t rows = 11, cols = 512;
  for (const KernelTable* k : all_tables())
    for (GgmlType type : kTypes) {
      if (find_kernel(*k, type).gemm == nullptr) continue;
      const auto w = random_weights(type, rows, cols, 6);
      const auto x = random_floats(5 * cols, 10, 1.0f);
      const auto all = run_kernel(*k, type, w.data(), rows, cols, x.data(), 5);
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* row = w.data() + static_cast<size_t>(r) * row_bytes(type, cols);
        const auto one = run_kernel(*k, type, row, 1, cols, x.data(), 5);
        for (int64_t t = 0; t < 5; ++t)
          EXPECT_EQ(std::memcmp(&one[t], &all[t * rows + r], sizeof(float)), 0)
              << k->name << " " << type_name(type) << " row " << r << " token " << t;
      }
    }
}

TEST(GemmBatchInvariance, MatmulGivesATokenTheSameBitsAtEveryBatchSize) {
  // Large enough that matmul() splits the rows across threads, with grains that depend on n_tok.
  const int64_t rows = 1030, cols = 1024;
  for (GgmlType type : kTypes) {
    const auto wq = random_weights(type, rows, cols, 21);
    const WeightMatrix w = make_weight_matrix(type, rows, cols, wq.data());
    const auto x = random_floats(40 * cols, 23, 1.0f);
    for (int64_t n_tok : {3, 16, 40}) {
      std::vector<float> batch(static_cast<size_t>(n_tok * rows));
      matmul(w, x.data(), n_tok, batch.data());
      for (int64_t t : {int64_t{0}, n_tok / 2, n_tok - 1}) {
        std::vector<float> alone(static_cast<size_t>(rows));
        matmul(w, &x[t * cols], 1, alone.data());
        EXPECT_EQ(std::memcmp(alone.data(), &batch[t * rows], rows * sizeof(float)), 0)
            << type_name(type) << " n_tok=" << n_tok << " token " << t;
      }
    }
  }
}

}  // namespace
}  // namespace frugal::kern
