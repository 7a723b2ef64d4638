#include "model/kv_cache.h"

#include <cstring>
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

CacheBlobLayout LatentKvCache::layout() const {
  return {std::string("mla-latent-") + type_name(type_),
          {n_layers_, kv_lora_rank_, rope_dim_, 0},
          static_cast<int64_t>(bytes_per_token())};
}

std::string LatentKvCache::export_entries(int64_t begin, int64_t end, uint64_t model_tag) const {
  if (!(0 <= begin && begin <= end && end <= n_past_))
    throw Error("KV cache export: positions [" + std::to_string(begin) + ", " +
                std::to_string(end) + ") are not all valid (" + std::to_string(n_past_) + ")");
  const size_t n_bytes = static_cast<size_t>(end - begin) * row_bytes_;  // one layer's rows
  std::string payload(n_bytes * static_cast<size_t>(n_layers_), '\0');
  char* p = payload.data();
  for (int64_t l = 0; l < n_layers_; ++l) {  // positions of a layer are contiguous
    std::memcpy(p, data_.data() + offset(l, begin), n_bytes);
    p += n_bytes;
  }
  return write_cache_blob(layout(), model_tag, begin, end - begin, payload);
}

void LatentKvCache::import_entries(std::string_view blob, uint64_t model_tag) {
  const CacheBlobView v = read_cache_blob(blob, layout(), model_tag);
  if (v.begin > n_past_ || v.begin + v.n > n_ctx_)
    throw Error("KV cache import: positions [" + std::to_string(v.begin) + ", " +
                std::to_string(v.begin + v.n) + ") do not follow the " + std::to_string(n_past_) +
                " held or exceed the context of " + std::to_string(n_ctx_));
  const size_t n_bytes = static_cast<size_t>(v.n) * row_bytes_;
  const char* p = v.payload.data();
  for (int64_t l = 0; l < n_layers_; ++l, p += n_bytes)
    std::memcpy(data_.data() + offset(l, v.begin), p, n_bytes);
  n_past_ = v.begin + v.n;
}

}  // namespace frugal
