// MLA in the expanded (naive) form, deepseek-arch.md §2.2 — the reference the absorbed form is
// tested against. Per head and cached position: k_nope = W_UK[h] kv_latent, v = W_UV[h] kv_latent,
// score = scale (q_nope·k_nope + q_pe·k_pe). Allocates its expanded K/V: test/reference use only.
#include <algorithm>
#include <vector>

#include "kernels/kernels.h"
#include "model/deepseek2_internal.h"

namespace frugal {

void mla_attend_naive(const AttentionWeights& w, Step& s, const LatentKvCache& cache, int64_t layer,
                      const SegmentRows& g) {
  const Deepseek2Config& c = s.c;
  const int64_t H = c.n_heads, r = c.kv_lora_rank, d_n = c.qk_nope_head_dim,
                d_r = c.qk_rope_head_dim;
  const int64_t d_v = c.v_head_dim, dq = c.qk_head_dim();
  const int64_t n_kv = s.pos[g.row0 + g.n - 1] + 1;
  const float scale = static_cast<float>(c.softmax_scale());
  std::vector<float> k_nope(static_cast<size_t>(n_kv * H * d_n));  // [n_kv, H, d_n]
  std::vector<float> v(static_cast<size_t>(n_kv * H * d_v));       // [n_kv, H, d_v]
  std::vector<float> w_uk(static_cast<size_t>(r * d_n));           // k_b[h] = W_UK[h]^T [r, d_n]
  std::vector<float> rows(static_cast<size_t>(n_kv * (r + d_r)));  // cache rows as floats
  for (int64_t j = 0; j < n_kv; ++j) cache.load_row(layer, j, &rows[j * (r + d_r)]);
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t i = 0; i < r; ++i) weight_row(w.k_b[h], i, &w_uk[i * d_n]);
    for (int64_t j = 0; j < n_kv; ++j) {
      const float* latent = &rows[j * (r + d_r)];
      float* k = &k_nope[(j * H + h) * d_n];
      for (int64_t d = 0; d < d_n; ++d) {
        double acc = 0;
        for (int64_t i = 0; i < r; ++i) acc += static_cast<double>(w_uk[i * d_n + d]) * latent[i];
        k[d] = static_cast<float>(acc);
      }
      matmul(w.v_b[h], latent, 1, &v[(j * H + h) * d_v]);
    }
  }
  std::vector<float> p(static_cast<size_t>(n_kv));
  for (int64_t t = g.row0; t < g.row0 + g.n; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      const float* q_nope = &s.a.q[(t * H + h) * dq];
      const float* q_pe = q_nope + d_n;
      const int64_t n_att = s.pos[t] + 1;  // causal: keys at positions <= pos[t]
      for (int64_t j = 0; j < n_att; ++j)
        p[j] = scale * (dot(q_nope, &k_nope[(j * H + h) * d_n], d_n) +
                        dot(q_pe, &rows[j * (r + d_r) + r], d_r));
      softmax(p.data(), n_att);
      float* o = &s.a.o[(t * H + h) * d_v];
      std::fill(o, o + d_v, 0.0f);
      for (int64_t j = 0; j < n_att; ++j) axpy(p[j], &v[(j * H + h) * d_v], o, d_v);
    }
  }
}

}  // namespace frugal
