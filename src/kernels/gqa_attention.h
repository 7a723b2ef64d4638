// Grouped-query attention of one query token over a paged K/V cache (deepseek-arch.md §8), all
// heads at once; the `group` = n_heads / n_kv_heads query heads that share kv head g read each
// of its cache rows once for the whole group:
//   s[h, j]  = scale q[h] · K_j[g]                       j < n_kv,  g = h / group
//   p[h, :]  = softmax_j(s[h, :])
//   out[h]   = Σ_j p[h, j] V_j[g]                          [n_heads, head_dim]
// Cache rows are float32; the math is float32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/paged_rows.h"

namespace frugal {

// The cache rows of one layer, row j = [K (n_kv_heads, head_dim) ; V (n_kv_heads, head_dim)]
// float32, laid out in pages as kernels/paged_rows.h describes (a plain array: one page).
struct GqaCacheView {
  PagedRows rows;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;

  const float* keys(int64_t j, int64_t g) const {  // [head_dim]
    return reinterpret_cast<const float*>(rows.row(j)) + g * head_dim;
  }
  const float* values(int64_t j, int64_t g) const {  // [head_dim]
    return reinterpret_cast<const float*>(rows.row(j)) + (n_kv_heads + g) * head_dim;
  }
  // Bytes of one row: K and V of every kv head.
  static size_t row_bytes(int64_t n_kv_heads, int64_t head_dim) {
    return static_cast<size_t>(2 * n_kv_heads * head_dim) * sizeof(float);
  }
};

// One token's queries: head h at q + h * head_dim.
struct GqaQuery {
  int64_t n_heads = 0;  // a multiple of the view's n_kv_heads
  const float* q = nullptr;
  float scale = 1.0f;  // usually 1 / sqrt(head_dim)
};

// out[h * head_dim + i] for h < n_heads, attending over rows [0, n_kv) (n_kv >= 1). The rows
// are split into chunks fixed by n_kv alone and merged in order, so the result does not depend
// on the thread count or on what else is in the batch. Uses the thread pool when called outside
// it and the cache is long.
void gqa_attention(const GqaQuery& q, const GqaCacheView& kv, int64_t n_kv, float* out);

// The plain two-pass reference (scores, exact softmax, weighted sum), in float32.
void gqa_attention_reference(const GqaQuery& q, const GqaCacheView& kv, int64_t n_kv, float* out);

}  // namespace frugal
