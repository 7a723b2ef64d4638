// Scalar latent attention: the two-pass reference and the online-softmax chunk twin of the
// AVX-512 kernel (kernels/attention_impl.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/half.h"
#include "kernels/attention_impl.h"

namespace frugal {
namespace {

float cache_value(const LatentCacheView& kv, const uint8_t* row, int64_t i) {
  switch (kv.type) {
    case GgmlType::I8: {
      const LatentI8Tail tail = latent_i8_tail(row, kv.rank + kv.rope_dim);
      return (i < kv.rank ? tail.scale_latent : tail.scale_pe) * static_cast<int8_t>(row[i]);
    }
    case GgmlType::F16: return f16_to_f32(load_le<uint16_t>(row + 2 * i));
    case GgmlType::BF16: return bf16_to_f32(load_le<uint16_t>(row + 2 * i));
    default: return load_le<float>(row + 4 * i);
  }
}

// s[h, j] of one head and row.
float latent_score(const LatentQuery& q, const LatentCacheView& kv, int64_t h, const uint8_t* row) {
  const float* qa = q.q_abs + h * q.q_abs_stride;
  const float* qp = q.q_pe + h * q.q_pe_stride;
  float s = 0.0f;
  for (int64_t i = 0; i < kv.rank; ++i) s += qa[i] * cache_value(kv, row, i);
  for (int64_t i = 0; i < kv.rope_dim; ++i) s += qp[i] * cache_value(kv, row, kv.rank + i);
  return q.scale * s;
}

void chunk_reference(const LatentQuery& q, const LatentCacheView& kv, int64_t j0, int64_t j1,
                     float* m, float* l, float* ctx) {
  const int64_t n = j1 - j0;
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t h = 0; h < q.n_heads; ++h) {
    for (int64_t j = 0; j < n; ++j) s[j] = latent_score(q, kv, h, kv.row(j0 + j));
    m[h] = *std::max_element(s.begin(), s.end());
    l[h] = 0.0f;
    float* c = ctx + h * kv.rank;
    std::fill(c, c + kv.rank, 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      const float p = std::exp(s[j] - m[h]);
      l[h] += p;
      const uint8_t* row = kv.row(j0 + j);
      for (int64_t i = 0; i < kv.rank; ++i) c[i] += p * cache_value(kv, row, i);
    }
  }
}

}  // namespace

void latent_attention_reference(const LatentQuery& q, const LatentCacheView& kv, int64_t n_kv,
                                float* ctx) {
  std::vector<float> s(static_cast<size_t>(n_kv));
  for (int64_t h = 0; h < q.n_heads; ++h) {
    for (int64_t j = 0; j < n_kv; ++j) s[j] = latent_score(q, kv, h, kv.row(j));
    const float mx = *std::max_element(s.begin(), s.end());
    float sum = 0.0f;
    for (float& v : s) sum += (v = std::exp(v - mx));
    float* c = ctx + h * kv.rank;
    std::fill(c, c + kv.rank, 0.0f);
    for (int64_t j = 0; j < n_kv; ++j) {
      const uint8_t* row = kv.row(j);
      for (int64_t i = 0; i < kv.rank; ++i) c[i] += s[j] / sum * cache_value(kv, row, i);
    }
  }
}

namespace kern {
LatentChunkFn ref_latent_chunk() {
  return chunk_reference;
}
}  // namespace kern

}  // namespace frugal
