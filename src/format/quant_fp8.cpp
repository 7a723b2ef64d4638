// float8 e4m3fn (DeepSeek-V3's weight format) and its 128x128 block-scaled dequantization
// (formats-and-names.md §2).
//
// Bits s eeee mmm, exponent bias 7, no infinities:
//   e = 0      : (-1)^s * 2^-6 * m/8                (subnormal; 0x00 / 0x80 are +-0)
//   e = 1..15  : (-1)^s * 2^(e-7) * (1 + m/8)       except 0x7F / 0xFF = NaN; max finite 448.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "format/quant.h"

namespace frugal {
namespace {

float decode_fp8_e4m3(uint8_t v) {
  const float sign = (v & 0x80) ? -1.0f : 1.0f;
  const int e = (v >> 3) & 0xF;
  const int m = v & 0x7;
  if (e == 15 && m == 7) return std::numeric_limits<float>::quiet_NaN();
  if (e == 0) return sign * std::ldexp(static_cast<float>(m) / 8.0f, -6);
  return sign * std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
}

const std::array<float, 256>& fp8_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[v] = decode_fp8_e4m3(static_cast<uint8_t>(v));
    return t;
  }();
  return table;
}

}  // namespace

float fp8_e4m3_to_f32(uint8_t v) {
  return fp8_table()[v];
}

uint8_t f32_to_fp8_e4m3(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  const float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7E;  // saturate (no infinities in e4m3fn)
  if (a < 0.015625f) {
    // Subnormal range (< 2^-6): code = round_half_even(a / 2^-9); 8 rounds up into 2^-6 = 0x08.
    return sign | static_cast<uint8_t>(std::nearbyint(a * 512.0f));
  }
  // Normal: keep 3 of float32's 23 mantissa bits, rounding to nearest even on the dropped 20;
  // a carry propagates into the exponent. Then rebias the exponent from 127 to 7.
  const uint32_t bits = std::bit_cast<uint32_t>(a);
  const uint32_t rounded = (bits + 0x7FFFF + ((bits >> 20) & 1)) >> 20;
  const uint32_t code = rounded - ((127 - 7) << 3);
  return sign | static_cast<uint8_t>(code > 0x7E ? 0x7E : code);
}

void dequantize_fp8_block_scaled(const uint8_t* w, const float* scale_inv, int64_t rows,
                                 int64_t cols, int64_t row_begin, int64_t n_rows, float* out,
                                 int64_t block) {
  if (rows < 0 || cols < 0 || block <= 0) {
    throw Error("dequantize_fp8_block_scaled: invalid shape [" + std::to_string(rows) + ", " +
                std::to_string(cols) + "] with block " + std::to_string(block));
  }
  if (row_begin < 0 || n_rows < 0 || row_begin + n_rows > rows) {
    throw Error("dequantize_fp8_block_scaled: rows [" + std::to_string(row_begin) + ", " +
                std::to_string(row_begin + n_rows) + ") outside a tensor of " +
                std::to_string(rows) + " rows");
  }
  const auto& table = fp8_table();
  const int64_t n_col_blocks = (cols + block - 1) / block;  // ceil(cols / block)
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t i = row_begin + r;
    const uint8_t* src = w + i * cols;
    const float* scales = scale_inv + (i / block) * n_col_blocks;
    float* dst = out + r * cols;
    for (int64_t j = 0; j < cols; ++j) dst[j] = table[src[j]] * scales[j / block];
  }
}

void quantize_fp8_block_scaled(const float* w, int64_t rows, int64_t cols, uint8_t* q,
                               float* scale_inv, int64_t block) {
  if (rows < 0 || cols < 0 || block < 1) throw Error("quantize_fp8_block_scaled: bad shape or block");
  const int64_t bc = (cols + block - 1) / block;
  for (int64_t r0 = 0; r0 < rows; r0 += block)
    for (int64_t c0 = 0; c0 < cols; c0 += block) {
      const int64_t r1 = std::min(rows, r0 + block), c1 = std::min(cols, c0 + block);
      float amax = 0;
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = c0; j < c1; ++j) amax = std::max(amax, std::abs(w[i * cols + j]));
      const float s = amax > 0 ? std::exp2(std::ceil(std::log2(amax / 448.0f))) : 1.0f;
      scale_inv[(r0 / block) * bc + c0 / block] = s;
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = c0; j < c1; ++j) q[i * cols + j] = f32_to_fp8_e4m3(w[i * cols + j] / s);
    }
}

}  // namespace frugal
