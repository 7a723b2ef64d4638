// Small ops of the kernel tables against their plain reference loops.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

namespace frugal::kern {
namespace {

// SwiGLU on gates across silu's whole range (large negative: ~0; large positive: ~z), odd
// lengths for the masked tail: every table's entry within 1e-6 relative (+1e-30 absolute for
// the underflowing ones) of the scalar loop.
TEST(SiluMul, EveryTableMatchesTheReference) {
  std::vector<const KernelTable*> tables{&ref_kernel_table()};
  if (cpu_features().has_avx2_set()) tables.push_back(&avx2_kernel_table());
  if (cpu_features().has_avx512_set()) tables.push_back(&avx512_kernel_table());
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (int64_t n : {1, 15, 16, 17, 100, 1027}) {
    std::vector<float> gate(static_cast<size_t>(n)), up(gate.size());
    for (float& v : gate) v = dist(rng);
    for (float& v : up) v = dist(rng);
    gate[0] = -120.0f;
    if (n > 1) gate[1] = 95.0f;
    if (n > 2) gate[2] = 0.0f;
    std::vector<float> want = gate;
    silu_mul_reference(want.data(), up.data(), n);
    for (const KernelTable* t : tables) {
      std::vector<float> got = gate;
      t->silu_mul(got.data(), up.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(got[i], want[i], 1e-6f * std::fabs(want[i]) + 1e-30f)
            << t->name << " n=" << n << " i=" << i << " gate=" << gate[i];
    }
  }
}

TEST(SiluMul, DispatchedEntryIsTheActiveTables) {
  std::vector<float> gate{-3.0f, -0.5f, 0.25f, 2.0f, 7.0f}, up{1.0f, 2.0f, -1.0f, 0.5f, 3.0f};
  std::vector<float> want = gate, got = gate;
  active_kernel_table().silu_mul(want.data(), up.data(), 5);
  silu_mul(got.data(), up.data(), 5);
  EXPECT_EQ(got, want);
  EXPECT_NEAR(got[3], 2.0f / (1.0f + std::exp(-2.0f)) * 0.5f, 1e-6f);
}

}  // namespace
}  // namespace frugal::kern
