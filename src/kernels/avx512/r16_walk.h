// The walk shared by the AVX-512 kernels of the interleaved r16 layouts (kernels/interleave.h):
// slices of groups small enough to stay in L2 while every token tile reads them, token tiles
// over each slice, and the helpers their tiles use. Included only by files compiled with the
// AVX-512 flags.
#pragma once

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>

#include "kernels/avx512/simd.h"

namespace frugal::kern::r16 {

// Weight bytes read ahead of the block being multiplied (groups lie back to back, and a prefetch
// past the end of the matrix never faults).
inline constexpr int kAheadBytes = 4096;
// Weight bytes one pass over the token tiles works on.
inline constexpr size_t kL2Slice = 512 * 1024;

FRUGAL_INLINE __m512i bcast32(const void* p) {
  return _mm512_set1_epi32(*static_cast<const int32_t*>(p));
}

// A | (B & C), bitwise.
FRUGAL_INLINE __m512i or_and(__m512i a, __m512i b, __m512i c) {
  return _mm512_ternarylogic_epi32(a, b, c, 0xF8);
}

// Bit n of each byte of h moved to bit 4 (the other bits are masked off by the caller).
template <int n>
FRUGAL_INLINE __m512i plane_to_bit4(__m512i h) {
  if constexpr (n < 4)
    return _mm512_slli_epi16(h, 4 - n);
  else if constexpr (n == 4)
    return h;
  else
    return _mm512_srli_epi16(h, n - 4);
}

// The starts of groups [g0, g0 + G) and of activation rows [t0, t0 + T).
template <int G>
FRUGAL_INLINE void group_starts(const GemmArgs& a, int64_t g0, const uint8_t* (&gp)[G]) {
  FRUGAL_UNROLL
  for (int k = 0; k < G; ++k) gp[k] = a.w + static_cast<size_t>(g0 + k) * 16 * a.w_stride;
}
template <typename X, int T>
FRUGAL_INLINE void token_rows(const GemmArgs& a, int64_t t0, const X* (&xt)[T]) {
  FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) xt[t] = reinterpret_cast<const X*>(a.x + (t0 + t) * a.x_stride);
}

template <int G, int T>
FRUGAL_INLINE void zero(__m512 (&v)[G][T]) {
  FRUGAL_UNROLL
  for (int k = 0; k < G; ++k) FRUGAL_UNROLL
  for (int t = 0; t < T; ++t) v[k][t] = _mm512_setzero_ps();
}

// Nibble vectors 2c (low nibbles of v) and 2c + 1 (high nibbles) as 5-bit values: their fifth
// bits are bits 2c and 2c + 1 of each byte of h (the Q5_0 and Q5_K r16 layouts).
template <int c>
FRUGAL_INLINE void five_bit_pair(__m512i v, __m512i h, __m512i& lo, __m512i& hi) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m10 = _mm512_set1_epi8(0x10);
  lo = or_and(_mm512_and_si512(v, m4), plane_to_bit4<2 * c>(h), m10);
  hi = or_and(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), plane_to_bit4<2 * c + 1>(h), m10);
}

// y rows of groups [g0, g0 + G) for tokens [t0, t0 + T).
template <int G, int T>
FRUGAL_INLINE void store_groups(const GemmArgs& a, int64_t g0, int64_t t0,
                                const __m512 (&acc)[G][T]) {
  FRUGAL_UNROLL
  for (int k = 0; k < G; ++k) FRUGAL_UNROLL
  for (int t = 0; t < T; ++t)
    _mm512_storeu_ps(a.y + (t0 + t) * a.y_stride + (g0 + k) * 16, acc[k][t]);
}

// Tokens [t0, t0 + T) against groups [g, g_end) with Kernel::tile<G, T>: decode streams four
// groups at once (more memory requests in flight), small prefill tiles take two groups per pass,
// and tiles of more than 4 tokens one group (their accumulators fill the registers).
template <typename Kernel, int T>
void group_tiles(const GemmArgs& a, int64_t t0, int64_t g, int64_t g_end) {
  if constexpr (T == 1)
    for (; g + 4 <= g_end; g += 4) Kernel::template tile<4, 1>(a, g, t0);
  else if constexpr (T <= 4)
    for (; g + 2 <= g_end; g += 2) Kernel::template tile<2, T>(a, g, t0);
  for (; g < g_end; ++g) Kernel::template tile<1, T>(a, g, t0);
}

// Base of the kernels walked by group_tiles: Self::tile<G, T>(a, g0, t0) computes groups
// [g0, g0 + G) x tokens [t0, t0 + T), for G = 1, 2, 4 with T <= 4 and G = 1 with
// 4 < T <= kTokens. Wider token tiles share each decoded weight vector among more tokens (the
// kernels with costly decodes gain most: 8 tokens against 4 is +22% for Q6_K on the Xeon VM).
template <typename Self, int kTokens = 4>
struct GroupTiled {
  static constexpr int kTileTokens = kTokens, kSliceAlign = 4;
  template <int T>
  static void tokens(const GemmArgs& a, int64_t t0, int64_t g, int64_t g_end) {
    group_tiles<Self, T>(a, t0, g, g_end);
  }
};

// The whole GEMM: Kernel::tokens<T>(a, t0, g, g_end) for T = 1..Kernel::kTileTokens, over
// slices of a multiple of Kernel::kSliceAlign groups.
template <typename Kernel>
void gemm(const GemmArgs& a) {
  using Fn = void (*)(const GemmArgs&, int64_t, int64_t, int64_t);
  constexpr int kTokens = Kernel::kTileTokens;
  static constexpr auto kByTokens = []<size_t... I>(std::index_sequence<I...>) {
    return std::array<Fn, kTokens>{&Kernel::template tokens<static_cast<int>(I) + 1>...};
  }
  (std::make_index_sequence<kTokens>{});
  const int64_t n_groups = a.n_rows / 16;
  const size_t group_bytes = 16 * a.w_stride;
  constexpr int64_t kAlign = Kernel::kSliceAlign;
  const int64_t slice =
      std::max<int64_t>(kAlign, static_cast<int64_t>(kL2Slice / group_bytes) / kAlign * kAlign);
  for (int64_t g0 = 0; g0 < n_groups; g0 += slice) {
    const int64_t g1 = std::min(n_groups, g0 + slice);
    for (int64_t t0 = 0; t0 < a.n_tok; t0 += kTokens) {
      const int64_t nt = std::min<int64_t>(kTokens, a.n_tok - t0);
      kByTokens[nt - 1](a, t0, g0, g1);
    }
  }
}

}  // namespace frugal::kern::r16
