#include "model/kv_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace frugal {

KvBlockPool::KvBlockPool(KvPoolGeometry geometry, int64_t n_blocks) : g_(std::move(geometry)) {
  const int64_t bt = g_.block_tokens;
  if (bt < 1 || (bt & (bt - 1)) != 0)
    throw Error("KV block pool: block_tokens must be a power of two, found " + std::to_string(bt));
  if (g_.n_layers < 1 || g_.row_bytes == 0)
    throw Error("KV block pool: empty geometry (" + std::to_string(g_.n_layers) + " layers, " +
                std::to_string(g_.row_bytes) + " bytes per row)");
  if (n_blocks < 1 || n_blocks > std::numeric_limits<int32_t>::max())
    throw Error("KV block pool: bad block count " + std::to_string(n_blocks));
  while ((int64_t{1} << shift_) < bt) ++shift_;
  block_bytes_ = static_cast<size_t>(g_.n_layers * bt) * g_.row_bytes;
  block_bytes_ = (block_bytes_ + 63) / 64 * 64;  // every block starts on a cache line
  if (block_bytes_ > std::numeric_limits<size_t>::max() / static_cast<size_t>(n_blocks))
    throw Error("KV block pool: " + std::to_string(n_blocks) + " blocks overflow the address space");
  mapped_bytes_ = block_bytes_ * static_cast<size_t>(n_blocks);
  // Reserved, not committed: pages are touched as blocks are first written.
  void* mem = ::mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED)
    throw Error("cannot reserve " + std::to_string(mapped_bytes_ >> 20) +
                " MiB for the KV cache: " + std::strerror(errno));
  ::madvise(mem, mapped_bytes_, MADV_HUGEPAGE);  // a hint; plain pages work too
  base_ = static_cast<uint8_t*>(mem);
  refs_.assign(static_cast<size_t>(n_blocks), 0);
  free_.reserve(static_cast<size_t>(n_blocks));
  // Handed out from the back: block 0 first, so a lone sequence's blocks are in address order.
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

KvBlockPool::~KvBlockPool() {
  if (base_ != nullptr) ::munmap(base_, mapped_bytes_);
}

void KvBlockPool::check_block(int32_t b, const char* what) const {
  FRUGAL_CHECK(b >= 0 && b < n_blocks() && refs_[static_cast<size_t>(b)] > 0,
               std::string("KV block pool: ") + what + " of block " + std::to_string(b) +
                   ", which is not in use");
}

int32_t KvBlockPool::allocate() {
  while (free_.empty()) {
    if (!reclaim_ || !reclaim_())
      throw Error("the KV cache is full: all " + std::to_string(n_blocks()) + " blocks of " +
                  std::to_string(g_.block_tokens) + " positions are in use");
  }
  const int32_t b = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(b)] = 1;
  return b;
}

int32_t KvBlockPool::copy_of(int32_t b) {
  check_block(b, "copy");
  const int32_t c = allocate();
  std::memcpy(base_ + static_cast<size_t>(c) * block_bytes_,
              base_ + static_cast<size_t>(b) * block_bytes_, block_bytes_);
  return c;
}

void KvBlockPool::retain(int32_t b) {
  check_block(b, "retain");
  ++refs_[static_cast<size_t>(b)];
}

void KvBlockPool::release(int32_t b) {
  check_block(b, "release");
  if (--refs_[static_cast<size_t>(b)] == 0) free_.push_back(b);
}

KvBlockTable::KvBlockTable(std::shared_ptr<KvBlockPool> pool, int64_t n_ctx)
    : pool_(std::move(pool)), n_ctx_(n_ctx) {
  FRUGAL_CHECK(pool_ != nullptr, "KV block table without a pool");
  if (n_ctx < 1) throw Error("a KV cache needs at least one position, found " + std::to_string(n_ctx));
}

KvBlockTable KvBlockTable::checked(std::shared_ptr<KvBlockPool> pool, int64_t n_ctx,
                                   const KvPoolGeometry& expected) {
  FRUGAL_CHECK(pool != nullptr, "KV cache without a pool");
  const KvPoolGeometry& g = pool->geometry();
  if (g != expected)
    throw Error("KV cache: the block pool holds " + g.layout + " rows of " +
                std::to_string(g.row_bytes) + " bytes, not this model's cache layout (" +
                expected.layout + ")");
  return KvBlockTable(std::move(pool), n_ctx);
}

KvBlockTable::KvBlockTable(KvBlockTable&& o) noexcept
    : pool_(std::move(o.pool_)), blocks_(std::move(o.blocks_)), n_ctx_(o.n_ctx_) {
  o.blocks_.clear();
}

KvBlockTable& KvBlockTable::operator=(KvBlockTable&& o) noexcept {
  if (this != &o) {
    release_from(0);
    pool_ = std::move(o.pool_);
    blocks_ = std::move(o.blocks_);
    n_ctx_ = o.n_ctx_;
    o.blocks_.clear();
  }
  return *this;
}

void KvBlockTable::release_from(size_t k) {
  for (size_t i = k; i < blocks_.size(); ++i) pool_->release(blocks_[i]);
  if (k < blocks_.size()) blocks_.resize(k);
}

void KvBlockTable::prepare_write(int64_t begin, int64_t end) {
  if (!(0 <= begin && begin <= end && end <= n_ctx_))
    throw Error("KV cache: positions [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") are outside the context of " + std::to_string(n_ctx_));
  if (begin == end) return;
  const int shift = pool_->block_shift();
  const size_t first = static_cast<size_t>(begin >> shift);
  const size_t last = static_cast<size_t>((end - 1) >> shift);
  for (size_t k = first; k <= last && k < blocks_.size(); ++k) {
    const int32_t b = blocks_[k];
    if (pool_->refs(b) == 1) continue;
    blocks_[k] = pool_->copy_of(b);  // shared: written only as a private copy
    pool_->release(b);
  }
  while (blocks_.size() <= last) blocks_.push_back(pool_->allocate());
}

void KvBlockTable::keep(int64_t n) {
  const int64_t bt = pool_->block_tokens();
  release_from(static_cast<size_t>((std::max<int64_t>(n, 0) + bt - 1) / bt));
}

void KvBlockTable::adopt(std::span<const int32_t> blocks, int64_t n_past) {
  const int64_t bt = pool_->block_tokens(), n = static_cast<int64_t>(blocks.size());
  const bool fits = n == 0 ? n_past == 0 : (n - 1) * bt < n_past && n_past <= n * bt;
  if (!fits || n_past > n_ctx_)
    throw Error("KV cache: " + std::to_string(n_past) + " positions do not fill " +
                std::to_string(n) + " blocks of " + std::to_string(bt) + " within the context of " +
                std::to_string(n_ctx_));
  for (int32_t b : blocks) pool_->retain(b);  // first: a block may already be one of ours
  release_from(0);
  blocks_.assign(blocks.begin(), blocks.end());
}

std::string KvBlockTable::export_rows(const CacheBlobLayout& layout, uint64_t model_tag,
                                      int64_t begin, int64_t end, int64_t n_past) const {
  if (!(0 <= begin && begin <= end && end <= n_past))
    throw Error("KV cache export: positions [" + std::to_string(begin) + ", " +
                std::to_string(end) + ") are not all valid (" + std::to_string(n_past) + ")");
  const KvPoolGeometry& g = pool_->geometry();
  std::string payload(static_cast<size_t>((end - begin) * g.n_layers) * g.row_bytes, '\0');
  char* p = payload.data();
  for (int64_t l = 0; l < g.n_layers; ++l)
    for (int64_t t = begin; t < end; ++t, p += g.row_bytes) std::memcpy(p, row(l, t), g.row_bytes);
  return write_cache_blob(layout, model_tag, begin, end - begin, payload);
}

int64_t KvBlockTable::import_rows(std::string_view blob, const CacheBlobLayout& layout,
                                  uint64_t model_tag, int64_t n_past) {
  const CacheBlobView v = read_cache_blob(blob, layout, model_tag);
  if (v.begin > n_past || v.begin + v.n > n_ctx_)
    throw Error("KV cache import: positions [" + std::to_string(v.begin) + ", " +
                std::to_string(v.begin + v.n) + ") do not follow the " + std::to_string(n_past) +
                " held or exceed the context of " + std::to_string(n_ctx_));
  const KvPoolGeometry& g = pool_->geometry();
  const int64_t end = v.begin + v.n, first = std::min(std::max(v.begin, n_past), end);
  prepare_write(first, end);
  for (int64_t l = 0; l < g.n_layers; ++l) {
    const char* p = v.payload.data() + static_cast<size_t>(l * v.n + first - v.begin) * g.row_bytes;
    for (int64_t t = first; t < end; ++t, p += g.row_bytes) std::memcpy(row(l, t), p, g.row_bytes);
  }
  return end;
}

uint8_t* KvBlockTable::writable_row(int64_t layer, int64_t pos) {
  const auto k = static_cast<size_t>(pos >> pool_->block_shift());
  FRUGAL_CHECK(pos >= 0 && k < blocks_.size() && pool_->refs(blocks_[k]) == 1,
               "KV cache: position " + std::to_string(pos) + " was not made writable");
  return row(layer, pos);
}

}  // namespace frugal
