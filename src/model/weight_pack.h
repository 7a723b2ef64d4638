// Weights copied at load into the layout the fast kernels stream best (kernels/interleave.h:
// rows interleaved in groups), in one anonymous region backed by transparent huge pages, so
// decode reads long sequential streams with few TLB misses and no page faults. The copies are
// made in parallel; the source pages of a mapped file are then released (they are never read
// again, and re-fault from the file if they are), so resident memory stays about one model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "kernels/kernels.h"

namespace frugal {

class PackedWeights {
 public:
  // Repoints every view in `targets` that kernels/interleave.h can interleave to its copy; views
  // that cannot be interleaved are left as they are. `mapped` is the file mapping the sources
  // live in (empty: keep the source pages). Returns null when nothing was packed.
  // progress(done, total bytes), if set, is called from the calling thread only.
  static std::shared_ptr<PackedWeights> pack(
      const std::vector<WeightMatrix*>& targets, std::span<const uint8_t> mapped,
      const std::function<void(uint64_t, uint64_t)>& progress = {});
  ~PackedWeights();
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;

  size_t bytes() const { return bytes_; }
  size_t n_matrices() const { return n_; }

 private:
  PackedWeights() = default;
  uint8_t* mem_ = nullptr;
  size_t bytes_ = 0, n_ = 0;
};

}  // namespace frugal
