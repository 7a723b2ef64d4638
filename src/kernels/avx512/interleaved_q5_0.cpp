// AVX-512 VNNI kernel for Q5_0 weights in the interleaved r16 layout (kernels/interleave.h)
// against Q8_0 activations; only reached through avx512_kernel_table() on CPUs that have it.
//
// A 32-bit lane is one weight row. Per block (32 values), each of the 4 quad vectors splits
// into its low and high nibbles (16 rows x 4 values); nibble vector n takes its fifth bits from
// bit n of each qh byte (shifted to bit 4, merged by one ternary-logic op), and each 5-bit
// vector is multiplied by 4 activation bytes broadcast to every lane (vpdpbusd). The sum starts
// at -16 times the block's activation sum (the activation's nsum / 8), so it ends as the exact
// integer sum of (q - 16) x; then acc = fma(s, d_w d_x, acc). The scalar twin
// (ref/quant_gemm.cpp gemm_q5_0_r16) does the same per-lane operations in the same order.
#include "kernels/avx512/r16_walk.h"
#include "kernels/interleave.h"

namespace frugal::kern {
namespace {

using r16::bcast32;
using r16::kAheadBytes;

// G groups (16 G rows) x T tokens over all blocks.
template <int G, int T>
FRUGAL_INLINE void q5_0_r16_tile(const GemmArgs& a, int64_t g0, int64_t t0) {
  const int64_t nb = a.n_cols / 32;
  const size_t qoff = q8_0_r16_quants_offset(a.n_cols);
  const ActQ8_0Layout l = act_q8_0_layout(a.n_cols);
  const uint8_t* gp[G];
  r16::group_starts(a, g0, gp);
  const uint8_t* xt[T];
  r16::token_rows(a, t0, xt);
  __m512 acc[G][T];
  r16::zero(acc);

  for (int64_t b = 0; b < nb; ++b) {
    __m512i s0[T];
    FRUGAL_UNROLL
    for (int t = 0; t < T; ++t)
      s0[t] = _mm512_srai_epi32(bcast32(xt[t] + l.nsum_offset() + 4 * b), 3);
    FRUGAL_UNROLL
    for (int k = 0; k < G; ++k) {
      const uint8_t* q = gp[k] + qoff + static_cast<size_t>(b) * kQ5_0R16BlockBytes;
      prefetch_range(q + kAheadBytes, static_cast<int>(kQ5_0R16BlockBytes));
      const __m512i h = _mm512_load_si512(q + kQ5_0R16Qh);
      __m512i s[T];
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) s[t] = s0[t];
      auto step = [&](auto c_const) {
        constexpr int c = decltype(c_const)::value;
        const __m512i v = _mm512_load_si512(q + c * 64);
        __m512i lo, hi;
        r16::five_bit_pair<c>(v, h, lo, hi);
        FRUGAL_UNROLL
        for (int t = 0; t < T; ++t) {
          const uint8_t* xq = xt[t] + l.qs_offset() + b * 32;
          s[t] = _mm512_dpbusd_epi32(s[t], lo, bcast32(xq + 4 * c));
          s[t] = _mm512_dpbusd_epi32(s[t], hi, bcast32(xq + 16 + 4 * c));
        }
      };
      step(std::integral_constant<int, 0>{});
      step(std::integral_constant<int, 1>{});
      step(std::integral_constant<int, 2>{});
      step(std::integral_constant<int, 3>{});
      // One line holds the scales of two blocks: fetched 64 blocks ahead, every other block.
      if ((b & 1) == 0) prefetch_range(gp[k] + (b + 64) * 32, 64);
      const __m512 dw = _mm512_cvtph_ps(load256(gp[k] + b * 32));
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) {
        const __m512 dx = _mm512_set1_ps(reinterpret_cast<const float*>(xt[t] + l.d_offset())[b]);
        acc[k][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dw, dx), acc[k][t]);
      }
    }
  }
  r16::store_groups<G, T>(a, g0, t0, acc);
}

struct Q5_0R16 : r16::GroupTiled<Q5_0R16, 8> {
  template <int G, int T>
  static void tile(const GemmArgs& a, int64_t g0, int64_t t0) {
    q5_0_r16_tile<G, T>(a, g0, t0);
  }
};

}  // namespace

void avx512_gemm_q5_0_r16(const GemmArgs& a) {
  r16::gemm<Q5_0R16>(a);
}

}  // namespace frugal::kern
