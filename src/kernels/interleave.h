// Interleaved row layouts: weights copied at load into the order the fast kernels stream them
// (kernels.h WeightMatrix::interleave > 1). One layout so far:
//
// Q8_0 r16 — groups of 16 rows. For a row of nb blocks (32 values each), group g holds:
//   scales  f16 [nb][16 rows]                     padded to a multiple of 64 bytes
//   quants  u8  [nb][8 chunks][16 rows][4] = w + 128
// Chunk c of block b is one aligned 64-byte vector holding values 4c..4c+3 of the block for
// each of the 16 rows, so one AVX-512 VNNI product with 4 activation bytes broadcast to every
// lane advances 16 rows at once: a block is 8 such products per token, and the weights loaded
// once serve every token of the tile. The +128 bias lets the product take the weight as the
// unsigned side; the activation's nsum (-128 * its block sum) undoes it exactly, so each lane
// holds the block's integer dot product, scaled once by d_w d_x.
// The view's row_stride is group bytes / 16, so row(16g) is group g and slice_rows works on
// 16-aligned ranges.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace frugal {

inline constexpr int kQ8_0Interleave = 16;

// Bytes of one group of kQ8_0Interleave rows of `cols` values in the Q8_0 r16 layout.
size_t q8_0_r16_group_bytes(int64_t cols);
// Offset of the quants inside a group.
size_t q8_0_r16_quants_offset(int64_t cols);

// True when w (plain layout) can be interleaved and the active kernels have a kernel for the
// interleaved form, i.e. when interleaving pays.
bool interleave_pays(const WeightMatrix& w);
// Bytes interleave_rows needs for w.
size_t interleaved_bytes(const WeightMatrix& w);
// Writes w's rows [r0, r1) (multiples of 16) in the interleaved layout into dst (the start of
// the whole interleaved copy, interleaved_bytes(w) bytes, 64-byte aligned).
void interleave_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst);
// The view of an interleaved copy of w at dst.
WeightMatrix interleaved_view(const WeightMatrix& w, const uint8_t* dst);

// Row r of an interleaved Q8_0 r16 view as floats (used by weight_row).
void dequantize_q8_0_r16_row(const WeightMatrix& w, int64_t r, float* out);

}  // namespace frugal
