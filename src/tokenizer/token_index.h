// Token text -> id: an open-addressing hash table over string_views into the vocabulary's own
// strings (no copies). Invariant: the viewed strings outlive the index and never change; moving
// the owning std::vector keeps them in place, so a Tokenizer can be moved with its index.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace frugal {

class TokenIndex {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  // Inserts `key` -> id; returns false (leaving the table unchanged) when key is present.
  bool insert(std::string_view key, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const uint64_t h = hash(key);
    for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = {h, key, id};
        ++size_;
        return true;
      }
      if (s.hash == h && s.key == key) return false;
    }
  }
  // Replaces the id of a present key, or inserts it.
  void assign(std::string_view key, int32_t id) {
    if (Slot* s = find_slot(key)) {
      s->id = id;
    } else {
      insert(key, id);
    }
  }
  // -1 when absent.
  int32_t find(std::string_view key) const {
    const Slot* s = const_cast<TokenIndex*>(this)->find_slot(key);
    return s ? s->id : -1;
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    std::string_view key;
    int32_t id = -1;  // -1: empty
  };

  static uint64_t hash(std::string_view s) {  // FNV-1a, then the splitmix64 finaliser
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
  }
  Slot* find_slot(std::string_view key) {
    if (slots_.empty()) return nullptr;
    const uint64_t h = hash(key);
    for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) return nullptr;
      if (s.hash == h && s.key == key) return &s;
    }
  }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    reserve(old.empty() ? 8 : old.size());
    size_ = 0;
    for (const Slot& s : old)
      if (s.id >= 0) insert(s.key, s.id);
  }

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace frugal
