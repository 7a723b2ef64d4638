// float8 e4m3fn: all 256 codes against the formula of formats-and-names.md §2.1, encoding
// (round-to-nearest-even, saturation, NaN) and the 128x128 block-scaled dequantization (§2.2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "format/quant.h"

namespace frugal {
namespace {

// (-1)^s * 2^-6 * m/8 for e = 0; (-1)^s * 2^(e-7) * (1 + m/8) otherwise; 0x7F/0xFF = NaN.
double fp8_formula(int code) {
  const int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
  if (e == 15 && m == 7) return std::nan("");
  const double mag = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
  return s ? -mag : mag;
}

TEST(Fp8, DecodesAll256CodesByFormula) {
  for (int code = 0; code < 256; ++code) {
    const float got = fp8_e4m3_to_f32(static_cast<uint8_t>(code));
    const double want = fp8_formula(code);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << code;
    } else {
      EXPECT_EQ(static_cast<double>(got), want) << code;
      EXPECT_EQ(std::signbit(got), code >= 128) << code;  // 0x80 is -0
    }
  }
  EXPECT_EQ(fp8_e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), std::ldexp(1.0f, -6));
}

TEST(Fp8, EveryFiniteCodeRoundTrips) {
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7F) == 0x7F) continue;
    EXPECT_EQ(f32_to_fp8_e4m3(fp8_e4m3_to_f32(static_cast<uint8_t>(code))), code) << code;
  }
}

TEST(Fp8, EncodeRoundsToNearestEvenAndSaturates) {
  EXPECT_EQ(f32_to_fp8_e4m3(1.0625f), 0x38);  // halfway 1 and 1.125 -> even mantissa 0 (1.0)
  EXPECT_EQ(f32_to_fp8_e4m3(1.1875f), 0x3A);  // halfway 1.125 and 1.25 -> even (1.25)
  EXPECT_EQ(f32_to_fp8_e4m3(1.07f), 0x39);    // above halfway -> 1.125
  EXPECT_EQ(f32_to_fp8_e4m3(15.5f), 0x58);    // halfway 15 and 16 -> 16 (carry into exponent)
  EXPECT_EQ(f32_to_fp8_e4m3(1000.0f), 0x7E);  // saturate to 448
  EXPECT_EQ(f32_to_fp8_e4m3(-1e30f), 0xFE);
  EXPECT_EQ(f32_to_fp8_e4m3(INFINITY), 0x7E);
  EXPECT_EQ(f32_to_fp8_e4m3(460.0f), 0x7E);
  EXPECT_EQ(f32_to_fp8_e4m3(NAN), 0x7F);
  EXPECT_EQ(f32_to_fp8_e4m3(-0.0f), 0x80);
  EXPECT_EQ(f32_to_fp8_e4m3(std::ldexp(1.0f, -10)), 0x00);   // half the smallest subnormal -> 0
  EXPECT_EQ(f32_to_fp8_e4m3(std::ldexp(3.0f, -10)), 0x02);   // 1.5 subnormal steps -> 2 (even)
  EXPECT_EQ(f32_to_fp8_e4m3(std::ldexp(15.0f, -10)), 0x08);  // 7.5 steps -> 2^-6 (normal)
  EXPECT_EQ(f32_to_fp8_e4m3(1e-30f), 0x00);
}

TEST(Fp8, EncodeIsNearestOnRandomValues) {
  // Brute force: the encoded code is at least as close as every other finite code.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> log_mag(-12.0f, 9.0f);
  for (int i = 0; i < 2000; ++i) {
    const float v = (i % 2 ? -1.0f : 1.0f) * std::exp2(log_mag(rng));
    const float got = fp8_e4m3_to_f32(f32_to_fp8_e4m3(v));
    const float clamped = std::fmin(std::fabs(v), 448.0f);
    for (int code = 0; code < 128; ++code) {
      if (code == 0x7F) continue;
      ASSERT_LE(std::fabs(std::fabs(got) - clamped), std::fabs(fp8_e4m3_to_f32(code) - clamped))
          << v;
    }
  }
}

TEST(Fp8, BlockScaledDequantWithPartialEdgeBlocks) {
  // 5 x 7 tensor with 2 x 2 blocks: scale grid ceil(5/2) x ceil(7/2) = 3 x 4, the last block
  // row and column partial.
  const int64_t rows = 5, cols = 7, block = 2;
  const int64_t grid_rows = 3, grid_cols = 4;
  std::vector<uint8_t> w(rows * cols);
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = static_cast<uint8_t>((i * 37) % 256);
    if ((w[i] & 0x7F) == 0x7F) w[i] = 0x10;  // keep NaN codes out so EXPECT_EQ can compare
  }
  std::vector<float> scale(grid_rows * grid_cols);
  for (size_t i = 0; i < scale.size(); ++i) scale[i] = 0.5f + static_cast<float>(i);
  std::vector<float> out(rows * cols);
  dequantize_fp8_block_scaled(w.data(), scale.data(), rows, cols, 0, rows, out.data(), block);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const float want =
          fp8_e4m3_to_f32(w[i * cols + j]) * scale[(i / block) * grid_cols + j / block];
      EXPECT_EQ(out[i * cols + j], want) << i << "," << j;
    }
  }
  // A row range starting inside the tensor writes only those rows.
  std::vector<float> part(2 * cols, -1.0f);
  dequantize_fp8_block_scaled(w.data(), scale.data(), rows, cols, 3, 2, part.data(), block);
  for (int64_t k = 0; k < 2 * cols; ++k) EXPECT_EQ(part[k], out[3 * cols + k]) << k;
}

TEST(Fp8, BlockScaledDefaultBlockOf128) {
  const int64_t rows = 130, cols = 200;       // partial blocks on both axes: scale grid 2 x 2
  std::vector<uint8_t> w(rows * cols, 0x38);  // 1.0
  const std::vector<float> scale = {1.0f, 2.0f, 3.0f, 4.0f};
  std::vector<float> out(rows * cols);
  dequantize_fp8_block_scaled(w.data(), scale.data(), rows, cols, 0, rows, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[127], 1.0f);
  EXPECT_EQ(out[128], 2.0f);
  EXPECT_EQ(out[199], 2.0f);
  EXPECT_EQ(out[128 * cols], 3.0f);
  EXPECT_EQ(out[129 * cols + 199], 4.0f);
}

TEST(Fp8, BlockScaledRejectsBadRanges) {
  std::vector<uint8_t> w(16);
  std::vector<float> s(1), out(16);
  EXPECT_THROW(dequantize_fp8_block_scaled(w.data(), s.data(), 4, 4, 2, 3, out.data()), Error);
  EXPECT_THROW(dequantize_fp8_block_scaled(w.data(), s.data(), 4, 4, -1, 1, out.data()), Error);
  EXPECT_THROW(dequantize_fp8_block_scaled(w.data(), s.data(), 4, 4, 0, 4, out.data(), 0), Error);
}


// quantize_fp8_block_scaled: power-of-two scales that put each block's max within e4m3's 448,
// partial edge blocks, an all-zero block, and a round trip within e4m3's relative precision.
TEST(Fp8BlockScaled, QuantizeChoosesPowerOfTwoScalesAndRoundTrips) {
  const int64_t rows = 5, cols = 7, block = 4;  // blocks: 2 x 2, the edge ones partial
  std::vector<float> w(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) w[i] = std::sin(0.7f * i) * (i < 20 ? 900.0f : 0.01f);
  for (int64_t i = 0; i < 4; ++i)  // block (0, 1) = rows 0..3, cols 4..6: all zero
    for (int64_t j = 4; j < 7; ++j) w[i * cols + j] = 0;
  std::vector<uint8_t> q(w.size());
  std::vector<float> scale(4), back(w.size());
  quantize_fp8_block_scaled(w.data(), rows, cols, q.data(), scale.data(), block);
  EXPECT_EQ(scale[1], 1.0f);
  for (int b = 0; b < 4; ++b) {
    int e = 0;
    EXPECT_EQ(std::frexp(scale[b], &e), 0.5f) << "scale " << scale[b] << " is not a power of two";
    float amax = 0;
    for (int64_t i = (b / 2) * block; i < std::min(rows, (b / 2 + 1) * block); ++i)
      for (int64_t j = (b % 2) * block; j < std::min(cols, (b % 2 + 1) * block); ++j)
        amax = std::max(amax, std::abs(w[i * cols + j]));
    EXPECT_LE(amax / scale[b], 448.0f);
    if (amax > 0) EXPECT_GT(amax / scale[b], 224.0f);  // the smallest power of two that fits
  }
  dequantize_fp8_block_scaled(q.data(), scale.data(), rows, cols, 0, rows, back.data(), block);
  for (size_t i = 0; i < w.size(); ++i) {
    const int64_t b = (static_cast<int64_t>(i) / cols / block) * 2 + (static_cast<int64_t>(i) % cols) / block;
    // e4m3 keeps 3 mantissa bits (relative step 1/16 at worst after rounding) down to the
    // subnormal step 2^-9 of the scaled value.
    EXPECT_LE(std::abs(back[i] - w[i]), std::abs(w[i]) / 16 + scale[b] * std::ldexp(1.0f, -9)) << i;
  }
  EXPECT_THROW(quantize_fp8_block_scaled(w.data(), rows, cols, q.data(), scale.data(), 0), Error);
}

}  // namespace
}  // namespace frugal
