// The fast matmul layer under kernels.h's matmul(): activation formats, the row-block GEMM
// signature every implementation (ref/, avx2/, avx512/) provides, and the function table chosen
// once at start-up from the CPU's features (dispatch.cpp). Kernels see buffers and sizes only.
//
// Integer paths follow ../shared/docs/reference/gguf.md §6: the activations x are quantized per
// block (Q8_0-style for Q4_0/Q8_0 weights, Q8_K-style for K-quants) and each weight block is
// multiplied with its activation block in integers, then scaled once per block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/ggml_type.h"

namespace frugal::kern {

// ---- activation formats ----

enum class ActFormat {
  F32,   // x itself, float [n]
  Q8_0,  // blocks of 32, see ActQ8_0 below
  Q8_K,  // super-blocks of 256, see ActQ8K below
  BF16,  // x rounded to bfloat16, for BF16 weights' dot products (ActBF16 below)
};

// ActBF16: one token's BF16 activation row, uint16 [n rounded up to 32]: x[i] rounded to nearest
// even, NaN made quiet, subnormal inputs taken as zero (what AVX512_BF16's vcvtne2ps2bf16 does),
// then zeros up to a multiple of 32 elements. DeepSeek's reference, run in its default dtype
// (bf16), feeds its linear layers such inputs.

// One token's Q8_0 activation row of n floats (n a multiple of 32), struct of arrays so two
// blocks load as one 512-bit vector. nb = n/32 rounded up to even; the padding block is zero.
//   qs    int8  [nb * 32]   round(x / d)
//   nsum4 int32 [nb * 8]    minus the sum of each 4 consecutive qs (for weights with an offset)
//   d8    float [nb * 8]    each block's scale d = max|x| / 127, repeated 8 times
//   d     float [nb]        each block's scale once (rounded up to 16 entries, zero padded)
//   xu    uint8 [nb * 32]   qs + 128 (for u8 x s8 products against signed weights)
//   nsum  int32 [nb]        -128 * the block's sum of qs (for weights biased by +128; rounded
//                           up to 16 entries, zero padded)
struct ActQ8_0Layout {
  int64_t nb;  // blocks, padded to even
  size_t qs_offset() const { return 0; }
  size_t nsum4_offset() const { return static_cast<size_t>(nb) * 32; }
  size_t d8_offset() const { return static_cast<size_t>(nb) * 64; }
  size_t d_offset() const { return static_cast<size_t>(nb) * 96; }
  size_t xu_offset() const {
    return static_cast<size_t>(nb) * 96 + static_cast<size_t>((nb + 15) / 16 * 64);
  }
  size_t nsum_offset() const { return xu_offset() + static_cast<size_t>(nb) * 32; }
  size_t bytes() const { return nsum_offset() + static_cast<size_t>((nb + 15) / 16 * 64); }
};
inline ActQ8_0Layout act_q8_0_layout(int64_t n) {
  return {(n / 32 + 1) / 2 * 2};
}

// One Q8_K super-block of activations (gguf.md §6 Q8_K, with d last and padded to 320 bytes).
struct alignas(64) ActQ8K {
  int8_t qs[256];      // round(x / d)
  int16_t bsums[16];   // sum of each 16 consecutive qs
  float d;             // max|x| / 127
  int16_t bsums32[8];  // sum of each 32 consecutive qs (bsums[2j] + bsums[2j + 1])
  uint8_t pad[12];
};
static_assert(sizeof(ActQ8K) == 320);

// Bytes of one token's activation row of n elements in format f (a multiple of 64).
size_t act_row_bytes(ActFormat f, int64_t n);

// Quantizes x[n] into one activation row (out: act_row_bytes(f, n) bytes, 64-byte aligned).
using QuantizeActFn = void (*)(const float* x, int64_t n, uint8_t* out);

// ---- the GEMM over a block of weight rows ----

// y[t * y_stride + r] = sum_c w[r, c] * x[t, c]  for r < n_rows, t < n_tok.
// w: n_rows rows of n_cols elements, row r at w + r * w_stride; x: n_tok activation rows in the
// weight type's ActFormat, row t at x + t * x_stride (64-byte aligned for quantized formats).
struct GemmArgs {
  const uint8_t* w;
  size_t w_stride;
  int64_t n_rows;
  int64_t n_cols;
  const uint8_t* x;
  size_t x_stride;
  int64_t n_tok;
  float* y;
  int64_t y_stride;
};
using GemmFn = void (*)(const GemmArgs&);

struct TypeKernel {
  ActFormat act = ActFormat::F32;
  GemmFn gemm = nullptr;  // null: no kernel for this type in this table
};

// Reads n bytes at p (64-byte aligned, n a multiple of 256) with the family's widest loads and
// returns a checksum so the reads cannot be optimised away (`frugal bench --memory`). The SIMD
// families read four distant quarters at once: several streams per core keep more memory
// requests in flight than one (on the 2-core VM: ~32 against ~28 GB/s).
using StreamReadFn = uint64_t (*)(const uint8_t* p, size_t n);

// In place SwiGLU over n floats: gate[i] = silu(gate[i]) * up[i] (kernels.h silu_mul).
using SiluMulFn = void (*)(float* gate, const float* up, int64_t n);

// One implementation family. Entries may be null (the caller falls back to the reference).
struct KernelTable {
  const char* name;  // "ref", "avx2", "avx512"
  QuantizeActFn quantize_q8_0;
  QuantizeActFn quantize_q8_k;
  GemmFn f32, f16, bf16, q8_0, q4_0, q5_0, q4_1, q5_1, q4_k, q5_k, q6_k;
  StreamReadFn stream_read;
  // Interleaved layouts (kernels/interleave.h); args.w is a group start, w_stride = group / 16.
  GemmFn q8_0_r16;
  GemmFn q4_k_r16;
  GemmFn q5_k_r16;
  GemmFn q6_k_r16;
  GemmFn q5_0_r16;
  SiluMulFn silu_mul;
  // BF16 weights x BF16 activations (AVX512_BF16 vdpbf16ps: 32 products per instruction, no
  // widening of the weights); when present, BF16 weights take it instead of `bf16`.
  QuantizeActFn round_act_bf16;
  GemmFn bf16_dot;
};

// The plain loop of silu_mul (the reference and AVX2 tables' entry).
void silu_mul_reference(float* gate, const float* up, int64_t n);
// AVX-512: e^-z by a polynomial, within 1e-6 relative of the reference (ops.cpp).
void avx512_silu_mul(float* gate, const float* up, int64_t n);

// The GEMM of weight type t stored with `interleave` rows per group in table k ({F32, null}
// when the table has none).
TypeKernel find_kernel(const KernelTable& k, GgmlType t, int interleave = 1);
// The quantizer for activation format f (null for F32).
QuantizeActFn find_quantizer(const KernelTable& k, ActFormat f);

// The families compiled in. avx2/avx512 tables must only be used on CPUs that support them.
const KernelTable& ref_kernel_table();
const KernelTable& avx2_kernel_table();
const KernelTable& avx512_kernel_table();

// The best table this CPU runs, chosen once. FRUGAL_KERNELS=avx2 or ref forces a lesser family
// (avx2 is ignored when the CPU lacks it); FRUGAL_KERNELS=none leaves every type to
// matmul_reference (the baseline for before/after figures). The chosen family's bf16_dot (and
// round_act_bf16) are kept only with FRUGAL_BF16_DOT=on.
const KernelTable& active_kernel_table();

}  // namespace frugal::kern
