// Private to src/format/quant*.cpp: the ggml block structs (layouts from
// ../shared/docs/reference/gguf.md §5) and helpers shared by the reference quantizers.
//
// Every f16 field is kept as its raw uint16_t bits and every multi-byte group of bits as bytes,
// so each struct has alignment 2 and no padding; the static_asserts pin the on-disk sizes.
// Blocks are copied in and out with memcpy (load_block / store_block), so callers may pass
// pointers at any alignment.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "format/ggml_type.h"

namespace frugal::quant {

constexpr int kQK4 = 32;   // elements per legacy block (Q4_0 ... Q8_0, IQ4_NL)
constexpr int kQKK = 256;  // elements per K-quant super-block (Q2_K ... Q6_K, IQ4_XS)

struct BlockQ4_0 {
  uint16_t d;      // f16 scale
  uint8_t qs[16];  // low nibbles: elements 0..15, high nibbles: 16..31
};
struct BlockQ4_1 {
  uint16_t d;  // f16 scale
  uint16_t m;  // f16 offset (min)
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // bit i of the little-endian u32 = fifth bit of element i
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
struct BlockQ2_K {
  uint8_t scales[16];  // low nibble: 4-bit scale, high nibble: 4-bit min, per 16 elements
  uint8_t qs[64];      // 2-bit quants
  uint16_t d;          // f16 super-scale of the scales
  uint16_t dmin;       // f16 super-scale of the mins
};
struct BlockQ3_K {
  uint8_t hmask[32];   // third bit of each quant (set = no -4 offset)
  uint8_t qs[64];      // low 2 bits
  uint8_t scales[12];  // sixteen 6-bit scales, biased by 32
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // eight 6-bit scales + eight 6-bit mins
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];   // fifth bits
  uint8_t qs[128];  // low nibbles
};
struct BlockQ6_K {
  uint8_t ql[128];    // low 4 bits
  uint8_t qh[64];     // high 2 bits
  int8_t scales[16];  // one signed scale per 16 elements
  uint16_t d;
};
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];  // codebook indices, ordered like Q4_0
};
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;    // 2 high bits of each of the 8 sub-block scales
  uint8_t scales_l[4];  // 4 low bits of each sub-block scale, two per byte
  uint8_t qs[128];      // 16 bytes of indices per 32-element sub-block
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);

// The non-uniform 4-bit codebook shared by IQ4_NL and IQ4_XS (ggml-common.h kvalues_iq4nl).
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

// f16 bits of a scale, saturated to the largest finite f16 (65504) so huge inputs never store inf.
inline uint16_t scale_to_f16(float s) {
  constexpr float kF16Max = 65504.0f;
  return f32_to_f16(s > kF16Max ? kF16Max : (s < -kF16Max ? -kF16Max : s));
}

inline float inverse_or_zero(float d) {
  return d != 0.0f ? 1.0f / d : 0.0f;
}

// The element of x[0..n) with the largest magnitude, sign kept (0 for an all-zero input).
inline float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i) {
    if ((x[i] < 0 ? -x[i] : x[i]) > (best < 0 ? -best : best)) best = x[i];
  }
  return best;
}

template <typename Block>
inline Block load_block(const void* src, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const uint8_t*>(src) + i * sizeof(Block), sizeof(Block));
  return b;
}

template <typename Block>
inline void store_block(void* dst, int64_t i, const Block& b) {
  std::memcpy(static_cast<uint8_t*>(dst) + i * sizeof(Block), &b, sizeof(Block));
}

// Row kernels: n is a whole number of blocks (checked by the dispatcher in quant.cpp).
using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);

// quant_legacy.cpp
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void quantize_q4_0(const float* src, void* dst, int64_t n);
void quantize_q4_1(const float* src, void* dst, int64_t n);
void quantize_q5_0(const float* src, void* dst, int64_t n);
void quantize_q5_1(const float* src, void* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n);

// quant_kquants.cpp
void dequantize_q2_k(const void* src, float* dst, int64_t n);
void dequantize_q3_k(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void quantize_q2_k(const float* src, void* dst, int64_t n);
void quantize_q3_k(const float* src, void* dst, int64_t n);
void quantize_q4_k(const float* src, void* dst, int64_t n);
void quantize_q5_k(const float* src, void* dst, int64_t n);
void quantize_q6_k(const float* src, void* dst, int64_t n);

// quant_iq4.cpp
void dequantize_iq4_nl(const void* src, float* dst, int64_t n);
void dequantize_iq4_xs(const void* src, float* dst, int64_t n);
void quantize_iq4_nl(const float* src, void* dst, int64_t n);
void quantize_iq4_xs(const float* src, void* dst, int64_t n);

// quant_fit.cpp: least-squares fits shared by the quantizers. Weights w may be null (= all 1).

// Symmetric fit: scale s minimising sum w (x - s*q)^2 with q = clamp(round(x/s), qmin, qmax).
// Tries a few inverse scales around the one that maps the largest |x| onto qmin (the end of the
// range with the larger magnitude), re-fitting s by least squares for each. 0 for all-zero x.
float fit_symmetric_scale(const float* x, const float* w, int n, int qmin, int qmax);

// Affine fit for y = s*q - m with q in [0, qmax] and m >= 0 (the block minimum, clamped to be
// <= 0, is -m). Alternates rounding and a weighted least-squares solve for (s, m).
struct AffineFit {
  float scale;
  float min;  // m >= 0: the value subtracted
};
AffineFit fit_affine(const float* x, const float* w, int n, int qmax);

// Rounds v to the nearest integer, clamped to [lo, hi].
int round_clamp(float v, int lo, int hi);

// Index of the codebook entry of kIq4nlValues nearest to v.
int nearest_iq4nl(float v);

}  // namespace frugal::quant
