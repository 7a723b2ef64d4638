// Scalar reference twins of the fast GEMM kernels: the same activation quantization and the same
// per-block integer sums as avx2/ and avx512/, written for clarity. Block layouts: gguf.md §5.
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/gemm.h"
#include "kernels/interleave.h"

namespace frugal::kern {
namespace {

// ---- activation quantizers ----

// max|x| over n values.
float abs_max(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::fmax(m, std::fabs(x[i]));
  return m;
}

// q = round-half-even(x * id), as the vector convert instructions do.
int8_t quant(float x, float id) {
  return static_cast<int8_t>(std::nearbyint(x * id));
}

void quantize_act_q8_0(const float* x, int64_t n, uint8_t* out) {
  const ActQ8_0Layout l = act_q8_0_layout(n);
  auto* qs = reinterpret_cast<int8_t*>(out + l.qs_offset());
  auto* nsum4 = reinterpret_cast<int32_t*>(out + l.nsum4_offset());
  auto* d8 = reinterpret_cast<float*>(out + l.d8_offset());
  auto* d1 = reinterpret_cast<float*>(out + l.d_offset());
  auto* nsum = reinterpret_cast<int32_t*>(out + l.nsum_offset());
  std::memset(out, 0, l.bytes());
  std::memset(out + l.xu_offset(), 128, static_cast<size_t>(l.nb) * 32);  // padding block: x = 0
  for (int64_t b = 0; b < n / 32; ++b) {
    const float amax = abs_max(x + b * 32, 32);
    const float d = amax / 127.0f;
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    d1[b] = d;
    for (int j = 0; j < 32; ++j) {
      qs[b * 32 + j] = quant(x[b * 32 + j], id);
      out[l.xu_offset() + b * 32 + j] = static_cast<uint8_t>(qs[b * 32 + j] + 128);
    }
    for (int j = 0; j < 8; ++j) {
      const int8_t* q = qs + b * 32 + 4 * j;
      nsum4[b * 8 + j] = -(q[0] + q[1] + q[2] + q[3]);
      d8[b * 8 + j] = d;
      nsum[b] += 128 * nsum4[b * 8 + j];
    }
  }
}

void quantize_act_q8_k(const float* x, int64_t n, uint8_t* out) {
  auto* blocks = reinterpret_cast<ActQ8K*>(out);
  for (int64_t b = 0; b < n / 256; ++b) {
    ActQ8K& o = blocks[b];
    std::memset(&o, 0, sizeof(o));
    const float amax = abs_max(x + b * 256, 256);
    o.d = amax / 127.0f;
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < 256; ++j) o.qs[j] = quant(x[b * 256 + j], id);
    for (int k = 0; k < 16; ++k) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += o.qs[16 * k + j];
      o.bsums[k] = static_cast<int16_t>(s);
    }
    for (int j = 0; j < 8; ++j)
      o.bsums32[j] = static_cast<int16_t>(o.bsums[2 * j] + o.bsums[2 * j + 1]);
  }
}

// ---- per-row dot products against one activation row ----

float f16_at(const uint8_t* p) {
  return f16_to_f32(load_le<uint16_t>(p));
}

// Q8_0: d f16 @0, qs int8[32] @2.
float dot_q8_0(const uint8_t* w, const uint8_t* xa, int64_t n) {
  const ActQ8_0Layout l = act_q8_0_layout(n);
  const auto* xq = reinterpret_cast<const int8_t*>(xa + l.qs_offset());
  const auto* xd = reinterpret_cast<const float*>(xa + l.d8_offset());
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = w + b * 34;
    int32_t s = 0;
    for (int j = 0; j < 32; ++j) s += static_cast<int8_t>(blk[2 + j]) * xq[b * 32 + j];
    acc += f16_at(blk) * xd[b * 8] * static_cast<float>(s);
  }
  return acc;
}

// Q4_0: d f16 @0, qs[16] @2; element j = low nibble of qs[j], element j+16 = high nibble; minus 8.
float dot_q4_0(const uint8_t* w, const uint8_t* xa, int64_t n) {
  const ActQ8_0Layout l = act_q8_0_layout(n);
  const auto* xq = reinterpret_cast<const int8_t*>(xa + l.qs_offset());
  const auto* xd = reinterpret_cast<const float*>(xa + l.d8_offset());
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = w + b * 18;
    const int8_t* x = xq + b * 32;
    int32_t s = 0;
    for (int j = 0; j < 16; ++j) {
      s += ((blk[2 + j] & 0x0F) - 8) * x[j];
      s += ((blk[2 + j] >> 4) - 8) * x[j + 16];
    }
    acc += f16_at(blk) * xd[b * 8] * static_cast<float>(s);
  }
  return acc;
}

// Q5_0: d f16 @0, qh u32 @2, qs[16] @6; element j = low nibble of qs[j] | bit j of qh << 4,
// element j+16 = high nibble | bit j+16 << 4; minus 16.
float dot_q5_0(const uint8_t* w, const uint8_t* xa, int64_t n) {
  const ActQ8_0Layout l = act_q8_0_layout(n);
  const auto* xq = reinterpret_cast<const int8_t*>(xa + l.qs_offset());
  const auto* xd = reinterpret_cast<const float*>(xa + l.d8_offset());
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = w + b * 22;
    const uint32_t qh = load_le<uint32_t>(blk + 2);
    const int8_t* x = xq + b * 32;
    int32_t s = 0;
    for (int j = 0; j < 16; ++j) {
      const int lo = (blk[6 + j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (blk[6 + j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      s += (lo - 16) * x[j] + (hi - 16) * x[j + 16];
    }
    acc += f16_at(blk) * xd[b * 8] * static_cast<float>(s);
  }
  return acc;
}

// Q4_1 (20 bytes): d @0, m @2, qs[16] @4; Q5_1 (24 bytes): d @0, m @2, qh u32 @4, qs[16] @8 (the
// fifth bit as Q5_0's). Value d q + m: per block d d_x (sum q x) + m d_x (sum x).
template <bool kFive>
float dot_qx_1(const uint8_t* w, const uint8_t* xa, int64_t n) {
  constexpr int kBytes = kFive ? 24 : 20, kQs = kFive ? 8 : 4;
  const ActQ8_0Layout l = act_q8_0_layout(n);
  const auto* xq = reinterpret_cast<const int8_t*>(xa + l.qs_offset());
  const auto* xd = reinterpret_cast<const float*>(xa + l.d8_offset());
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = w + b * kBytes;
    const uint32_t qh = kFive ? load_le<uint32_t>(blk + 4) : 0;
    const int8_t* x = xq + b * 32;
    int32_t s = 0, sx = 0;
    for (int j = 0; j < 16; ++j) {
      const int lo = (blk[kQs + j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (blk[kQs + j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      s += lo * x[j] + hi * x[j + 16];
      sx += x[j] + x[j + 16];
    }
    acc += xd[b * 8] *
           (f16_at(blk) * static_cast<float>(s) + f16_at(blk + 2) * static_cast<float>(sx));
  }
  return acc;
}

// Q4_K (144 bytes): d @0, dmin @2, scales[12] @4, qs[128] @16 (gguf.md §5.8).
void q4_k_scale_min(const uint8_t* s, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K, and Q5_K when kFive (176 bytes: d @0, dmin @2, scales[12] @4 as Q4_K, qh[32] @16,
// qs[128] @48, gguf.md §5.9): element l of group j = nibble (j odd: high) of
// qs[32 (j / 2) + l] | bit j of qh[l] << 4.
template <bool kFive>
float dot_q4_or_5_k(const uint8_t* w, const uint8_t* xa, int64_t n) {
  constexpr int kBytes = kFive ? 176 : 144, kQs = kFive ? 48 : 16;
  const auto* xb = reinterpret_cast<const ActQ8K*>(xa);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * kBytes;
    const ActQ8K& x = xb[b];
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, mn;
      q4_k_scale_min(blk + 4, j, &sc, &mn);
      const uint8_t* q = blk + kQs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int32_t s = 0;
      for (int l = 0; l < 32; ++l) {
        const int high = kFive ? ((blk[16 + l] >> j) & 1) << 4 : 0;
        s += (((q[l] >> shift) & 0x0F) | high) * x.qs[32 * j + l];
      }
      isum += sc * s;
      msum += mn * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
    }
    acc +=
        x.d * (f16_at(blk) * static_cast<float>(isum) - f16_at(blk + 2) * static_cast<float>(msum));
  }
  return acc;
}

// Q6_K (210 bytes): ql[128] @0, qh[64] @128, scales int8[16] @192, d @208 (gguf.md §5.10).
float dot_q6_k(const uint8_t* w, const uint8_t* xa, int64_t n) {
  const auto* xb = reinterpret_cast<const ActQ8K*>(xa);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = w + b * 210;
    const ActQ8K& x = xb[b];
    int q[256];
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk + 64 * h;
      const uint8_t* qh = blk + 128 + 32 * h;
      for (int l = 0; l < 32; ++l) {
        q[128 * h + l] = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        q[128 * h + l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        q[128 * h + l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        q[128 * h + l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      }
    }
    const auto* sc = reinterpret_cast<const int8_t*>(blk + 192);
    int32_t isum = 0;
    for (int k = 0; k < 16; ++k) {
      int32_t s = 0;
      for (int l = 0; l < 16; ++l) s += q[16 * k + l] * x.qs[16 * k + l];
      isum += sc[k] * s;
    }
    acc += f16_at(blk + 208) * x.d * static_cast<float>(isum);
  }
  return acc;
}

// Float weights against float x (exact conversions, float accumulation).
template <float (*Load)(const uint8_t*), int kBytes>
float dot_float(const uint8_t* w, const uint8_t* xa, int64_t n) {
  const auto* x = reinterpret_cast<const float*>(xa);
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += Load(w + i * kBytes) * x[i];
  return acc;
}
float load_f32(const uint8_t* p) {
  return load_le<float>(p);
}
float load_f16(const uint8_t* p) {
  return f16_to_f32(load_le<uint16_t>(p));
}
float load_bf16(const uint8_t* p) {
  return bf16_to_f32(load_le<uint16_t>(p));
}

template <float (*Dot)(const uint8_t*, const uint8_t*, int64_t)>
void gemm(const GemmArgs& a) {
  for (int64_t t = 0; t < a.n_tok; ++t)
    for (int64_t r = 0; r < a.n_rows; ++r)
      a.y[t * a.y_stride + r] = Dot(a.w + r * a.w_stride, a.x + t * a.x_stride, a.n_cols);
}

// The interleaved r16 layouts (kernels/interleave.h): y[t, r] = Dot(group of row r, r % 16,
// activation row t, n_cols), each lane's dot computed as its AVX-512 kernel computes that lane.
template <float (*Dot)(const uint8_t* group, int ri, const uint8_t* xa, int64_t n)>
void gemm_r16(const GemmArgs& a) {
  for (int64_t t = 0; t < a.n_tok; ++t)
    for (int64_t r = 0; r < a.n_rows; ++r)
      a.y[t * a.y_stride + r] = Dot(a.w + (r / 16) * 16 * a.w_stride, static_cast<int>(r % 16),
                                    a.x + t * a.x_stride, a.n_cols);
}

// Q8_0 r16 against Q8_0 activations: per block, the integer sum of (u - 128) x over the biased
// quants u, then acc = fma(sum, d_w d_x, acc).
float dot_q8_0_r16(const uint8_t* group, int ri, const uint8_t* xa, int64_t n) {
  const size_t qoff = q8_0_r16_quants_offset(n);
  const ActQ8_0Layout l = act_q8_0_layout(n);
  const auto* xq = reinterpret_cast<const int8_t*>(xa + l.qs_offset());
  const auto* xd = reinterpret_cast<const float*>(xa + l.d_offset());
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const float d = f16_at(group + (b * 16 + ri) * 2);
    int32_t isum = 0;
    for (int i = 0; i < 32; ++i) {
      const uint8_t u = group[qoff + static_cast<size_t>(b * 512 + (i / 4) * 64 + ri * 4 + i % 4)];
      isum += (static_cast<int32_t>(u) - 128) * xq[b * 32 + i];
    }
    acc = std::fma(static_cast<float>(isum), d * xd[b], acc);
  }
  return acc;
}

// Q4_K r16 (and Q5_K r16 when kFive) against Q8_K activations: per sub-block j the integer sum
// of q x, then sb = fma(isum_j, sc_j, sb) in order; per super-block acc = fma(sb, d d_x, acc),
// then acc = fma(-msum, dmin d_x, acc) with msum = sum_j mn_j bsums32_j (an exact integer).
template <bool kFive>
float dot_q4_or_5_k_r16(const uint8_t* group, int ri, const uint8_t* xa, int64_t n) {
  const auto* xb = reinterpret_cast<const ActQ8K*>(xa);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* sb =
        group + static_cast<size_t>(b) * (kFive ? kQ5KR16SuperBytes : kQ4KR16SuperBytes);
    const ActQ8K& x = xb[b];
    float sbacc = 0.0f;
    int32_t msum = 0;
    for (int j = 0; j < 8; ++j) {
      int32_t isum = 0;
      for (int l = 0; l < 32; ++l) {
        const uint8_t byte = sb[kQ4KR16Qs + j * 256 + ((l % 16) / 4) * 64 + ri * 4 + l % 4];
        int q = l < 16 ? byte & 0x0F : byte >> 4;
        if constexpr (kFive)
          q |= ((sb[kQ5KR16Qh + j * 64 + ri * 4 + l % 4] >> (2 * ((l % 16) / 4) + l / 16)) & 1)
               << 4;
        isum += q * x.qs[32 * j + l];
      }
      sbacc = std::fma(static_cast<float>(isum), static_cast<float>(sb[kQ4KR16Sc + j * 16 + ri]),
                       sbacc);
      msum += sb[kQ4KR16Mn + (j / 2) * 32 + ri * 2 + j % 2] * x.bsums32[j];
    }
    const float d = f16_at(sb + ri * 2), dmin = f16_at(sb + kQ4KR16Dmin + ri * 2);
    acc = std::fma(sbacc, d * x.d, acc);
    acc = std::fma(-static_cast<float>(msum), dmin * x.d, acc);
  }
  return acc;
}

// Q6_K r16 against Q8_K activations: per chunk j, the exact integer sums of (q - 32) x over
// sub-blocks 2j and 2j + 1, then sb = fma(S_2j, sc_2j, sb), sb = fma(S_2j+1, sc_2j+1, sb); per
// super-block acc = fma(sb, d d_x, acc).
float dot_q6_k_r16(const uint8_t* group, int ri, const uint8_t* xa, int64_t n) {
  const auto* xb = reinterpret_cast<const ActQ8K*>(xa);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* sb = group + static_cast<size_t>(b) * kQ6KR16SuperBytes;
    const ActQ8K& x = xb[b];
    float sbacc = 0.0f;
    for (int j = 0; j < 8; ++j) {
      int32_t s[2] = {-32 * x.bsums[2 * j], -32 * x.bsums[2 * j + 1]};
      for (int nv = 0; nv < 8; ++nv)
        for (int k = 0; k < 4; ++k) {
          const uint8_t lo = sb[j * 256 + (nv / 2) * 64 + ri * 4 + k];
          const uint8_t hi = sb[kQ6KR16Qh + j * 128 + (nv / 4) * 64 + ri * 4 + k];
          const int q = (nv % 2 ? lo >> 4 : lo & 0xF) | (((hi >> (2 * (nv % 4))) & 3) << 4);
          s[nv % 2] += q * x.qs[32 * j + 16 * (nv % 2) + 4 * (nv / 2) + k];
        }
      for (int half = 0; half < 2; ++half) {
        const auto sc = static_cast<int8_t>(sb[kQ6KR16Sc + (2 * j + half) * 16 + ri]);
        sbacc = std::fma(static_cast<float>(s[half]), static_cast<float>(sc), sbacc);
      }
    }
    acc = std::fma(sbacc, f16_at(sb + kQ6KR16D + ri * 2) * x.d, acc);
  }
  return acc;
}

// Q5_0 r16 against Q8_0 activations: per block, s = -16 (sum of x's quants) + sum q x (exact),
// then acc = fma(s, d_w d_x, acc).
float dot_q5_0_r16(const uint8_t* group, int ri, const uint8_t* xa, int64_t n) {
  const size_t qoff = q8_0_r16_quants_offset(n);
  const ActQ8_0Layout l = act_q8_0_layout(n);
  const auto* xq = reinterpret_cast<const int8_t*>(xa + l.qs_offset());
  const auto* xd = reinterpret_cast<const float*>(xa + l.d_offset());
  const auto* nsum = reinterpret_cast<const int32_t*>(xa + l.nsum_offset());
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* ob = group + qoff + static_cast<size_t>(b) * kQ5_0R16BlockBytes;
    int32_t s = nsum[b] / 8;  // nsum = -128 sum x: exact
    for (int nv = 0; nv < 8; ++nv)
      for (int k = 0; k < 4; ++k) {
        const uint8_t lo = ob[(nv / 2) * 64 + ri * 4 + k];
        const int q =
            (nv % 2 ? lo >> 4 : lo & 0xF) | (((ob[kQ5_0R16Qh + ri * 4 + k] >> nv) & 1) << 4);
        s += q * xq[b * 32 + 16 * (nv % 2) + 4 * (nv / 2) + k];
      }
    acc = std::fma(static_cast<float>(s), f16_at(group + (b * 16 + ri) * 2) * xd[b], acc);
  }
  return acc;
}

// ActBF16 (gemm.h): round to nearest even with subnormal inputs taken as zero, zero padding.
void round_act_bf16(const float* x, int64_t n, uint8_t* out) {
  auto* o = reinterpret_cast<uint16_t*>(out);
  const int64_t padded = (n + 31) / 32 * 32;
  for (int64_t i = 0; i < padded; ++i) {
    float v = i < n ? x[i] : 0.0f;
    if (std::fpclassify(v) == FP_SUBNORMAL) v = std::copysign(0.0f, v);
    o[i] = f32_to_bf16(v);
  }
}

// BF16 weights against BF16 activations, computed as the AVX-512 kernel's lanes do: lane i of
// 16 adds the products of elements 2i + 1 and then 2i of each 32-element step (products of two
// bf16 are exact in float), and the lanes are summed as a tree (i with i + 8, + 4, + 2, + 1).
float dot_bf16_bf16(const uint8_t* w, const uint8_t* xa, int64_t n) {
  const auto* x = reinterpret_cast<const uint16_t*>(xa);
  float lane[16] = {};
  for (int64_t c = 0; c < n; c += 32)
    for (int i = 0; i < 16; ++i)
      for (int64_t e : {c + 2 * i + 1, c + 2 * i}) {
        if (e >= n) continue;  // the weight row ends; the activation padding is zero
        lane[i] += bf16_to_f32(load_le<uint16_t>(w + 2 * e)) * bf16_to_f32(x[e]);
      }
  for (int half = 8; half >= 1; half /= 2)
    for (int i = 0; i < half; ++i) lane[i] += lane[i + half];
  return lane[0];
}

uint64_t stream_read(const uint8_t* p, size_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < n; i += 32) {
    s0 += load_le<uint64_t>(p + i);
    s1 ^= load_le<uint64_t>(p + i + 8);
    s2 += load_le<uint64_t>(p + i + 16);
    s3 ^= load_le<uint64_t>(p + i + 24);
  }
  return s0 + s1 + s2 + s3;
}

constexpr KernelTable kRefTable = {
    "ref",
    quantize_act_q8_0,
    quantize_act_q8_k,
    gemm<dot_float<load_f32, 4>>,
    gemm<dot_float<load_f16, 2>>,
    gemm<dot_float<load_bf16, 2>>,
    gemm<dot_q8_0>,
    gemm<dot_q4_0>,
    gemm<dot_q5_0>,
    gemm<dot_qx_1<false>>,
    gemm<dot_qx_1<true>>,
    gemm<dot_q4_or_5_k<false>>,
    gemm<dot_q4_or_5_k<true>>,
    gemm<dot_q6_k>,
    stream_read,
    gemm_r16<dot_q8_0_r16>,
    gemm_r16<dot_q4_or_5_k_r16<false>>,
    gemm_r16<dot_q4_or_5_k_r16<true>>,
    gemm_r16<dot_q6_k_r16>,
    gemm_r16<dot_q5_0_r16>,
    silu_mul_reference,
    round_act_bf16,
    gemm<dot_bf16_bf16>,
};

}  // namespace

const KernelTable& ref_kernel_table() {
  return kRefTable;
}

}  // namespace frugal::kern
