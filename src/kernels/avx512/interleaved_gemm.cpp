// AVX-512 kernel for Q8_0 weights in the interleaved x4 layout (kernels/interleave.h); only
// reached through avx512_kernel_table() on CPUs that have AVX-512 VNNI.
#include <algorithm>

#include "kernels/avx512/simd.h"
#include "kernels/gemm_tiles.h"
#include "kernels/interleave.h"

namespace frugal::kern {
namespace {

// ---- Q8_0 x4 interleaved weights (kernels/interleave.h) x Q8_0 activations ----

// One group of 4 rows x T tokens. Per pair of blocks: 8 f16 scales, then each row's 64 biased
// quants u = w + 128 as one aligned load; vpdpbusd(u, x) + 128 * (-sum4 x) = sum4 w x. Same
// integer sums and float order as the plain Q8_0 tile, so the results are bit-identical.
template <int T>
FRUGAL_INLINE void q8_0_x4_tile(const GemmArgs& a, int64_t g, int64_t t0) {
  const size_t qoff = q8_0_x4_quants_offset(a.n_cols);
  const uint8_t* group = a.w + static_cast<size_t>(g) * 4 * a.w_stride;
  const uint8_t* quants = group + qoff;
  const ActQ8_0Layout l = act_q8_0_layout(a.n_cols);
  const int64_t np = (a.n_cols / 32 + 1) / 2;
  const __m512i idx[4] = {
      _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
      _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),
      _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5),
      _mm512_setr_epi32(6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7)};
  __m512 acc[4][T];
  FRUGAL_UNROLL
  for (auto& row : acc) FRUGAL_UNROLL
  for (auto& v : row) v = _mm512_setzero_ps();
  for (int64_t p = 0; p < np; ++p) {
    const uint8_t* qp = quants + p * 256;
    if (p + 8 < np) prefetch_range(qp + 8 * 256, 256);  // 2 KiB ahead (4 KiB: faster on one 1 GiB matrix, slower in the model)
    const __m512 d8 = _mm512_cvtph_ps(_mm256_castsi128_si256(load128(group + p * 16)));
    __m512i w[4];
    __m512 sw[4];
    FRUGAL_UNROLL
    for (int r = 0; r < 4; ++r) {
      w[r] = _mm512_load_si512(qp + r * 64);
      sw[r] = _mm512_permutexvar_ps(idx[r], d8);
    }
    FRUGAL_UNROLL
    for (int t = 0; t < T; ++t) {
      const uint8_t* xa = a.x + (t0 + t) * a.x_stride;
      const __m512i x = load512(xa + l.qs_offset() + p * 64);
      const __m512i bias = _mm512_slli_epi32(load512(xa + l.nsum4_offset() + p * 64), 7);
      const __m512 xd = _mm512_loadu_ps(xa + l.d8_offset() + p * 64);
      FRUGAL_UNROLL
      for (int r = 0; r < 4; ++r) {
        const __m512 s = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(bias, w[r], x));
        acc[r][t] = _mm512_fmadd_ps(s, _mm512_mul_ps(sw[r], xd), acc[r][t]);
      }
    }
  }
  store_tile<4, T>(a, g * 4, t0, acc);
}

}  // namespace

void avx512_gemm_q8_0_x4(const GemmArgs& a) {
  for (int64_t t0 = 0; t0 < a.n_tok; t0 += kMaxTileTokens) {
    const int64_t nt = std::min<int64_t>(kMaxTileTokens, a.n_tok - t0);
    for (int64_t g = 0; g < a.n_rows / 4; ++g) {
      switch (nt) {
        case 1: q8_0_x4_tile<1>(a, g, t0); break;
        case 2: q8_0_x4_tile<2>(a, g, t0); break;
        case 3: q8_0_x4_tile<3>(a, g, t0); break;
        default: q8_0_x4_tile<4>(a, g, t0); break;
      }
    }
  }
}

}  // namespace frugal::kern
