// AVX-512 (F/BW/VL/DQ/VNNI) GEMM kernels; this file alone is compiled with the AVX-512 flags and
// is only reached through avx512_kernel_table() on CPUs that have them (dispatch.cpp).
//
// Tiles of R weight rows x T tokens: each weight block is loaded and unpacked once per tile and
// reused for the T tokens. Legacy blocks (32 elements) go two at a time into one 512-bit vector.
// Integer products use vpdpbusd (u8 x s8 -> s32) or vpmaddubsw + vpdpwssd (K-quants, where the
// per-16/32 scale multiplies the int16 pair sums).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx512/simd.h"
#include "kernels/gemm.h"
#include "kernels/gemm_tiles.h"

namespace frugal::kern {
namespace {

// ---- activation quantizers (same rounding as the reference: round-half-even of x * id) ----

void quantize_act_q8_0(const float* x, int64_t n, uint8_t* out) {
  const ActQ8_0Layout l = act_q8_0_layout(n);
  auto* qs = reinterpret_cast<int8_t*>(out + l.qs_offset());
  auto* nsum4 = reinterpret_cast<int32_t*>(out + l.nsum4_offset());
  auto* d8 = reinterpret_cast<float*>(out + l.d8_offset());
  auto* d1 = reinterpret_cast<float*>(out + l.d_offset());
  auto* nsum = reinterpret_cast<int32_t*>(out + l.nsum_offset());
  const int64_t nb = n / 32;
  const __m512 sign_off = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  for (int64_t b = 0; b < nb; ++b) {
    const __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
    const __m512 a = _mm512_max_ps(_mm512_and_ps(v0, sign_off), _mm512_and_ps(v1, sign_off));
    const float amax = _mm512_reduce_max_ps(a);
    const float d = amax / 127.0f;
    d1[b] = d;
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
    const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
    const __m128i b0 = _mm512_cvtsepi32_epi8(q0), b1 = _mm512_cvtsepi32_epi8(q1);
    const __m256i q8 = _mm256_inserti128_si256(_mm256_castsi128_si256(b0), b1, 1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * 32), q8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + l.xu_offset() + b * 32),
                        _mm256_xor_si256(q8, _mm256_set1_epi8(static_cast<char>(0x80))));
    // minus the sum of each 4 consecutive quants: vpdpbusd with all-ones bytes.
    const __m256i s4 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(nsum4 + b * 8),
                        _mm256_sub_epi32(_mm256_setzero_si256(), s4));
    _mm256_storeu_ps(d8 + b * 8, _mm256_set1_ps(d));
    nsum[b] = -128 * _mm512_reduce_add_epi32(_mm512_zextsi256_si512(s4));
  }
  for (int64_t b = nb; b < (nb + 15) / 16 * 16; ++b) {
    d1[b] = 0.0f;
    nsum[b] = 0;
  }
  if (nb % 2 == 1) {  // the zero padding block
    std::memset(qs + nb * 32, 0, 32);
    std::memset(nsum4 + nb * 8, 0, 32);
    std::memset(d8 + nb * 8, 0, 32);
    std::memset(out + l.xu_offset() + nb * 32, 128, 32);
  }
}

void quantize_act_q8_k(const float* x, int64_t n, uint8_t* out) {
  auto* blocks = reinterpret_cast<ActQ8K*>(out);
  const __m512 sign_off = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* xb = x + b * 256;
    ActQ8K& o = blocks[b];
    __m512 a = _mm512_setzero_ps();
    for (int i = 0; i < 256; i += 16)
      a = _mm512_max_ps(a, _mm512_and_ps(_mm512_loadu_ps(xb + i), sign_off));
    const float amax = _mm512_reduce_max_ps(a);
    o.d = amax / 127.0f;
    const __m512 vid = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    for (int i = 0; i < 256; i += 16) {
      const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + i), vid));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o.qs + i), _mm512_cvtsepi32_epi8(q));
      o.bsums[i / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    for (int j = 0; j < 8; ++j)
      o.bsums32[j] = static_cast<int16_t>(o.bsums[2 * j] + o.bsums[2 * j + 1]);
    std::memset(o.pad, 0, sizeof(o.pad));
  }
}

// ---- tiling driver ----

// Runs Tile<R, T>::run over the whole row x token range (the walk is in kernels/gemm_tiles.h).
template <int kRows, template <int, int> class Tile>
void gemm_tiled(const GemmArgs& a) {
  for_each_tile<kRows>(a, [&](auto rows, auto toks, int64_t r0, int64_t t0) {
    Tile<decltype(rows)::value, decltype(toks)::value>::run(a, r0, t0);
  });
}

// ---- Q8_0 and Q4_0 weights x Q8_0 activations, two blocks per step ----

// f16 scales of two blocks as [d0 x8, d1 x8] floats (d1 = 0 when `pair` is false).
FRUGAL_INLINE __m512 scales_pair(const uint8_t* blk0, const uint8_t* blk1, bool pair) {
  uint16_t d0, d1 = 0;
  std::memcpy(&d0, blk0, 2);
  if (pair) std::memcpy(&d1, blk1, 2);
  const __m256i h =
      _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(static_cast<short>(d0))),
                              _mm_set1_epi16(static_cast<short>(d1)), 1);
  return _mm512_cvtph_ps(h);
}

// f16 scales of 16 consecutive blocks (kBytes apart) as 16 floats: one gather of the 32-bit
// words at each block's start (d and the first two quant bytes), narrowed to the low halves.
template <int kBytes>
FRUGAL_INLINE __m512 gather_scales16(const uint8_t* blk) {
  const __m512i offsets =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(kBytes));
  const __m512i words = _mm512_i32gather_epi32(offsets, blk, 1);
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(words));
}

// Lanes 0-7 = v[2p], lanes 8-15 = v[2p + 1]: the two scales of pair p of a 16-block group.
FRUGAL_INLINE __m512 pair_scales(__m512 v, int p) {
  const __m512i idx = _mm512_add_epi32(
      _mm512_set1_epi32(2 * p), _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  return _mm512_permutexvar_ps(idx, v);
}

struct Q8_0Block {
  static constexpr int kBytes = 34;
  static constexpr bool kHasMin = false;
  // Signed quants w of two blocks, and -128 * (sum of each 4 consecutive w) per lane, so that
  // vpdpbusd(init, x + 128, w) = sum x w (the activation's xu holds x + 128 as u8).
  struct Decoded {
    __m512i w;
    __m512i init;
  };
  static FRUGAL_INLINE size_t x_offset(const ActQ8_0Layout& l) { return l.xu_offset(); }
  static FRUGAL_INLINE Decoded decode(const uint8_t* blk, bool pair) {
    const __m256i lo = load256(blk + 2);
    const __m256i hi = pair ? load256(blk + kBytes + 2) : _mm256_setzero_si256();
    const __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    const __m512i s128 =
        _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(0x80)), w);
    return {w, _mm512_sub_epi32(_mm512_setzero_si512(), s128)};
  }
  static FRUGAL_INLINE __m512i dot(const Decoded& w, __m512i xu, __m512i /*nsum4*/) {
    return _mm512_dpbusd_epi32(w.init, xu, w.w);
  }
};

// Nibbles of two blocks' 16 quant bytes (at blk + off and blk + kBytes + off) as 64 u8 values in
// element order: [lo0 hi0 lo1 hi1] (Q4_0's decode).
template <int kBytes>
FRUGAL_INLINE __m512i nibbles_pair(const uint8_t* blk, int off, bool pair) {
  const __m128i lo = load128(blk + off);
  const __m128i hi = pair ? load128(blk + kBytes + off) : _mm_setzero_si128();
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  const __m512i dup = _mm512_permutexvar_epi64(_mm512_set_epi64(3, 2, 3, 2, 1, 0, 1, 0),
                                               _mm512_castsi256_si512(both));
  const __m512i shifts = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
  return _mm512_and_si512(_mm512_srlv_epi64(dup, shifts), _mm512_set1_epi8(0x0F));
}

struct Q4_0Block {
  static constexpr int kBytes = 18;
  static constexpr bool kHasMin = false;
  struct Decoded {
    __m512i q;  // nibbles 0..15 as u8, elements in order
  };
  static FRUGAL_INLINE Decoded decode(const uint8_t* blk, bool pair) {
    return {nibbles_pair<kBytes>(blk, 2, pair)};
  }
  static FRUGAL_INLINE size_t x_offset(const ActQ8_0Layout& l) { return l.qs_offset(); }
  // sum (q - 8) x = sum q x - 8 sum x, with -8 sum x per lane from the activation's nsum4.
  static FRUGAL_INLINE __m512i dot(const Decoded& w, __m512i x, __m512i nsum4) {
    return _mm512_dpbusd_epi32(_mm512_slli_epi32(nsum4, 3), w.q, x);
  }
};

// Q5_0 (22 bytes): d @0, qh u32 @2, qs[16] @6. The nibbles decode as Q4_0's; bit i of qh adds
// 16 to element i, so the two blocks' 64 high bits are one byte mask.
struct Q5_0Block {
  static constexpr int kBytes = 22;
  static constexpr bool kHasMin = false;
  struct Decoded {
    __m512i q;  // 0..31 as u8, elements in order
  };
  static FRUGAL_INLINE Decoded decode(const uint8_t* blk, bool pair) {
    const __m512i nib = nibbles_pair<kBytes>(blk, 6, pair);
    uint32_t h0, h1 = 0;
    std::memcpy(&h0, blk + 2, 4);
    if (pair) std::memcpy(&h1, blk + kBytes + 2, 4);
    const __mmask64 high =
        _cvtu64_mask64(static_cast<uint64_t>(h0) | static_cast<uint64_t>(h1) << 32);
    return {_mm512_mask_add_epi8(nib, high, nib, _mm512_set1_epi8(16))};
  }
  static FRUGAL_INLINE size_t x_offset(const ActQ8_0Layout& l) { return l.qs_offset(); }
  // sum (q - 16) x = sum q x - 16 sum x, with -16 sum x per lane from the activation's nsum4.
  static FRUGAL_INLINE __m512i dot(const Decoded& w, __m512i x, __m512i nsum4) {
    return _mm512_dpbusd_epi32(_mm512_slli_epi32(nsum4, 4), w.q, x);
  }
};

// Q4_1 (20 bytes): d @0, m @2, qs[16] @4; value d q + m. Q5_1 (24 bytes): d @0, m @2, qh u32 @4,
// qs[16] @8; the fifth bit as Q5_0's. The tile adds m d_x (sum of x) from the activation's nsum4.
template <bool kFive>
struct QxA1Block {
  static constexpr int kBytes = kFive ? 24 : 20;
  static constexpr bool kHasMin = true;
  struct Decoded {
    __m512i q;
  };
  static FRUGAL_INLINE Decoded decode(const uint8_t* blk, bool pair) {
    __m512i q = nibbles_pair<kBytes>(blk, kFive ? 8 : 4, pair);
    if constexpr (kFive) {
      uint32_t h0, h1 = 0;
      std::memcpy(&h0, blk + 4, 4);
      if (pair) std::memcpy(&h1, blk + kBytes + 4, 4);
      const __mmask64 high =
          _cvtu64_mask64(static_cast<uint64_t>(h0) | static_cast<uint64_t>(h1) << 32);
      q = _mm512_mask_add_epi8(q, high, q, _mm512_set1_epi8(16));
    }
    return {q};
  }
  static FRUGAL_INLINE size_t x_offset(const ActQ8_0Layout& l) { return l.qs_offset(); }
  static FRUGAL_INLINE __m512i dot(const Decoded& w, __m512i x, __m512i /*nsum4*/) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), w.q, x);
  }
};

template <typename Block>
struct LegacyTile {
  template <int R, int T>
  struct Tile {
    // Blocks b, b + 1 (only b when !pair); sw[r]: row r's scales [d_b x8, d_b+1 x8], already
    // multiplied by the activation's when T == 1.
    static FRUGAL_INLINE void step(const GemmArgs& a, int64_t r0, int64_t t0, int64_t b, bool pair,
                                   const __m512 (&sw)[R], const __m512 (&mw)[R],
                                   __m512 (&acc)[R][T]) {
      typename Block::Decoded w[R];
      FRUGAL_UNROLL
      for (int r = 0; r < R; ++r)
        w[r] = Block::decode(a.w + (r0 + r) * a.w_stride + b * Block::kBytes, pair);
      const ActQ8_0Layout l = act_q8_0_layout(a.n_cols);
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) {
        const uint8_t* xa = a.x + (t0 + t) * a.x_stride;
        const __m512i x = load512(xa + Block::x_offset(l) + b * 32);
        const __m512i ns = load512(xa + l.nsum4_offset() + b * 32);
        FRUGAL_UNROLL
        for (int r = 0; r < R; ++r) {
          const __m512 s = _mm512_cvtepi32_ps(Block::dot(w[r], x, ns));
          if constexpr (T == 1) {
            acc[r][t] = _mm512_fmadd_ps(s, sw[r], acc[r][t]);
            // + m d_x (sum of x): nsum4 is minus each lane's 4-value sum
            if constexpr (Block::kHasMin)
              acc[r][t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ns), mw[r], acc[r][t]);
          } else {
            const __m512 xd = _mm512_loadu_ps(xa + l.d8_offset() + b * 32);
            acc[r][t] = _mm512_fmadd_ps(s, _mm512_mul_ps(sw[r], xd), acc[r][t]);
            if constexpr (Block::kHasMin)
              acc[r][t] =
                  _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ns), _mm512_mul_ps(mw[r], xd), acc[r][t]);
          }
        }
      }
    }
    static void run(const GemmArgs& a, int64_t r0, int64_t t0) {
      __m512 acc[R][T];
      FRUGAL_UNROLL
      for (auto& row : acc) FRUGAL_UNROLL
      for (auto& v : row) v = _mm512_setzero_ps();
      const ActQ8_0Layout l = act_q8_0_layout(a.n_cols);
      const int64_t nb = a.n_cols / 32;
      int64_t b = 0;
      // Groups of 16 blocks: the scales come from one gather per row.
      for (; b + 16 <= nb; b += 16) {
        __m512 d16[R], m16[R];
        FRUGAL_UNROLL
        for (int r = 0; r < R; ++r) {
          const uint8_t* row = a.w + (r0 + r) * a.w_stride + b * Block::kBytes;
          if (b + 16 < nb) prefetch_range(row + kPrefetchAhead, 16 * Block::kBytes);
          d16[r] = gather_scales16<Block::kBytes>(row);
          if constexpr (Block::kHasMin) m16[r] = gather_scales16<Block::kBytes>(row + 2);
          if constexpr (T == 1) {
            const __m512 xd = _mm512_loadu_ps(a.x + t0 * a.x_stride + l.d_offset() + b * 4);
            d16[r] = _mm512_mul_ps(d16[r], xd);
            if constexpr (Block::kHasMin) m16[r] = _mm512_mul_ps(m16[r], xd);
          }
        }
        FRUGAL_UNROLL
        for (int p = 0; p < 8; ++p) {
          __m512 sw[R], mw[R];
          FRUGAL_UNROLL
          for (int r = 0; r < R; ++r) {
            sw[r] = pair_scales(d16[r], p);
            mw[r] = Block::kHasMin ? pair_scales(m16[r], p) : sw[r];
          }
          step(a, r0, t0, b + 2 * p, true, sw, mw, acc);
        }
      }
      for (; b < nb; b += 2) {
        const bool pair = b + 1 < nb;
        __m512 sw[R], mw[R];
        FRUGAL_UNROLL
        for (int r = 0; r < R; ++r) {
          const uint8_t* blk = a.w + (r0 + r) * a.w_stride + b * Block::kBytes;
          sw[r] = scales_pair(blk, blk + Block::kBytes, pair);
          mw[r] = Block::kHasMin ? scales_pair(blk + 2, blk + Block::kBytes + 2, pair) : sw[r];
          if constexpr (T == 1) {
            const __m512 xd = _mm512_loadu_ps(a.x + t0 * a.x_stride + l.d8_offset() + b * 32);
            sw[r] = _mm512_mul_ps(sw[r], xd);
            mw[r] = _mm512_mul_ps(mw[r], xd);
          }
        }
        if (pair)
          step(a, r0, t0, b, true, sw, mw, acc);
        else
          step(a, r0, t0, b, false, sw, mw, acc);
      }
      store_tile<R, T>(a, r0, t0, acc);
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

// ---- K-quants x Q8_K activations ----

// Lane i of the result = int16 element idx[i] of v (16 int16 in a 256-bit vector).
FRUGAL_INLINE __m512i spread16(__m256i v, __m512i idx) {
  return _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(v));
}

// Index vectors: 32 lanes, lane i -> base + i / group.
FRUGAL_INLINE __m512i lane_index(int base, int group) {
  alignas(64) int16_t idx[32];
  for (int i = 0; i < 32; ++i) idx[i] = static_cast<int16_t>(base + i / group);
  return _mm512_load_si512(idx);
}

// Q4_K (144 bytes): d @0, dmin @2, scales[12] @4, qs[128] @16.
struct Q4KTileBase {
  // scales (6-bit) as int16 lanes 0..7, mins as lanes 8..15 (gguf.md §5.8 unpacking, done on
  // 32-bit words: bytes 0-3 of the result are sc0-3, 4-7 sc4-7, 8-11 mn0-3, 12-15 mn4-7).
  static FRUGAL_INLINE __m256i scales_mins(const uint8_t* s) {
    uint32_t u[3];
    std::memcpy(u, s, 12);
    constexpr uint32_t k6 = 0x3f3f3f3f, k4 = 0x0f0f0f0f, k2 = 0x03030303;
    const uint32_t sc_lo = u[0] & k6;
    const uint32_t sc_hi = (u[2] & k4) | (((u[0] >> 6) & k2) << 4);
    const uint32_t mn_lo = u[1] & k6;
    const uint32_t mn_hi = ((u[2] >> 4) & k4) | (((u[1] >> 6) & k2) << 4);
    return _mm256_cvtepu8_epi16(_mm_set_epi32(static_cast<int>(mn_hi), static_cast<int>(mn_lo),
                                              static_cast<int>(sc_hi), static_cast<int>(sc_lo)));
  }
};

// Q4_K and Q5_K (176 bytes: d, dmin, scales as Q4_K, qh[32] @16, qs[128] @48): group j's high
// bit is bit j of qh[l], added as 16 to the nibble before the products.
template <bool kFiveBit>
struct KQuant4Or5 {
  static constexpr int kBytes = kFiveBit ? 176 : 144;
  static constexpr int kQs = kFiveBit ? 48 : 16;
};

template <int R, int T, bool kFiveBit>
struct Q4Or5KTile : Q4KTileBase {
  using K = KQuant4Or5<kFiveBit>;
  static void run(const GemmArgs& a, int64_t r0, int64_t t0) {
    __m512 acc[R][T];
    FRUGAL_UNROLL
    for (auto& row : acc) FRUGAL_UNROLL
    for (auto& v : row) v = _mm512_setzero_ps();
    const __m512i sc_idx[4] = {lane_index(0, 16), lane_index(2, 16), lane_index(4, 16),
                               lane_index(6, 16)};
    // mins per pair of bsums: lanes 2j, 2j+1 -> min j (int16 lanes 8 + j of the scales vector)
    const __m256i mn_idx = _mm512_castsi512_si256(lane_index(8, 2));
    const __m512i shifts = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
    const __m512i mask4 = _mm512_set1_epi8(0x0F);
    const int64_t nsb = a.n_cols / 256;
    for (int64_t b = 0; b < nsb; ++b) {
      __m512i isum[R][T];
      __m256i msum[R][T];
      __m512 dd[R], dm[R];
      __m256i mins[R];
      FRUGAL_UNROLL
      for (int r = 0; r < R; ++r) {
        const uint8_t* blk = a.w + (r0 + r) * a.w_stride + b * K::kBytes;
        if (b + 1 < nsb) prefetch_range(blk + kPrefetchAhead, K::kBytes);
        uint16_t h[2];
        std::memcpy(h, blk, 4);
        const __m128 f = _mm_cvtph_ps(
            _mm_set_epi16(0, 0, 0, 0, 0, 0, static_cast<short>(h[1]), static_cast<short>(h[0])));
        dd[r] = _mm512_broadcastss_ps(f);
        dm[r] = _mm512_broadcastss_ps(_mm_movehdup_ps(f));
        const __m256i sm = scales_mins(blk + 4);
        mins[r] = _mm256_permutexvar_epi16(mn_idx, sm);
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) isum[r][t] = _mm512_setzero_si512();
        FRUGAL_UNROLL
        for (int c = 0; c < 4; ++c) {
          const __m256i raw = load256(blk + K::kQs + 32 * c);
          __m512i q = _mm512_and_si512(
              _mm512_srlv_epi64(_mm512_inserti64x4(_mm512_castsi256_si512(raw), raw, 1), shifts),
              mask4);
          if constexpr (kFiveBit) {
            // bits 2c (first 32 bytes) and 2c + 1 (last 32) of qh, moved to bit 4
            const __m256i qh = load256(blk + 16);
            const __m512i qh2 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
            const __m512i hb = _mm512_and_si512(
                _mm512_srlv_epi64(qh2, _mm512_set_epi64(2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1,
                                                        2 * c, 2 * c, 2 * c, 2 * c)),
                _mm512_set1_epi8(1));
            q = _mm512_or_si512(q, _mm512_slli_epi16(hb, 4));
          }
          const __m512i sc = spread16(sm, sc_idx[c]);
          FRUGAL_UNROLL
          for (int t = 0; t < T; ++t) {
            const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
            const __m512i p = _mm512_maddubs_epi16(q, load512(x->qs + 64 * c));
            isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], p, sc);
          }
        }
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
          msum[r][t] = _mm256_madd_epi16(load256(x->bsums), mins[r]);
        }
      }
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) {
        const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
        const __m512 xd = _mm512_set1_ps(x->d);
        FRUGAL_UNROLL
        for (int r = 0; r < R; ++r) {
          acc[r][t] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), _mm512_mul_ps(dd[r], xd), acc[r][t]);
          const __m512 m = _mm512_zextps256_ps512(_mm256_cvtepi32_ps(msum[r][t]));
          acc[r][t] = _mm512_fnmadd_ps(m, _mm512_mul_ps(dm[r], xd), acc[r][t]);
        }
      }
    }
    store_tile<R, T>(a, r0, t0, acc);
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
    __m512 acc[R][T];
    FRUGAL_UNROLL
    for (auto& row : acc) FRUGAL_UNROLL
    for (auto& v : row) v = _mm512_setzero_ps();
    // scale lanes for the four 64-element groups (h, part): sub-blocks 8h + 4 part + i / 8
    const __m512i sc_idx[4] = {lane_index(0, 8), lane_index(4, 8), lane_index(8, 8),
                               lane_index(12, 8)};
    const __m512i sh_a = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    const __m512i sh_b = _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4);
    const __m512i mask4 = _mm512_set1_epi8(0x0F), mask2 = _mm512_set1_epi8(0x03);
    const int64_t nsb = a.n_cols / 256;
    for (int64_t b = 0; b < nsb; ++b) {
      FRUGAL_UNROLL
      for (int r = 0; r < R; ++r) {
        const uint8_t* blk = a.w + (r0 + r) * a.w_stride + b * 210;
        if (b + 1 < nsb) prefetch_range(blk + kPrefetchAhead, 210);
        const __m256i sc16 = _mm256_cvtepi8_epi16(load128(blk + 192));
        uint16_t dh;
        std::memcpy(&dh, blk + 208, 2);
        const __m512 dw =
            _mm512_broadcastss_ps(_mm_cvtph_ps(_mm_set1_epi16(static_cast<short>(dh))));
        __m512i isum[T];
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          // -32 * sum_k sc_k * bsum_k, folded into the integer sum up front.
          const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
          const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(load256(x->bsums), sc16), 5);
          isum[t] = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), corr));
          isum[t] = _mm512_inserti64x4(isum[t], _mm256_setzero_si256(), 1);
        }
        FRUGAL_UNROLL
        for (int h = 0; h < 2; ++h) {
          const __m512i ql = load512(blk + 64 * h);
          const __m256i qh = load256(blk + 128 + 32 * h);
          const __m512i qh2 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
          const __m512i hi_a =
              _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh2, sh_a), mask2), 4);
          const __m512i hi_b =
              _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh2, sh_b), mask2), 4);
          const __m512i qa = _mm512_or_si512(_mm512_and_si512(ql, mask4), hi_a);
          const __m512i qb =
              _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), mask4), hi_b);
          const __m512i sca = spread16(sc16, sc_idx[2 * h]);
          const __m512i scb = spread16(sc16, sc_idx[2 * h + 1]);
          FRUGAL_UNROLL
          for (int t = 0; t < T; ++t) {
            const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
            isum[t] = _mm512_dpwssd_epi32(isum[t],
                                          _mm512_maddubs_epi16(qa, load512(x->qs + 128 * h)), sca);
            isum[t] = _mm512_dpwssd_epi32(
                isum[t], _mm512_maddubs_epi16(qb, load512(x->qs + 128 * h + 64)), scb);
          }
        }
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const auto* x = reinterpret_cast<const ActQ8K*>(a.x + (t0 + t) * a.x_stride) + b;
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]),
                                      _mm512_mul_ps(dw, _mm512_set1_ps(x->d)), acc[r][t]);
        }
      }
    }
    store_tile<R, T>(a, r0, t0, acc);
  }
};

// The column walk of the float-type tiles: acc[R][T] = 0, then step(c, mask, acc) over whole
// steps of kStep columns (mask all ones) and the masked last one, then store_tile.
template <int R, int T, int kStep, typename Mask, typename Step>
FRUGAL_INLINE void walk_columns(const GemmArgs& a, int64_t r0, int64_t t0, Step step) {
  __m512 acc[R][T];
  FRUGAL_UNROLL
  for (auto& row : acc) FRUGAL_UNROLL
  for (auto& v : row) v = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + kStep <= a.n_cols; c += kStep) step(c, static_cast<Mask>(~Mask{0}), acc);
  if (c < a.n_cols) step(c, static_cast<Mask>((uint64_t{1} << (a.n_cols - c)) - 1), acc);
  store_tile<R, T>(a, r0, t0, acc);
}

// ---- float weights (F32, F16, BF16) x float activations: exact conversions, FMA ----

struct F32Load {
  static constexpr int kBytes = 4;
  static FRUGAL_INLINE __m512 load(const uint8_t* p) { return _mm512_loadu_ps(p); }
  static FRUGAL_INLINE __m512 load_masked(const uint8_t* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
};
struct F16Load {
  static constexpr int kBytes = 2;
  static FRUGAL_INLINE __m512 load(const uint8_t* p) { return _mm512_cvtph_ps(load256(p)); }
  static FRUGAL_INLINE __m512 load_masked(const uint8_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};
struct BF16Load {
  static constexpr int kBytes = 2;
  static FRUGAL_INLINE __m512 widen(__m256i v) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
  }
  static FRUGAL_INLINE __m512 load(const uint8_t* p) { return widen(load256(p)); }
  static FRUGAL_INLINE __m512 load_masked(const uint8_t* p, __mmask16 m) {
    return widen(_mm256_maskz_loadu_epi16(m, p));
  }
};

template <typename Load>
struct FloatTile {
  template <int R, int T>
  struct Tile {
    static FRUGAL_INLINE void step(const GemmArgs& a, int64_t r0, int64_t t0, int64_t c,
                                   __mmask16 m, __m512 (&acc)[R][T]) {
      const bool full = m == 0xFFFF;
      __m512 w[R];
      FRUGAL_UNROLL
      for (int r = 0; r < R; ++r) {
        const uint8_t* p = a.w + (r0 + r) * a.w_stride + c * Load::kBytes;
        w[r] = full ? Load::load(p) : Load::load_masked(p, m);
      }
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) {
        const float* xp = reinterpret_cast<const float*>(a.x + (t0 + t) * a.x_stride) + c;
        const __m512 x = full ? _mm512_loadu_ps(xp) : _mm512_maskz_loadu_ps(m, xp);
        FRUGAL_UNROLL
        for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(w[r], x, acc[r][t]);
      }
    }
    static void run(const GemmArgs& a, int64_t r0, int64_t t0) {
      walk_columns<R, T, 16, __mmask16>(a, r0, t0, [&](int64_t c, __mmask16 m, __m512(&acc)[R][T]) {
        step(a, r0, t0, c, m, acc);
      });
    }
  };
};

template <int R, int T>
using F32Tile = FloatTile<F32Load>::Tile<R, T>;
template <int R, int T>
using F16Tile = FloatTile<F16Load>::Tile<R, T>;
template <int R, int T>
using BF16Tile = FloatTile<BF16Load>::Tile<R, T>;

// ---- BF16 weights x BF16 activations (AVX512_BF16) ----

// ActBF16 (gemm.h): vcvtne2ps2bf16 rounds to nearest even, takes subnormals as zero and quiets
// NaN; the masked loads give the zero padding.
void round_act_bf16(const float* x, int64_t n, uint8_t* out) {
  const int64_t padded = (n + 31) / 32 * 32;
  for (int64_t i = 0; i < padded; i += 32) {
    const __m512 lo = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
    const __m512 hi =
        _mm512_maskz_loadu_ps(tail_mask(std::max<int64_t>(0, n - i - 16)), x + i + 16);
    _mm512_storeu_si512(out + 2 * i, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
  }
}

// R rows x T tokens, 32 columns a step: one vdpbf16ps per (row, token) adds 32 products into 16
// float lanes (the weights are read as they are stored, the activations are already bf16).
template <int R, int T>
struct BF16DotTile {
  static FRUGAL_INLINE void step(const GemmArgs& a, int64_t r0, int64_t t0, int64_t c, __mmask32 m,
                                 __m512 (&acc)[R][T]) {
    __m512bh w[R];
    FRUGAL_UNROLL
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = a.w + (r0 + r) * a.w_stride + 2 * c;
      w[r] = reinterpret_cast<__m512bh>(m == 0xFFFFFFFFu ? load512(p)
                                                         : _mm512_maskz_loadu_epi16(m, p));
    }
    FRUGAL_UNROLL
    for (int t = 0; t < T; ++t) {
      const __m512bh x = reinterpret_cast<__m512bh>(load512(a.x + (t0 + t) * a.x_stride + 2 * c));
      FRUGAL_UNROLL
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], w[r], x);
    }
  }
  // The activation row's padding is zero; the weight row is read only up to its end.
  static void run(const GemmArgs& a, int64_t r0, int64_t t0) {
    walk_columns<R, T, 32, __mmask32>(
        a, r0, t0, [&](int64_t c, __mmask32 m, __m512(&acc)[R][T]) { step(a, r0, t0, c, m, acc); });
  }
};

// Four streams (the quarters of the range), 128 bytes of each per step.
uint64_t stream_read(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  const size_t part = n / 4 / 128 * 128;
  const uint8_t *q0 = p, *q1 = p + part, *q2 = p + 2 * part, *q3 = p + 3 * part;
  for (size_t i = 0; i < part; i += 128) {
    a0 = _mm512_add_epi64(
        a0, _mm512_add_epi64(_mm512_load_si512(q0 + i), _mm512_load_si512(q0 + i + 64)));
    a1 = _mm512_add_epi64(
        a1, _mm512_add_epi64(_mm512_load_si512(q1 + i), _mm512_load_si512(q1 + i + 64)));
    a2 = _mm512_add_epi64(
        a2, _mm512_add_epi64(_mm512_load_si512(q2 + i), _mm512_load_si512(q2 + i + 64)));
    a3 = _mm512_add_epi64(
        a3, _mm512_add_epi64(_mm512_load_si512(q3 + i), _mm512_load_si512(q3 + i + 64)));
  }
  for (size_t i = 4 * part; i < n; i += 64) a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3))));
}

constexpr KernelTable kAvx512Table = {
    "avx512",
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
    avx512_gemm_q8_0_r16,
    avx512_gemm_q4_k_r16,
    avx512_gemm_q5_k_r16,
    avx512_gemm_q6_k_r16,
    avx512_gemm_q5_0_r16,
    avx512_silu_mul,
    round_act_bf16,
    gemm_tiled<4, BF16DotTile>,
};

}  // namespace

const KernelTable& avx512_kernel_table() {
  return kAvx512Table;
}

}  // namespace frugal::kern
