// Reference (de)quantizers: hand-built blocks checked against the formulas of gguf.md §5,
// quantize -> dequantize error bounds on random data, edge cases and argument validation.
// The known-answer comparison against llama.cpp's files is in test_quant_gguf.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "format/quant.h"

namespace frugal {
namespace {

constexpr GgmlType kQuantTypes[] = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,   GgmlType::Q4_1,
    GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,   GgmlType::Q3_K,
    GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS,
};

void put_f16(std::vector<uint8_t>& b, size_t off, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(b.data() + off, &h, 2);
}

std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& block) {
  const int64_t n =
      type_traits(t).block_elems * static_cast<int64_t>(block.size() / type_traits(t).block_bytes);
  std::vector<float> y(n);
  dequantize_row(t, block.data(), y.data(), n);
  return y;
}

std::vector<float> round_trip(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(t, static_cast<int64_t>(x.size())));
  quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

// sqrt(sum (x-y)^2 / sum x^2): RMSE relative to the RMS of the input.
double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

// ---- hand-built blocks: each byte placed by hand, values from the gguf.md formulas -------------

TEST(Dequantize, Q4_0NibbleOrder) {
  std::vector<uint8_t> b(18, 0);
  put_f16(b, 0, 0.5f);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequantize(GgmlType::Q4_0, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8)) << j;            // low nibbles: elements 0..15
    EXPECT_EQ(y[j + 16], 0.5f * (15 - j - 8)) << j;  // high nibbles: elements 16..31
  }
}

TEST(Dequantize, Q4_1AddsMin) {
  std::vector<uint8_t> b(20, 0);
  put_f16(b, 0, 0.25f);
  put_f16(b, 2, -1.0f);
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(j | (3 << 4));
  const auto y = dequantize(GgmlType::Q4_1, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * j - 1.0f);
    EXPECT_EQ(y[j + 16], 0.25f * 3 - 1.0f);
  }
}

TEST(Dequantize, Q5_0FifthBitFromLittleEndianWord) {
  std::vector<uint8_t> b(22, 0);
  put_f16(b, 0, 1.0f);
  const uint32_t qh = 0x80000001u;  // fifth bit set for elements 0 and 31 only
  std::memcpy(b.data() + 2, &qh, 4);
  for (int j = 0; j < 16; ++j) b[6 + j] = 0xFF;
  const auto y = dequantize(GgmlType::Q5_0, b);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j == 0 || j == 31) ? 15.0f : -1.0f) << j;
}

TEST(Dequantize, Q5_1) {
  std::vector<uint8_t> b(24, 0);
  put_f16(b, 0, 2.0f);
  put_f16(b, 2, 0.5f);
  const uint32_t qh = 0x00010000u;  // element 16
  std::memcpy(b.data() + 4, &qh, 4);
  b[8] = 0x21;  // element 0 = 1, element 16 = 2 | 16
  const auto y = dequantize(GgmlType::Q5_1, b);
  EXPECT_EQ(y[0], 2.0f * 1 + 0.5f);
  EXPECT_EQ(y[16], 2.0f * 18 + 0.5f);
  EXPECT_EQ(y[1], 0.5f);
}

TEST(Dequantize, Q8_0Signed) {
  std::vector<uint8_t> b(34, 0);
  put_f16(b, 0, 0.125f);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128));
  const auto y = dequantize(GgmlType::Q8_0, b);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.125f * (j * 8 - 128));
}

TEST(Dequantize, Q2_KScalesAndMinsAtBlockEnd) {
  std::vector<uint8_t> b(84, 0);
  for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>((s % 16) | ((15 - s) << 4));
  b[16 + 0] = 0b11100100;  // qs[0]: q = 0,1,2,3 for elements 0, 32, 64, 96
  put_f16(b, 80, 0.5f);
  put_f16(b, 82, 0.25f);
  const auto y = dequantize(GgmlType::Q2_K, b);
  // element 32k is in sub-block 2k: y = d*sc*q - dmin*m with sc = 2k, m = 15 - 2k
  for (int k = 0; k < 4; ++k) EXPECT_EQ(y[32 * k], 0.5f * (2 * k) * k - 0.25f * (15 - 2 * k)) << k;
  EXPECT_EQ(y[1], -0.25f * 15);  // q = 0
}

TEST(Dequantize, Q3_KSignedScalesAndHmask) {
  std::vector<uint8_t> b(110, 0);
  // scale 0 = 63 - 32 = 31 (low4 = 15 in byte 0, high2 = 3 in byte 8 bits 0-1);
  // scale 8 = 0 - 32 = -32 (all zero bits).
  b[96 + 0] = 0x0F;
  b[96 + 8] = 0x03;
  b[0] = 0x01;       // hmask[0] bit 0: element 0 has no -4 offset
  b[32 + 0] = 0x03;  // element 0: low2 = 3; element 32: low2 = 0
  put_f16(b, 108, 1.0f);
  const auto y = dequantize(GgmlType::Q3_K, b);
  EXPECT_EQ(y[0], 31.0f * 3);      // (3 - 0)
  EXPECT_EQ(y[1], 31.0f * -4);     // hmask clear: 0 - 4
  EXPECT_EQ(y[128], -32.0f * -4);  // sub-block 8, scale -32
}

TEST(Dequantize, Q4_KSixBitScalesAndMins) {
  std::vector<uint8_t> b(144, 0);
  put_f16(b, 0, 1.0f);
  put_f16(b, 2, 0.5f);
  // sub-block 0: sc = 5, m = 7; sub-block 5: sc = 0x25 = 37, m = 0x31 = 49
  b[4 + 0] = 5;
  b[4 + 4] = 7;
  b[4 + 9] = 0x15;               // low 4 bits: sc5 = 5, m5 = 1
  b[4 + 1] |= (0x25 >> 4) << 6;  // high 2 bits of sc5 in byte 1
  b[4 + 5] |= (0x31 >> 4) << 6;  // high 2 bits of m5 in byte 5
  b[16 + 0] = 0x9A;              // element 0: 0xA, element 32: 0x9
  b[16 + 64] = 0x30;             // element 160 (sub-block 5): high nibble 3
  const auto y = dequantize(GgmlType::Q4_K, b);
  EXPECT_EQ(y[0], 5.0f * 10 - 0.5f * 7);
  EXPECT_EQ(y[160], 37.0f * 3 - 0.5f * 49);
}

TEST(Dequantize, Q5_KFifthBits) {
  std::vector<uint8_t> b(176, 0);
  put_f16(b, 0, 1.0f);
  b[4 + 0] = 1;      // sc0 = 1
  b[4 + 1] = 1;      // sc1 = 1
  b[16 + 3] = 0x03;  // qh[3]: fifth bits of elements 3 (sub-block 0) and 35 (sub-block 1)
  b[48 + 3] = 0x21;
  const auto y = dequantize(GgmlType::Q5_K, b);
  EXPECT_EQ(y[3], 17.0f);
  EXPECT_EQ(y[35], 18.0f);
}

TEST(Dequantize, Q6_KLayout) {
  std::vector<uint8_t> b(210, 0);
  for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(s - 8));
  put_f16(b, 208, 1.0f);
  b[0] = 0x21;    // ql[0]: element 0 low4 = 1, element 64 low4 = 2
  b[32] = 0x43;   // ql[32]: element 32 low4 = 3, element 96 low4 = 4
  b[128] = 0xE4;  // qh[0]: high2 = 0, 1, 2, 3 for elements 0, 32, 64, 96
  const auto y = dequantize(GgmlType::Q6_K, b);
  EXPECT_EQ(y[0], -8.0f * (1 + 0 - 32));
  EXPECT_EQ(y[32], -6.0f * (3 + 16 - 32));
  EXPECT_EQ(y[64], -4.0f * (2 + 32 - 32));
  EXPECT_EQ(y[96], -2.0f * (4 + 48 - 32));
  EXPECT_EQ(y[128], 0.0f);  // scale 0
}

TEST(Dequantize, IQ4_NLCodebook) {
  static constexpr int kv[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                 1,    13,   25,  38,  53,  69,  89,  113};
  std::vector<uint8_t> b(18, 0);
  put_f16(b, 0, 0.5f);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequantize(GgmlType::IQ4_NL, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * kv[j]);
    EXPECT_EQ(y[j + 16], 0.5f * kv[15 - j]);
  }
}

TEST(Dequantize, IQ4_XSSubBlockScales) {
  std::vector<uint8_t> b(136, 0);
  put_f16(b, 0, 1.0f);
  const uint16_t scales_h = 0x3 << 14;  // sub-block 7: high bits 3
  std::memcpy(b.data() + 2, &scales_h, 2);
  b[4] = 0x0F;           // sub-block 0: low 4 = 15 -> ls = 15 - 32 = -17
  b[7] = 0xF0;           // sub-block 7: low 4 = 15 -> ls = 63 - 32 = 31
  b[8] = 0x0F;           // element 0 -> kv[15] = 113
  b[8 + 16 * 7] = 0x80;  // element 7*32 -> kv[0]; element 7*32+16 -> kv[8]
  const auto y = dequantize(GgmlType::IQ4_XS, b);
  EXPECT_EQ(y[0], -17.0f * 113);
  EXPECT_EQ(y[1], -17.0f * -127);
  EXPECT_EQ(y[224], 31.0f * -127);
  EXPECT_EQ(y[240], 31.0f * 1);
}

// ---- edge cases ------------------------------------------------------------------------------

TEST(Dequantize, ExtremeScales) {
  // f16 max (65504) and the smallest subnormal (2^-24) as block scales stay finite and exact.
  for (const uint16_t d_bits : {uint16_t{0x7BFF}, uint16_t{0x0001}, uint16_t{0x8001}}) {
    std::vector<uint8_t> b(34, 0);
    std::memcpy(b.data(), &d_bits, 2);
    b[2] = static_cast<uint8_t>(int8_t{-127});
    b[3] = 127;
    const auto y = dequantize(GgmlType::Q8_0, b);
    const float d = f16_to_f32(d_bits);
    EXPECT_EQ(y[0], d * -127.0f);
    EXPECT_EQ(y[1], d * 127.0f);
    EXPECT_TRUE(std::isfinite(y[0]));
  }
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
}

TEST(Dequantize, AllZeroBlocksGiveZeros) {
  for (const GgmlType t : kQuantTypes) {
    std::vector<uint8_t> b(type_traits(t).block_bytes * (type_traits(t).block_elems == 1 ? 8 : 1),
                           0);
    for (const float v : dequantize(t, b)) EXPECT_EQ(v, 0.0f) << type_name(t);
  }
}

TEST(Quantize, ZeroAndNegativeZeroInput) {
  for (const GgmlType t : kQuantTypes) {
    for (const float z : {0.0f, -0.0f}) {
      const std::vector<float> x(256, z);
      for (const float v : round_trip(t, x)) {
        EXPECT_EQ(v, 0.0f) << type_name(t);
        EXPECT_FALSE(std::isnan(v)) << type_name(t);
      }
    }
  }
}

TEST(Quantize, ConstantAndTinyBlocks) {
  for (const GgmlType t : kQuantTypes) {
    for (const float c : {1.0f, -3.5f, 1e-30f}) {
      const std::vector<float> x(256, c);
      for (const float v : round_trip(t, x)) {
        ASSERT_TRUE(std::isfinite(v)) << type_name(t);
        EXPECT_NEAR(v, c, std::fabs(c) * 0.07 + 1e-7) << type_name(t) << " c=" << c;
      }
    }
  }
}

TEST(Quantize, HugeValuesSaturateScaleInsteadOfInf) {
  // max|x| / 127 exceeds f16's range; the scale saturates at 65504 and no inf/NaN appears.
  std::vector<float> x(256);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 2 ? 1.0f : -1.0f) * 1e9f;
  for (const GgmlType t : kQuantTypes) {
    if (t == GgmlType::F16) continue;  // plain f16 overflows to inf by definition
    for (const float v : round_trip(t, x)) EXPECT_FALSE(std::isnan(v)) << type_name(t);
  }
}

TEST(Quantize, SingleOutlierKeepsExtremeExact) {
  // The symmetric formats map the largest magnitude onto their most negative level exactly
  // (up to the f16 rounding of the scale).
  std::vector<float> x(32, 0.0f);
  x[5] = -3.0f;
  for (const GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0}) {
    const auto y = round_trip(t, x);
    EXPECT_NEAR(y[5], -3.0f, 3.0f * 1e-3f) << type_name(t);
    EXPECT_EQ(y[0], 0.0f) << type_name(t);
  }
}

// ---- round-trip error on random data ---------------------------------------------------------

struct ErrorBound {
  GgmlType type;
  double gaussian;  // bound on RMSE / RMS for N(0, 1) data
};

// For a uniform quantizer with step D the error is ~D/sqrt(12). A block of 32 N(0,1) values has
// E[max|x|] ~ 2.4 (16 values: ~2.1), so e.g. Q8_0: D = 2.4/127 -> 0.55%, Q4_0: D = 2.4/8 ->
// 8.7%, Q4_1: D = (max - min)/15 ~ 4.1/15 -> 7.9%, Q6_K: D ~ 2.1/32 -> 1.9%, Q2_K: 2-bit affine
// on 16 values ~ 27%. Least-squares scale fits land a little below these; each bound is the
// estimate plus ~15% margin. f16/bf16 round to 11/8 significant bits: 2^-11/sqrt(3), 2^-8/sqrt(3).
constexpr ErrorBound kBounds[] = {
    {GgmlType::F32, 0.0},      {GgmlType::F16, 0.0003}, {GgmlType::BF16, 0.0023},
    {GgmlType::Q8_0, 0.0065},  {GgmlType::Q6_K, 0.021}, {GgmlType::Q5_0, 0.050},
    {GgmlType::Q5_1, 0.044},   {GgmlType::Q5_K, 0.044}, {GgmlType::Q4_0, 0.100},
    {GgmlType::Q4_1, 0.090},   {GgmlType::Q4_K, 0.088}, {GgmlType::IQ4_NL, 0.085},
    {GgmlType::IQ4_XS, 0.086}, {GgmlType::Q3_K, 0.165}, {GgmlType::Q2_K, 0.31},
};

TEST(Quantize, GaussianRoundTripErrorBounds) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(256 * 64);
  for (float& v : x) v = normal(rng);
  for (const auto& b : kBounds) {
    const double err = relative_rmse(x, round_trip(b.type, x));
    EXPECT_LE(err, b.gaussian) << type_name(b.type);
    RecordProperty(std::string("rel_rmse_") + type_name(b.type), std::to_string(err));
  }
}

TEST(Quantize, OffsetUniformAndScaledData) {
  // Data with a non-zero mean and a tiny or huge overall scale: errors stay within the same
  // bounds (the quantizers are scale invariant up to f16 range of the block scales).
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> uniform(-0.5f, 1.5f);
  for (const float scale : {1e-3f, 1.0f, 300.0f}) {
    std::vector<float> x(256 * 16);
    for (float& v : x) v = scale * uniform(rng);
    for (const auto& b : kBounds) {
      EXPECT_LE(relative_rmse(x, round_trip(b.type, x)), b.gaussian)
          << type_name(b.type) << " scale " << scale;
    }
  }
}

TEST(Quantize, RequantizingDequantizedDataIsStable) {
  // quantize(dequantize(q)) reproduces the same floats for the exact-grid formats: a check that
  // quantizer and dequantizer agree on the bit layout.
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(256 * 8);
  for (float& v : x) v = normal(rng);
  for (const GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::IQ4_NL}) {
    const auto y = round_trip(t, x);
    const auto z = round_trip(t, y);
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(z[i], y[i], 1e-3f * std::fabs(y[i]) + 1e-6f) << type_name(t) << " " << i;
  }
}

// ---- API validation ------------------------------------------------------------------------

TEST(QuantApi, CanQuantize) {
  for (const GgmlType t : kQuantTypes) EXPECT_TRUE(can_quantize(t)) << type_name(t);
  EXPECT_FALSE(can_quantize(GgmlType::IQ2_XXS));
  EXPECT_FALSE(can_quantize(GgmlType::Q8_K));
}

TEST(QuantApi, RejectsPartialBlocksAndUnsupportedTypes) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> q(1024);
  EXPECT_THROW(quantize_row(GgmlType::Q4_K, x.data(), q.data(), 100), Error);
  EXPECT_THROW(dequantize_row(GgmlType::Q4_0, q.data(), x.data(), 33), Error);
  EXPECT_THROW(dequantize_row(GgmlType::Q8_0, q.data(), x.data(), -32), Error);
  EXPECT_THROW(dequantize_row(GgmlType::IQ2_XXS, q.data(), x.data(), 256), Error);
  EXPECT_THROW(quantize_row(GgmlType::IQ1_S, x.data(), q.data(), 256), Error);
  EXPECT_THROW(dequantize_row(static_cast<GgmlType>(4), q.data(), x.data(), 32), Error);
  try {
    dequantize_row(GgmlType::IQ2_XXS, q.data(), x.data(), 256);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS"), std::string::npos) << e.what();
  }
  dequantize_row(GgmlType::Q4_0, q.data(), x.data(), 0);  // empty row is fine
}

TEST(QuantApi, UnalignedPointers) {
  std::vector<float> x(256);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
  for (const GgmlType t : kQuantTypes) {
    const size_t n_bytes = row_bytes(t, 256);
    std::vector<uint8_t> aligned(n_bytes), unaligned(n_bytes + 1);
    quantize_row(t, x.data(), aligned.data(), 256);
    quantize_row(t, x.data(), unaligned.data() + 1, 256);
    ASSERT_EQ(0, std::memcmp(aligned.data(), unaligned.data() + 1, n_bytes)) << type_name(t);
    std::vector<float> a(256), b(256);
    dequantize_row(t, aligned.data(), a.data(), 256);
    dequantize_row(t, unaligned.data() + 1, b.data(), 256);
    EXPECT_EQ(a, b) << type_name(t);
  }
}

}  // namespace
}  // namespace frugal
