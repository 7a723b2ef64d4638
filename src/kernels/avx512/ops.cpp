// AVX-512 small ops of the kernel table (kernels/gemm.h).
#include "kernels/avx512/simd.h"

namespace frugal::kern {

// gate[i] = gate[i] / (1 + e^-gate[i]) * up[i]; the tail through a lane mask.
void avx512_silu_mul(float* gate, const float* up, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 z = _mm512_maskz_loadu_ps(k, gate + i);
    const __m512 e = exp_clamped(_mm512_sub_ps(_mm512_setzero_ps(), z));
    const __m512 s = _mm512_div_ps(z, _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(gate + i, k, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, up + i)));
  }
}

}  // namespace frugal::kern
