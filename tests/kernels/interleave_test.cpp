// Interleaved Q8_0, Q5_0, Q4_K, Q5_K and Q6_K r16 weights: the copy dequantizes to exactly the plain rows,
// the AVX-512 kernel for it is bit-identical to its scalar twin on odd sizes and token counts,
// and both match the plain-layout kernels to float rounding (the block sums are the same
// integers; only the order of the float additions differs).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
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
  WeightMatrix w, r16;
};

Interleaved make(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> src(static_cast<size_t>(rows * cols));
  for (float& v : src) v = d(rng);
  Interleaved m;
  const size_t rb = row_bytes(type, cols);
  m.plain.resize(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(type, &src[r * cols], m.plain.data() + rb * r, cols);
  m.w = make_weight_matrix(type, rows, cols, m.plain.data());
  m.packed_raw.resize(interleaved_bytes(m.w) + 64);
  uint8_t* dst = m.packed_raw.data() + (64 - reinterpret_cast<uintptr_t>(m.packed_raw.data()) % 64) % 64;
  interleave_rows(m.w, 0, rows, dst);
  m.r16 = interleaved_view(m.w, dst);
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

struct TypeCols {
  GgmlType type;
  std::vector<int64_t> cols;
};
const TypeCols kTypes[] = {{GgmlType::Q8_0, {32, 96, 224, 544, 1056}},
                           {GgmlType::Q4_K, {256, 768, 1280}},
                           {GgmlType::Q5_K, {256, 768, 1280}},
                           {GgmlType::Q6_K, {256, 768, 1280}},
                           {GgmlType::Q5_0, {32, 96, 224, 544, 1408}}};
const int64_t kRows[] = {16, 48, 80};  // 80: four groups streamed together + one; pairs + one
const int64_t kTokens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 17};  // each tile width, then several tiles

std::string type_str(GgmlType t) {
  return type_name(t);
}

TEST(Interleave, RowsDequantizeExactly) {
  for (const TypeCols& tc : kTypes)
    for (int64_t cols : tc.cols) {
      const Interleaved m = make(tc.type, 32, cols, 3);
      std::vector<float> a(static_cast<size_t>(cols)), b(a.size());
      for (int64_t r = 0; r < 32; ++r) {
        weight_row(m.w, r, a.data());
        weight_row(m.r16, r, b.data());
        ASSERT_EQ(a, b) << type_str(tc.type) << " cols " << cols << " row " << r;
      }
      // 16-aligned slices keep working (MoE experts are slices).
      const WeightMatrix s = m.r16.slice_rows(16, 16);
      weight_row(m.w, 21, a.data());
      weight_row(s, 5, b.data());
      EXPECT_EQ(a, b) << type_str(tc.type);
    }
}

TEST(Interleave, KernelsMatchTheirTwinAndThePlainLayout) {
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 1.0f);
  const bool avx512 = cpu_features().has_avx512_set();
  for (const TypeCols& tc : kTypes)
    for (int64_t cols : tc.cols)
      for (int64_t rows : kRows)
        for (int64_t n_tok : kTokens) {
          const Interleaved m = make(tc.type, rows, cols, static_cast<uint32_t>(cols + rows));
          std::vector<float> x(static_cast<size_t>(n_tok * cols));
          for (float& v : x) v = d(rng);
          const std::string what = type_str(tc.type) + " " + std::to_string(rows) + "x" +
                                   std::to_string(cols) + " t" + std::to_string(n_tok);
          const auto plain = run(ref_kernel_table(), m.w, x, n_tok);
          const auto twin = run(ref_kernel_table(), m.r16, x, n_tok);
          for (size_t i = 0; i < plain.size(); ++i)
            ASSERT_NEAR(plain[i], twin[i], 1e-4 * (1 + std::fabs(plain[i]))) << what;
          if (avx512) {
            ASSERT_EQ(run(avx512_kernel_table(), m.r16, x, n_tok), twin) << what;
          }
        }
}

// A matrix larger than the kernel's L2 slice (512 KiB of weights: 4096 columns make a 69.6 KB
// group, so 6-group slices) with an odd group count: slices of pairs, then a lone last group;
// token counts across several 6-token tiles and a remainder.
TEST(Interleave, SlicedWeightsMatchTheTwin) {
  if (!cpu_features().has_avx512_set()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  // Q4_K / Q6_K / Q5_0: 8192 columns make a 75.8 / 108.5 / 82.4 KB group, so 4-group slices:
  // quads, then a lone group.
  for (const auto& [type, cols] : {std::pair{GgmlType::Q8_0, int64_t{4096}}, std::pair{GgmlType::Q4_K, int64_t{8192}}, std::pair{GgmlType::Q5_K, int64_t{8192}},
                                   std::pair{GgmlType::Q6_K, int64_t{8192}}, std::pair{GgmlType::Q5_0, int64_t{8192}}}) {
    const int64_t rows = 16 * 13;
    const Interleaved m = make(type, rows, cols, 21);
    std::mt19937 rng(4);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (int64_t n_tok : {1, 7, 14}) {
      std::vector<float> x(static_cast<size_t>(n_tok * cols));
      for (float& v : x) v = d(rng);
      ASSERT_EQ(run(avx512_kernel_table(), m.r16, x, n_tok), run(ref_kernel_table(), m.r16, x, n_tok))
          << type_str(type) << " t" << n_tok;
    }
  }
}

TEST(Interleave, MatmulAndReferenceAgreeOnInterleavedViews) {
  for (const auto& [type, cols] : {std::pair{GgmlType::Q8_0, int64_t{1056}}, std::pair{GgmlType::Q4_K, int64_t{1024}}, std::pair{GgmlType::Q5_K, int64_t{1024}},
                                   std::pair{GgmlType::Q6_K, int64_t{1024}}, std::pair{GgmlType::Q5_0, int64_t{1056}}}) {
    const Interleaved m = make(type, 48, cols, 5);
    std::mt19937 rng(2);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (int64_t n_tok : {1, 6, 21}) {
      std::vector<float> x(static_cast<size_t>(n_tok * cols));
      for (float& v : x) v = d(rng);
      std::vector<float> a(static_cast<size_t>(n_tok * 48)), b(a.size()), c(a.size());
      matmul(m.w, x.data(), n_tok, a.data());
      matmul(m.r16, x.data(), n_tok, b.data());
      matmul_reference(m.r16, x.data(), n_tok, c.data());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_NEAR(a[i], b[i], 1e-4 * (1 + std::fabs(a[i]))) << type_str(type);
        EXPECT_NEAR(a[i], c[i], 0.05 * (1 + std::fabs(c[i]))) << type_str(type);  // 8-bit activations
      }
      // The threaded matmul gives each row the bits of one kernel call over all rows.
      EXPECT_EQ(b, run(active_kernel_table(), m.r16, x, n_tok)) << type_str(type);
    }
  }
}

TEST(Interleave, OnlyPlainViewsWithWholeGroupsQualify) {
  const Interleaved m = make(GgmlType::Q8_0, 32, 64, 1);
  WeightMatrix odd = m.w;
  odd.rows = 24;
  EXPECT_FALSE(interleave_pays(odd));
  EXPECT_FALSE(interleave_pays(m.r16));
  EXPECT_EQ(interleave_pays(m.w), active_kernel_table().q8_0_r16 != nullptr);
  const Interleaved k = make(GgmlType::Q4_K, 32, 256, 1);
  EXPECT_EQ(interleave_pays(k.w), active_kernel_table().q4_k_r16 != nullptr);
  EXPECT_FALSE(interleave_pays(k.r16));
  odd = k.w;
  odd.rows = 40;
  EXPECT_FALSE(interleave_pays(odd));
  const Interleaved q6 = make(GgmlType::Q6_K, 32, 256, 1);
  EXPECT_EQ(interleave_pays(q6.w), active_kernel_table().q6_k_r16 != nullptr);
  EXPECT_FALSE(interleave_pays(q6.r16));
  const Interleaved q5 = make(GgmlType::Q5_0, 32, 64, 1);
  EXPECT_EQ(interleave_pays(q5.w), active_kernel_table().q5_0_r16 != nullptr);
  EXPECT_FALSE(interleave_pays(q5.r16));
  const Interleaved q5k = make(GgmlType::Q5_K, 32, 256, 1);
  EXPECT_EQ(interleave_pays(q5k.w), active_kernel_table().q5_k_r16 != nullptr);
  const std::vector<uint8_t> q51_bytes(32 * row_bytes(GgmlType::Q5_1, 256));
  EXPECT_FALSE(interleave_pays(make_weight_matrix(GgmlType::Q5_1, 32, 256, q51_bytes.data())));
}

}  // namespace
}  // namespace frugal::kern

namespace frugal::kern {
namespace {

// matmul_batch: one pass over the pool for several products (interleaved, plain, float weights;
// two jobs sharing their activations) gives each the bits of its own matmul().
TEST(MatmulBatch, EachProductEqualsItsOwnMatmul) {
  const Interleaved a = make(GgmlType::Q8_0, 80, 544, 11), b = make(GgmlType::Q8_0, 48, 544, 12);
  const Interleaved k = make(GgmlType::Q4_K, 64, 512, 13);
  std::mt19937 rng(4);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> f32(32 * 544);
  for (float& v : f32) v = 0.05f * d(rng);
  const WeightMatrix wf = make_weight_matrix(GgmlType::F32, 32, 544, f32.data());
  for (int64_t n_tok : {1, 3, 9}) {
    std::vector<float> x1(static_cast<size_t>(n_tok * 544)), x2(x1.size()),
        x3(static_cast<size_t>(n_tok * 512));
    for (float& v : x1) v = d(rng);
    for (float& v : x2) v = d(rng);
    for (float& v : x3) v = d(rng);
    const std::vector<const WeightMatrix*> ws = {&a.r16, &b.r16, &a.w, &wf, &k.r16, &k.w};
    const std::vector<const float*> xs = {x1.data(), x1.data(), x2.data(), x2.data(), x3.data(), x3.data()};
    std::vector<std::vector<float>> want(ws.size()), got(ws.size());
    std::vector<MatmulJob> jobs;
    for (size_t i = 0; i < ws.size(); ++i) {
      want[i].resize(static_cast<size_t>(n_tok * ws[i]->rows));
      got[i].assign(want[i].size(), NAN);
      matmul(*ws[i], xs[i], n_tok, want[i].data());
      jobs.push_back({ws[i], xs[i], n_tok, got[i].data()});
    }
    matmul_batch(jobs);
    for (size_t i = 0; i < ws.size(); ++i) EXPECT_EQ(got[i], want[i]) << "job " << i << " t" << n_tok;
  }
}

}  // namespace
}  // namespace frugal::kern
