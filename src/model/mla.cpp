// Multi-head Latent Attention, absorbed form (deepseek-arch.md §2.5):
//   q̃[h] = W_UK[h]^T q_nope[h];  score = scale (q̃[h]·kv_latent_t + q_pe[h]·k_pe_t)
//   o[h] = W_UV[h] Σ_t p_t kv_latent_t;  out = wo o
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/deepseek2_internal.h"

namespace frugal {
namespace {

// q [n, H, d_n + d_r] = wq x, or wq_b q_norm(wq_a x) with q_lora.
void project_q(const AttentionWeights& w, Step& s) {
  const Deepseek2Config& c = s.c;
  auto& a = s.a;
  if (!c.has_q_lora()) {
    matmul(w.wq, a.x.data(), s.n, a.q.data());
    return;
  }
  matmul(w.wq_a, a.x.data(), s.n, a.q_a.data());
  for (int64_t t = 0; t < s.n; ++t) {
    float* q_a = a.q_a.data() + t * c.q_lora_rank;
    rmsnorm(q_a, w.q_norm, c.q_lora_rank, c.rms_eps, q_a);
  }
  matmul(w.wq_b, a.q_a.data(), s.n, a.q.data());
}

// Cache row (layer, pos) = [kv_norm(kv_latent) ; RoPE(k_pe, pos)] for each new row, in the cache
// of the row's sequence.
void project_kv_into_cache(const AttentionWeights& w, Step& s, int64_t layer) {
  const Deepseek2Config& c = s.c;
  auto& a = s.a;
  const int64_t r = c.kv_lora_rank, d_r = c.qk_rope_head_dim, half = d_r / 2;
  matmul(w.wkv_a, a.x.data(), s.n, a.kv.data());  // [n, r + d_r]
  for (const SegmentRows& g : s.segs) {
    LatentKvCache& cache = s.cache(g);
    for (int64_t t = g.row0; t < g.row0 + g.n; ++t) {
      const float* kv = a.kv.data() + t * (r + d_r);
      float* row = cache.row(layer, s.pos[t]);
      rmsnorm(kv, w.kv_norm, r, c.rms_eps, row);                               // kv_latent
      std::memcpy(row + r, kv + r, static_cast<size_t>(d_r) * sizeof(float));  // k_pe
      rope_interleaved(row + r, &a.rope_cos[s.pos[t] * half], &a.rope_sin[s.pos[t] * half], half);
    }
  }
}

void rope_q_pe(Step& s) {
  const Deepseek2Config& c = s.c;
  const int64_t dq = c.qk_head_dim(), half = c.qk_rope_head_dim / 2;
  for (int64_t t = 0; t < s.n; ++t)
    for (int64_t h = 0; h < c.n_heads; ++h)
      rope_interleaved(&s.a.q[(t * c.n_heads + h) * dq + c.qk_nope_head_dim],
                       &s.a.rope_cos[s.pos[t] * half], &s.a.rope_sin[s.pos[t] * half], half);
}

// dst[t, h, :width] = m(src[t, h, offset : offset + m.cols]) for every token, via the head
// gather/scatter buffers (src rows hold `src_stride` floats per head).
void per_head_matmul(const WeightMatrix& m, const float* src, int64_t src_stride, int64_t offset,
                     float* dst, int64_t h, Step& s) {
  const int64_t H = s.c.n_heads;
  float* in = s.a.head_in.data();    // [n, m.cols]
  float* out = s.a.head_out.data();  // [n, m.rows]
  for (int64_t t = 0; t < s.n; ++t)
    std::memcpy(in + t * m.cols, src + (t * H + h) * src_stride + offset,
                static_cast<size_t>(m.cols) * sizeof(float));
  matmul(m, in, s.n, out);
  for (int64_t t = 0; t < s.n; ++t)
    std::memcpy(dst + (t * H + h) * m.rows, out + t * m.rows,
                static_cast<size_t>(m.rows) * sizeof(float));
}

// Scores of one query against cache positions [0, n_kv); grows once per thread, then reused.
float* score_scratch(int64_t n_kv) {
  thread_local std::vector<float> scores;
  if (static_cast<int64_t>(scores.size()) < n_kv) scores.resize(static_cast<size_t>(n_kv));
  return scores.data();
}

// ctx[t, h] = Σ_{j <= pos[t]} softmax_j(score(t, h, j)) kv_latent_j, for one (token, head).
void attend_one(Step& s, const LatentKvCache& cache, int64_t layer, int64_t t, int64_t h) {
  const Deepseek2Config& c = s.c;
  auto& a = s.a;
  const int64_t H = c.n_heads, r = c.kv_lora_rank, d_r = c.qk_rope_head_dim, dq = c.qk_head_dim();
  const float scale = static_cast<float>(c.softmax_scale());
  const int64_t n_kv = s.pos[t] + 1;  // causal: positions <= pos[t]
  float* scores = score_scratch(n_kv);
  const float* q_abs = &a.q_abs[(t * H + h) * r];
  const float* q_pe = &a.q[(t * H + h) * dq + c.qk_nope_head_dim];
  for (int64_t j = 0; j < n_kv; ++j) {
    const float* row = cache.row(layer, j);  // [kv_latent (r) ; k_pe (d_r)]
    scores[j] = scale * (dot(q_abs, row, r) + dot(q_pe, row + r, d_r));
  }
  softmax(scores, n_kv);
  float* ctx = &a.ctx[(t * H + h) * r];
  std::fill(ctx, ctx + r, 0.0f);
  for (int64_t j = 0; j < n_kv; ++j) axpy(scores[j], cache.row(layer, j), ctx, r);
}

// The rows of one sequence's segment g over its cache: every (row, head) pair is independent,
// split across the thread pool.
void attend_absorbed(Step& s, const LatentKvCache& cache, int64_t layer, const SegmentRows& g) {
  const int64_t H = s.c.n_heads, n_items = g.n * H;
  const int64_t work = n_items * (s.pos[g.row0 + g.n - 1] + 1) * s.c.kv_values_per_token();
  const int n_threads = work < (int64_t{1} << 16) ? 1 : kernel_threads();
  ThreadPool::global().parallel_for(
      n_items, std::max<int64_t>(1, n_items / (4 * n_threads)),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) attend_one(s, cache, layer, g.row0 + i / H, i % H);
      },
      n_threads);
}

// W_UK / W_UV per head over all rows of the chunk; attention per sequence segment.
void mla_attend_absorbed(const AttentionWeights& w, Step& s, int64_t layer) {
  const Deepseek2Config& c = s.c;
  for (int64_t h = 0; h < c.n_heads; ++h)
    per_head_matmul(w.k_b[h], s.a.q.data(), c.qk_head_dim(), 0, s.a.q_abs.data(), h, s);
  for (const SegmentRows& g : s.segs) attend_absorbed(s, s.cache(g), layer, g);
  for (int64_t h = 0; h < c.n_heads; ++h)
    per_head_matmul(w.v_b[h], s.a.ctx.data(), c.kv_lora_rank, 0, s.a.o.data(), h, s);
}

}  // namespace

void mla_forward(const AttentionWeights& w, Step& s, int64_t layer, AttentionImpl impl,
                 float* out) {
  project_q(w, s);
  project_kv_into_cache(w, s, layer);
  rope_q_pe(s);
  if (impl == AttentionImpl::Absorbed) {
    mla_attend_absorbed(w, s, layer);
  } else {
    for (const SegmentRows& g : s.segs) mla_attend_naive(w, s, s.cache(g), layer, g);
  }
  matmul(w.wo, s.a.o.data(), s.n, out);  // [n, dim] = wo [dim, H d_v] · o [n, H d_v]
}

}  // namespace frugal
