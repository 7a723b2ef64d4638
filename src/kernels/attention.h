// Multi-head latent attention over a compressed cache (MLA, absorbed form; deepseek-arch.md
// §2.5), for one query token and all heads at once, so every cache row is read from memory once
// per token instead of once per head:
//   s[h, j]  = scale (q_abs[h] · kv_latent_j + q_pe[h] · k_pe_j)        j < n_kv
//   p[h, :]  = softmax_j(s[h, :])
//   ctx[h]   = Σ_j p[h, j] kv_latent_j                                   [n_heads, rank]
// Cache rows are stored as F32, F16 or BF16 (the cache type option), or as int8 rows (I8, the
// `q8` option; latent_rows below). The reference math is float32; the AVX-512 kernel of the int8
// rows also quantizes q and the softmax weights to 8 bits and uses integer dot products.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "format/ggml_type.h"
#include "kernels/paged_rows.h"

namespace frugal {

// Cache rows [kv_latent (rank) ; k_pe (rope_dim)] of one layer, in pages (kernels/paged_rows.h).
struct LatentCacheView {
  GgmlType type = GgmlType::F32;  // F32, F16, BF16 or I8 (latent_row_bytes)
  PagedRows rows;
  int64_t rank = 0;      // kv_lora_rank
  int64_t rope_dim = 0;  // qk_rope_head_dim

  const uint8_t* row(int64_t j) const { return rows.row(j); }
  // Rows at data + j * row_stride.
  static LatentCacheView contiguous(GgmlType type, const uint8_t* data, size_t row_stride,
                                    int64_t rank, int64_t rope_dim) {
    return {type, PagedRows::contiguous(data, row_stride), rank, rope_dim};
  }
};

// One token's queries: head h's q_abs at q_abs + h * q_abs_stride (rank floats), its q_pe at
// q_pe + h * q_pe_stride (rope_dim floats).
struct LatentQuery {
  int64_t n_heads = 0;
  const float* q_abs = nullptr;
  int64_t q_abs_stride = 0;
  const float* q_pe = nullptr;
  int64_t q_pe_stride = 0;
  float scale = 1.0f;
};

// ctx[h * rank + i] for h < n_heads, i < rank, attending over rows [0, n_kv) (n_kv >= 1).
// The rows are split into chunks fixed by n_kv alone and merged in order, so the result does not
// depend on the thread count or on what else is in the batch. Uses the thread pool when called
// outside it and the cache is long.
void latent_attention(const LatentQuery& q, const LatentCacheView& kv, int64_t n_kv, float* ctx);

// The plain two-pass reference (scores, exact softmax, weighted sum), in float32.
void latent_attention_reference(const LatentQuery& q, const LatentCacheView& kv, int64_t n_kv,
                                float* ctx);

// True for the cache element types latent_attention reads.
bool is_latent_cache_type(GgmlType t);

// Cache rows [kv_latent (rank) ; k_pe (rope_dim)]. F32, F16, BF16: the values in that type. I8:
// each part rounded to int8 with its own scale (x ≈ scale * q, scale = max|x| / 127), then the
// part scales and the parts' sums of q (the integer kernel's offset correction):
//   [int8 latent (rank)] [int8 k_pe (rope_dim)] [f32 scale_latent] [f32 scale_pe]
//   [i32 sum_latent] [i32 sum_pe]
struct LatentI8Tail {
  float scale_latent, scale_pe;
  int32_t sum_latent, sum_pe;
};
// The tail of an I8 row of n_quants = rank + rope_dim quants.
inline LatentI8Tail latent_i8_tail(const uint8_t* row, int64_t n_quants) {
  LatentI8Tail t;
  std::memcpy(&t, row + n_quants, sizeof t);
  return t;
}
size_t latent_row_bytes(GgmlType t, int64_t rank, int64_t rope_dim);
void store_latent_row(GgmlType t, const float* src, uint8_t* dst, int64_t rank, int64_t rope_dim);
void load_latent_row(GgmlType t, const uint8_t* src, float* dst, int64_t rank, int64_t rope_dim);

}  // namespace frugal
