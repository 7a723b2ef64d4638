// AVX-512 VNNI kernels for Q4_K and Q5_K weights in the interleaved r16 layouts
// (kernels/interleave.h) against Q8_K activations; only reached through avx512_kernel_table() on
// CPUs that have it.
//
// A 32-bit lane is one weight row. Per sub-block j (32 values) of a group, the 4 quad vectors
// are split into their low and high nibbles (16 rows x 4 values each) and each is multiplied
// by 4 activation bytes broadcast to every lane (vpdpbusd), leaving the sub-block's exact
// integer sum per row. The 6-bit scale then weights it in float (sb = fma(isum, sc, sb)); the
// mins meet the activation's 32-value sums in one vpdpwssd per pair of sub-blocks. Per
// super-block: acc = fma(sb, d d_x, acc) - msum dmin d_x. The scalar twin
// (ref/quant_gemm.cpp gemm_q4_k_r16) does the same per-lane operations in the same order.
#include "kernels/avx512/r16_walk.h"
#include "kernels/interleave.h"

namespace frugal::kern {
namespace {

using r16::bcast32;
using r16::kAheadBytes;

// G groups (16 G rows) x T tokens over all super-blocks; Q5_K r16 when kFive.
template <int G, int T, bool kFive>
FRUGAL_INLINE void q4_or_5_k_r16_tile(const GemmArgs& a, int64_t g0, int64_t t0) {
  constexpr size_t kSuper = kFive ? kQ5KR16SuperBytes : kQ4KR16SuperBytes;
  const int64_t nsb = a.n_cols / 256;
  const uint8_t* gp[G];
  r16::group_starts(a, g0, gp);
  const ActQ8K* xt[T];
  r16::token_rows(a, t0, xt);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[G][T];
  r16::zero(acc);

  for (int64_t b = 0; b < nsb; ++b) {
    const size_t sb_off = static_cast<size_t>(b) * kSuper;
    // Prefetches ahead of the stream: the header lines here, each sub-block's with it.
    FRUGAL_UNROLL
    for (int k = 0; k < G; ++k)
      prefetch_range(gp[k] + sb_off + kAheadBytes, static_cast<int>(kQ4KR16Qs));
    __m512 sbacc[G][T];
    r16::zero(sbacc);

    for (int j = 0; j < 8; ++j) {
      FRUGAL_UNROLL
      for (int k = 0; k < G; ++k) {
        const uint8_t* q = gp[k] + sb_off + kQ4KR16Qs + j * 256;
        prefetch_range(q + kAheadBytes, 256);
        __m512i s_lo[T], s_hi[T];
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) s_lo[t] = s_hi[t] = _mm512_setzero_si512();
        if constexpr (kFive) {
          // Nibble vector n takes its fifth bits from bit n of each byte of the sub-block's qh.
          const uint8_t* qh = gp[k] + sb_off + kQ5KR16Qh + j * 64;
          prefetch_range(qh + kAheadBytes, 64);
          const __m512i h = _mm512_load_si512(qh);
          auto step = [&](auto c_const) {
            constexpr int c = decltype(c_const)::value;
            const __m512i v = _mm512_load_si512(q + c * 64);
            __m512i lo, hi;
            r16::five_bit_pair<c>(v, h, lo, hi);
            FRUGAL_UNROLL
            for (int t = 0; t < T; ++t) {
              s_lo[t] = _mm512_dpbusd_epi32(s_lo[t], lo, bcast32(xt[t][b].qs + 32 * j + 4 * c));
              s_hi[t] =
                  _mm512_dpbusd_epi32(s_hi[t], hi, bcast32(xt[t][b].qs + 32 * j + 16 + 4 * c));
            }
          };
          step(std::integral_constant<int, 0>{});
          step(std::integral_constant<int, 1>{});
          step(std::integral_constant<int, 2>{});
          step(std::integral_constant<int, 3>{});
        } else {
          // The high nibbles stay in place (16 q): their sum is 16 times theirs, exact, and two
          // independent sums halve the chain of dependent products.
          FRUGAL_UNROLL
          for (int c = 0; c < 4; ++c) {
            const __m512i v = _mm512_load_si512(q + c * 64);
            const __m512i lo = _mm512_and_si512(v, m4);
            const __m512i hi16 = _mm512_andnot_si512(m4, v);
            FRUGAL_UNROLL
            for (int t = 0; t < T; ++t) {
              s_lo[t] = _mm512_dpbusd_epi32(s_lo[t], lo, bcast32(xt[t][b].qs + 32 * j + 4 * c));
              s_hi[t] =
                  _mm512_dpbusd_epi32(s_hi[t], hi16, bcast32(xt[t][b].qs + 32 * j + 16 + 4 * c));
            }
          }
          FRUGAL_UNROLL
          for (int t = 0; t < T; ++t) s_hi[t] = _mm512_srai_epi32(s_hi[t], 4);
        }
        const __m512 sc =
            _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(load128(gp[k] + sb_off + kQ4KR16Sc + 16 * j)));
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const __m512i s = _mm512_add_epi32(s_lo[t], s_hi[t]);
          sbacc[k][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, sbacc[k][t]);
        }
      }
    }

    FRUGAL_UNROLL
    for (int k = 0; k < G; ++k) {
      const uint8_t* sb = gp[k] + sb_off;
      __m512i msum[T];
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) msum[t] = _mm512_setzero_si512();
      FRUGAL_UNROLL
      for (int p = 0; p < 4; ++p) {
        // lane r: (mn_2p, mn_2p+1) of row r as int16, against (bsums32_2p, bsums32_2p+1)
        const __m512i mn = _mm512_cvtepu8_epi16(load256(sb + kQ4KR16Mn + 32 * p));
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t)
          msum[t] = _mm512_dpwssd_epi32(msum[t], mn, bcast32(xt[t][b].bsums32 + 2 * p));
      }
      const __m512 d = _mm512_cvtph_ps(load256(sb));
      const __m512 dmin = _mm512_cvtph_ps(load256(sb + kQ4KR16Dmin));
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) {
        const __m512 xd = _mm512_set1_ps(xt[t][b].d);
        acc[k][t] = _mm512_fmadd_ps(sbacc[k][t], _mm512_mul_ps(d, xd), acc[k][t]);
        acc[k][t] =
            _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[t]), _mm512_mul_ps(dmin, xd), acc[k][t]);
      }
    }
  }
  r16::store_groups<G, T>(a, g0, t0, acc);
}

template <bool kFive>
struct Q4Or5KR16 : r16::GroupTiled<Q4Or5KR16<kFive>, 8> {
  template <int G, int T>
  static void tile(const GemmArgs& a, int64_t g0, int64_t t0) {
    q4_or_5_k_r16_tile<G, T, kFive>(a, g0, t0);
  }
};

}  // namespace

void avx512_gemm_q4_k_r16(const GemmArgs& a) {
  r16::gemm<Q4Or5KR16<false>>(a);
}

void avx512_gemm_q5_k_r16(const GemmArgs& a) {
  r16::gemm<Q4Or5KR16<true>>(a);
}

}  // namespace frugal::kern
