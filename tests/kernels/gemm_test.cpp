// Every fast GEMM kernel (each family this CPU runs) against its scalar twin in kernels/ref on
// odd sizes, and every family against an independent reference: dequantize_row + a double dot
// with the unquantized x, within the error the activation quantization allows.
#include "kernels/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/half.h"
#include "format/quant.h"
#include "kernels/kernels.h"

namespace frugal::kern {
namespace {

std::vector<const KernelTable*> fast_tables() {
  std::vector<const KernelTable*> t;
  if (cpu_features().has_avx2_set()) t.push_back(&avx2_kernel_table());
  if (cpu_features().has_avx512_set()) t.push_back(&avx512_kernel_table());
  return t;
}

std::vector<float> random_floats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& f : v) f = dist(rng);
  // a few outliers, as real activations have
  for (int64_t i = 0; i < n; i += 97) v[static_cast<size_t>(i)] *= 6.0f;
  return v;
}

struct Problem {
  GgmlType type;
  int64_t rows, cols, n_tok;
  std::vector<uint8_t> w;  // [rows] rows of row_bytes(type, cols)
  size_t w_stride;
  std::vector<float> x;   // [n_tok, cols]
  std::vector<float> wf;  // dequantized [rows, cols]
};

Problem make_problem(GgmlType type, int64_t rows, int64_t cols, int64_t n_tok, uint32_t seed) {
  Problem p{
      type, rows, cols, n_tok, {}, row_bytes(type, cols), random_floats(n_tok * cols, seed + 1),
      {}};
  const std::vector<float> src = random_floats(rows * cols, seed, 0.05f);
  p.w.resize(p.w_stride * static_cast<size_t>(rows));
  p.wf.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = p.w.data() + r * p.w_stride;
    const float* s = src.data() + r * cols;
    switch (type) {
      case GgmlType::F32:
        std::memcpy(dst, s, static_cast<size_t>(cols) * 4);
        break;
      case GgmlType::F16:
        for (int64_t c = 0; c < cols; ++c) {
          const uint16_t h = f32_to_f16(s[c]);
          std::memcpy(dst + 2 * c, &h, 2);
        }
        break;
      case GgmlType::BF16:
        for (int64_t c = 0; c < cols; ++c) {
          const uint16_t h = f32_to_bf16(s[c]);
          std::memcpy(dst + 2 * c, &h, 2);
        }
        break;
      default:
        quantize_row(type, s, dst, cols);
    }
    dequantize_row(type, dst, p.wf.data() + r * cols, cols);
  }
  return p;
}

// Runs kernel tk of table k for p; y: [n_tok, rows].
std::vector<float> run(const KernelTable& k, const TypeKernel& tk, const Problem& p) {
  EXPECT_NE(tk.gemm, nullptr);
  const size_t stride = act_row_bytes(tk.act, p.cols);
  std::vector<uint8_t> raw(stride * static_cast<size_t>(p.n_tok) + 64);
  uint8_t* xa = raw.data() + (64 - reinterpret_cast<uintptr_t>(raw.data()) % 64) % 64;
  for (int64_t t = 0; t < p.n_tok; ++t) {
    if (tk.act == ActFormat::F32)
      std::memcpy(xa + t * stride, p.x.data() + t * p.cols, static_cast<size_t>(p.cols) * 4);
    else
      find_quantizer(k, tk.act)(p.x.data() + t * p.cols, p.cols, xa + t * stride);
  }
  std::vector<float> y(static_cast<size_t>(p.n_tok * p.rows), NAN);
  tk.gemm({p.w.data(), p.w_stride, p.rows, p.cols, xa, stride, p.n_tok, y.data(), p.rows});
  return y;
}
std::vector<float> run(const KernelTable& k, const Problem& p) {
  return run(k, find_kernel(k, p.type), p);
}

// The scalar twin of a fast table's kernel: the reference kernel for the same activation format
// (BF16 weights have two: float activations, and the bf16 dot products of AVX512_BF16).
TypeKernel twin_of(const TypeKernel& fast, GgmlType type) {
  const KernelTable& ref = ref_kernel_table();
  if (type == GgmlType::BF16 && fast.act == ActFormat::F32) return {ActFormat::F32, ref.bf16};
  return find_kernel(ref, type);
}

// Sum over c of |w||x| (scale of float rounding) and of |w| * (the activation's quantization
// step / 2), per (token, row).
struct Bounds {
  double abs_sum, quant_err;
};
// Rounding x to bf16 (7 stored mantissa bits) moves each element by at most 2^-8 of itself.
constexpr double kBf16Rel = 1.0 / 256;
Bounds bounds(const Problem& p, int64_t t, int64_t r, int64_t block) {
  const float* x = p.x.data() + t * p.cols;
  const float* w = p.wf.data() + r * p.cols;
  Bounds b{0, 0};
  for (int64_t c0 = 0; c0 < p.cols; c0 += block) {
    double amax = 0;
    for (int64_t c = c0; c < std::min(p.cols, c0 + block); ++c)
      amax = std::max(amax, std::fabs(double(x[c])));
    for (int64_t c = c0; c < std::min(p.cols, c0 + block); ++c) {
      b.abs_sum += std::fabs(double(w[c]) * x[c]);
      b.quant_err += std::fabs(double(w[c])) * amax / 254.0;
    }
  }
  return b;
}

struct TypeCase {
  GgmlType type;
  std::vector<int64_t> cols;
};

const std::vector<TypeCase> kCases = {
    {GgmlType::F32, {1, 15, 17, 100, 257}},
    {GgmlType::F16, {1, 15, 17, 100, 257}},
    {GgmlType::BF16, {1, 15, 17, 100, 257}},
    {GgmlType::Q8_0, {32, 96, 224, 512, 544, 1056}},
    {GgmlType::Q4_0, {32, 96, 224, 512, 544, 1056}},
    {GgmlType::Q5_0, {32, 96, 224, 512, 544, 1056}},
    {GgmlType::Q4_1, {32, 96, 224, 512, 544, 1056}},
    {GgmlType::Q5_1, {32, 96, 224, 512, 544, 1056}},
    {GgmlType::Q4_K, {256, 768}},
    {GgmlType::Q5_K, {256, 768}},
    {GgmlType::Q6_K, {256, 768}},
};
const int64_t kRows[] = {1, 3, 5, 7, 13};
const int64_t kTokens[] = {1, 2, 3, 4, 5, 7, 17};

TEST(Gemm, FastMatchesScalarTwinOnOddSizes) {
  const auto tables = fast_tables();
  if (tables.empty()) GTEST_SKIP() << "no SIMD family on this CPU";
  uint32_t seed = 1;
  for (const KernelTable* k : tables) {
    for (const TypeCase& tc : kCases) {
      if (find_kernel(*k, tc.type).gemm == nullptr) continue;
      for (int64_t cols : tc.cols)
        for (int64_t rows : kRows)
          for (int64_t n_tok : kTokens) {
            const Problem p = make_problem(tc.type, rows, cols, n_tok, seed++);
            const TypeKernel tk = find_kernel(*k, tc.type);
            const TypeKernel twin = twin_of(tk, tc.type);
            ASSERT_EQ(twin.act, tk.act) << k->name << " " << type_name(tc.type);
            const auto want = run(ref_kernel_table(), twin, p);
            const auto got = run(*k, tk, p);
            for (int64_t t = 0; t < n_tok; ++t)
              for (int64_t r = 0; r < rows; ++r) {
                const double tol = 1e-5 * bounds(p, t, r, 32).abs_sum + 1e-6;
                ASSERT_NEAR(got[t * rows + r], want[t * rows + r], tol)
                    << k->name << " " << type_name(tc.type) << " rows=" << rows << " cols=" << cols
                    << " n_tok=" << n_tok << " t=" << t << " r=" << r;
              }
          }
    }
  }
}

TEST(Gemm, EveryFamilyMatchesDequantizedFloatDot) {
  std::vector<const KernelTable*> tables = fast_tables();
  tables.push_back(&ref_kernel_table());
  uint32_t seed = 1000;
  for (const KernelTable* k : tables) {
    for (const TypeCase& tc : kCases) {
      const TypeKernel tk = find_kernel(*k, tc.type);
      if (tk.gemm == nullptr) continue;
      const int64_t block = tk.act == ActFormat::Q8_K ? 256 : 32;
      for (int64_t cols : tc.cols) {
        const Problem p = make_problem(tc.type, 7, cols, 5, seed++);
        const auto got = run(*k, p);
        for (int64_t t = 0; t < p.n_tok; ++t)
          for (int64_t r = 0; r < p.rows; ++r) {
            double want = 0;
            for (int64_t c = 0; c < cols; ++c)
              want += double(p.wf[r * cols + c]) * p.x[t * cols + c];
            const Bounds b = bounds(p, t, r, block);
            // Float paths: rounding only. Integer paths: the activation rounding error, at most
            // half a quantization step per element (plus float rounding); bf16 x: 2^-8 of each.
            const double act_err = tk.act == ActFormat::F32    ? 0.0
                                   : tk.act == ActFormat::BF16 ? kBf16Rel * b.abs_sum
                                                               : 1.01 * b.quant_err;
            const double tol = act_err + 1e-5 * b.abs_sum + 1e-6;
            ASSERT_NEAR(got[t * p.rows + r], want, tol)
                << k->name << " " << type_name(tc.type) << " cols=" << cols;
          }
      }
    }
  }
}

// The BF16 rounding of both families, bit for bit, on odd sizes and on the values where rounding
// rules differ: ties, subnormals (taken as zero), NaN (made quiet), infinities, the largest float.
TEST(Gemm, Bf16ActivationRoundingMatchesItsTwin) {
  const QuantizeActFn ref = find_quantizer(ref_kernel_table(), ActFormat::BF16);
  ASSERT_NE(ref, nullptr);
  const float specials[] = {1.0f + 1.0f / 256,  // a tie: stays at 1
                            1.0f + 3.0f / 256,  // a tie: rounds up to even
                            -1.0f - 1.0f / 512, 1e-40f, -1e-42f, std::nanf(""), INFINITY, -INFINITY,
                            3.4028235e38f,      0.0f,   -0.0f,   1.1754944e-38f};
  for (const KernelTable* k : fast_tables()) {
    const QuantizeActFn fast = find_quantizer(*k, ActFormat::BF16);
    if (fast == nullptr) continue;
    for (int64_t n : {1, 12, 15, 17, 32, 33, 100, 257}) {
      auto x = random_floats(n, static_cast<uint32_t>(n) + 7);
      for (int64_t i = 0; i < std::min<int64_t>(n, 12); ++i) x[i] = specials[i];
      const size_t bytes = act_row_bytes(ActFormat::BF16, n);
      ASSERT_EQ(bytes % 64, 0u);
      ASSERT_GE(bytes, static_cast<size_t>(n) * 2);
      alignas(64) static uint8_t a[1024], b[1024];
      std::memset(a, 0xAB, bytes);
      std::memset(b, 0xCD, bytes);
      ref(x.data(), n, a);
      fast(x.data(), n, b);
      EXPECT_EQ(std::memcmp(a, b, bytes), 0) << k->name << " n=" << n;
      uint16_t v;
      std::memcpy(&v, a, 2);
      EXPECT_EQ(v, 0x3F80) << "1 + 2^-8 is a tie and rounds to even 1.0";
      if (n >= 4) {
        std::memcpy(&v, a + 6, 2);
        EXPECT_EQ(v, 0x0000) << "a subnormal input is taken as zero";
      }
      for (size_t i = static_cast<size_t>(n) * 2; i < bytes; ++i) ASSERT_EQ(a[i], 0) << "padding";
    }
  }
}

TEST(Gemm, ActivationQuantizersMatchTheirTwin) {
  for (const KernelTable* k : fast_tables()) {
    for (ActFormat f : {ActFormat::Q8_0, ActFormat::Q8_K}) {
      if (find_quantizer(*k, f) == nullptr) continue;
      for (int64_t n : {32, 96, 256, 288, 768}) {
        if (f == ActFormat::Q8_K && n % 256 != 0) continue;
        const auto x = random_floats(n, static_cast<uint32_t>(n));
        const size_t bytes = act_row_bytes(f, n);
        alignas(64) static uint8_t a[8192], b[8192];
        ASSERT_LE(bytes, sizeof(a));
        std::memset(a, 0xAB, bytes);
        std::memset(b, 0xCD, bytes);
        find_quantizer(ref_kernel_table(), f)(x.data(), n, a);
        find_quantizer(*k, f)(x.data(), n, b);
        EXPECT_EQ(std::memcmp(a, b, bytes), 0) << k->name << " n=" << n;
      }
    }
  }
}

// The model's entry point: fast types agree with the dequantizing reference within the
// activation quantization error; types without a fast kernel give the reference exactly.
TEST(Gemm, MatmulEntryPointDispatches) {
  set_kernel_threads(2);
  uint32_t seed = 5000;
  for (GgmlType type : {GgmlType::F32, GgmlType::BF16, GgmlType::F16, GgmlType::Q8_0,
                        GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q5_K,
                        GgmlType::Q5_0, GgmlType::Q4_1, GgmlType::Q5_1}) {
    for (int64_t n_tok : {1, 3, 17}) {
      const int64_t rows = 301, cols = 512;
      const Problem p = make_problem(type, rows, cols, n_tok, seed++);
      const WeightMatrix w = make_weight_matrix(type, rows, cols, p.w.data());
      std::vector<float> got(static_cast<size_t>(rows * n_tok)), want(got.size());
      matmul(w, p.x.data(), n_tok, got.data());
      matmul_reference(w, p.x.data(), n_tok, want.data());
      const TypeKernel tk = find_kernel(active_kernel_table(), type);
      const bool fast = tk.gemm != nullptr;
      const bool exact_float = tk.act == ActFormat::F32;
      const int64_t block =
          (type == GgmlType::Q4_K || type == GgmlType::Q5_K || type == GgmlType::Q6_K) ? 256 : 32;
      for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          const Bounds b = bounds(p, t, r, block);
          const double act_err = exact_float                 ? 0.0
                                 : tk.act == ActFormat::BF16 ? kBf16Rel * b.abs_sum
                                                             : 1.01 * b.quant_err;
          const double tol = !fast ? 0.0 : act_err + 1e-5 * b.abs_sum + 1e-6;
          ASSERT_NEAR(got[t * rows + r], want[t * rows + r], tol)
              << type_name(type) << " n_tok=" << n_tok;
        }
    }
  }
}

}  // namespace
}  // namespace frugal::kern
