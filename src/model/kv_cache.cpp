#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "format/quant.h"

namespace frugal {

namespace {

void check_cache_type(GgmlType type) {
  if (!is_latent_cache_type(type))
    throw Error(std::string("KV cache type ") + type_name(type) +
                " is not supported (use f32, f16, bf16 or q8)");
}

}  // namespace

KvPoolGeometry LatentKvCache::pool_geometry(int64_t n_layers, int64_t kv_lora_rank,
                                            int64_t rope_dim, GgmlType type) {
  check_cache_type(type);
  return {std::string("mla-latent-") + type_name(type), n_layers, kKvBlockTokens,
          latent_row_bytes(type, kv_lora_rank, rope_dim)};
}

LatentKvCache::LatentKvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_lora_rank,
                             int64_t rope_dim, GgmlType type)
    : LatentKvCache(std::make_shared<KvBlockPool>(
                        pool_geometry(n_layers, kv_lora_rank, rope_dim, type),
                        std::max<int64_t>(1, (n_ctx + kKvBlockTokens - 1) / kKvBlockTokens)),
                    n_ctx, kv_lora_rank, rope_dim, type) {
  table_.prepare_write(0, n_ctx);  // its own pool: every block now, in address order
}

LatentKvCache::LatentKvCache(std::shared_ptr<KvBlockPool> pool, int64_t n_ctx,
                             int64_t kv_lora_rank, int64_t rope_dim, GgmlType type)
    : kv_lora_rank_(kv_lora_rank), rope_dim_(rope_dim), type_(type) {
  const int64_t n_layers = pool ? pool->geometry().n_layers : 0;
  table_ = KvBlockTable::checked(std::move(pool), n_ctx,
                                 pool_geometry(n_layers, kv_lora_rank, rope_dim, type));
  n_layers_ = table_.pool().geometry().n_layers;
  row_bytes_ = table_.pool().geometry().row_bytes;
}

void LatentKvCache::truncate(int64_t n_keep) {
  n_past_ = std::clamp<int64_t>(n_keep, 0, n_past_);
  table_.keep(n_keep);
}

void LatentKvCache::adopt_blocks(std::span<const int32_t> blocks, int64_t n_past) {
  table_.adopt(blocks, n_past);
  n_past_ = n_past;
}

void LatentKvCache::store_row(int64_t layer, int64_t pos, const float* src) {
  store_latent_row(type_, src, table_.writable_row(layer, pos), kv_lora_rank_, rope_dim_);
}

void LatentKvCache::load_row(int64_t layer, int64_t pos, float* dst) const {
  load_latent_row(type_, table_.row(layer, pos), dst, kv_lora_rank_, rope_dim_);
}

LatentCacheView LatentKvCache::layer_view(int64_t layer) const {
  return {type_, table_.layer_rows(layer), kv_lora_rank_, rope_dim_};
}

CacheBlobLayout LatentKvCache::layout() const {
  return {std::string("mla-latent-") + type_name(type_),
          {n_layers_, kv_lora_rank_, rope_dim_, 0},
          static_cast<int64_t>(bytes_per_token())};
}

std::string LatentKvCache::export_entries(int64_t begin, int64_t end, uint64_t model_tag) const {
  return table_.export_rows(layout(), model_tag, begin, end, n_past_);
}

void LatentKvCache::import_entries(std::string_view blob, uint64_t model_tag) {
  n_past_ = table_.import_rows(blob, layout(), model_tag, n_past_);
}

}  // namespace frugal
