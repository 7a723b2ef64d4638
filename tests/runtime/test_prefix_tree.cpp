// The prefix cache's radix tree over KV blocks: token-exact matches (whole blocks, then the
// first tokens of one more), shared paths stored once, least recently used leaves evicted first,
// blocks a sequence holds never evicted, and the tree reclaiming for a full pool.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/error.h"
#include "model/kv_pool.h"
#include "runtime/prefix_tree.h"

namespace frugal {
namespace {

constexpr int64_t kB = 4;  // block tokens

std::shared_ptr<KvBlockPool> pool_of(int64_t n_blocks) {
  return std::make_shared<KvBlockPool>(KvPoolGeometry{"test", 2, kB, 8}, n_blocks);
}

std::vector<int32_t> seq(int32_t first, size_t n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// A sequence's blocks for `n` positions, freshly allocated (one reference each).
std::vector<int32_t> blocks_for(KvBlockPool& pool, size_t n) {
  std::vector<int32_t> b;
  for (size_t i = 0; i < (n + kB - 1) / kB; ++i) b.push_back(pool.allocate());
  return b;
}

void release_all(KvBlockPool& pool, const std::vector<int32_t>& blocks) {
  for (int32_t b : blocks) pool.release(b);
}

TEST(PrefixTree, MatchesWholeBlocksThenPartOfOneMore) {
  auto pool = pool_of(16);
  PrefixTree tree(*pool);
  const auto a = seq(100, 10);  // 2 full blocks + 2 tokens
  const auto ba = blocks_for(*pool, a.size());
  tree.insert(a, ba);
  release_all(*pool, ba);  // the sequence ends: the tree alone holds them
  EXPECT_EQ(tree.stats().n_blocks, 3);

  // The same 10 tokens and more: everything cached, to the token.
  auto longer = a;
  longer.push_back(7);
  longer.push_back(8);
  PrefixTree::Match m = tree.match(longer, 100);
  EXPECT_EQ(m.n_tokens, 10);
  EXPECT_EQ(m.blocks, ba);
  // Capped by max_tokens inside a block: 6 tokens = block 0 and 2 tokens of block 1.
  m = tree.match(longer, 6);
  EXPECT_EQ(m.n_tokens, 6);
  EXPECT_EQ(m.blocks, (std::vector<int32_t>{ba[0], ba[1]}));
  // Diverging in the middle of block 1: 4 + 1 tokens.
  auto other = a;
  other[5] = 999;
  m = tree.match(other, 100);
  EXPECT_EQ(m.n_tokens, 5);
  EXPECT_EQ(m.blocks, (std::vector<int32_t>{ba[0], ba[1]}));
  // Nothing in common.
  EXPECT_EQ(tree.match(seq(5, 8), 100).n_tokens, 0);
}

TEST(PrefixTree, SharedPathsAreStoredOnceAndFullOnlyInsertSkipsTheTail) {
  auto pool = pool_of(16);
  PrefixTree tree(*pool);
  const auto a = seq(0, 8);
  const auto ba = blocks_for(*pool, 8);
  tree.insert(a, ba);
  // Another sequence with the same first block and a different second one.
  auto b = a;
  b[6] = 50;
  const auto bb = blocks_for(*pool, 8);
  tree.insert(b, bb);
  EXPECT_EQ(tree.stats().n_blocks, 3);  // block 0 once, two second blocks
  EXPECT_EQ(pool->refs(ba[0]), 2);      // a's first block: a and the tree
  EXPECT_EQ(pool->refs(bb[0]), 1);      // b's copy of it was not taken
  EXPECT_EQ(tree.match(b, 100).blocks, (std::vector<int32_t>{ba[0], bb[1]}));
  // A prompt ending inside a block: without partial_tail only its full blocks go in.
  const auto c = seq(200, 6);
  const auto bc = blocks_for(*pool, 6);
  tree.insert(c, bc, /*partial_tail=*/false);
  EXPECT_EQ(tree.stats().n_blocks, 4);
  EXPECT_EQ(tree.match(c, 100).n_tokens, 4);
  release_all(*pool, ba);
  release_all(*pool, bb);
  release_all(*pool, bc);
}

TEST(PrefixTree, EvictsLeastRecentlyUsedLeavesAndNeverHeldBlocks) {
  auto pool = pool_of(16);
  PrefixTree tree(*pool);
  const auto old_path = seq(0, 8), new_path = seq(100, 8);
  const auto bo = blocks_for(*pool, 8), bn = blocks_for(*pool, 8);
  tree.insert(old_path, bo);
  tree.insert(new_path, bn);
  release_all(*pool, bo);
  release_all(*pool, bn);
  tree.match(new_path, 100);  // new_path is the more recent
  // A running sequence holds old_path's blocks (it adopted them).
  for (int32_t b : bo) pool->retain(b);
  // Leaves first: new_path's second block, then its first; old_path's are held.
  ASSERT_TRUE(tree.evict_one());
  EXPECT_EQ(tree.match(new_path, 100).n_tokens, 4);
  ASSERT_TRUE(tree.evict_one());
  EXPECT_EQ(tree.match(new_path, 100).n_tokens, 0);
  EXPECT_FALSE(tree.evict_one());  // only held blocks are left
  EXPECT_EQ(tree.match(old_path, 100).n_tokens, 8);
  release_all(*pool, bo);  // the sequence ends
  ASSERT_TRUE(tree.evict_one());
  ASSERT_TRUE(tree.evict_one());
  EXPECT_EQ(tree.stats().n_blocks, 0);
  EXPECT_EQ(tree.stats().n_evicted, 4);
  EXPECT_EQ(pool->n_free(), 16);
}

TEST(PrefixTree, AFullPoolReclaimsCachedBlocks) {
  auto pool = pool_of(4);
  PrefixTree tree(*pool);
  const auto a = seq(0, 16);
  const auto ba = blocks_for(*pool, 16);  // every block
  tree.insert(a, ba);
  release_all(*pool, ba);
  EXPECT_EQ(pool->n_free(), 0);
  const int32_t b = pool->allocate();  // evicts a's last block
  EXPECT_EQ(b, ba[3]);
  EXPECT_EQ(tree.match(a, 100).n_tokens, 12);
  for (int32_t h : tree.match(a, 100).blocks) pool->retain(h);  // all held now
  EXPECT_THROW(pool->allocate(), Error);  // full, nothing reclaimable: a clear error
}

TEST(PrefixTree, DestructionGivesEveryBlockBack) {
  auto pool = pool_of(8);
  {
    PrefixTree tree(*pool);
    const auto ba = blocks_for(*pool, 13);
    tree.insert(seq(0, 13), ba);
    release_all(*pool, ba);
    EXPECT_EQ(pool->n_free(), 4);
  }
  EXPECT_EQ(pool->n_free(), 8);
  EXPECT_NO_THROW(pool->allocate());  // no reclaimer left pointing at the dead tree
}

TEST(KvBlockTable, CopiesSharedBlocksBeforeWritingAndKeepsOnlyWhatIsAsked) {
  auto pool = pool_of(8);
  KvBlockTable donor(pool, 32);
  donor.prepare_write(0, 8);
  *donor.row(1, 5) = 42;
  KvBlockTable t(pool, 32);
  t.adopt(donor.blocks(), 8);
  EXPECT_EQ(pool->refs(donor.blocks()[1]), 2);
  t.prepare_write(6, 10);  // block 1 is shared: copied; block 2 is new
  EXPECT_NE(t.blocks()[1], donor.blocks()[1]);
  EXPECT_EQ(t.blocks()[0], donor.blocks()[0]);
  EXPECT_EQ(*t.row(1, 5), 42);  // the copy has the donor's entries
  *t.row(1, 5) = 7;
  EXPECT_EQ(*donor.row(1, 5), 42);  // the donor's are untouched
  t.keep(5);
  EXPECT_EQ(t.blocks().size(), 2u);
  EXPECT_THROW(t.prepare_write(30, 33), Error);  // beyond the context
  EXPECT_THROW(KvBlockPool(KvPoolGeometry{"x", 1, 3, 8}, 4), Error);  // not a power of two
}

}  // namespace
}  // namespace frugal
