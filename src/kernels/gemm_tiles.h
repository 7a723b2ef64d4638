// The tile walk shared by every SIMD family: y[n_tok, n_rows] is covered by tiles of kRows
// weight rows x up to kMaxTileTokens tokens (the last tiles take what is left), and each tile is
// computed by run_tile(R, T, r0, t0) with R and T as compile-time constants. Included by each
// ISA's translation unit, so the walk is compiled with that unit's instruction set.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/gemm.h"

namespace frugal::kern {

inline constexpr int kMaxTileTokens = 4;

// Calls run(R, T, r0, t0) with T = nt (1..kMaxTileTokens) as a compile-time constant.
template <int R, typename RunTile>
inline void run_tile_for_tokens(int64_t nt, RunTile& run, int64_t r0, int64_t t0) {
  switch (nt) {
    case 1: run(std::integral_constant<int, R>{}, std::integral_constant<int, 1>{}, r0, t0); break;
    case 2: run(std::integral_constant<int, R>{}, std::integral_constant<int, 2>{}, r0, t0); break;
    case 3: run(std::integral_constant<int, R>{}, std::integral_constant<int, 3>{}, r0, t0); break;
    default: run(std::integral_constant<int, R>{}, std::integral_constant<int, 4>{}, r0, t0); break;
  }
}

// Full tiles of kRows rows first, then the remaining rows one at a time.
template <int kRows, typename RunTile>
inline void for_each_tile(const GemmArgs& a, RunTile run) {
  for (int64_t t0 = 0; t0 < a.n_tok; t0 += kMaxTileTokens) {
    const int64_t nt = a.n_tok - t0 < kMaxTileTokens ? a.n_tok - t0 : kMaxTileTokens;
    int64_t r0 = 0;
    for (; r0 + kRows <= a.n_rows; r0 += kRows) run_tile_for_tokens<kRows>(nt, run, r0, t0);
    for (; r0 < a.n_rows; ++r0) run_tile_for_tokens<1>(nt, run, r0, t0);
  }
}

}  // namespace frugal::kern
