// Grouped-query attention with RoPE and a K/V cache (deepseek-arch.md §8):
//   q = wq x + bq,  k = wk x + bk,  v = wv x + bv          (biases: qwen2 only)
//   q, k rotated at their positions;  k, v appended to the cache
//   o[h] = Σ_{j <= pos} softmax_j(q[h]·k_j[g] / sqrt(head_dim)) v_j[g],  g = h / (H / H_kv)
//   out = wo o
// The query heads of one kv head g are gathered ([n, group, hd]) so both products are matmuls
// over cache views: scores = K[g] · q, o = V[g]^T · p.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/dense_model.h"

namespace frugal {
namespace {

// y[n, rows] = w x (+ bias per row).
void project(const WeightMatrix& w, const float* bias, const float* x, int64_t n, float* y) {
  matmul(w, x, n, y);
  if (bias == nullptr) return;
  for (int64_t t = 0; t < n; ++t) axpy(1.0f, bias, y + t * w.rows, w.rows);
}

// Rotates every head of one token's [n_heads, head_dim] vector at the angles of one position.
void rope_heads(float* x, int64_t n_heads, const DenseConfig& c, const float* cos,
                const float* sin) {
  const int64_t half = c.head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * c.head_dim;
    if (c.rope_pairs == RopePairs::Adjacent)
      rope_interleaved(head, cos, sin, half);
    else
      rope_half_split(head, cos, sin, half);
  }
}

// Row r = (row g.row0 + r / group, head r % group of the group) of scores [g.n * group, n_kv]:
// scaled, causally masked (positions > the row's get weight 0) and softmaxed.
void softmax_rows(const DenseStep& s, const SegmentRows& g, int64_t n_kv, float* scores) {
  const int64_t group = s.c.group_size(), n_rows = g.n * group;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.c.head_dim));
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* row = scores + r * n_kv;
      const int64_t n_valid = s.pos[g.row0 + r / group] + 1;
      for (int64_t j = 0; j < n_valid; ++j) row[j] *= scale;
      softmax(row, n_valid);
      std::fill(row + n_valid, row + n_kv, 0.0f);
    }
  };
  const int n_threads = n_rows * n_kv < (int64_t{1} << 14) ? 1 : kernel_threads();
  ThreadPool::global().parallel_for(n_rows, std::max<int64_t>(1, n_rows / (4 * n_threads)), rows,
                                    n_threads);
}

// a.o [n, H, hd] of segment g's rows, for kv head kv_h's group of query heads, over the
// segment's own cache.
void attend_group(DenseStep& s, const SegmentRows& g, const DenseKvCache& cache, int64_t layer,
                  int64_t kv_h) {
  const DenseConfig& c = s.c;
  DenseActivations& a = s.a;
  const int64_t group = c.group_size(), hd = c.head_dim, n_kv = s.pos[g.row0 + g.n - 1] + 1;
  const size_t group_bytes = static_cast<size_t>(group * hd) * sizeof(float);
  for (int64_t t = 0; t < g.n; ++t)  // q_group [g.n, group, hd]
    std::memcpy(&a.q_group[t * group * hd], &a.q[((g.row0 + t) * c.n_heads + kv_h * group) * hd],
                group_bytes);
  matmul(cache.keys(layer, kv_h, n_kv), a.q_group.data(), g.n * group,
         a.scores.data());  // [g.n * group, n_kv]
  softmax_rows(s, g, n_kv, a.scores.data());
  matmul(cache.values_t(layer, kv_h, n_kv), a.scores.data(), g.n * group,
         a.o_group.data());  // [g.n * group, hd]
  for (int64_t t = 0; t < g.n; ++t)
    std::memcpy(&a.o[((g.row0 + t) * c.n_heads + kv_h * group) * hd], &a.o_group[t * group * hd],
                group_bytes);
}

}  // namespace

void gqa_attention(const DenseLayerWeights& w, DenseStep& s, int64_t layer, float* out) {
  const DenseConfig& c = s.c;
  DenseActivations& a = s.a;
  const int64_t half = c.head_dim / 2, kv = c.kv_dim();
  project(w.wq, w.bq, a.x.data(), s.n, a.q.data());  // [n, H, hd]
  project(w.wk, w.bk, a.x.data(), s.n, a.k.data());  // [n, H_kv, hd]
  project(w.wv, w.bv, a.x.data(), s.n, a.v.data());  // [n, H_kv, hd]
  for (const SegmentRows& g : s.segs) {
    DenseKvCache& cache = s.cache(g);
    for (int64_t t = g.row0; t < g.row0 + g.n; ++t) {
      const float* cos = &a.rope_cos[s.pos[t] * half];
      const float* sin = &a.rope_sin[s.pos[t] * half];
      rope_heads(&a.q[t * c.q_dim()], c.n_heads, c, cos, sin);
      rope_heads(&a.k[t * kv], c.n_kv_heads, c, cos, sin);
      cache.store(layer, s.pos[t], &a.k[t * kv], &a.v[t * kv]);
    }
  }
  for (const SegmentRows& g : s.segs)
    for (int64_t kv_h = 0; kv_h < c.n_kv_heads; ++kv_h) attend_group(s, g, s.cache(g), layer, kv_h);
  matmul(w.wo, a.o.data(), s.n, out);  // [n, dim] = wo [dim, H hd] · o [n, H hd]
}

}  // namespace frugal
