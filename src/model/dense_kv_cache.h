// The KV cache of grouped-query attention (float32). Per layer and position one row
//   [K (n_kv_heads, head_dim) ; V (n_kv_heads, head_dim)]
// of the rotated keys and the values, which the attention kernel (kernels/gqa_attention.h)
// streams once per token for every query head. One sequence, paged: its positions live in
// blocks of a KvBlockPool, its own or one shared with other sequences (model/kv_pool.h), and a
// writer makes the positions it writes its own first (prepare_write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/gqa_attention.h"
#include "model/cache_blob.h"
#include "model/kv_pool.h"

namespace frugal {

class DenseKvCache {
 public:
  DenseKvCache() = default;
  // A cache with a pool of its own holding all n_ctx positions.
  DenseKvCache(int64_t n_layers, int64_t n_ctx, int64_t n_kv_heads, int64_t head_dim);
  // A cache whose blocks come from `pool` (made with pool_geometry()) as positions are written.
  DenseKvCache(std::shared_ptr<KvBlockPool> pool, int64_t n_ctx, int64_t n_kv_heads,
               int64_t head_dim);
  // The pool geometry of this cache layout.
  static KvPoolGeometry pool_geometry(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim);
  DenseKvCache(DenseKvCache&&) noexcept = default;
  DenseKvCache& operator=(DenseKvCache&&) noexcept = default;
  DenseKvCache(const DenseKvCache&) = delete;
  DenseKvCache& operator=(const DenseKvCache&) = delete;

  int64_t n_layers() const { return n_layers_; }
  int64_t n_ctx() const { return table_.n_ctx(); }
  int64_t n_kv_heads() const { return n_kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t kv_dim() const { return n_kv_heads_ * head_dim_; }
  int64_t n_past() const { return n_past_; }  // positions [0, n_past) are valid
  void set_n_past(int64_t n) { n_past_ = n; }
  // Keeps positions [0, n_keep) (n_past at most n_keep) and gives the blocks past them back.
  void truncate(int64_t n_keep);

  // Paging (model/kv_pool.h): positions [begin, end) become writable (blocks allocated,
  // shared ones copied). Throws frugal::Error beyond n_ctx or when the pool is full.
  void prepare_write(int64_t begin, int64_t end) { table_.prepare_write(begin, end); }
  std::span<const int32_t> blocks() const { return table_.blocks(); }
  // Takes `blocks` of the same pool as positions [0, n_past = size * block_tokens).
  void adopt_blocks(std::span<const int32_t> blocks, int64_t n_past);
  KvBlockPool& pool() const { return table_.pool(); }

  // Stores one position's k and v, each [n_kv_heads, head_dim]. The position must be writable
  // (prepare_write).
  void store(int64_t layer, int64_t pos, const float* k, const float* v);
  // The positions of one layer held in blocks, for the attention kernel.
  GqaCacheView layer_view(int64_t layer) const {
    return {table_.layer_rows(layer), n_kv_heads_, head_dim_};
  }

  // Bytes one position takes over all layers.
  size_t bytes_per_token() const { return static_cast<size_t>(n_layers_) * row_bytes_; }
  // Bytes of the blocks this cache holds (shared ones included).
  size_t bytes() const { return table_.blocks().size() * table_.pool().block_bytes(); }

  // Persistence (SequenceState::export_entries): payload [n_layers, end - begin, row] with
  // row = [K (kv_dim) ; V (kv_dim)] float32.
  CacheBlobLayout layout() const;
  std::string export_entries(int64_t begin, int64_t end, uint64_t model_tag) const;
  void import_entries(std::string_view blob, uint64_t model_tag);

 private:
  int64_t n_layers_ = 0, n_kv_heads_ = 0, head_dim_ = 0, n_past_ = 0;
  size_t row_bytes_ = 0;  // 2 kv_dim floats
  KvBlockTable table_;
};

}  // namespace frugal
