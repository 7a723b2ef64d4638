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

// The products of x: q [n, H, d_n + d_r] = wq x (or q_a = wq_a x with q_lora) and
// kv [n, r + d_r] = wkv_a x, in one pass over the thread pool.
void project_x(const AttentionWeights& w, Step& s) {
  auto& a = s.a;
  const MatmulJob jobs[] = {
      s.c.has_q_lora() ? MatmulJob{&w.wq_a, a.x.data(), s.n, a.q_a.data()}
                       : MatmulJob{&w.wq, a.x.data(), s.n, a.q.data()},
      {&w.wkv_a, a.x.data(), s.n, a.kv.data()}};
  matmul_batch(jobs);
}

// With q_lora: q = wq_b q_norm(q_a).
void finish_q(const AttentionWeights& w, Step& s) {
  const Deepseek2Config& c = s.c;
  auto& a = s.a;
  if (!c.has_q_lora()) return;
  for (int64_t t = 0; t < s.n; ++t) {
    float* q_a = a.q_a.data() + t * c.q_lora_rank;
    rmsnorm(q_a, w.q_norm, c.q_lora_rank, c.rms_eps, q_a);
  }
  matmul(w.wq_b, a.q_a.data(), s.n, a.q.data());
}

// Cache row (layer, pos) = [kv_norm(kv_latent) ; RoPE(k_pe, pos)] for each new row (a.kv from
// project_x), in the cache of the row's sequence.
void store_kv_in_cache(const AttentionWeights& w, Step& s, int64_t layer) {
  const Deepseek2Config& c = s.c;
  auto& a = s.a;
  const int64_t r = c.kv_lora_rank, d_r = c.qk_rope_head_dim, half = d_r / 2;
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

// dst[t, h, :] = ms[h](src[t, h, :ms[h].cols]) for every token and head (src rows hold
// `src_stride` floats per head), through gather/scatter buffers. Small steps (decode) run every
// head's product in one pass over the thread pool; large ones head by head (buffers stay one
// head's size). Same bits either way.
void per_head_matmuls(const std::vector<WeightMatrix>& ms, const float* src, int64_t src_stride,
                      float* dst, Step& s) {
  const int64_t H = s.c.n_heads, n = s.n, cols = ms[0].cols, rows = ms[0].rows;
  constexpr int64_t kBatchedFloats = int64_t{1} << 20;
  const int64_t heads_at_once = H * n * std::max(cols, rows) <= kBatchedFloats ? H : 1;
  thread_local std::vector<float> in, out;
  thread_local std::vector<MatmulJob> jobs;
  if (in.size() < static_cast<size_t>(heads_at_once * n * cols)) in.resize(heads_at_once * n * cols);
  if (out.size() < static_cast<size_t>(heads_at_once * n * rows)) out.resize(heads_at_once * n * rows);
  for (int64_t h0 = 0; h0 < H; h0 += heads_at_once) {
    jobs.clear();
    for (int64_t k = 0; k < heads_at_once; ++k) {
      float* hin = in.data() + k * n * cols;
      for (int64_t t = 0; t < n; ++t)
        std::memcpy(hin + t * cols, src + (t * H + h0 + k) * src_stride,
                    static_cast<size_t>(cols) * sizeof(float));
      jobs.push_back({&ms[static_cast<size_t>(h0 + k)], hin, n, out.data() + k * n * rows});
    }
    matmul_batch(jobs);
    for (int64_t k = 0; k < heads_at_once; ++k)
      for (int64_t t = 0; t < n; ++t)
        std::memcpy(dst + (t * H + h0 + k) * rows, out.data() + (k * n + t) * rows,
                    static_cast<size_t>(rows) * sizeof(float));
  }
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
  per_head_matmuls(w.k_b, s.a.q.data(), c.qk_head_dim(), s.a.q_abs.data(), s);
  for (const SegmentRows& g : s.segs) attend_absorbed(s, s.cache(g), layer, g);
  per_head_matmuls(w.v_b, s.a.ctx.data(), c.kv_lora_rank, s.a.o.data(), s);
}

}  // namespace

void mla_forward(const AttentionWeights& w, Step& s, int64_t layer, AttentionImpl impl,
                 float* out) {
  project_x(w, s);
  finish_q(w, s);
  store_kv_in_cache(w, s, layer);
  rope_q_pe(s);
  if (impl == AttentionImpl::Absorbed) {
    mla_attend_absorbed(w, s, layer);
  } else {
    for (const SegmentRows& g : s.segs) mla_attend_naive(w, s, s.cache(g), layer, g);
  }
  matmul(w.wo, s.a.o.data(), s.n, out);  // [n, dim] = wo [dim, H d_v] · o [n, H d_v]
}

}  // namespace frugal
