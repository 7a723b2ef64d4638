#include "model/kv_cache.h"

#include <cstring>

#include "core/error.h"

namespace frugal {

LatentKvCache::LatentKvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_lora_rank,
                             int64_t rope_dim)
    : n_layers_(n_layers),
      n_ctx_(n_ctx),
      kv_lora_rank_(kv_lora_rank),
      rope_dim_(rope_dim),
      data_(static_cast<size_t>(n_layers * n_ctx * (kv_lora_rank + rope_dim))) {}

CacheBlobLayout LatentKvCache::layout() const {
  return {"mla-latent-f32",
          {n_layers_, kv_lora_rank_, rope_dim_, 0},
          static_cast<int64_t>(bytes_per_token())};
}

std::string LatentKvCache::export_entries(int64_t begin, int64_t end, uint64_t model_tag) const {
  if (!(0 <= begin && begin <= end && end <= n_past_))
    throw Error("KV cache export: positions [" + std::to_string(begin) + ", " +
                std::to_string(end) + ") are not all valid (" + std::to_string(n_past_) + ")");
  const size_t row_bytes = static_cast<size_t>(row_size()) * sizeof(float);
  std::string payload(static_cast<size_t>(end - begin) * n_layers_ * row_bytes, '\0');
  char* p = payload.data();
  for (int64_t l = 0; l < n_layers_; ++l) {  // positions of a layer are contiguous
    const size_t n_bytes = static_cast<size_t>(end - begin) * row_bytes;
    std::memcpy(p, row(l, begin), n_bytes);
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
  const size_t n_bytes = static_cast<size_t>(v.n * row_size()) * sizeof(float);
  const char* p = v.payload.data();
  for (int64_t l = 0; l < n_layers_; ++l, p += n_bytes) std::memcpy(row(l, v.begin), p, n_bytes);
  n_past_ = v.begin + v.n;
}

}  // namespace frugal
