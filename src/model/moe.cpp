// The MoE feed-forward branch over SwiGLU experts (blocks.h swiglu_mlp):
//   y = Σ_{e in TopK} w_e Expert_e(x) + Shared(x)        (deepseek-arch.md §3)
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/deepseek2_internal.h"
#include "model/router.h"

namespace frugal {
namespace {

// Routes every token: a.expert_idx / a.expert_w [n, k].
void route_tokens(const MoeWeights& w, Step& s) {
  auto& a = s.a;
  const RouterParams p = RouterParams::from(s.c);
  matmul(w.router, a.x.data(), s.n, a.router_logits.data());  // [n, E]
  for (int64_t t = 0; t < s.n; ++t)
    route_token(p, &a.router_logits[t * p.n_experts], w.score_bias, a.router_scratch.data(),
                &a.expert_idx[t * p.k], &a.expert_w[t * p.k]);
}

// Counting sort of the (token, slot) pairs by expert: expert e owns
// expert_slots[expert_start[e] .. expert_start[e + 1]), slots in token order.
void bucket_by_expert(Step& s) {
  auto& a = s.a;
  const int64_t E = s.c.n_routed_experts, n_slots = s.n * s.c.n_experts_used;
  std::vector<int32_t>& start = a.expert_start;  // [E + 2]
  std::fill(start.begin(), start.end(), 0);
  for (int64_t i = 0; i < n_slots; ++i) ++start[a.expert_idx[i] + 2];
  for (int64_t e = 2; e <= E + 1; ++e) start[e] += start[e - 1];  // start[e + 1] = begin of e
  for (int64_t i = 0; i < n_slots; ++i)
    a.expert_slots[start[a.expert_idx[i] + 1]++] = static_cast<int32_t>(i);
}

// Decode-sized steps (few routed slots): every active expert's gate and up products, and the
// shared experts', in one pass over the thread pool, then every down product in another, instead
// of three waits per expert. The same products and the same sum order as the per-expert loop in
// moe_forward, so the same bits (and batch invariance across the two paths).
constexpr int64_t kFusedMaxSlots = 64;

void experts_fused(const MoeWeights& w, Step& s, float* out) {
  auto& a = s.a;
  const int64_t dim = s.c.dim, k = s.c.n_experts_used, n_slots = s.n * k;
  const int64_t F = w.gate.empty() ? 0 : w.gate[0].rows;
  const bool shared = s.c.n_shared_experts > 0;
  const int64_t Fs = shared ? w.shared.gate.rows : 0;
  thread_local std::vector<float> xe, gate, up, ye, sgate, sup;
  auto grow = [](std::vector<float>& v, int64_t n) {
    if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  };
  grow(xe, n_slots * dim);
  grow(ye, n_slots * dim);
  grow(gate, n_slots * F);
  grow(up, n_slots * F);
  grow(sgate, s.n * Fs);
  grow(sup, s.n * Fs);
  for (int64_t i = 0; i < n_slots; ++i)  // slot rows in expert order
    std::memcpy(&xe[i * dim], &a.x[(a.expert_slots[i] / k) * dim],
                static_cast<size_t>(dim) * sizeof(float));

  thread_local std::vector<MatmulJob> jobs;
  jobs.clear();
  if (shared) {
    jobs.push_back({&w.shared.gate, a.x.data(), s.n, sgate.data()});
    jobs.push_back({&w.shared.up, a.x.data(), s.n, sup.data()});
  }
  for (int64_t e = 0; e < s.c.n_routed_experts; ++e) {
    const int32_t begin = a.expert_start[e], end = a.expert_start[e + 1];
    if (begin == end) continue;
    jobs.push_back({&w.gate[e], &xe[begin * dim], end - begin, &gate[begin * F]});
    jobs.push_back({&w.up[e], &xe[begin * dim], end - begin, &up[begin * F]});
  }
  matmul_batch(jobs);
  if (shared) silu_mul(sgate.data(), sup.data(), s.n * Fs);
  silu_mul(gate.data(), up.data(), n_slots * F);

  jobs.clear();
  if (shared)
    jobs.push_back({&w.shared.down, sgate.data(), s.n, out});
  else
    std::fill(out, out + s.n * dim, 0.0f);
  for (int64_t e = 0; e < s.c.n_routed_experts; ++e) {
    const int32_t begin = a.expert_start[e], end = a.expert_start[e + 1];
    if (begin == end) continue;
    jobs.push_back({&w.down[e], &gate[begin * F], end - begin, &ye[begin * dim]});
  }
  matmul_batch(jobs);
  for (int64_t i = 0; i < n_slots; ++i) {
    const int32_t slot = a.expert_slots[i];
    axpy(a.expert_w[slot], &ye[i * dim], out + (slot / k) * dim, dim);
  }
}

}  // namespace

void moe_forward(const MoeWeights& w, Step& s, float* out, std::vector<int32_t>* trace_idx,
                 std::vector<float>* trace_w) {
  auto& a = s.a;
  const int64_t dim = s.c.dim, k = s.c.n_experts_used;
  route_tokens(w, s);
  if (trace_idx)
    trace_idx->insert(trace_idx->end(), a.expert_idx.begin(), a.expert_idx.begin() + s.n * k);
  if (trace_w) trace_w->insert(trace_w->end(), a.expert_w.begin(), a.expert_w.begin() + s.n * k);
  if (s.n * k <= kFusedMaxSlots) {
    bucket_by_expert(s);
    experts_fused(w, s, out);
    return;
  }
  if (s.c.n_shared_experts > 0)
    swiglu_mlp(w.shared, a.x.data(), s.n, a.ffn_gate.data(), a.ffn_up.data(), out);
  else
    std::fill(out, out + s.n * dim, 0.0f);
  bucket_by_expert(s);
  for (int64_t e = 0; e < s.c.n_routed_experts; ++e) {
    const int32_t begin = a.expert_start[e], end = a.expert_start[e + 1];
    if (begin == end) continue;
    for (int32_t i = begin; i < end; ++i)
      std::memcpy(&a.xe[(i - begin) * dim], &a.x[(a.expert_slots[i] / k) * dim],
                  static_cast<size_t>(dim) * sizeof(float));
    swiglu_mlp({w.gate[e], w.up[e], w.down[e]}, a.xe.data(), end - begin, a.ffn_gate.data(),
               a.ffn_up.data(), a.ye.data());
    for (int32_t i = begin; i < end; ++i) {
      const int32_t slot = a.expert_slots[i];
      axpy(a.expert_w[slot], &a.ye[(i - begin) * dim], out + (slot / k) * dim, dim);
    }
  }
}

}  // namespace frugal
