// Grouped-query attention with RoPE and a K/V cache (deepseek-arch.md §8):
//   q = wq x + bq,  k = wk x + bk,  v = wv x + bv          (biases: qwen2 only)
//   q, k rotated at their positions;  k, v appended to the cache
//   o[h] = Σ_{j <= pos} softmax_j(q[h]·k_j[g] / sqrt(head_dim)) v_j[g],  g = h / (H / H_kv)
//   out = wo o
// The attention itself is one kernel call per token (kernels/gqa_attention.h): every cache row
// is read once for all the query heads.
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/gqa_attention.h"
#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/dense_model.h"

namespace frugal {
namespace {

// y[n, rows] += bias per row (none: nothing).
void add_bias(const WeightMatrix& w, const float* bias, int64_t n, float* y) {
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

// a.o [t] [H, hd] = token t's queries over its cache positions <= pos[t].
void attend_one_token(DenseStep& s, const GqaCacheView& kv, int64_t t) {
  const DenseConfig& c = s.c;
  const GqaQuery q{c.n_heads, &s.a.q[t * c.q_dim()],
                   1.0f / std::sqrt(static_cast<float>(c.head_dim))};
  gqa_attention(q, kv, s.pos[t] + 1, &s.a.o[t * c.q_dim()]);
}

// The rows of one sequence's segment g over its cache. One row: the kernel splits the cache
// across threads; several: rows across threads. The kernel's result does not depend on which
// (batch invariance).
void attend_segment(DenseStep& s, const DenseKvCache& cache, int64_t layer, const SegmentRows& g) {
  const GqaCacheView kv = cache.layer_view(layer);
  if (g.n == 1) {
    attend_one_token(s, kv, g.row0);
    return;
  }
  ThreadPool::global().parallel_for(
      g.n, 1,
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) attend_one_token(s, kv, g.row0 + t);
      },
      kernel_threads());
}

}  // namespace

void dense_attention(const DenseLayerWeights& w, DenseStep& s, int64_t layer, float* out) {
  const DenseConfig& c = s.c;
  DenseActivations& a = s.a;
  const int64_t half = c.head_dim / 2, kv = c.kv_dim();
  // q [n, H, hd], k and v [n, H_kv, hd]: one pass over the thread pool for the three.
  const MatmulJob qkv[] = {{&w.wq, a.x.data(), s.n, a.q.data()},
                           {&w.wk, a.x.data(), s.n, a.k.data()},
                           {&w.wv, a.x.data(), s.n, a.v.data()}};
  matmul_batch(qkv);
  add_bias(w.wq, w.bq, s.n, a.q.data());
  add_bias(w.wk, w.bk, s.n, a.k.data());
  add_bias(w.wv, w.bv, s.n, a.v.data());
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
  for (const SegmentRows& g : s.segs) attend_segment(s, s.cache(g), layer, g);
  matmul(w.wo, a.o.data(), s.n, out);  // [n, dim] = wo [dim, H hd] · o [n, H hd]
}

}  // namespace frugal
