// Reference (scalar) dequantizers and quantizers for the ggml block formats and DeepSeek's FP8.
// Layouts follow ggml-common.h (see ../shared/docs/reference/gguf.md §5). These are the plain
// references that fast kernels are tested against; they favour clarity over speed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/ggml_type.h"

namespace frugal {

// Dequantizes n elements (a whole number of blocks) of type t from src into dst.
// Throws frugal::Error for types without a dequantizer.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// True when quantize_row supports t.
bool can_quantize(GgmlType t);

// Quantizes n floats (a whole number of blocks) into type t; dst holds row_bytes(t, n) bytes.
// Throws frugal::Error for types without a quantizer. Reference quality: block scales come from
// least-squares fits (format/quant_fit.cpp), are stored as f16 saturated at +-65504, and the
// input is expected to be finite.
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// float8 e4m3fn (bias 7, no infinities, 0x7F/0xFF = NaN, max 448).
float fp8_e4m3_to_f32(uint8_t v);
// Round-to-nearest-even, saturating to +-448; NaN -> 0x7F.
uint8_t f32_to_fp8_e4m3(float f);

// DeepSeek-V3 block-scaled FP8: W[i][j] = fp8(w[i*cols + j]) * scale_inv[(i/block)*ceil(cols/block) + j/block].
// Dequantizes rows [row_begin, row_begin + n_rows) into out ([n_rows, cols]).
void dequantize_fp8_block_scaled(const uint8_t* w, const float* scale_inv, int64_t rows,
                                 int64_t cols, int64_t row_begin, int64_t n_rows, float* out,
                                 int64_t block = 128);

// The inverse: per block of block x block values, scale_inv = 2^ceil(log2(max|w| / 448)) (1 for an
// all-zero block; a power of two, as DeepSeek's ue8m0 scales) and q = fp8(w / scale_inv).
// w and q are [rows, cols]; scale_inv is [ceil(rows/block), ceil(cols/block)].
void quantize_fp8_block_scaled(const float* w, int64_t rows, int64_t cols, uint8_t* q,
                               float* scale_inv, int64_t block = 128);

}  // namespace frugal
