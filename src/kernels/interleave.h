// Interleaved row layouts: weights copied at load into the order the fast kernels stream them
// (kernels.h WeightMatrix::interleave > 1). Five layouts, all of 16 rows per group:
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
//
// Q4_K r16 — groups of 16 rows. For a row of nsb super-blocks (256 values: 8 sub-blocks of 32),
// group g holds per super-block b (kQ4KR16SuperBytes = 2368 bytes = 16 x 148, against 16 x 144):
//   @0    d     f16 [16 rows]
//   @32   dmin  f16 [16 rows]
//   @64   sc    u8  [8 sub-blocks][16 rows]            6-bit scales, unpacked
//   @192  mn    u8  [4 pairs][16 rows][2]             6-bit mins, sub-blocks 2p and 2p + 1
//   @320  qs    u8  [8 sub-blocks][4 quads][16 rows][4]
// Byte k of quad c of sub-block j for row r packs values 32j + 4c + k (low nibble) and
// 32j + 16 + 4c + k (high nibble), so each masked or shifted 64-byte vector is 16 rows x 4
// values: one VNNI product with 4 activation bytes broadcast advances 16 rows, and no product
// needs a lane sum. A row's value is d sc_j q - dmin mn_j, as in the plain layout.
//
// Q5_K r16 — Q4_K r16 (the same first 2368 bytes of a super-block) plus the fifth bits
// (kQ5KR16SuperBytes = 2880 = 16 x 180, against 16 x 176):
//   @2368 qh  u8 [8 sub-blocks j][16 rows][4]   bit n of byte k: the fifth bit of the value that
//                                                byte k of nibble vector n = 2c + half of
//                                                sub-block j holds (32j + 16 half + 4c + k)
//
// Q6_K r16 — groups of 16 rows. Per super-block b (kQ6KR16SuperBytes = 3392 = 16 x 212, against
// 16 x 210; 6-bit q, value d sc_k (q - 32) for sub-block k = value / 16):
//   @0     ql  u8   [8 chunks j][4 quads c][16 rows][4]   low 4 bits, packed as Q4_K r16's
//   @2048  qh  u8   [8 chunks j][2 h][16 rows][4]         high 2 bits
//   @3072  sc  int8 [16 sub-blocks][16 rows]
//   @3328  d   f16  [16 rows]                              (then 32 bytes of padding)
// Chunk j holds values 32j..32j + 31. Byte k of quad c of row r packs the low bits of values
// 32j + 4c + k (low nibble, sub-block 2j) and 32j + 16 + 4c + k (high nibble, sub-block 2j + 1).
// Nibble vector n = 2c + half (half 1: the high nibbles) takes its high bits from bits 2p, 2p + 1
// of qh vector h = n / 4, p = n % 4, in the same byte position.
//
// Q5_0 r16 — groups of 16 rows. For a row of nb blocks (32 values, value d (q - 16)), group g
// holds (16 x 22 bytes per block, as plain):
//   scales  f16 [nb][16 rows]                     padded to a multiple of 64 bytes (as Q8_0 r16)
//   blocks  [nb] x 320 bytes:
//     qs  u8 [4 quads c][16 rows][4]   byte k packs values 4c + k (low nibble) and 16 + 4c + k
//                                      (high nibble): for each row the plain block's qs bytes
//     qh  u8 [16 rows][4]              bit n of byte k: the fifth bit of the value that byte k
//                                      of nibble vector n = 2c + half holds (16 half + 4c + k)
//
// The view's row_stride is group bytes / 16, so row(16g) is group g and slice_rows works on
// 16-aligned ranges.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/gemm.h"
#include "kernels/kernels.h"

namespace frugal {

// Rows per group of every r16 layout.
inline constexpr int kR16Rows = 16;
inline constexpr int kQ8_0Interleave = kR16Rows;
inline constexpr size_t kQ4KR16SuperBytes = 2368;
// Offsets inside one super-block of a Q4_K r16 group.
inline constexpr size_t kQ4KR16Dmin = 32, kQ4KR16Sc = 64, kQ4KR16Mn = 192, kQ4KR16Qs = 320;
inline constexpr size_t kQ5KR16SuperBytes = 2880, kQ5KR16Qh = 2368;
inline constexpr size_t kQ5_0R16BlockBytes = 320, kQ5_0R16Qh = 256;
inline constexpr size_t kQ6KR16SuperBytes = 3392;
inline constexpr size_t kQ6KR16Qh = 2048, kQ6KR16Sc = 3072, kQ6KR16D = 3328;

// One r16 layout: the plain views it takes, its kernel, and how to make and read it.
struct R16Layout {
  GgmlType type;
  int64_t col_block;                      // row lengths must be a multiple of this
  kern::ActFormat act;                    // the activation format of its kernels
  kern::GemmFn kern::KernelTable::*gemm;  // its kernel in a family's table (null: none there)
  size_t (*group_bytes)(int64_t cols);    // bytes of one group of kR16Rows rows
  void (*pack)(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst);
  void (*dequantize_row)(const WeightMatrix& w, int64_t r, float* out);
};
// The r16 layout of plain type t (null when t has none).
const R16Layout* find_r16_layout(GgmlType t);

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

// Row r of an interleaved view as floats (used by weight_row); the same floats as the plain
// row's dequantization.
void dequantize_interleaved_row(const WeightMatrix& w, int64_t r, float* out);

}  // namespace frugal
