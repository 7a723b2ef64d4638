// Multi-head Latent Attention, absorbed form (deepseek-arch.md §2.5):
//   q̃[h] = W_UK[h]^T q_nope[h];  score = scale (q̃[h]·kv_latent_t + q_pe[h]·k_pe_t)
//   o[h] = W_UV[h] Σ_t p_t kv_latent_t;  out = wo o
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/attention.h"
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
      float* kv = a.kv.data() + t * (r + d_r);   // becomes the cache row, in place
      rmsnorm(kv, w.kv_norm, r, c.rms_eps, kv);  // kv_latent
      rope_interleaved(kv + r, &a.rope_cos[s.pos[t] * half], &a.rope_sin[s.pos[t] * half], half);
      cache.store_row(layer, s.pos[t], kv);
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

// ctx[t] [H, r] = latent attention of token t's queries over cache positions <= pos[t]
// (kernels/attention.h reads each cache row once for all heads).
void attend_one_token(Step& s, const LatentCacheView& kv, int64_t t) {
  const Deepseek2Config& c = s.c;
  const int64_t H = c.n_heads, r = c.kv_lora_rank, dq = c.qk_head_dim();
  const LatentQuery q{H, &s.a.q_abs[t * H * r], r, &s.a.q[t * H * dq + c.qk_nope_head_dim], dq,
                      static_cast<float>(c.softmax_scale())};
  latent_attention(q, kv, s.pos[t] + 1, &s.a.ctx[t * H * r]);
}

// The rows of one sequence's segment g over its cache. One row: the kernel splits the cache
// across threads; several: rows across threads. The kernel's result does not depend on which
// (batch invariance).
void attend_absorbed(Step& s, const LatentKvCache& cache, int64_t layer, const SegmentRows& g) {
  const LatentCacheView kv = cache.layer_view(layer);
  if (g.n == 1) {
    attend_one_token(s, kv, g.row0);
    return;
  }
  ThreadPool::global().parallel_for(
      g.n, 1, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) attend_one_token(s, kv, g.row0 + t);
      },
      kernel_threads());
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
