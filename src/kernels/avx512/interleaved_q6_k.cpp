// AVX-512 VNNI kernel for Q6_K weights in the interleaved r16 layout (kernels/interleave.h)
// against Q8_K activations; only reached through avx512_kernel_table() on CPUs that have it.
//
// A 32-bit lane is one weight row. Per chunk j (32 values, sub-blocks 2j and 2j + 1) of a group,
// each of the 4 low-bit vectors splits into its low and high nibbles (16 rows x 4 values), which
// take their 2 high bits from the qh vectors (shifted to bits 4-5, merged by one ternary-logic
// op), and each 6-bit vector is multiplied by 4 activation bytes broadcast to every lane
// (vpdpbusd). Each sub-block's sum starts at -32 times the activation's 16-value sum (one
// vpdpwssd), so it ends as the exact integer sum of (q - 32) x; its int8 scale then weights it
// in float. Per super-block: acc = fma(sb, d d_x, acc). The scalar twin
// (ref/quant_gemm.cpp gemm_q6_k_r16) does the same per-lane operations in the same order.
#include "kernels/avx512/r16_walk.h"
#include "kernels/interleave.h"

namespace frugal::kern {
namespace {

using r16::bcast32;
using r16::kAheadBytes;
using r16::or_and;

// G groups (16 G rows) x T tokens over all super-blocks.
template <int G, int T>
FRUGAL_INLINE void q6_k_r16_tile(const GemmArgs& a, int64_t g0, int64_t t0) {
  const int64_t nsb = a.n_cols / 256;
  const uint8_t* gp[G];
  r16::group_starts(a, g0, gp);
  const ActQ8K* xt[T];
  r16::token_rows(a, t0, xt);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  // int16 pairs (-32, 0) and (0, -32): against (bsums_2j, bsums_2j+1), -32 times one of them.
  const __m512i neg32_lo = _mm512_set1_epi32(0x0000FFE0),
                neg32_hi = _mm512_set1_epi32(static_cast<int>(0xFFE00000u));
  __m512 acc[G][T];
  r16::zero(acc);

  for (int64_t b = 0; b < nsb; ++b) {
    const size_t sb_off = static_cast<size_t>(b) * kQ6KR16SuperBytes;
    // Prefetches ahead of the stream: the scales and d here, each chunk's lines with it.
    FRUGAL_UNROLL
    for (int k = 0; k < G; ++k)
      prefetch_range(gp[k] + sb_off + kAheadBytes + kQ6KR16Sc,
                     static_cast<int>(kQ6KR16SuperBytes - kQ6KR16Sc));
    __m512 sbacc[G][T];
    r16::zero(sbacc);

    for (int j = 0; j < 8; ++j) {
      FRUGAL_UNROLL
      for (int k = 0; k < G; ++k) {
        const uint8_t* ql = gp[k] + sb_off + j * 256;
        const uint8_t* qh = gp[k] + sb_off + kQ6KR16Qh + j * 128;
        prefetch_range(ql + kAheadBytes, 256);
        prefetch_range(qh + kAheadBytes, 128);
        __m512i s_lo[T], s_hi[T];
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const __m512i bs = bcast32(xt[t][b].bsums + 2 * j);
          s_lo[t] = _mm512_dpwssd_epi32(_mm512_setzero_si512(), neg32_lo, bs);
          s_hi[t] = _mm512_dpwssd_epi32(_mm512_setzero_si512(), neg32_hi, bs);
        }
        const __m512i h[2] = {_mm512_load_si512(qh), _mm512_load_si512(qh + 64)};
        FRUGAL_UNROLL
        for (int c = 0; c < 4; ++c) {
          const __m512i v = _mm512_load_si512(ql + c * 64);
          const __m512i hv = h[c / 2];
          // planes p = 2 (c % 2) and p + 1 of hv moved to bits 4-5
          const __m512i sh_lo = c % 2 ? hv : _mm512_slli_epi16(hv, 4);
          const __m512i sh_hi = c % 2 ? _mm512_srli_epi16(hv, 2) : _mm512_slli_epi16(hv, 2);
          const __m512i lo = or_and(_mm512_and_si512(v, m4), sh_lo, m30);
          const __m512i hi = or_and(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), sh_hi, m30);
          FRUGAL_UNROLL
          for (int t = 0; t < T; ++t) {
            s_lo[t] = _mm512_dpbusd_epi32(s_lo[t], lo, bcast32(xt[t][b].qs + 32 * j + 4 * c));
            s_hi[t] = _mm512_dpbusd_epi32(s_hi[t], hi, bcast32(xt[t][b].qs + 32 * j + 16 + 4 * c));
          }
        }
        const uint8_t* sc = gp[k] + sb_off + kQ6KR16Sc + 32 * j;
        const __m512 sc_lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load128(sc)));
        const __m512 sc_hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load128(sc + 16)));
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          sbacc[k][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s_lo[t]), sc_lo, sbacc[k][t]);
          sbacc[k][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s_hi[t]), sc_hi, sbacc[k][t]);
        }
      }
    }

    FRUGAL_UNROLL
    for (int k = 0; k < G; ++k) {
      const __m512 d = _mm512_cvtph_ps(load256(gp[k] + sb_off + kQ6KR16D));
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t)
        acc[k][t] =
            _mm512_fmadd_ps(sbacc[k][t], _mm512_mul_ps(d, _mm512_set1_ps(xt[t][b].d)), acc[k][t]);
    }
  }
  r16::store_groups<G, T>(a, g0, t0, acc);
}

struct Q6KR16 : r16::GroupTiled<Q6KR16, 8> {
  template <int G, int T>
  static void tile(const GemmArgs& a, int64_t g0, int64_t t0) {
    q6_k_r16_tile<G, T>(a, g0, t0);
  }
};

}  // namespace

void avx512_gemm_q6_k_r16(const GemmArgs& a) {
  r16::gemm<Q6KR16>(a);
}

}  // namespace frugal::kern
