#include "runtime/prefix_tree.h"

#include <algorithm>

#include "model/kv_pool.h"

namespace frugal {

PrefixTree::PrefixTree(KvBlockPool& pool) : pool_(pool), block_tokens_(pool.block_tokens()) {
  pool_.set_reclaimer([this] { return evict_one(); });
}

PrefixTree::~PrefixTree() {
  pool_.set_reclaimer({});
  // Depth first, children before parents.
  std::vector<Node*> stack{&root_};
  std::vector<Node*> order;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    order.push_back(n);
    for (auto& [key, child] : n->children) stack.push_back(child.get());
  }
  for (Node* n : order)
    if (n != &root_) pool_.release(n->block);
}

// A leaf's place in leaves_ follows its last use.
void PrefixTree::touch(Node* n) {
  const bool leaf = n->children.empty();
  if (leaf) leaves_.erase({n->last_used, n});
  n->last_used = ++clock_;
  if (leaf) leaves_.insert({n->last_used, n});
}

static size_t common_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// In key order, the key sharing the longest prefix with q is next to q's place: the first key
// not below q, or the one before it.
std::pair<PrefixTree::Node*, size_t> PrefixTree::best_partial_child(
    Node* n, std::span<const int32_t> q) const {
  std::pair<Node*, size_t> best{nullptr, 0};
  const std::vector<int32_t> qv(q.begin(), q.end());
  auto it = n->children.lower_bound(qv);
  auto consider = [&](decltype(it) c) {
    const size_t m = common_prefix(c->first, q);
    if (m > best.second) best = {c->second.get(), m};
  };
  if (it != n->children.end()) consider(it);
  if (it != n->children.begin()) consider(std::prev(it));
  return best;
}

PrefixTree::Match PrefixTree::match(std::span<const int32_t> tokens, int64_t max_tokens) {
  Match out;
  const size_t B = static_cast<size_t>(block_tokens_);
  const size_t limit = std::min(tokens.size(), static_cast<size_t>(std::max<int64_t>(max_tokens, 0)));
  Node* n = &root_;
  std::vector<int32_t> key(B);
  size_t done = 0;  // tokens matched
  while (done + B <= limit) {  // whole blocks
    std::copy_n(tokens.begin() + static_cast<std::ptrdiff_t>(done), B, key.begin());
    const auto it = n->children.find(key);
    if (it == n->children.end()) break;
    n = it->second.get();
    out.blocks.push_back(n->block);
    done += B;
  }
  if (done < limit) {  // the first tokens of one more block
    const auto [c, m] = best_partial_child(n, tokens.subspan(done, std::min(B, limit - done)));
    if (c != nullptr) {
      n = c;
      out.blocks.push_back(c->block);
      done += m;
    }
  }
  out.n_tokens = static_cast<int64_t>(done);
  // Touched root side first, so a parent is never more recent than its children.
  std::vector<Node*> path;
  for (Node* p = n; p != &root_; p = p->parent) path.push_back(p);
  for (auto it = path.rbegin(); it != path.rend(); ++it) touch(*it);
  stats_.n_matched_blocks += static_cast<int64_t>(out.blocks.size());
  return out;
}

PrefixTree::Node* PrefixTree::add_child(Node* parent, std::vector<int32_t> key, int32_t block) {
  if (parent != &root_ && parent->children.empty())
    leaves_.erase({parent->last_used, parent});  // no longer a leaf
  auto child = std::make_unique<Node>();
  child->parent = parent;
  child->key = key;
  child->block = block;
  pool_.retain(block);
  child->last_used = ++clock_;
  leaves_.insert({child->last_used, child.get()});
  ++stats_.n_blocks;
  return parent->children.emplace(std::move(key), std::move(child)).first->second.get();
}

void PrefixTree::insert(std::span<const int32_t> tokens, std::span<const int32_t> blocks,
                        bool partial_tail) {
  const size_t B = static_cast<size_t>(block_tokens_);
  Node* n = &root_;
  for (size_t k = 0; k < blocks.size() && k * B < tokens.size(); ++k) {
    const size_t len = std::min(B, tokens.size() - k * B);
    if (len < B && !partial_tail) break;
    std::vector<int32_t> key(tokens.begin() + static_cast<std::ptrdiff_t>(k * B),
                             tokens.begin() + static_cast<std::ptrdiff_t>(k * B + len));
    const auto it = n->children.find(key);
    if (it == n->children.end()) {
      n = add_child(n, std::move(key), blocks[k]);
    } else {
      n = it->second.get();
      touch(n);
    }
  }
}

void PrefixTree::remove_leaf(Node* n) {
  Node* parent = n->parent;
  leaves_.erase({n->last_used, n});
  pool_.release(n->block);
  parent->children.erase(n->key);  // destroys n
  --stats_.n_blocks;
  ++stats_.n_evicted;
  if (parent != &root_ && parent->children.empty()) leaves_.insert({parent->last_used, parent});
}

bool PrefixTree::evict_one() {
  for (const auto& [used, n] : leaves_) {
    if (pool_.refs(n->block) != 1) continue;  // a running sequence holds it
    remove_leaf(n);
    return true;
  }
  return false;
}

}  // namespace frugal
