// Scalar grouped-query attention: the two-pass reference and the online-softmax chunk twin of
// the AVX-512 kernel (kernels/attention_impl.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention_impl.h"

namespace frugal {
namespace {

// s[h, j] of query head h (of kv head g) and row j.
float gqa_score(const GqaQuery& q, const GqaCacheView& kv, int64_t h, int64_t g, int64_t j) {
  const float* qh = q.q + h * kv.head_dim;
  const float* k = kv.keys(j, g);
  float s = 0.0f;
  for (int64_t i = 0; i < kv.head_dim; ++i) s += qh[i] * k[i];
  return q.scale * s;
}

void chunk_reference(const GqaQuery& q, const GqaCacheView& kv, int64_t j0, int64_t j1, float* m,
                     float* l, float* ctx) {
  const int64_t n = j1 - j0, group = q.n_heads / kv.n_kv_heads, D = kv.head_dim;
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t h = 0; h < q.n_heads; ++h) {
    const int64_t g = h / group;
    for (int64_t j = 0; j < n; ++j) s[j] = gqa_score(q, kv, h, g, j0 + j);
    m[h] = *std::max_element(s.begin(), s.end());
    l[h] = 0.0f;
    float* c = ctx + h * D;
    std::fill(c, c + D, 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      const float p = std::exp(s[j] - m[h]);
      l[h] += p;
      const float* v = kv.values(j0 + j, g);
      for (int64_t i = 0; i < D; ++i) c[i] += p * v[i];
    }
  }
}

}  // namespace

void gqa_attention_reference(const GqaQuery& q, const GqaCacheView& kv, int64_t n_kv, float* out) {
  const int64_t group = q.n_heads / kv.n_kv_heads, D = kv.head_dim;
  std::vector<float> s(static_cast<size_t>(n_kv));
  for (int64_t h = 0; h < q.n_heads; ++h) {
    const int64_t g = h / group;
    for (int64_t j = 0; j < n_kv; ++j) s[j] = gqa_score(q, kv, h, g, j);
    const float mx = *std::max_element(s.begin(), s.end());
    float sum = 0.0f;
    for (float& v : s) sum += (v = std::exp(v - mx));
    float* o = out + h * D;
    std::fill(o, o + D, 0.0f);
    for (int64_t j = 0; j < n_kv; ++j) {
      const float* v = kv.values(j, g);
      for (int64_t i = 0; i < D; ++i) o[i] += s[j] / sum * v[i];
    }
  }
}

namespace kern {
GqaChunkFn ref_gqa_chunk() {
  return chunk_reference;
}
}  // namespace kern

}  // namespace frugal
