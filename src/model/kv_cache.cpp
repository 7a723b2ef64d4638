#include "model/kv_cache.h"

namespace frugal {

LatentKvCache::LatentKvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_lora_rank,
                             int64_t rope_dim)
    : n_layers_(n_layers),
      n_ctx_(n_ctx),
      kv_lora_rank_(kv_lora_rank),
      rope_dim_(rope_dim),
      data_(static_cast<size_t>(n_layers * n_ctx * (kv_lora_rank + rope_dim))) {}

}  // namespace frugal
