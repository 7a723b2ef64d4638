// The latent KV cache of MLA (deepseek-arch.md §2.5): per layer and position it holds only the
// normalised kv_latent (kv_lora_rank values) and the rotated k_pe (qk_rope_head_dim values),
// not per-head keys and values. One sequence; positions index the slots directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/cache_blob.h"

namespace frugal {

class LatentKvCache {
 public:
  LatentKvCache() = default;
  LatentKvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_lora_rank, int64_t rope_dim);
  LatentKvCache(LatentKvCache&&) noexcept = default;
  LatentKvCache& operator=(LatentKvCache&&) noexcept = default;
  LatentKvCache(const LatentKvCache&) = delete;
  LatentKvCache& operator=(const LatentKvCache&) = delete;

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_layers() const { return n_layers_; }
  int64_t kv_lora_rank() const { return kv_lora_rank_; }
  int64_t rope_dim() const { return rope_dim_; }
  int64_t row_size() const { return kv_lora_rank_ + rope_dim_; }
  // Positions [0, n_past) hold valid entries.
  int64_t n_past() const { return n_past_; }
  void set_n_past(int64_t n) { n_past_ = n; }
  void clear() { n_past_ = 0; }

  // [kv_lora_rank + rope_dim]: kv_latent then k_pe, of `layer` at position `pos`.
  float* row(int64_t layer, int64_t pos) { return data_.data() + offset(layer, pos); }
  const float* row(int64_t layer, int64_t pos) const { return data_.data() + offset(layer, pos); }

  // Bytes per token over all layers (float32 storage).
  size_t bytes_per_token() const {
    return static_cast<size_t>(n_layers_ * row_size()) * sizeof(float);
  }
  size_t bytes() const { return data_.size() * sizeof(float); }

  // Persistence (SequenceState::export_entries): payload [n_layers, end - begin, row_size].
  CacheBlobLayout layout() const;
  std::string export_entries(int64_t begin, int64_t end, uint64_t model_tag) const;
  void import_entries(std::string_view blob, uint64_t model_tag);

 private:
  size_t offset(int64_t layer, int64_t pos) const {
    return static_cast<size_t>((layer * n_ctx_ + pos) * row_size());
  }
  int64_t n_layers_ = 0, n_ctx_ = 0, kv_lora_rank_ = 0, rope_dim_ = 0, n_past_ = 0;
  std::vector<float> data_;  // [n_layers, n_ctx, kv_lora_rank + rope_dim]
};

}  // namespace frugal
