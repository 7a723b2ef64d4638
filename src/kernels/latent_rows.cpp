// The latent cache's row formats (kernels/attention.h): plain F32/F16/BF16 rows, and int8 rows
// with one scale per part (latent, k_pe).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "format/quant.h"
#include "kernels/attention.h"

namespace frugal {
namespace {

// q[i] = round(x[i] / scale) with scale = max|x| / 127 (0 for an all-zero part); returns the
// scale and adds Σ q to *sum.
float quantize_part_i8(const float* x, int64_t n, int8_t* q, int32_t* sum) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  int32_t s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const long v = std::lrint(x[i] * inv);
    q[i] = static_cast<int8_t>(std::clamp<long>(v, -127, 127));
    s += q[i];
  }
  *sum = s;
  return scale;
}

}  // namespace

bool is_latent_cache_type(GgmlType t) {
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || t == GgmlType::I8;
}

size_t latent_row_bytes(GgmlType t, int64_t rank, int64_t rope_dim) {
  FRUGAL_CHECK(is_latent_cache_type(t),
               std::string("latent cache: unsupported type ") + type_name(t));
  if (t == GgmlType::I8) return static_cast<size_t>(rank + rope_dim) + sizeof(LatentI8Tail);
  return row_bytes(t, rank + rope_dim);
}

void store_latent_row(GgmlType t, const float* src, uint8_t* dst, int64_t rank, int64_t rope_dim) {
  if (t != GgmlType::I8) {
    quantize_row(t, src, dst, rank + rope_dim);
    return;
  }
  int8_t* q = reinterpret_cast<int8_t*>(dst);
  LatentI8Tail tail{};
  tail.scale_latent = quantize_part_i8(src, rank, q, &tail.sum_latent);
  tail.scale_pe = quantize_part_i8(src + rank, rope_dim, q + rank, &tail.sum_pe);
  std::memcpy(dst + rank + rope_dim, &tail, sizeof tail);
}

void load_latent_row(GgmlType t, const uint8_t* src, float* dst, int64_t rank, int64_t rope_dim) {
  if (t != GgmlType::I8) {
    dequantize_row(t, src, dst, rank + rope_dim);
    return;
  }
  const LatentI8Tail tail = latent_i8_tail(src, rank + rope_dim);
  const int8_t* q = reinterpret_cast<const int8_t*>(src);
  for (int64_t i = 0; i < rank; ++i) dst[i] = tail.scale_latent * q[i];
  for (int64_t i = rank; i < rank + rope_dim; ++i) dst[i] = tail.scale_pe * q[i];
}

}  // namespace frugal
