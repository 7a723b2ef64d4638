// K-quants: 256-element super-blocks with quantized per-sub-block scales (gguf.md §5.6-5.10).
//
// Dequantizers evaluate the reference expressions in the reference order, (d*sc)*q - (dmin*m),
// so they match ggml / gguf-py bit for bit.
//
// Quantizers (two levels, written from the math):
//   1. each sub-block gets a float scale (and min) by a least-squares fit (quant_fit.cpp);
//   2. the sub-block scales are themselves quantized against an f16 super-scale
//      d = max_scale / scale_levels, sc = round(scale / d);
//   3. every element is re-rounded against its final effective scale d*sc (and offset dmin*m).
#include <cmath>

#include "format/quant_blocks.h"

namespace frugal::quant {
namespace {

// ---- scale packing ----------------------------------------------------------------------------

// Q3_K: sixteen 6-bit scales biased by 32. Low 4 bits: byte i (i < 8, low nibble) or byte i-8
// (high nibble); high 2 bits: bits 2*(i/4) of byte 8 + i%4.
int q3k_scale(const uint8_t b[12], int i) {
  const int low4 = i < 8 ? (b[i] & 0xF) : (b[i - 8] >> 4);
  const int high2 = (b[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low4 | (high2 << 4)) - 32;
}

void pack_q3k_scales(const int s[16], uint8_t b[12]) {
  std::memset(b, 0, 12);
  for (int i = 0; i < 16; ++i) {
    const int v = s[i] + 32;  // 0..63
    b[i % 8] |= static_cast<uint8_t>((v & 0xF) << (i < 8 ? 0 : 4));
    b[8 + i % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (i / 4)));
  }
}

// Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes (get_scale_min_k4).
void get_scale_min_k4(int j, const uint8_t q[12], int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void pack_scale_min_k4(const int sc[8], const int m[8], uint8_t q[12]) {
  std::memset(q, 0, 12);
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

// ---- two-level quantization -------------------------------------------------------------------

// Affine super-block (Q2_K, Q4_K, Q5_K): y = (d*sc[s]) * q - (dmin*m[s]), q in [0, qmax],
// sc and m in [0, scale_max].
struct AffineSuperBlock {
  uint16_t d = 0, dmin = 0;
  int sc[16] = {}, m[16] = {};
  uint8_t q[kQKK] = {};
};

void quantize_affine_superblock(const float* x, int sub_size, int qmax, int scale_max,
                                AffineSuperBlock* out) {
  const int n_sub = kQKK / sub_size;
  AffineFit fits[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int s = 0; s < n_sub; ++s) {
    fits[s] = fit_affine(x + s * sub_size, nullptr, sub_size, qmax);
    max_scale = std::fmax(max_scale, fits[s].scale);
    max_min = std::fmax(max_min, fits[s].min);
  }
  out->d = scale_to_f16(max_scale / static_cast<float>(scale_max));
  out->dmin = scale_to_f16(max_min / static_cast<float>(scale_max));
  const float id = inverse_or_zero(f16_to_f32(out->d));
  const float idmin = inverse_or_zero(f16_to_f32(out->dmin));
  for (int s = 0; s < n_sub; ++s) {
    out->sc[s] = round_clamp(fits[s].scale * id, 0, scale_max);
    out->m[s] = round_clamp(fits[s].min * idmin, 0, scale_max);
    const float dl = f16_to_f32(out->d) * static_cast<float>(out->sc[s]);
    const float ml = f16_to_f32(out->dmin) * static_cast<float>(out->m[s]);
    const float idl = inverse_or_zero(dl);
    for (int i = s * sub_size; i < (s + 1) * sub_size; ++i)
      out->q[i] = static_cast<uint8_t>(round_clamp((x[i] + ml) * idl, 0, qmax));
  }
}

// Symmetric super-block (Q3_K, Q6_K): 16 sub-blocks of 16, y = (d*sc[s]) * q,
// q in [qmin, -qmin-1], sc in [-scale_levels, scale_levels-1].
struct SymmetricSuperBlock {
  uint16_t d = 0;
  int sc[16] = {};
  int8_t q[kQKK] = {};
};

void quantize_symmetric_superblock(const float* x, int qmin, int scale_levels,
                                   SymmetricSuperBlock* out) {
  float scales[16];
  for (int s = 0; s < 16; ++s)
    scales[s] = fit_symmetric_scale(x + 16 * s, nullptr, 16, qmin, -qmin - 1);
  // The largest-magnitude scale maps onto -scale_levels, the end with the larger magnitude.
  out->d = scale_to_f16(signed_absmax(scales, 16) / static_cast<float>(-scale_levels));
  const float id = inverse_or_zero(f16_to_f32(out->d));
  for (int s = 0; s < 16; ++s) {
    out->sc[s] = round_clamp(scales[s] * id, -scale_levels, scale_levels - 1);
    const float idl = inverse_or_zero(f16_to_f32(out->d) * static_cast<float>(out->sc[s]));
    for (int i = 16 * s; i < 16 * s + 16; ++i)
      out->q[i] = static_cast<int8_t>(round_clamp(x[i] * idl, qmin, -qmin - 1));
  }
}

// Q2_K / Q3_K low bits: element 128h + 32j + l (l < 32) lives in bits 2j..2j+1 of qs[32h + l].
void pack_2bit(const uint8_t codes[kQKK], uint8_t qs[64]) {
  std::memset(qs, 0, 64);
  for (int i = 0; i < kQKK; ++i) {
    const int h = i / 128, j = (i % 128) / 32, l = i % 32;
    qs[32 * h + l] |= static_cast<uint8_t>((codes[i] & 3) << (2 * j));
  }
}

}  // namespace

// ---- dequantizers -----------------------------------------------------------------------------

// Element 128h + 32j + l (h < 2, j < 4, l < 32) takes bits 2j..2j+1 of qs[32h + l] and sub-block
// s = 8h + 2j + l/16: y = (d * (scales[s] & 0xF)) * q - dmin * (scales[s] >> 4).
void dequantize_q2_k(const void* src, float* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, dst += kQKK) {
    const auto b = load_block<BlockQ2_K>(src, b_i);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    for (int h = 0; h < 2; ++h) {
      for (int j = 0; j < 4; ++j) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = b.scales[8 * h + 2 * j + half];
          const float dl = d * static_cast<float>(sc & 0xF),
                      ml = dmin * static_cast<float>(sc >> 4);
          const uint8_t* q = b.qs + 32 * h + 16 * half;
          float* y = dst + 128 * h + 32 * j + 16 * half;
          for (int l = 0; l < 16; ++l) y[l] = dl * static_cast<float>((q[l] >> (2 * j)) & 3) - ml;
        }
      }
    }
  }
}

// As Q2_K for the low two bits; the third bit of element 128h + 32j + l is bit 4h + j of
// hmask[l] (set = no offset, clear = -4): y = (d * s[8h + 2j + l/16]) * (q2 - (bit ? 0 : 4)).
void dequantize_q3_k(const void* src, float* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, dst += kQKK) {
    const auto b = load_block<BlockQ3_K>(src, b_i);
    const float d = f16_to_f32(b.d);
    for (int h = 0; h < 2; ++h) {
      for (int j = 0; j < 4; ++j) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d * static_cast<float>(q3k_scale(b.scales, 8 * h + 2 * j + half));
          const uint8_t* q = b.qs + 32 * h + 16 * half;
          const uint8_t* hm = b.hmask + 16 * half;
          float* y = dst + 128 * h + 32 * j + 16 * half;
          for (int l = 0; l < 16; ++l) {
            const int low2 = (q[l] >> (2 * j)) & 3;
            const int offset = ((hm[l] >> (4 * h + j)) & 1) ? 0 : 4;
            y[l] = dl * static_cast<float>(low2 - offset);
          }
        }
      }
    }
  }
}

// Sub-block s = i/32 (c = i/64): low nibbles of qs[32c..] are elements 64c..64c+31, high nibbles
// 64c+32..64c+63; y = (d*sc) * q - (dmin*m).
void dequantize_q4_k(const void* src, float* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, dst += kQKK) {
    const auto b = load_block<BlockQ4_K>(src, b_i);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    for (int s = 0; s < 8; ++s) {
      int sc, m;
      get_scale_min_k4(s, b.scales, &sc, &m);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
      const uint8_t* qs = b.qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int l = 0; l < 32; ++l)
        dst[32 * s + l] = dl * static_cast<float>((qs[l] >> shift) & 0xF) - ml;
    }
  }
}

// As Q4_K plus a fifth bit: bit s of qh[l] belongs to element 32s + l.
void dequantize_q5_k(const void* src, float* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, dst += kQKK) {
    const auto b = load_block<BlockQ5_K>(src, b_i);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    for (int s = 0; s < 8; ++s) {
      int sc, m;
      get_scale_min_k4(s, b.scales, &sc, &m);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
      const uint8_t* qs = b.qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int l = 0; l < 32; ++l) {
        const int q = ((qs[l] >> shift) & 0xF) | (((b.qh[l] >> s) & 1) << 4);
        dst[32 * s + l] = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

// Element 128h + 32k + l (k < 4, l < 32): low 4 bits from ql[64h + l + 32*(k%2)] (low nibble for
// k < 2, high for k >= 2), high 2 bits from bits 2k of qh[32h + l];
// y = (d * scales[8h + 2k + l/16]) * (q - 32).
void dequantize_q6_k(const void* src, float* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, dst += kQKK) {
    const auto b = load_block<BlockQ6_K>(src, b_i);
    const float d = f16_to_f32(b.d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      const int8_t* sc = b.scales + 8 * h;
      float* y = dst + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = (d * static_cast<float>(sc[is + 0])) * static_cast<float>(q1);
        y[l + 32] = (d * static_cast<float>(sc[is + 2])) * static_cast<float>(q2);
        y[l + 64] = (d * static_cast<float>(sc[is + 4])) * static_cast<float>(q3);
        y[l + 96] = (d * static_cast<float>(sc[is + 6])) * static_cast<float>(q4);
      }
    }
  }
}

// ---- quantizers -------------------------------------------------------------------------------

void quantize_q2_k(const float* src, void* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, src += kQKK) {
    AffineSuperBlock sb;
    quantize_affine_superblock(src, 16, 3, 15, &sb);
    BlockQ2_K b;
    b.d = sb.d;
    b.dmin = sb.dmin;
    for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(sb.sc[s] | (sb.m[s] << 4));
    pack_2bit(sb.q, b.qs);
    store_block(dst, b_i, b);
  }
}

void quantize_q3_k(const float* src, void* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, src += kQKK) {
    SymmetricSuperBlock sb;
    quantize_symmetric_superblock(src, -4, 32, &sb);
    BlockQ3_K b;
    b.d = sb.d;
    pack_q3k_scales(sb.sc, b.scales);
    uint8_t codes[kQKK];  // q + 4 in 0..7: bits 0-1 to qs, bit 2 to hmask
    std::memset(b.hmask, 0, sizeof(b.hmask));
    for (int i = 0; i < kQKK; ++i) {
      codes[i] = static_cast<uint8_t>(sb.q[i] + 4);
      const int h = i / 128, j = (i % 128) / 32, l = i % 32;
      b.hmask[l] |= static_cast<uint8_t>((codes[i] >> 2) << (4 * h + j));
    }
    pack_2bit(codes, b.qs);
    store_block(dst, b_i, b);
  }
}

void quantize_q4_k(const float* src, void* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, src += kQKK) {
    AffineSuperBlock sb;
    quantize_affine_superblock(src, 32, 15, 63, &sb);
    BlockQ4_K b;
    b.d = sb.d;
    b.dmin = sb.dmin;
    pack_scale_min_k4(sb.sc, sb.m, b.scales);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l)
        b.qs[32 * c + l] = static_cast<uint8_t>(sb.q[64 * c + l] | (sb.q[64 * c + 32 + l] << 4));
    }
    store_block(dst, b_i, b);
  }
}

void quantize_q5_k(const float* src, void* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, src += kQKK) {
    AffineSuperBlock sb;
    quantize_affine_superblock(src, 32, 31, 63, &sb);
    BlockQ5_K b;
    b.d = sb.d;
    b.dmin = sb.dmin;
    pack_scale_min_k4(sb.sc, sb.m, b.scales);
    std::memset(b.qh, 0, sizeof(b.qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = sb.q[64 * c + l], hi = sb.q[64 * c + 32 + l];
        b.qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        b.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
    store_block(dst, b_i, b);
  }
}

void quantize_q6_k(const float* src, void* dst, int64_t n) {
  for (int64_t b_i = 0; b_i < n / kQKK; ++b_i, src += kQKK) {
    SymmetricSuperBlock sb;
    quantize_symmetric_superblock(src, -32, 128, &sb);
    BlockQ6_K b;
    b.d = sb.d;
    for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(sb.sc[s]);
    std::memset(b.ql, 0, sizeof(b.ql));
    std::memset(b.qh, 0, sizeof(b.qh));
    for (int i = 0; i < kQKK; ++i) {
      const int code = sb.q[i] + 32;  // 0..63
      const int h = i / 128, k = (i % 128) / 32, l = i % 32;
      b.ql[64 * h + l + 32 * (k % 2)] |= static_cast<uint8_t>((code & 0xF) << (4 * (k / 2)));
      b.qh[32 * h + l] |= static_cast<uint8_t>((code >> 4) << (2 * k));
    }
    store_block(dst, b_i, b);
  }
}

}  // namespace frugal::quant
