// The bandwidth probe's read loops (`frugal bench --memory`): the SIMD families read the range in
// four streams, and every byte must still be read exactly once: their checksum is the sum of all
// 64-bit words, whatever the split and the tail.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/gemm.h"

namespace frugal::kern {
namespace {

TEST(StreamRead, EverySimdFamilyReadsEveryWordOnce) {
  std::vector<const KernelTable*> tables;
  if (cpu_features().has_avx2_set()) tables.push_back(&avx2_kernel_table());
  if (cpu_features().has_avx512_set()) tables.push_back(&avx512_kernel_table());
  if (tables.empty()) GTEST_SKIP() << "this CPU has neither AVX2 nor AVX-512";
  std::vector<uint64_t> raw(4096 + 8);
  std::mt19937_64 rng(3);
  for (uint64_t& v : raw) v = rng();
  auto* p = reinterpret_cast<uint8_t*>(raw.data());
  p += (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64;
  for (size_t n : {size_t{256}, size_t{1024}, size_t{3 * 1024 + 256}, size_t{32768}}) {
    uint64_t want = 0;
    for (size_t i = 0; i < n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      want += w;
    }
    for (const KernelTable* k : tables) EXPECT_EQ(k->stream_read(p, n), want) << k->name << " n " << n;
  }
}

}  // namespace
}  // namespace frugal::kern
