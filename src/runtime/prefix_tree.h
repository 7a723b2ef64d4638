// The prefix cache in RAM (context caching): a radix tree over blocks of a KV block pool's
// block_tokens (B) tokens. A node is one block of tokens that follows its parent's path from
// the start of a sequence, and holds one reference to the pool block computed for exactly that
// path: full nodes hold B tokens, partial ones (always leaves: a sequence's last, unfinished
// block) fewer. A new sequence adopts the blocks of the longest cached prefix of its prompt
// (SequenceState::adopt_kv_blocks), to the token: the last block may be matched only in part
// (its first tokens); the sequence copies that block before writing into it.
//
// Eviction: a block nobody but the tree holds (refs == 1) is reclaimable; leaves go first, least
// recently used first (a sequence that adopted a path holds every block of it, so the unheld
// nodes are always reclaimable leaf by leaf). The tree is the pool's reclaimer: allocating from
// a full pool evicts. Like the pool, not thread-safe (the scheduler's engine thread).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <utility>
#include <vector>

namespace frugal {

class KvBlockPool;

struct PrefixTreeStats {
  int64_t n_blocks = 0;         // nodes (blocks the tree holds)
  int64_t n_evicted = 0;        // blocks given back since start
  int64_t n_matched_blocks = 0;  // blocks handed to sequences since start
};

class PrefixTree {
 public:
  explicit PrefixTree(KvBlockPool& pool);  // and becomes the pool's reclaimer
  ~PrefixTree();                           // releases its blocks
  PrefixTree(const PrefixTree&) = delete;
  PrefixTree& operator=(const PrefixTree&) = delete;

  struct Match {
    std::vector<int32_t> blocks;  // holding positions [0, n_tokens)
    int64_t n_tokens = 0;
  };
  // The longest cached prefix of tokens[0, max_tokens); its path counts as just used.
  Match match(std::span<const int32_t> tokens, int64_t max_tokens);
  // Caches the blocks of `tokens`: blocks[k] holds positions [k B, (k + 1) B) computed for
  // tokens[0, (k + 1) B); with `partial_tail`, also the last block when `tokens` ends inside it.
  // Paths already cached keep their blocks; new nodes retain blocks[k].
  void insert(std::span<const int32_t> tokens, std::span<const int32_t> blocks,
              bool partial_tail = true);
  // Gives back the least recently used reclaimable leaf's block; false when there is none.
  bool evict_one();

  PrefixTreeStats stats() const { return stats_; }

 private:
  struct Node {
    Node* parent = nullptr;
    std::vector<int32_t> key;  // this block's tokens: B, or fewer for a partial leaf
    int32_t block = -1;
    uint64_t last_used = 0;
    std::map<std::vector<int32_t>, std::unique_ptr<Node>> children;
  };
  void touch(Node* n);
  void remove_leaf(Node* n);
  Node* add_child(Node* parent, std::vector<int32_t> key, int32_t block);
  // The child of n whose key shares the most leading tokens with q (0 if none does).
  std::pair<Node*, size_t> best_partial_child(Node* n, std::span<const int32_t> q) const;

  KvBlockPool& pool_;
  int64_t block_tokens_;
  Node root_;
  uint64_t clock_ = 0;
  std::set<std::pair<uint64_t, Node*>> leaves_;  // (last_used, node) of every leaf but the root
  PrefixTreeStats stats_;
};

}  // namespace frugal
