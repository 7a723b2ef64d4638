// Legacy 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (gguf.md §5.1-5.5).
//
// Dequantizers evaluate exactly the reference expressions (d * q, d * q + m) in float32, so they
// reproduce ggml / gguf-py bit for bit. Quantizers pick the block scale from its extremes, round
// it to f16 first and then quantize against the rounded scale, so the stored scale is the one
// that was used.
#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "format/quant_blocks.h"

namespace frugal::quant {
namespace {

// Fifth bit of element j (0..31) from the little-endian u32 qh.
uint32_t load_qh(const uint8_t qh[4]) {
  return load_le<uint32_t>(qh);
}

void store_qh(uint8_t qh[4], uint32_t bits) {
  std::memcpy(qh, &bits, 4);
}

// Packs 32 4-bit codes: element j in the low nibble of byte j, element j+16 in the high nibble.
void pack_nibbles(const uint8_t q[32], uint8_t qs[16]) {
  for (int j = 0; j < 16; ++j)
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
}

// Symmetric 4/5-bit block (Q4_0, Q5_0): d = max / -half, so the extreme maps onto -half, the
// end of [-half, half-1] with the larger magnitude; q = round(x/d) + half clamped to [0, 2*half-1].
uint16_t quantize_symmetric_block(const float* x, int half, uint8_t q[32]) {
  const uint16_t d_bits = scale_to_f16(signed_absmax(x, kQK4) / static_cast<float>(-half));
  const float id = inverse_or_zero(f16_to_f32(d_bits));
  for (int j = 0; j < kQK4; ++j)
    q[j] = static_cast<uint8_t>(round_clamp(x[j] * id, -half, half - 1) + half);
  return d_bits;
}

// Affine 4/5-bit block (Q4_1, Q5_1): m = min(x), d = (max - min) / qmax, q = round((x - m)/d).
void quantize_affine_block(const float* x, int qmax, uint16_t* d_bits, uint16_t* m_bits,
                           uint8_t q[32]) {
  const auto [lo, hi] = std::minmax_element(x, x + kQK4);
  *d_bits = scale_to_f16((*hi - *lo) / static_cast<float>(qmax));
  *m_bits = scale_to_f16(*lo);
  const float id = inverse_or_zero(f16_to_f32(*d_bits));
  const float m = f16_to_f32(*m_bits);
  for (int j = 0; j < kQK4; ++j) q[j] = static_cast<uint8_t>(round_clamp((x[j] - m) * id, 0, qmax));
}

// Splits 5-bit codes into low nibbles (qs) and the fifth bits (qh).
void pack_5bit(const uint8_t q[32], uint8_t qs[16], uint8_t qh[4]) {
  pack_nibbles(q, qs);
  uint32_t bits = 0;
  for (int j = 0; j < kQK4; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  store_qh(qh, bits);
}

}  // namespace

// y[j] = d * ((qs[j] & 0xF) - 8), y[j+16] = d * ((qs[j] >> 4) - 8)
void dequantize_q4_0(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, dst += kQK4) {
    const auto b = load_block<BlockQ4_0>(src, i);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>((b.qs[j] & 0xF) - 8);
      dst[j + 16] = d * static_cast<float>((b.qs[j] >> 4) - 8);
    }
  }
}

// y[j] = d * (qs[j] & 0xF) + m, y[j+16] = d * (qs[j] >> 4) + m
void dequantize_q4_1(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, dst += kQK4) {
    const auto b = load_block<BlockQ4_1>(src, i);
    const float d = f16_to_f32(b.d);
    const float m = f16_to_f32(b.m);
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(b.qs[j] & 0xF) + m;
      dst[j + 16] = d * static_cast<float>(b.qs[j] >> 4) + m;
    }
  }
}

// y[j] = d * ((low4 | fifth_bit << 4) - 16)
void dequantize_q5_0(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, dst += kQK4) {
    const auto b = load_block<BlockQ5_0>(src, i);
    const float d = f16_to_f32(b.d);
    const uint32_t qh = load_qh(b.qh);
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1) << 4;
      dst[j] = d * static_cast<float>(((b.qs[j] & 0xF) | h0) - 16);
      dst[j + 16] = d * static_cast<float>(((b.qs[j] >> 4) | h1) - 16);
    }
  }
}

// y[j] = d * (low4 | fifth_bit << 4) + m
void dequantize_q5_1(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, dst += kQK4) {
    const auto b = load_block<BlockQ5_1>(src, i);
    const float d = f16_to_f32(b.d);
    const float m = f16_to_f32(b.m);
    const uint32_t qh = load_qh(b.qh);
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1) << 4;
      dst[j] = d * static_cast<float>((b.qs[j] & 0xF) | h0) + m;
      dst[j + 16] = d * static_cast<float>((b.qs[j] >> 4) | h1) + m;
    }
  }
}

// y[j] = d * qs[j]
void dequantize_q8_0(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, dst += kQK4) {
    const auto b = load_block<BlockQ8_0>(src, i);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < kQK4; ++j) dst[j] = d * static_cast<float>(b.qs[j]);
  }
}

void quantize_q4_0(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, src += kQK4) {
    BlockQ4_0 b;
    uint8_t q[32];
    b.d = quantize_symmetric_block(src, 8, q);
    pack_nibbles(q, b.qs);
    store_block(dst, i, b);
  }
}

void quantize_q4_1(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, src += kQK4) {
    BlockQ4_1 b;
    uint8_t q[32];
    quantize_affine_block(src, 15, &b.d, &b.m, q);
    pack_nibbles(q, b.qs);
    store_block(dst, i, b);
  }
}

void quantize_q5_0(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, src += kQK4) {
    BlockQ5_0 b;
    uint8_t q[32];
    b.d = quantize_symmetric_block(src, 16, q);
    pack_5bit(q, b.qs, b.qh);
    store_block(dst, i, b);
  }
}

void quantize_q5_1(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, src += kQK4) {
    BlockQ5_1 b;
    uint8_t q[32];
    quantize_affine_block(src, 31, &b.d, &b.m, q);
    pack_5bit(q, b.qs, b.qh);
    store_block(dst, i, b);
  }
}

// d = max|x| / 127, q = round(x / d) in [-127, 127].
void quantize_q8_0(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, src += kQK4) {
    BlockQ8_0 b;
    b.d = scale_to_f16(std::fabs(signed_absmax(src, kQK4)) / 127.0f);
    const float id = inverse_or_zero(f16_to_f32(b.d));
    for (int j = 0; j < kQK4; ++j)
      b.qs[j] = static_cast<int8_t>(round_clamp(src[j] * id, -127, 127));
    store_block(dst, i, b);
  }
}

}  // namespace frugal::quant
