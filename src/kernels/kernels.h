// The whole kernel API: plain buffers and sizes, never the model config (STYLE.md §6).
// Implementations: kernels/ref/ (scalar references, favour clarity over speed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "format/ggml_type.h"

namespace frugal {

// A read-only view of a 2-D weight [rows, cols] (PyTorch order: row r = output r), stored as
// `rows` rows of `cols` elements of `type`, row r starting at data + r * row_stride bytes.
// Views never own memory; the model keeps the mapped file or its converted buffer alive.
// interleave > 1: rows are stored in groups of that many (kernels/interleave.h) and row(r) is
// only meaningful for r a multiple of interleave (the start of a group).
struct WeightMatrix {
  GgmlType type = GgmlType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  size_t row_stride = 0;  // bytes between consecutive rows (>= row_bytes(type, cols))
  int32_t interleave = 1;

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_stride; }
  // Rows [begin, begin + n) as a view of their own (begin, n multiples of interleave).
  WeightMatrix slice_rows(int64_t begin, int64_t n) const {
    return {type, n, cols, row(begin), row_stride, interleave};
  }
  bool empty() const { return data == nullptr; }
};

// Builds a view over contiguous rows (row_stride = row_bytes(type, cols)).
WeightMatrix make_weight_matrix(GgmlType type, int64_t rows, int64_t cols, const void* data);

// y[t, r] = sum_c w[r, c] * x[t, c].   x: [n_tok, w.cols], y: [n_tok, w.rows] (both contiguous).
// Quantized weights with a fast kernel (kernels/gemm.h) multiply x quantized per block (Q8_0 or
// Q8_K activations, gguf.md §6); F32/F16/BF16 weights multiply x in float.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tok, float* y);

// One product of a batch: y [n_tok, w.rows] = x [n_tok, w.cols] · wᵀ.
struct MatmulJob {
  const WeightMatrix* w;
  const float* x;
  int64_t n_tok;
  float* y;
};
// Every job's product in one pass over the thread pool (one wait instead of one per product;
// both threads stream from several matrices): for many small products, such as a decode step's
// MoE experts. Each y is bit-identical to matmul() of its job. Jobs must not write what another
// job reads.
void matmul_batch(std::span<const MatmulJob> jobs);
// The plain reference: each weight row dequantized to float and dotted with x in float.
void matmul_reference(const WeightMatrix& w, const float* x, int64_t n_tok, float* y);

// Dequantizes row r of w into out [w.cols].
void weight_row(const WeightMatrix& w, int64_t r, float* out);

// Threads matmul may use (1 = run on the caller's thread). Default: hardware concurrency.
void set_kernel_threads(int n);
int kernel_threads();

// ---- small ops (all float32) ----

// sum_i a[i] * b[i]
float dot(const float* a, const float* b, int64_t n);
// y[i] += alpha * x[i]
void axpy(float alpha, const float* x, float* y, int64_t n);
// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]; y may alias x.
void rmsnorm(const float* x, const float* w, int64_t n, float eps, float* y);
// In place: x[i] = exp(x[i] - max) / sum.
void softmax(float* x, int64_t n);
// silu(z) = z / (1 + exp(-z))
float silu(float z);
// In place SwiGLU: gate[i] = silu(gate[i]) * up[i].
void silu_mul(float* gate, const float* up, int64_t n);
// Rotates n_pairs adjacent pairs (x[2i], x[2i+1]) by angle i (the "interleaved" / GPT-J /
// ggml ROPE_TYPE_NORM convention):  x'[2i] = x[2i] cos - x[2i+1] sin, x'[2i+1] = x[2i] sin + x[2i+1] cos.
void rope_interleaved(float* x, const float* cos, const float* sin, int64_t n_pairs);

}  // namespace frugal
