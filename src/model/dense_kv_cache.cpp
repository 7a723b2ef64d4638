#include "model/dense_kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"

namespace frugal {

KvPoolGeometry DenseKvCache::pool_geometry(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim) {
  return {"gqa-kv-f32", n_layers, kKvBlockTokens, GqaCacheView::row_bytes(n_kv_heads, head_dim)};
}

DenseKvCache::DenseKvCache(int64_t n_layers, int64_t n_ctx, int64_t n_kv_heads, int64_t head_dim)
    : DenseKvCache(std::make_shared<KvBlockPool>(
                       pool_geometry(n_layers, n_kv_heads, head_dim),
                       std::max<int64_t>(1, (n_ctx + kKvBlockTokens - 1) / kKvBlockTokens)),
                   n_ctx, n_kv_heads, head_dim) {
  table_.prepare_write(0, n_ctx);  // its own pool: every block now, in address order
}

DenseKvCache::DenseKvCache(std::shared_ptr<KvBlockPool> pool, int64_t n_ctx, int64_t n_kv_heads,
                           int64_t head_dim)
    : n_kv_heads_(n_kv_heads), head_dim_(head_dim) {
  const int64_t n_layers = pool ? pool->geometry().n_layers : 0;
  table_ = KvBlockTable::checked(std::move(pool), n_ctx,
                                 pool_geometry(n_layers, n_kv_heads, head_dim));
  n_layers_ = table_.pool().geometry().n_layers;
  row_bytes_ = table_.pool().geometry().row_bytes;
}

void DenseKvCache::truncate(int64_t n_keep) {
  n_past_ = std::clamp<int64_t>(n_keep, 0, n_past_);
  table_.keep(n_keep);
}

void DenseKvCache::adopt_blocks(std::span<const int32_t> blocks, int64_t n_past) {
  table_.adopt(blocks, n_past);
  n_past_ = n_past;
}

void DenseKvCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
  auto* row = reinterpret_cast<float*>(table_.writable_row(layer, pos));
  const size_t kv_bytes = static_cast<size_t>(kv_dim()) * sizeof(float);
  std::memcpy(row, k, kv_bytes);
  std::memcpy(row + kv_dim(), v, kv_bytes);
}

CacheBlobLayout DenseKvCache::layout() const {
  return {"gqa-kv-rows-f32",
          {n_layers_, n_kv_heads_, head_dim_, 0},
          static_cast<int64_t>(bytes_per_token())};
}

std::string DenseKvCache::export_entries(int64_t begin, int64_t end, uint64_t model_tag) const {
  return table_.export_rows(layout(), model_tag, begin, end, n_past_);
}

void DenseKvCache::import_entries(std::string_view blob, uint64_t model_tag) {
  n_past_ = table_.import_rows(blob, layout(), model_tag, n_past_);
}

}  // namespace frugal
