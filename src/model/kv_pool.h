// A pool of KV-cache blocks shared by sequences (paged KV cache). A block holds block_tokens
// consecutive positions of every layer: [n_layers][block_tokens][row_bytes], where a row is one
// position's cache entry for one layer (its layout is the cache's business, named by `layout`).
// A sequence's cache is a table of block indices; blocks are reference counted, so sequences
// with a common prefix, and the prefix cache, share the blocks of that prefix. A block with
// more than one reference is never written: the writer copies it first (copy on write).
//
// Not thread-safe: the sequences of one pool are used from one thread at a time (the
// scheduler's engine thread). Memory is reserved at construction and touched as blocks are used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/paged_rows.h"

#include "model/cache_blob.h"

namespace frugal {

// Positions per block of the model caches' pools.
constexpr int64_t kKvBlockTokens = 16;

struct KvPoolGeometry {
  std::string layout;        // the cache layout ("mla-latent-f16", "gqa-kv-f32", ...)
  int64_t n_layers = 0;
  int64_t block_tokens = kKvBlockTokens;  // a power of two
  size_t row_bytes = 0;       // one layer's entry for one position
  bool operator==(const KvPoolGeometry&) const = default;
};

class KvBlockPool {
 public:
  // Throws frugal::Error for a bad geometry or when the memory cannot be reserved.
  KvBlockPool(KvPoolGeometry geometry, int64_t n_blocks);
  ~KvBlockPool();
  KvBlockPool(const KvBlockPool&) = delete;
  KvBlockPool& operator=(const KvBlockPool&) = delete;

  const KvPoolGeometry& geometry() const { return g_; }
  int64_t block_tokens() const { return g_.block_tokens; }
  int block_shift() const { return shift_; }
  size_t block_bytes() const { return block_bytes_; }
  int64_t n_blocks() const { return static_cast<int64_t>(refs_.size()); }
  int64_t n_free() const { return static_cast<int64_t>(free_.size()); }

  // A free block with one reference. When none is free the reclaimer (if set) is asked to free
  // one, as often as it succeeds; throws frugal::Error when the pool stays full.
  int32_t allocate();
  // allocate() and copy block b's contents into the new block.
  int32_t copy_of(int32_t b);
  void retain(int32_t b);
  void release(int32_t b);  // the last release frees the block
  int32_t refs(int32_t b) const { return refs_[static_cast<size_t>(b)]; }
  // Frees one block that is only kept for reuse (a cached prefix) and returns true, or false.
  void set_reclaimer(std::function<bool()> reclaim) { reclaim_ = std::move(reclaim); }

  // Row `i` (< block_tokens) of `layer` in block b.
  uint8_t* row(int32_t b, int64_t layer, int64_t i) {
    return base_ + static_cast<size_t>(b) * block_bytes_ +
           static_cast<size_t>(layer * g_.block_tokens + i) * g_.row_bytes;
  }
  const uint8_t* row(int32_t b, int64_t layer, int64_t i) const {
    return const_cast<KvBlockPool*>(this)->row(b, layer, i);
  }
  // Row 0 of `layer` in block 0: with block_bytes() as the stride between blocks, the base of a
  // paged view (kernels/paged_rows.h).
  const uint8_t* layer_base(int64_t layer) const { return row(0, layer, 0); }

 private:
  void check_block(int32_t b, const char* what) const;

  KvPoolGeometry g_;
  int shift_ = 0;
  size_t block_bytes_ = 0, mapped_bytes_ = 0;
  uint8_t* base_ = nullptr;
  std::vector<int32_t> refs_;  // [n_blocks] references held
  std::vector<int32_t> free_;  // unreferenced blocks, the next to hand out at the back
  std::function<bool()> reclaim_;
};

// One sequence's blocks of a pool: position p is row p % block_tokens of block
// blocks()[p / block_tokens]. Releases its blocks when destroyed.
class KvBlockTable {
 public:
  KvBlockTable() = default;
  // Positions [0, n_ctx) at most.
  KvBlockTable(std::shared_ptr<KvBlockPool> pool, int64_t n_ctx);
  // The same, for a cache whose layout is `expected`: throws frugal::Error naming the pool's
  // layout when it differs (a pool made for another model).
  static KvBlockTable checked(std::shared_ptr<KvBlockPool> pool, int64_t n_ctx,
                              const KvPoolGeometry& expected);
  ~KvBlockTable() { release_from(0); }
  KvBlockTable(KvBlockTable&& o) noexcept;
  KvBlockTable& operator=(KvBlockTable&& o) noexcept;
  KvBlockTable(const KvBlockTable&) = delete;
  KvBlockTable& operator=(const KvBlockTable&) = delete;

  int64_t n_ctx() const { return n_ctx_; }
  KvBlockPool& pool() const { return *pool_; }
  const std::shared_ptr<KvBlockPool>& shared_pool() const { return pool_; }
  std::span<const int32_t> blocks() const { return blocks_; }

  // Makes positions [begin, end) writable: blocks up to `end` exist and those overlapping
  // [begin, end) are this table's alone (shared ones are copied first). Throws frugal::Error
  // when end exceeds n_ctx or the pool is full; blocks already added stay.
  void prepare_write(int64_t begin, int64_t end);
  // Keeps the blocks holding positions [0, n) and releases the rest.
  void keep(int64_t n);
  // Drops everything and takes `blocks` (each retained) as the blocks of positions [0, n_past),
  // n_past within them ((size - 1) * block_tokens < n_past <= size * block_tokens, or both 0).
  void adopt(std::span<const int32_t> blocks, int64_t n_past);

  // Persistence of a paged cache (SequenceState::export_entries / import_entries): the blob
  // (model/cache_blob.h) of positions [begin, end) (end at most n_past), payload
  // [n_layers][end - begin][row_bytes]; and loading one whose positions start at most at n_past,
  // writing only the positions from n_past on (those held keep their entries, and shared blocks
  // are not copied for nothing). Returns the new n_past. Throws frugal::Error naming the mismatch.
  std::string export_rows(const CacheBlobLayout& layout, uint64_t model_tag, int64_t begin,
                          int64_t end, int64_t n_past) const;
  int64_t import_rows(std::string_view blob, const CacheBlobLayout& layout, uint64_t model_tag,
                      int64_t n_past);

  uint8_t* row(int64_t layer, int64_t pos) {
    const int shift = pool_->block_shift();
    return pool_->row(blocks_[static_cast<size_t>(pos >> shift)], layer,
                      pos & (pool_->block_tokens() - 1));
  }
  const uint8_t* row(int64_t layer, int64_t pos) const {
    return const_cast<KvBlockTable*>(this)->row(layer, pos);
  }
  // row(layer, pos) for writing: throws frugal::Error unless prepare_write made the position's
  // block this table's alone.
  uint8_t* writable_row(int64_t layer, int64_t pos);
  // The rows of one layer held in blocks, as attention kernels read them.
  PagedRows layer_rows(int64_t layer) const {
    return {pool_->layer_base(layer), pool_->geometry().row_bytes, blocks_.data(),
            pool_->block_shift(), pool_->block_bytes()};
  }

 private:
  void release_from(size_t k);

  std::shared_ptr<KvBlockPool> pool_;
  std::vector<int32_t> blocks_;
  int64_t n_ctx_ = 0;
};

}  // namespace frugal
