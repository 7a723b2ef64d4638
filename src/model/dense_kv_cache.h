// The KV cache of grouped-query attention (float32). Per layer it holds, for every position,
// the rotated keys of the n_kv_heads heads, and the values stored transposed per head, so that
// both attention products run through the one `matmul` entry point:
//   scores [n_q, n_kv] = K[g] (rows = positions) · q,   o [n_q, hd] = V[g]^T (rows = dims) · p.
// One sequence; positions index the slots directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/kernels.h"
#include "model/cache_blob.h"

namespace frugal {

class DenseKvCache {
 public:
  DenseKvCache() = default;
  DenseKvCache(int64_t n_layers, int64_t n_ctx, int64_t n_kv_heads, int64_t head_dim)
      : n_layers_(n_layers),
        n_ctx_(n_ctx),
        n_kv_heads_(n_kv_heads),
        head_dim_(head_dim),
        k_(static_cast<size_t>(n_layers * n_ctx * n_kv_heads * head_dim)),
        vt_(k_.size()) {}
  DenseKvCache(DenseKvCache&&) noexcept = default;
  DenseKvCache& operator=(DenseKvCache&&) noexcept = default;
  DenseKvCache(const DenseKvCache&) = delete;
  DenseKvCache& operator=(const DenseKvCache&) = delete;

  int64_t n_layers() const { return n_layers_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_kv_heads() const { return n_kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t kv_dim() const { return n_kv_heads_ * head_dim_; }
  int64_t n_past() const { return n_past_; }  // positions [0, n_past) are valid
  void set_n_past(int64_t n) { n_past_ = n; }

  // Stores one position's k and v, each [n_kv_heads, head_dim].
  void store(int64_t layer, int64_t pos, const float* k, const float* v) {
    float* kd = &k_[static_cast<size_t>((layer * n_ctx_ + pos) * kv_dim())];
    for (int64_t i = 0; i < kv_dim(); ++i) kd[i] = k[i];
    for (int64_t g = 0; g < n_kv_heads_; ++g)
      for (int64_t d = 0; d < head_dim_; ++d)
        vt_[vt_offset(layer, g, d) + pos] = v[g * head_dim_ + d];
  }
  // Keys of kv head g at positions [0, n): [n, head_dim].
  WeightMatrix keys(int64_t layer, int64_t g, int64_t n) const {
    const float* p = &k_[static_cast<size_t>(layer * n_ctx_ * kv_dim() + g * head_dim_)];
    return {GgmlType::F32, n, head_dim_, reinterpret_cast<const uint8_t*>(p),
            static_cast<size_t>(kv_dim()) * sizeof(float)};
  }
  // Values of kv head g at positions [0, n), transposed: [head_dim, n].
  WeightMatrix values_t(int64_t layer, int64_t g, int64_t n) const {
    const float* p = &vt_[vt_offset(layer, g, 0)];
    return {GgmlType::F32, head_dim_, n, reinterpret_cast<const uint8_t*>(p),
            static_cast<size_t>(n_ctx_) * sizeof(float)};
  }

  size_t bytes_per_token() const {
    return static_cast<size_t>(2 * n_layers_ * kv_dim()) * sizeof(float);
  }
  size_t bytes() const { return (k_.size() + vt_.size()) * sizeof(float); }

  // Persistence (SequenceState::export_entries): payload K [n_layers, n, kv_dim] then
  // V^T [n_layers, n_kv_heads, head_dim, n] for the n = end - begin positions.
  CacheBlobLayout layout() const;
  std::string export_entries(int64_t begin, int64_t end, uint64_t model_tag) const;
  void import_entries(std::string_view blob, uint64_t model_tag);

 private:
  size_t vt_offset(int64_t layer, int64_t g, int64_t d) const {
    return static_cast<size_t>(((layer * n_kv_heads_ + g) * head_dim_ + d) * n_ctx_);
  }
  int64_t n_layers_ = 0, n_ctx_ = 0, n_kv_heads_ = 0, head_dim_ = 0, n_past_ = 0;
  std::vector<float> k_;   // [n_layers, n_ctx, n_kv_heads, head_dim]
  std::vector<float> vt_;  // [n_layers, n_kv_heads, head_dim, n_ctx]
};

}  // namespace frugal
