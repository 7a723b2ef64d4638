// AVX2 (+FMA, F16C) GEMM kernels; this file alone is compiled with those flags and is only
// reached through avx2_kernel_table() on CPUs that have them (dispatch.cpp). Same tiling and
// activation formats as avx512/; integer products use vpmaddubsw (u8 x s8 -> s16 pairs) and
// vpmaddwd (-> s32, or times a per-sub-block scale for K-quants).
#include <immintrin.h>

#include <cstring>

#include "kernels/gemm.h"
#include "kernels/gemm_tiles.h"

namespace frugal::kern {
namespace {

#define FRUGAL_INLINE inline __attribute__((always_inline))
#define FRUGAL_UNROLL _Pragma("GCC unroll 16")

FRUGAL_INLINE __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
FRUGAL_INLINE __m128i load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}

FRUGAL_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
FRUGAL_INLINE float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
FRUGAL_INLINE int hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// 8 int32 -> 8 int8 (values already within int8), in order.
FRUGAL_INLINE __m128i pack8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);  // lanes interleaved by 128-bit halves
  const __m256i fixed =
      _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  return _mm256_castsi256_si128(fixed);  // only the first 16 bytes are used per call pair
}

// ---- activation quantizers (same rounding as the reference) ----

void quantize_block32(const float* x, float id, int8_t* q) {
  const __m256 vid = _mm256_set1_ps(id);
  __m256i v[4];
  FRUGAL_UNROLL
  for (int i = 0; i < 4; ++i)
    v[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), vid));
  const __m256i ab = _mm256_packs_epi32(v[0], v[1]), cd = _mm256_packs_epi32(v[2], v[3]);
  const __m256i all = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), all);
}

float abs_max(const float* x, int n) {
  const __m256 sign_off = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 a = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8)
    a = _mm256_max_ps(a, _mm256_and_ps(_mm256_loadu_ps(x + i), sign_off));
  return hmax(a);
}

void quantize_act_q8_0(const float* x, int64_t n, uint8_t* out) {
  const ActQ8_0Layout l = act_q8_0_layout(n);
  auto* qs = reinterpret_cast<int8_t*>(out + l.qs_offset());
  auto* nsum4 = reinterpret_cast<int32_t*>(out + l.nsum4_offset());
  auto* d8 = reinterpret_cast<float*>(out + l.d8_offset());
  auto* d1 = reinterpret_cast<float*>(out + l.d_offset());
  auto* nsum = reinterpret_cast<int32_t*>(out + l.nsum_offset());
  const int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; ++b) {
    const float amax = abs_max(x + b * 32, 32);
    const float d = amax / 127.0f;
    d1[b] = d;
    quantize_block32(x + b * 32, amax > 0.0f ? 127.0f / amax : 0.0f, qs + b * 32);
    const __m256i q = load256(qs + b * 32);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + l.xu_offset() + b * 32),
                        _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))));
    const __m256i s4 =
        _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(nsum4 + b * 8),
                        _mm256_sub_epi32(_mm256_setzero_si256(), s4));
    _mm256_storeu_ps(d8 + b * 8, _mm256_set1_ps(d));
    const __m128i s2 = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
    const __m128i s1 = _mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0x4E));
    nsum[b] = -128 * _mm_cvtsi128_si32(_mm_add_epi32(s1, _mm_shuffle_epi32(s1, 0xB1)));
  }
  for (int64_t b = nb; b < (nb + 15) / 16 * 16; ++b) {
    d1[b] = 0.0f;
    nsum[b] = 0;
  }
  if (nb % 2 == 1) {
    std::memset(qs + nb * 32, 0, 32);
    std::memset(nsum4 + nb * 8, 0, 32);
    std::memset(d8 + nb * 8, 0, 32);
    std::memset(out + l.xu_offset() + nb * 32, 128, 32);
  }
}

void quantize_act_q8_k(const float* x, int64_t n, uint8_t* out) {
  auto* blocks = reinterpret_cast<ActQ8K*>(out);
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* xb = x + b * 256;
    ActQ8K& o = blocks[b];
    const float amax = abs_max(xb, 256);
    o.d = amax / 127.0f;
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < 256; i += 32) quantize_block32(xb + i, id, o.qs + i);
    for (int k = 0; k < 16; k += 2) {
      const __m256i q = load256(o.qs + 16 * k);
      const __m256i s =
          _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
      o.bsums[k] =
          static_cast<int16_t>(hsum_epi32(_mm256_blend_epi32(s, _mm256_setzero_si256(), 0xF0)));
      o.bsums[k + 1] =
          static_cast<int16_t>(hsum_epi32(_mm256_blend_epi32(s, _mm256_setzero_si256(), 0x0F)));
    }
    for (int j = 0; j < 8; ++j)
      o.bsums32[j] = static_cast<int16_t>(o.bsums[2 * j] + o.bsums[2 * j + 1]);
    std::memset(o.pad, 0, sizeof(o.pad));
  }
}

// ---- tiling driver (as in avx512/) ----

template <int kRows, template <int, int> class Tile>
void gemm_tiled(const GemmArgs& a) {
  for_each_tile<kRows>(a, [&](auto rows, auto toks, int64_t r0, int64_t t0) {
    Tile<decltype(rows)::value, decltype(toks)::value>::run(a, r0, t0);
  });
}

template <int R, int T>
FRUGAL_INLINE void zero(__m256 (&acc)[R][T]) {
  FRUGAL_UNROLL
  for (int r = 0; r < R; ++r) FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
}

template <int R, int T>
FRUGAL_INLINE void store_tile(const GemmArgs& a, int64_t r0, int64_t t0, __m256 (&acc)[R][T]) {
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) FRUGAL_UNROLL
  for (int r = 0; r < R; ++r) a.y[(t0 + t) * a.y_stride + r0 + r] = hsum(acc[r][t]);
}

FRUGAL_INLINE float f16_scalar(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// ---- Q8_0 / Q4_0 x Q8_0 activations, one block per step ----

struct Q8_0Block {
  static constexpr int kBytes = 34;
  static constexpr bool kHasMin = false;
  struct Decoded {
    __m256i w;
    __m256i abs;
    __m256 d;
  };
  static FRUGAL_INLINE Decoded decode(const uint8_t* blk) {
    const __m256i w = load256(blk + 2);
    return {w, _mm256_sign_epi8(w, w), _mm256_set1_ps(f16_scalar(blk))};
  }
  static FRUGAL_INLINE __m256i dot(const Decoded& w, __m256i x, __m256i /*nsum4*/) {
    const __m256i p = _mm256_maddubs_epi16(w.abs, _mm256_sign_epi8(x, w.w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
  }
};

// 32 bytes: byte i = 16 when bit i of qh is set, else 0 (each byte i tests qh's byte i / 8
// against bit i % 8).
FRUGAL_INLINE __m256i fifth_bits(uint32_t qh) {
  const __m256i bytes = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(qh)),
      _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit),
                          _mm256_set1_epi8(16));
}

// The 16 quant bytes at p as 32 nibbles in element order (low nibbles, then high).
FRUGAL_INLINE __m256i nibbles(const uint8_t* p) {
  const __m128i raw = load128(p);
  const __m256i both =
      _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

struct Q4_0Block {
  static constexpr int kBytes = 18;
  static constexpr bool kHasMin = false;
  struct Decoded {
    __m256i q;
    __m256 d;
  };
  static FRUGAL_INLINE Decoded decode(const uint8_t* blk) {
    return {nibbles(blk + 2), _mm256_set1_ps(f16_scalar(blk))};
  }
  static FRUGAL_INLINE __m256i dot(const Decoded& w, __m256i x, __m256i nsum4) {
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(w.q, x), _mm256_set1_epi16(1));
    return _mm256_add_epi32(s, _mm256_slli_epi32(nsum4, 3));
  }
};

// Q5_0 (22 bytes): d @0, qh u32 @2, qs[16] @6. The nibbles decode as Q4_0's; bit i of qh adds
// 16 to element i.
struct Q5_0Block {
  static constexpr int kBytes = 22;
  static constexpr bool kHasMin = false;
  struct Decoded {
    __m256i q;
    __m256 d;
  };
  static FRUGAL_INLINE Decoded decode(const uint8_t* blk) {
    uint32_t qh;
    std::memcpy(&qh, blk + 2, 4);
    return {_mm256_or_si256(nibbles(blk + 6), fifth_bits(qh)), _mm256_set1_ps(f16_scalar(blk))};
  }
  // sum (q - 16) x = sum q x - 16 sum x (nsum4: minus each 4 consecutive x's sum).
  static FRUGAL_INLINE __m256i dot(const Decoded& w, __m256i x, __m256i nsum4) {
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(w.q, x), _mm256_set1_epi16(1));
    return _mm256_add_epi32(s, _mm256_slli_epi32(nsum4, 4));
  }
};

// Q4_1 (20 bytes): d @0, m @2, qs[16] @4; Q5_1 (24 bytes): d @0, m @2, qh u32 @4, qs[16] @8.
// Value d q + m; the tile adds m d_x (sum of x) from the activation's nsum4.
template <bool kFive>
struct QxA1Block {
  static constexpr int kBytes = kFive ? 24 : 20;
  static constexpr bool kHasMin = true;
  struct Decoded {
    __m256i q;
    __m256 d, m;
  };
  static FRUGAL_INLINE Decoded decode(const uint8_t* blk) {
    __m256i q = nibbles(blk + (kFive ? 8 : 4));
    if constexpr (kFive) {
      uint32_t qh;
      std::memcpy(&qh, blk + 4, 4);
      q = _mm256_or_si256(q, fifth_bits(qh));
    }
    return {q, _mm256_set1_ps(f16_scalar(blk)), _mm256_set1_ps(f16_scalar(blk + 2))};
  }
  static FRUGAL_INLINE __m256i dot(const Decoded& w, __m256i x, __m256i /*nsum4*/) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w.q, x), _mm256_set1_epi16(1));
  }
};

template <typename Block>
struct LegacyTile {
  template <int R, int T>
  struct Tile {
    static void run(const GemmArgs& a, int64_t r0, int64_t t0) {
      __m256 acc[R][T];
      zero(acc);
      const ActQ8_0Layout l = act_q8_0_layout(a.n_cols);
      const int64_t nb = a.n_cols / 32;
      for (int64_t b = 0; b < nb; ++b) {
        typename Block::Decoded w[R];
        FRUGAL_UNROLL
        for (int r = 0; r < R; ++r)
          w[r] = Block::decode(a.w + (r0 + r) * a.w_stride + b * Block::kBytes);
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const uint8_t* xa = a.x + (t0 + t) * a.x_stride;
          const __m256i x = load256(xa + l.qs_offset() + b * 32);
          const __m256i ns = load256(xa + l.nsum4_offset() + b * 32);
          const __m256 xd =
              _mm256_loadu_ps(reinterpret_cast<const float*>(xa + l.d8_offset()) + b * 8);
          FRUGAL_UNROLL
          for (int r = 0; r < R; ++r) {
            acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(Block::dot(w[r], x, ns)),
                                        _mm256_mul_ps(w[r].d, xd), acc[r][t]);
            // + m d_x (sum of x): nsum4 is minus each lane's 4-value sum
            if constexpr (Block::kHasMin)
              acc[r][t] =
                  _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ns), _mm256_mul_ps(w[r].m, xd), acc[r][t]);
          }
        }
      }
      store_tile(a, r0, t0, acc);
    }
  };
};

template <int R, int T>
using Q8_0Tile = LegacyTile<Q8_0Block>::Tile<R, T>;
template <int R, int T>
using Q4_0Tile = LegacyTile<Q4_0Block>::Tile<R, T>;
template <int R, int T>
using Q5_0Tile = LegacyTile<Q5_0Block>::Tile<R, T>;
template <int R, int T>
using Q4_1Tile = LegacyTile<QxA1Block<false>>::Tile<R, T>;
template <int R, int T>
using Q5_1Tile = LegacyTile<QxA1Block<true>>::Tile<R, T>;

// ---- K-quants x Q8_K ----

// 16 int16 lanes, each repeating v[base + i / group] (v: 16 int16 values in memory).
FRUGAL_INLINE __m256i spread(const int16_t* v, int base, int group) {
  alignas(32) int16_t out[16];
  for (int i = 0; i < 16; ++i) out[i] = v[base + i / group];
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(out));
}

// Q4_K (144 bytes): d @0, dmin @2, scales[12] @4, qs[128] @16.
FRUGAL_INLINE void q4_k_scales(const uint8_t* s, int16_t* sc, int16_t* mn) {
  uint32_t u[3];
  std::memcpy(u, s, 12);
  constexpr uint32_t k6 = 0x3f3f3f3f, k4 = 0x0f0f0f0f, k2 = 0x03030303;
  const uint32_t w[4] = {u[0] & k6, (u[2] & k4) | (((u[0] >> 6) & k2) << 4), u[1] & k6,
                         ((u[2] >> 4) & k4) | (((u[1] >> 6) & k2) << 4)};
  uint8_t b[16];
  std::memcpy(b, w, 16);
  for (int j = 0; j < 8; ++j) {
    sc[j] = b[j];
    mn[j] = b[8 + j];
  }
}

// Q4_K, and Q5_K when kFiveBit (176 bytes: d, dmin, scales as Q4_K, qh[32] @16, qs[128] @48;
// bit j of qh[l] adds 16 to element l of sub-block j).
template <int R, int T, bool kFiveBit>
struct Q4Or5KTile {
  static constexpr int kBytes = kFiveBit ? 176 : 144;
  static constexpr int kQs = kFiveBit ? 48 : 16;
  static void run(const GemmArgs& a, int64_t r0, int64_t t0) {
    __m256 acc[R][T];
    zero(acc);
    const __m256i mask4 = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < a.n_cols / 256; ++b) {
      FRUGAL_UNROLL
      for (int r = 0; r < R; ++r) {
        const uint8_t* blk = a.w + (r0 + r) * a.w_stride + b * kBytes;
        alignas(32) int16_t sc[8], mn[8];
        q4_k_scales(blk + 4, sc, mn);
        const __m256i mins = spread(mn, 0, 2);  // lanes 2j, 2j+1 -> min j
        __m256i isum[T];
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; ++j) {  // 32-element sub-blocks
          const __m256i raw = load256(blk + kQs + 32 * (j / 2));
          __m256i q = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(raw, 4) : raw, mask4);
          if constexpr (kFiveBit) {
            const __m256i hb = _mm256_and_si256(
                _mm256_srl_epi16(load256(blk + 16), _mm_cvtsi32_si128(j)), _mm256_set1_epi8(1));
            q = _mm256_or_si256(q, _mm256_slli_epi16(hb, 4));
          }
          const __m256i s = _mm256_set1_epi16(sc[j]);
          FRUGAL_UNROLL
          for (int t = 0; t < T; ++t) {
            const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
            const __m256i p = _mm256_maddubs_epi16(q, load256(x->qs + 32 * j));
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, s));
          }
        }
        const float d = f16_scalar(blk), dmin = f16_scalar(blk + 2);
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
          const __m256i msum = _mm256_madd_epi16(load256(x->bsums), mins);
          acc[r][t] =
              _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * x->d), acc[r][t]);
          acc[r][t] =
              _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * x->d), acc[r][t]);
        }
      }
    }
    store_tile(a, r0, t0, acc);
  }
};

template <int R, int T>
using Q4KTile = Q4Or5KTile<R, T, false>;
template <int R, int T>
using Q5KTile = Q4Or5KTile<R, T, true>;

// Q6_K (210 bytes): ql[128] @0, qh[64] @128, scales int8[16] @192, d @208.
template <int R, int T>
struct Q6KTile {
  static void run(const GemmArgs& a, int64_t r0, int64_t t0) {
    __m256 acc[R][T];
    zero(acc);
    const __m256i mask4 = _mm256_set1_epi8(0x0F), mask2 = _mm256_set1_epi8(0x03);
    for (int64_t b = 0; b < a.n_cols / 256; ++b) {
      FRUGAL_UNROLL
      for (int r = 0; r < R; ++r) {
        const uint8_t* blk = a.w + (r0 + r) * a.w_stride + b * 210;
        alignas(32) int16_t sc[16];
        for (int k = 0; k < 16; ++k) sc[k] = static_cast<int8_t>(blk[192 + k]);
        const __m256i sc16 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc));
        __m256i isum[T];
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
          const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(load256(x->bsums), sc16), 5);
          isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), corr);
        }
        for (int h = 0; h < 2; ++h) {
          const __m256i qh = load256(blk + 128 + 32 * h);
          for (int part = 0; part < 4; ++part) {  // elements 128h + 32 part .. + 31
            const __m256i ql = load256(blk + 64 * h + 32 * (part % 2));
            const __m256i lo = part < 2 ? _mm256_and_si256(ql, mask4)
                                        : _mm256_and_si256(_mm256_srli_epi16(ql, 4), mask4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * part), mask2);
            const __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
            // two 16-element sub-blocks: scales 8h + 2 part, 8h + 2 part + 1
            const __m256i s =
                _mm256_permute2x128_si256(_mm256_set1_epi16(sc[8 * h + 2 * part]),
                                          _mm256_set1_epi16(sc[8 * h + 2 * part + 1]), 0x20);
            FRUGAL_UNROLL
            for (int t = 0; t < T; ++t) {
              const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
              const __m256i p = _mm256_maddubs_epi16(q, load256(x->qs + 128 * h + 32 * part));
              isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, s));
            }
          }
        }
        const float d = f16_scalar(blk + 208);
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
          acc[r][t] =
              _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * x->d), acc[r][t]);
        }
      }
    }
    store_tile(a, r0, t0, acc);
  }
};

// ---- float weights ----

struct F32Load {
  static constexpr int kBytes = 4;
  static FRUGAL_INLINE __m256 load(const uint8_t* p) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  }
  static FRUGAL_INLINE float scalar(const uint8_t* p) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
};
struct F16Load {
  static constexpr int kBytes = 2;
  static FRUGAL_INLINE __m256 load(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }
  static FRUGAL_INLINE float scalar(const uint8_t* p) { return f16_scalar(p); }
};
struct BF16Load {
  static constexpr int kBytes = 2;
  static FRUGAL_INLINE __m256 load(const uint8_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
  }
  static FRUGAL_INLINE float scalar(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

template <typename Load>
struct FloatTile {
  template <int R, int T>
  struct Tile {
    static void run(const GemmArgs& a, int64_t r0, int64_t t0) {
      __m256 acc[R][T];
      zero(acc);
      int64_t c = 0;
      for (; c + 8 <= a.n_cols; c += 8) {
        __m256 w[R];
        FRUGAL_UNROLL
        for (int r = 0; r < R; ++r)
          w[r] = Load::load(a.w + (r0 + r) * a.w_stride + c * Load::kBytes);
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const __m256 x =
              _mm256_loadu_ps(reinterpret_cast<const float*>(a.x + (t0 + t) * a.x_stride) + c);
          FRUGAL_UNROLL
          for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(w[r], x, acc[r][t]);
        }
      }
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) {
        const float* x = reinterpret_cast<const float*>(a.x + (t0 + t) * a.x_stride);
        FRUGAL_UNROLL
        for (int r = 0; r < R; ++r) {
          float s = hsum(acc[r][t]);
          for (int64_t i = c; i < a.n_cols; ++i)
            s += Load::scalar(a.w + (r0 + r) * a.w_stride + i * Load::kBytes) * x[i];
          a.y[(t0 + t) * a.y_stride + r0 + r] = s;
        }
      }
    }
  };
};

template <int R, int T>
using F32Tile = FloatTile<F32Load>::Tile<R, T>;
template <int R, int T>
using F16Tile = FloatTile<F16Load>::Tile<R, T>;
template <int R, int T>
using BF16Tile = FloatTile<BF16Load>::Tile<R, T>;

// Four streams (the quarters of the range), 64 bytes of each per step.
uint64_t stream_read(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  const size_t part = n / 4 / 64 * 64;
  auto two = [](const uint8_t* q) {
    return _mm256_add_epi64(_mm256_load_si256(reinterpret_cast<const __m256i*>(q)),
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 32)));
  };
  for (size_t i = 0; i < part; i += 64) {
    a0 = _mm256_add_epi64(a0, two(p + i));
    a1 = _mm256_add_epi64(a1, two(p + part + i));
    a2 = _mm256_add_epi64(a2, two(p + 2 * part + i));
    a3 = _mm256_add_epi64(a3, two(p + 3 * part + i));
  }
  for (size_t i = 4 * part; i < n; i += 32)
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t v[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), s);
  return v[0] + v[1] + v[2] + v[3];
}

constexpr KernelTable kAvx2Table = {
    "avx2",
    quantize_act_q8_0,
    quantize_act_q8_k,
    gemm_tiled<4, F32Tile>,
    gemm_tiled<4, F16Tile>,
    gemm_tiled<4, BF16Tile>,
    gemm_tiled<4, Q8_0Tile>,
    gemm_tiled<4, Q4_0Tile>,
    gemm_tiled<4, Q5_0Tile>,
    gemm_tiled<4, Q4_1Tile>,
    gemm_tiled<4, Q5_1Tile>,
    gemm_tiled<2, Q4KTile>,
    gemm_tiled<2, Q5KTile>,
    gemm_tiled<2, Q6KTile>,
    stream_read,
    nullptr,  // q8_0_r16: interleaving is left to AVX-512 machines for now
    nullptr,  // q4_k_r16
    nullptr,  // q5_k_r16
    nullptr,  // q6_k_r16
    nullptr,  // q5_0_r16
    silu_mul_reference,
    nullptr,  // no bf16 dot products in AVX2: BF16 weights widen to float
    nullptr,
};

}  // namespace

const KernelTable& avx2_kernel_table() {
  return kAvx2Table;
}

}  // namespace frugal::kern
