// AVX-512 kernel for Q8_0 weights in the interleaved r16 layout (kernels/interleave.h); only
// reached through avx512_kernel_table() on CPUs that have AVX-512 VNNI.
#include "kernels/avx512/r16_walk.h"
#include "kernels/interleave.h"

namespace frugal::kern {
namespace {

using r16::kAheadBytes;

// One group of 16 rows x T tokens. Per block: the 8 weight chunks are loaded once; for each
// token, an int32 lane per row starts at the token's nsum (-128 * block sum, which undoes the
// weights' +128 bias) and takes 8 VNNI products with the token's quants broadcast 4 at a time,
// leaving the block's exact integer dot product; then acc += float(dot) * (d_w * d_x). The
// scalar twin (ref/quant_gemm.cpp gemm_q8_0_r16) does the same operations in the same order.
template <int T>
FRUGAL_INLINE void q8_0_r16_tile(const GemmArgs& a, int64_t g, int64_t t0) {
  const int64_t nb = a.n_cols / 32;
  const uint8_t* group = a.w + static_cast<size_t>(g) * 16 * a.w_stride;
  const uint8_t* quants = group + q8_0_r16_quants_offset(a.n_cols);
  const ActQ8_0Layout l = act_q8_0_layout(a.n_cols);
  const uint8_t* xt[T];
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) xt[t] = a.x + (t0 + t) * a.x_stride;
  __m512 acc[T];
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q = quants + b * 512;
    prefetch_range(q + kAheadBytes, 512);
    __m512i w[8];
    FRUGAL_UNROLL
    for (int c = 0; c < 8; ++c) w[c] = _mm512_load_si512(q + c * 64);
    const __m512 dw = _mm512_cvtph_ps(load256(group + b * 32));
    __m512i s[T];
    FRUGAL_UNROLL
    for (int t = 0; t < T; ++t)
      s[t] = _mm512_set1_epi32(reinterpret_cast<const int32_t*>(xt[t] + l.nsum_offset())[b]);
    FRUGAL_UNROLL
    for (int c = 0; c < 8; ++c) FRUGAL_UNROLL
    for (int t = 0; t < T; ++t) {
      const int32_t x4 = *reinterpret_cast<const int32_t*>(xt[t] + l.qs_offset() + b * 32 + c * 4);
      s[t] = _mm512_dpbusd_epi32(s[t], w[c], _mm512_set1_epi32(x4));
    }
    FRUGAL_UNROLL
    for (int t = 0; t < T; ++t) {
      const float dx = reinterpret_cast<const float*>(xt[t] + l.d_offset())[b];
      acc[t] =
          _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc[t]);
    }
  }
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(a.y + (t0 + t) * a.y_stride + g * 16, acc[t]);
}

// Two groups (32 rows) x T tokens: the same per-lane operations, in the same order, as
// q8_0_r16_tile<T> on each group, but each token's broadcast quants serve both groups, so a
// VNNI product needs ~0.8 loads instead of ~1.4 (two loads a cycle bound the one-group tile
// on cores that issue two VNNI products a cycle). T <= 6 keeps 2T accumulators, 2T integer sums
// and the two weight chunks of a step in registers.
template <int T>
FRUGAL_INLINE void q8_0_r16_tile2(const GemmArgs& a, int64_t g, int64_t t0) {
  const int64_t nb = a.n_cols / 32;
  const size_t group_bytes = 16 * a.w_stride, qoff = q8_0_r16_quants_offset(a.n_cols);
  const uint8_t* g0 = a.w + static_cast<size_t>(g) * group_bytes;
  const uint8_t* g1 = g0 + group_bytes;
  const ActQ8_0Layout l = act_q8_0_layout(a.n_cols);
  const uint8_t* xt[T];
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) xt[t] = a.x + (t0 + t) * a.x_stride;
  __m512 acc0[T], acc1[T];
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q0 = g0 + qoff + b * 512;
    const uint8_t* q1 = g1 + qoff + b * 512;
    __m512i s0[T], s1[T];
    FRUGAL_UNROLL
    for (int t = 0; t < T; ++t)
      s0[t] = s1[t] =
          _mm512_set1_epi32(reinterpret_cast<const int32_t*>(xt[t] + l.nsum_offset())[b]);
    FRUGAL_UNROLL
    for (int c = 0; c < 8; ++c) {
      const __m512i w0 = _mm512_load_si512(q0 + c * 64), w1 = _mm512_load_si512(q1 + c * 64);
      FRUGAL_UNROLL
      for (int t = 0; t < T; ++t) {
        const __m512i x4 = _mm512_set1_epi32(
            *reinterpret_cast<const int32_t*>(xt[t] + l.qs_offset() + b * 32 + c * 4));
        s0[t] = _mm512_dpbusd_epi32(s0[t], w0, x4);
        s1[t] = _mm512_dpbusd_epi32(s1[t], w1, x4);
      }
    }
    const __m512 dw0 = _mm512_cvtph_ps(load256(g0 + b * 32));
    const __m512 dw1 = _mm512_cvtph_ps(load256(g1 + b * 32));
    FRUGAL_UNROLL
    for (int t = 0; t < T; ++t) {
      const __m512 dx = _mm512_set1_ps(reinterpret_cast<const float*>(xt[t] + l.d_offset())[b]);
      acc0[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0[t]), _mm512_mul_ps(dw0, dx), acc0[t]);
      acc1[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[t]), _mm512_mul_ps(dw1, dx), acc1[t]);
    }
  }
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) {
    _mm512_storeu_ps(a.y + (t0 + t) * a.y_stride + g * 16, acc0[t]);
    _mm512_storeu_ps(a.y + (t0 + t) * a.y_stride + g * 16 + 16, acc1[t]);
  }
}

// One token (decode) over G consecutive groups at once: G streams through memory in turn, a
// block of each per step, keep more requests in flight than one (as `frugal bench --memory`'s
// probe does). Each lane computes what q8_0_r16_tile<1> computes, in the same order.
template <int G>
FRUGAL_INLINE void q8_0_r16_matvec(const GemmArgs& a, int64_t g0, int64_t t) {
  const int64_t nb = a.n_cols / 32;
  const size_t qoff = q8_0_r16_quants_offset(a.n_cols), group_bytes = 16 * a.w_stride;
  const uint8_t* group = a.w + static_cast<size_t>(g0) * group_bytes;
  const ActQ8_0Layout l = act_q8_0_layout(a.n_cols);
  const uint8_t* xt = a.x + t * a.x_stride;
  const auto* nsum = reinterpret_cast<const int32_t*>(xt + l.nsum_offset());
  const auto* xd = reinterpret_cast<const float*>(xt + l.d_offset());
  const uint8_t* xq = xt + l.qs_offset();
  __m512 acc[G];
  FRUGAL_UNROLL
  for (int k = 0; k < G; ++k) acc[k] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i x[8];
    FRUGAL_UNROLL
    for (int c = 0; c < 8; ++c)
      x[c] = _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(xq + b * 32 + c * 4));
    const __m512i bias = _mm512_set1_epi32(nsum[b]);
    const __m512 vdx = _mm512_set1_ps(xd[b]);
    FRUGAL_UNROLL
    for (int k = 0; k < G; ++k) {
      const uint8_t* gk = group + k * group_bytes;
      const uint8_t* q = gk + qoff + b * 512;
      prefetch_range(q + kAheadBytes, 512);
      __m512i s = bias;
      FRUGAL_UNROLL
      for (int c = 0; c < 8; ++c) s = _mm512_dpbusd_epi32(s, _mm512_load_si512(q + c * 64), x[c]);
      const __m512 dw = _mm512_cvtph_ps(load256(gk + b * 32));
      acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, vdx), acc[k]);
    }
  }
  FRUGAL_UNROLL
  for (int k = 0; k < G; ++k) _mm512_storeu_ps(a.y + t * a.y_stride + (g0 + k) * 16, acc[k]);
}

// Tokens [t0, t0 + T) against groups [g, g_end).
template <int T>
void q8_0_r16_tokens(const GemmArgs& a, int64_t t0, int64_t g, int64_t g_end) {
  if constexpr (T == 1)
    for (; g + 4 <= g_end; g += 4) q8_0_r16_matvec<4>(a, g, t0);
  else
    for (; g + 2 <= g_end; g += 2) q8_0_r16_tile2<T>(a, g, t0);
  for (; g < g_end; ++g) q8_0_r16_tile<T>(a, g, t0);
}

// Token tiles of up to 6; slices of an even number of groups, so the pairs of
// q8_0_r16_tile2 line up across slices.
struct Q8_0R16 {
  static constexpr int kTileTokens = 6, kSliceAlign = 2;
  template <int T>
  static void tokens(const GemmArgs& a, int64_t t0, int64_t g, int64_t g_end) {
    q8_0_r16_tokens<T>(a, t0, g, g_end);
  }
};

}  // namespace

void avx512_gemm_q8_0_r16(const GemmArgs& a) {
  r16::gemm<Q8_0R16>(a);
}

}  // namespace frugal::kern
