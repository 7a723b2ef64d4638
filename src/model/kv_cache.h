// The latent KV cache of MLA (deepseek-arch.md §2.5): per layer and position it holds only the
// normalised kv_latent (kv_lora_rank values) and the rotated k_pe (qk_rope_head_dim values),
// not per-head keys and values, stored as F32, F16, BF16 or int8 rows (I8; the cache type
// option, row formats in kernels/attention.h). One sequence, paged: its positions live in blocks
// of a KvBlockPool, its own or one shared with other sequences (model/kv_pool.h), and a writer
// makes the positions it writes its own first (prepare_write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format/ggml_type.h"
#include "kernels/attention.h"
#include "model/cache_blob.h"
#include "model/kv_pool.h"

namespace frugal {

class LatentKvCache {
 public:
  LatentKvCache() = default;
  // A cache with a pool of its own holding all n_ctx positions. type: F32, F16, BF16 or I8 (throws
  // frugal::Error otherwise).
  LatentKvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_lora_rank, int64_t rope_dim,
                GgmlType type = GgmlType::F32);
  // A cache whose blocks come from `pool` (made with pool_geometry()) as positions are written.
  LatentKvCache(std::shared_ptr<KvBlockPool> pool, int64_t n_ctx, int64_t kv_lora_rank,
                int64_t rope_dim, GgmlType type);
  // The pool geometry of this cache layout.
  static KvPoolGeometry pool_geometry(int64_t n_layers, int64_t kv_lora_rank, int64_t rope_dim,
                                      GgmlType type);
  LatentKvCache(LatentKvCache&&) noexcept = default;
  LatentKvCache& operator=(LatentKvCache&&) noexcept = default;
  LatentKvCache(const LatentKvCache&) = delete;
  LatentKvCache& operator=(const LatentKvCache&) = delete;

  int64_t n_ctx() const { return table_.n_ctx(); }
  int64_t n_layers() const { return n_layers_; }
  int64_t kv_lora_rank() const { return kv_lora_rank_; }
  int64_t rope_dim() const { return rope_dim_; }
  int64_t row_size() const { return kv_lora_rank_ + rope_dim_; }
  GgmlType type() const { return type_; }
  // Positions [0, n_past) hold valid entries.
  int64_t n_past() const { return n_past_; }
  void set_n_past(int64_t n) { n_past_ = n; }
  void clear() { n_past_ = 0; }
  // Keeps positions [0, n_keep) (n_past at most n_keep) and gives the blocks past them back.
  void truncate(int64_t n_keep);

  // Paging (model/kv_pool.h): positions [begin, end) become writable (blocks allocated,
  // shared ones copied). Throws frugal::Error beyond n_ctx or when the pool is full.
  void prepare_write(int64_t begin, int64_t end) { table_.prepare_write(begin, end); }
  std::span<const int32_t> blocks() const { return table_.blocks(); }
  // Takes `blocks` of the same pool as positions [0, n_past), n_past within them.
  void adopt_blocks(std::span<const int32_t> blocks, int64_t n_past);
  KvBlockPool& pool() const { return table_.pool(); }

  // Row (layer, pos) = src [kv_latent (kv_lora_rank) ; k_pe (rope_dim)], rounded to the type.
  // The position must be writable (prepare_write).
  void store_row(int64_t layer, int64_t pos, const float* src);
  // dst [row_size()] = row (layer, pos) as floats.
  void load_row(int64_t layer, int64_t pos, float* dst) const;
  // The positions of one layer held in blocks, for the attention kernel.
  LatentCacheView layer_view(int64_t layer) const;

  // Bytes one position takes over all layers.
  size_t bytes_per_token() const { return static_cast<size_t>(n_layers_) * row_bytes_; }
  // Bytes of the blocks this cache holds (shared ones included).
  size_t bytes() const { return table_.blocks().size() * table_.pool().block_bytes(); }

  // Persistence (SequenceState::export_entries): payload [n_layers, end - begin, row_size].
  CacheBlobLayout layout() const;
  std::string export_entries(int64_t begin, int64_t end, uint64_t model_tag) const;
  void import_entries(std::string_view blob, uint64_t model_tag);

 private:
  int64_t n_layers_ = 0, kv_lora_rank_ = 0, rope_dim_ = 0, n_past_ = 0;
  GgmlType type_ = GgmlType::F32;
  size_t row_bytes_ = 0;  // bytes of one row of row_size() values
  KvBlockTable table_;
};

}  // namespace frugal
