// Interleaved Q8_0 x4 weights: the copy dequantizes to exactly the plain rows, every kernel for
// it (AVX-512 and its scalar twin) matches the plain Q8_0 reference, and the AVX-512 kernel is
// bit-identical to the plain AVX-512 Q8_0 kernel (interleaving must not change any result).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "format/quant.h"
#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/kernels.h"

namespace frugal::kern {
namespace {

struct Interleaved {
  std::vector<uint8_t> plain, packed_raw;
  WeightMatrix w, x4;
};

Interleaved make(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> src(static_cast<size_t>(rows * cols));
  for (float& v : src) v = d(rng);
  Interleaved m;
  const size_t rb = row_bytes(GgmlType::Q8_0, cols);
  m.plain.resize(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(GgmlType::Q8_0, &src[r * cols], m.plain.data() + rb * r, cols);
  m.w = make_weight_matrix(GgmlType::Q8_0, rows, cols, m.plain.data());
  m.packed_raw.resize(interleaved_bytes(m.w) + 64);
  uint8_t* dst = m.packed_raw.data() + (64 - reinterpret_cast<uintptr_t>(m.packed_raw.data()) % 64) % 64;
  interleave_rows(m.w, 0, rows, dst);
  m.x4 = interleaved_view(m.w, dst);
  return m;
}

// y [n_tok, rows] of weight view w through table k's kernel for it.
std::vector<float> run(const KernelTable& k, const WeightMatrix& w, const std::vector<float>& x,
                       int64_t n_tok) {
  const TypeKernel tk = find_kernel(k, w.type, w.interleave);
  EXPECT_NE(tk.gemm, nullptr);
  const size_t stride = act_row_bytes(tk.act, w.cols);
  std::vector<uint8_t> raw(stride * static_cast<size_t>(n_tok) + 64);
  uint8_t* xa = raw.data() + (64 - reinterpret_cast<uintptr_t>(raw.data()) % 64) % 64;
  for (int64_t t = 0; t < n_tok; ++t) find_quantizer(k, tk.act)(&x[t * w.cols], w.cols, xa + t * stride);
  std::vector<float> y(static_cast<size_t>(n_tok * w.rows), NAN);
  tk.gemm({w.data, w.row_stride, w.rows, w.cols, xa, stride, n_tok, y.data(), w.rows});
  return y;
}

const int64_t kCols[] = {32, 96, 224, 544, 1056};
const int64_t kRows[] = {4, 8, 20};
const int64_t kTokens[] = {1, 2, 3, 4, 5, 9};

TEST(Interleave, RowsDequantizeExactly) {
  for (int64_t cols : kCols) {
    const Interleaved m = make(12, cols, 3);
    std::vector<float> a(static_cast<size_t>(cols)), b(a.size());
    for (int64_t r = 0; r < 12; ++r) {
      weight_row(m.w, r, a.data());
      weight_row(m.x4, r, b.data());
      ASSERT_EQ(a, b) << "cols " << cols << " row " << r;
    }
    // 4-aligned slices keep working (MoE experts are slices).
    const WeightMatrix s = m.x4.slice_rows(4, 8);
    weight_row(m.w, 9, a.data());
    weight_row(s, 5, b.data());
    EXPECT_EQ(a, b);
  }
}

TEST(Interleave, KernelsMatchThePlainLayout) {
  std::vector<const KernelTable*> tables{&ref_kernel_table()};
  if (cpu_features().has_avx512_set()) tables.push_back(&avx512_kernel_table());
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (const KernelTable* k : tables)
    for (int64_t cols : kCols)
      for (int64_t rows : kRows)
        for (int64_t n_tok : kTokens) {
          const Interleaved m = make(rows, cols, static_cast<uint32_t>(cols + rows));
          std::vector<float> x(static_cast<size_t>(n_tok * cols));
          for (float& v : x) v = d(rng);
          const auto plain = run(*k, m.w, x, n_tok);
          const auto packed = run(*k, m.x4, x, n_tok);
          if (std::string(k->name) == "avx512") {
            ASSERT_EQ(plain, packed) << k->name << " " << rows << "x" << cols << " t" << n_tok;
          } else {
            for (size_t i = 0; i < plain.size(); ++i)
              ASSERT_NEAR(plain[i], packed[i], 1e-4 * (1 + std::fabs(plain[i])))
                  << k->name << " " << rows << "x" << cols << " t" << n_tok;
          }
        }
}

TEST(Interleave, MatmulAndReferenceAgreeOnInterleavedViews) {
  const Interleaved m = make(36, 1056, 5);
  std::mt19937 rng(2);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (int64_t n_tok : {1, 6}) {
    std::vector<float> x(static_cast<size_t>(n_tok * 1056));
    for (float& v : x) v = d(rng);
    std::vector<float> a(static_cast<size_t>(n_tok * 36)), b(a.size()), c(a.size());
    matmul(m.w, x.data(), n_tok, a.data());
    matmul(m.x4, x.data(), n_tok, b.data());
    matmul_reference(m.x4, x.data(), n_tok, c.data());
    EXPECT_EQ(a, b);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], c[i], 0.02 * (1 + std::fabs(c[i])));
  }
}

TEST(Interleave, OnlyPlainQ8_0WithWholeGroupsQualifies) {
  const Interleaved m = make(12, 64, 1);
  WeightMatrix odd = m.w;
  odd.rows = 10;
  EXPECT_FALSE(interleave_pays(odd));
  EXPECT_FALSE(interleave_pays(m.x4));
  EXPECT_EQ(interleave_pays(m.w), active_kernel_table().q8_0_x4 != nullptr);
}

}  // namespace
}  // namespace frugal::kern
