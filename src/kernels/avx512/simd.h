// Helpers shared by the AVX-512 kernel units (included only by files compiled with the AVX-512
// flags, under src/kernels/avx512/).
#pragma once

#include <immintrin.h>

#include <cstdint>

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

}  // namespace frugal::kern
