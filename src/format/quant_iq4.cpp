// IQ4_NL (32 elements) and IQ4_XS (256 elements): 4-bit indices into the non-uniform codebook
// kIq4nlValues, y = scale * kv[index] (gguf.md §5.11).
//
// Quantizer: for a block x, try a few scales that put the largest-magnitude element near either
// end of the codebook (-127 or 113), pick the nearest codebook entry for each x/scale, refit the
// scale by least squares (s = sum x*kv / sum kv^2) and keep the candidate with the lowest error.
#include <cmath>

#include "format/quant_blocks.h"

namespace frugal::quant {
namespace {

// Best float scale for x[0..n) (may be negative: the codebook is not symmetric).
float fit_iq4nl_scale(const float* x, int n) {
  const float amax = signed_absmax(x, n);
  if (amax == 0.0f) return 0.0f;
  float best_scale = 0.0f;
  double best_gain = -1.0;
  for (const float end : {-127.0f, 113.0f}) {
    for (int k = -7; k <= 7; ++k) {
      const float iscale = (end + 2.0f * static_cast<float>(k)) / amax;
      double sumqx = 0, sumq2 = 0;
      for (int i = 0; i < n; ++i) {
        const double kv = kIq4nlValues[nearest_iq4nl(x[i] * iscale)];
        sumqx += kv * x[i];
        sumq2 += kv * kv;
      }
      const double gain = sumqx * sumqx / sumq2;  // error reduction of the least-squares scale
      if (gain > best_gain) {
        best_gain = gain;
        best_scale = static_cast<float>(sumqx / sumq2);
      }
    }
  }
  return best_scale;
}

// Nearest codebook indices of x / scale, packed like Q4_0: element j in the low nibble of
// byte j, element j + 16 in the high nibble (one 32-element group -> 16 bytes).
void pack_iq4nl_indices(const float* x, float scale, uint8_t qs[16]) {
  const float is = inverse_or_zero(scale);
  for (int j = 0; j < 16; ++j) {
    const int lo = nearest_iq4nl(x[j] * is), hi = nearest_iq4nl(x[j + 16] * is);
    qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

}  // namespace

// y[j] = d * kv[qs[j] & 0xF], y[j+16] = d * kv[qs[j] >> 4]
void dequantize_iq4_nl(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, dst += kQK4) {
    const auto b = load_block<BlockIQ4_NL>(src, i);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(kIq4nlValues[b.qs[j] & 0xF]);
      dst[j + 16] = d * static_cast<float>(kIq4nlValues[b.qs[j] >> 4]);
    }
  }
}

// Sub-block s: ls = scales_l nibble s | (2 bits s of scales_h) << 4, dl = d * (ls - 32),
// then 16 index bytes laid out as IQ4_NL.
void dequantize_iq4_xs(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const auto b = load_block<BlockIQ4_XS>(src, i);
    const float d = f16_to_f32(b.d);
    for (int s = 0; s < 8; ++s) {
      const int ls =
          ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | (((b.scales_h >> (2 * s)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* q = b.qs + 16 * s;
      float* y = dst + 32 * s;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIq4nlValues[q[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kIq4nlValues[q[j] >> 4]);
      }
    }
  }
}

void quantize_iq4_nl(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4; ++i, src += kQK4) {
    BlockIQ4_NL b;
    b.d = scale_to_f16(fit_iq4nl_scale(src, kQK4));
    pack_iq4nl_indices(src, f16_to_f32(b.d), b.qs);
    store_block(dst, i, b);
  }
}

// Sub-block scales s_b are fitted as for IQ4_NL, then quantized to 6 bits against an f16
// super-scale: d = max_scale / -32, ls = round(s_b / d) in [-32, 31], stored biased by 32.
void quantize_iq4_xs(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    float scales[8];
    for (int s = 0; s < 8; ++s) scales[s] = fit_iq4nl_scale(src + 32 * s, 32);
    BlockIQ4_XS b;
    b.d = scale_to_f16(signed_absmax(scales, 8) / -32.0f);
    const float d = f16_to_f32(b.d);
    const float id = inverse_or_zero(d);
    b.scales_h = 0;
    b.scales_l[0] = b.scales_l[1] = b.scales_l[2] = b.scales_l[3] = 0;
    for (int s = 0; s < 8; ++s) {
      const int ls = round_clamp(scales[s] * id, -32, 31);
      const int biased = ls + 32;
      b.scales_l[s / 2] |= static_cast<uint8_t>((biased & 0xF) << (4 * (s % 2)));
      b.scales_h |= static_cast<uint16_t>((biased >> 4) << (2 * s));
      pack_iq4nl_indices(src + 32 * s, d * static_cast<float>(ls), b.qs + 16 * s);
    }
    store_block(dst, i, b);
  }
}

}  // namespace frugal::quant
