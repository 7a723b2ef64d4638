// Helpers shared by the AVX-512 kernel units (included only by files compiled with the AVX-512
// flags, under src/kernels/avx512/).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/gemm.h"

namespace frugal::kern {

#define FRUGAL_INLINE inline __attribute__((always_inline))
// Tile loops have compile-time trip counts; unrolled, their arrays live in registers.
#define FRUGAL_UNROLL _Pragma("GCC unroll 16")

FRUGAL_INLINE __m512i load512(const void* p) {
  return _mm512_loadu_si512(p);
}
FRUGAL_INLINE __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
FRUGAL_INLINE __m128i load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}

// Software prefetch of [p, p + bytes): the hardware prefetcher alone does not run far enough
// ahead of several interleaved row streams, and decode then waits on memory between blocks.
FRUGAL_INLINE void prefetch_range(const uint8_t* p, int bytes) {
  FRUGAL_UNROLL
  for (int i = 0; i < bytes; i += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p + i), _MM_HINT_T0);
}
constexpr int kPrefetchAhead = 1024;  // bytes ahead of the block being read, per row

// y[t0 + t, r0 + r] = the sum of acc[r][t]'s lanes.
template <int R, int T>
FRUGAL_INLINE void store_tile(const GemmArgs& a, int64_t r0, int64_t t0, __m512 (&acc)[R][T]) {
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) FRUGAL_UNROLL
  for (int r = 0; r < R; ++r) a.y[(t0 + t) * a.y_stride + r0 + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// Q8_0 r16 interleaved weights (kernels/interleave.h) x Q8_0 activations (interleaved_gemm.cpp).
void avx512_gemm_q8_0_r16(const GemmArgs& a);
// Q4_K r16 interleaved weights x Q8_K activations (interleaved_q4_k.cpp).
void avx512_gemm_q4_k_r16(const GemmArgs& a);
// Q5_K r16 interleaved weights x Q8_K activations (interleaved_q4_k.cpp).
void avx512_gemm_q5_k_r16(const GemmArgs& a);
// Q6_K r16 interleaved weights x Q8_K activations (interleaved_q6_k.cpp).
void avx512_gemm_q6_k_r16(const GemmArgs& a);
// Q5_0 r16 interleaved weights x Q8_0 activations (interleaved_q5_0.cpp).
void avx512_gemm_q5_0_r16(const GemmArgs& a);

// ---- attention (attention.cpp, gqa_attention.cpp) ----

// Cache rows per online-softmax block of both attention kernels.
constexpr int64_t kAttentionBlock = 64;

// [rows, kAttentionBlock] floats of block scores; grows once per thread.
inline float* attention_block_scratch(int64_t rows) {
  thread_local std::vector<float> buf;
  const size_t need = static_cast<size_t>(rows * kAttentionBlock);
  if (buf.size() < need) buf.resize(need);
  return buf.data();
}

// e^x for x <= 0 (exact to the same bound up to x = 88): x = n ln2 + r (|r| <= ln2 / 2), e^r by its degree-7 Taylor polynomial
// (relative error < 2e-8 on that range), times 2^n. Inputs below -87 give ~0.
FRUGAL_INLINE __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// e^x for any x: the same reduction and polynomial as exp_nonpositive, inputs clamped to
// [-87, 88] (e^88 is still a finite float).
FRUGAL_INLINE __m512 exp_clamped(__m512 x) {
  return exp_nonpositive(_mm512_min_ps(x, _mm512_set1_ps(88.0f)));
}

// acc + vpdpbusd(a as u8, the 4 bytes at p as s8 broadcast to every lane), one instruction with
// an embedded-broadcast memory operand. Inline asm: GCC 12 copies (and spills) loop-carried
// _mm512_dpbusd_epi32 accumulators on every iteration.
FRUGAL_INLINE __m512i dpbusd_bcast(__m512i acc, __m512i a, const uint8_t* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0"
          : "+v"(acc)
          : "v"(a), "m"(*reinterpret_cast<const int32_t*>(p)));
  return acc;
}

// The first min(left, 16) lanes.
FRUGAL_INLINE __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

// Lane k of the result = the sum of the 16 lanes of v[k] (a 16 x 16 transpose-and-add: 45
// shuffles and adds instead of 16 separate reductions).
FRUGAL_INLINE __m512 sum16(const __m512 (&v)[16]) {
  __m512 pair[8];  // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] of v[2i], v[2i+1]
  FRUGAL_UNROLL
  for (int i = 0; i < 8; ++i)
    pair[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                            _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  __m512 quad[4];  // per 128-bit lane: the lane's sums of v[4i .. 4i+3]
  FRUGAL_UNROLL
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(pair[2 * i]), b = _mm512_castps_pd(pair[2 * i + 1]);
    quad[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                            _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  // Add the four 128-bit lanes of each quad and gather quad i's 4 sums into lanes 4i..4i+3.
  const __m512 w01 = _mm512_add_ps(_mm512_shuffle_f32x4(quad[0], quad[1], 0x44),
                                   _mm512_shuffle_f32x4(quad[0], quad[1], 0xEE));
  const __m512 w23 = _mm512_add_ps(_mm512_shuffle_f32x4(quad[2], quad[3], 0x44),
                                   _mm512_shuffle_f32x4(quad[2], quad[3], 0xEE));
  return _mm512_add_ps(_mm512_shuffle_f32x4(w01, w23, 0x88), _mm512_shuffle_f32x4(w01, w23, 0xDD));
}

// An empty online-softmax partial of n_heads heads: m = -inf, l = 0, ctx [n_heads, width] = 0.
inline void begin_partial(int64_t n_heads, int64_t width, float* m, float* l, float* ctx) {
  std::fill(m, m + n_heads, -INFINITY);
  std::fill(l, l + n_heads, 0.0f);
  std::fill(ctx, ctx + n_heads * width, 0.0f);
}

// One head's online-softmax step over a block's nb scores s (replaced by p = exp(s - m')):
// m' = max(m, max s), l' = l e^(m - m') + Σ p, ctx [width] *= e^(m - m') (width a multiple of 16).
inline void softmax_update(float* s, int64_t nb, float& m, float& l, float* ctx, int64_t width) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < nb; i += 16)
    vmax = _mm512_mask_max_ps(vmax, tail_mask(nb - i), vmax, _mm512_loadu_ps(s + i));
  const float m_new = std::max(m, _mm512_reduce_max_ps(vmax));
  const float corr = std::exp(m - m_new);  // 0 when m is still -inf
  __m512 vsum = _mm512_setzero_ps();
  const __m512 vm = _mm512_set1_ps(m_new);
  for (int64_t i = 0; i < nb; i += 16) {
    const __mmask16 k = tail_mask(nb - i);
    const __m512 p = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + i), vm));
    _mm512_mask_storeu_ps(s + i, k, p);
    vsum = _mm512_mask_add_ps(vsum, k, vsum, p);
  }
  l = l * corr + _mm512_reduce_add_ps(vsum);
  if (corr != 1.0f) {
    const __m512 vc = _mm512_set1_ps(corr);
    for (int64_t i = 0; i < width; i += 16)
      _mm512_storeu_ps(ctx + i, _mm512_mul_ps(_mm512_loadu_ps(ctx + i), vc));
  }
  m = m_new;
}



// s[(h0 + h) * block + j0 + i] = scale * (the lanes' sum of acc[h * NJ + i]) for a score tile of
// NH heads x NJ rows (sum16's transpose-and-add when the tile has 16 accumulators).
template <int NH, int NJ>
FRUGAL_INLINE void store_scores(const __m512 (&acc)[NH * NJ], float scale, int64_t block,
                                int64_t h0, int64_t j0, float* s) {
  if constexpr (NH * NJ == 16) {
    alignas(64) float sums[16];
    _mm512_store_ps(sums, _mm512_mul_ps(sum16(acc), _mm512_set1_ps(scale)));
    FRUGAL_UNROLL
    for (int h = 0; h < NH; ++h) FRUGAL_UNROLL
    for (int i = 0; i < NJ; ++i) s[(h0 + h) * block + j0 + i] = sums[h * NJ + i];
  } else {
    FRUGAL_UNROLL
    for (int h = 0; h < NH; ++h) FRUGAL_UNROLL
    for (int i = 0; i < NJ; ++i)
      s[(h0 + h) * block + j0 + i] = scale * _mm512_reduce_add_ps(acc[h * NJ + i]);
  }
}


// ctx[(h0 + h) * width + c0 + 16 k ...] += Σ_{j < nb} p[(h0 + h) * block + j] x_j[k] for h < NH,
// k < NC, where load_row(j, x) puts row j's 16 NC values from c0 in x: each row slice loaded
// once for NH heads, each p broadcast once for NC slices.
template <int NH, int NC, typename LoadRow>
FRUGAL_INLINE void accumulate_values(LoadRow load_row, int64_t nb, const float* p, int64_t block,
                                     int64_t h0, int64_t c0, int64_t width, float* ctx) {
  __m512 acc[NH][NC];
  FRUGAL_UNROLL
  for (int h = 0; h < NH; ++h) FRUGAL_UNROLL
  for (int k = 0; k < NC; ++k) acc[h][k] = _mm512_loadu_ps(ctx + (h0 + h) * width + c0 + 16 * k);
  for (int64_t j = 0; j < nb; ++j) {
    __m512 x[NC];
    load_row(j, x);
    FRUGAL_UNROLL
    for (int h = 0; h < NH; ++h) {
      const __m512 pv = _mm512_set1_ps(p[(h0 + h) * block + j]);
      FRUGAL_UNROLL
      for (int k = 0; k < NC; ++k) acc[h][k] = _mm512_fmadd_ps(pv, x[k], acc[h][k]);
    }
  }
  FRUGAL_UNROLL
  for (int h = 0; h < NH; ++h) FRUGAL_UNROLL
  for (int k = 0; k < NC; ++k) _mm512_storeu_ps(ctx + (h0 + h) * width + c0 + 16 * k, acc[h][k]);
}

}  // namespace frugal::kern
