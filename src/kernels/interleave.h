// Interleaved row layouts: weights copied at load into the order the fast kernels stream them
// (kernels.h WeightMatrix::interleave > 1). One layout so far:
//
// Q8_0 x4 — groups of 4 rows. For a row of nb blocks (32 values each), pairs p = 0..np-1 of
// blocks (2p, 2p + 1) (np = ceil(nb / 2); a missing odd block is a zero block). Group g holds:
//   scales  f16 [np][4 rows][2 blocks]           padded to a multiple of 64 bytes
//   quants  u8  [np][4 rows][64] = w + 128       (blocks 2p then 2p + 1 of that row)
// Each row's pair of blocks is one aligned 64-byte load; the +128 bias lets the AVX-512 VNNI
// product u8 x s8 take the weight as the unsigned side (the activation sums undo the bias).
// The view's row_stride is group bytes / 4, so row(4g) is group g and slice_rows works on
// 4-aligned ranges.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace frugal {

inline constexpr int kQ8_0Interleave = 4;

// Bytes of one group of kQ8_0Interleave rows of `cols` values in the Q8_0 x4 layout.
size_t q8_0_x4_group_bytes(int64_t cols);
// Offset of the quants inside a group.
size_t q8_0_x4_quants_offset(int64_t cols);

// True when w (plain layout) can be interleaved and the active kernels have a kernel for the
// interleaved form, i.e. when interleaving pays.
bool interleave_pays(const WeightMatrix& w);
// Bytes interleave_rows needs for w.
size_t interleaved_bytes(const WeightMatrix& w);
// Writes w's rows [r0, r1) (multiples of 4) in the interleaved layout into dst (the start of
// the whole interleaved copy, interleaved_bytes(w) bytes, 64-byte aligned).
void interleave_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst);
// The view of an interleaved copy of w at dst.
WeightMatrix interleaved_view(const WeightMatrix& w, const uint8_t* dst);

// Row r of an interleaved Q8_0 x4 view as floats (used by weight_row).
void dequantize_q8_0_x4_row(const WeightMatrix& w, int64_t r, float* out);

}  // namespace frugal
