#include "model/kv_cache.h"

#include <string>

#include "core/error.h"
#include "format/quant.h"

namespace frugal {

LatentKvCache::LatentKvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_lora_rank,
                             int64_t rope_dim, GgmlType type)
    : n_layers_(n_layers),
      n_ctx_(n_ctx),
      kv_lora_rank_(kv_lora_rank),
      rope_dim_(rope_dim),
      type_(type) {
  if (!is_latent_cache_type(type))
    throw Error(std::string("KV cache type ") + type_name(type) +
                " is not supported (use f32, f16 or bf16)");
  row_bytes_ = row_bytes(type, row_size());
  data_.resize(static_cast<size_t>(n_layers * n_ctx) * row_bytes_);
}

void LatentKvCache::store_row(int64_t layer, int64_t pos, const float* src) {
  quantize_row(type_, src, data_.data() + offset(layer, pos), row_size());
}

void LatentKvCache::load_row(int64_t layer, int64_t pos, float* dst) const {
  dequantize_row(type_, data_.data() + offset(layer, pos), dst, row_size());
}

LatentCacheView LatentKvCache::layer_view(int64_t layer) const {
  return {type_, data_.data() + offset(layer, 0), row_bytes_, kv_lora_rank_, rope_dim_};
}

}  // namespace frugal
