#include "model/dense_kv_cache.h"

#include <cstring>

#include "core/error.h"

namespace frugal {

CacheBlobLayout DenseKvCache::layout() const {
  return {"gqa-kv-f32",
          {n_layers_, n_kv_heads_, head_dim_, 0},
          static_cast<int64_t>(bytes_per_token())};
}

std::string DenseKvCache::export_entries(int64_t begin, int64_t end, uint64_t model_tag) const {
  if (!(0 <= begin && begin <= end && end <= n_past_))
    throw Error("KV cache export: positions [" + std::to_string(begin) + ", " +
                std::to_string(end) + ") are not all valid (" + std::to_string(n_past_) + ")");
  const int64_t n = end - begin;
  std::string payload(static_cast<size_t>(n) * bytes_per_token(), '\0');
  char* p = payload.data();
  const size_t k_bytes = static_cast<size_t>(n * kv_dim()) * sizeof(float);
  for (int64_t l = 0; l < n_layers_; ++l, p += k_bytes)
    std::memcpy(p, &k_[static_cast<size_t>((l * n_ctx_ + begin) * kv_dim())], k_bytes);
  const size_t v_bytes = static_cast<size_t>(n) * sizeof(float);
  for (int64_t l = 0; l < n_layers_; ++l)
    for (int64_t g = 0; g < n_kv_heads_; ++g)
      for (int64_t d = 0; d < head_dim_; ++d, p += v_bytes)
        std::memcpy(p, &vt_[vt_offset(l, g, d) + static_cast<size_t>(begin)], v_bytes);
  return write_cache_blob(layout(), model_tag, begin, n, payload);
}

void DenseKvCache::import_entries(std::string_view blob, uint64_t model_tag) {
  const CacheBlobView v = read_cache_blob(blob, layout(), model_tag);
  if (v.begin > n_past_ || v.begin + v.n > n_ctx_)
    throw Error("KV cache import: positions [" + std::to_string(v.begin) + ", " +
                std::to_string(v.begin + v.n) + ") do not follow the " + std::to_string(n_past_) +
                " held or exceed the context of " + std::to_string(n_ctx_));
  const char* p = v.payload.data();
  const size_t k_bytes = static_cast<size_t>(v.n * kv_dim()) * sizeof(float);
  for (int64_t l = 0; l < n_layers_; ++l, p += k_bytes)
    std::memcpy(&k_[static_cast<size_t>((l * n_ctx_ + v.begin) * kv_dim())], p, k_bytes);
  const size_t v_bytes = static_cast<size_t>(v.n) * sizeof(float);
  for (int64_t l = 0; l < n_layers_; ++l)
    for (int64_t g = 0; g < n_kv_heads_; ++g)
      for (int64_t d = 0; d < head_dim_; ++d, p += v_bytes)
        std::memcpy(&vt_[vt_offset(l, g, d) + static_cast<size_t>(v.begin)], p, v_bytes);
  n_past_ = v.begin + v.n;
}

}  // namespace frugal
