#include "kernels/interleave.h"

#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "kernels/gemm.h"

namespace frugal {
namespace {

constexpr int kBlockBytes = 34;  // Q8_0: f16 d, 32 x int8

int64_t pairs_of(int64_t cols) {
  return (cols / 32 + 1) / 2;
}

}  // namespace

size_t q8_0_x4_quants_offset(int64_t cols) {
  return (static_cast<size_t>(pairs_of(cols)) * 16 + 63) / 64 * 64;
}

size_t q8_0_x4_group_bytes(int64_t cols) {
  return q8_0_x4_quants_offset(cols) + static_cast<size_t>(pairs_of(cols)) * 256;
}

bool interleave_pays(const WeightMatrix& w) {
  return w.interleave == 1 && w.type == GgmlType::Q8_0 && w.rows % kQ8_0Interleave == 0 &&
         w.cols % 32 == 0 && kern::active_kernel_table().q8_0_x4 != nullptr;
}

size_t interleaved_bytes(const WeightMatrix& w) {
  return static_cast<size_t>(w.rows / kQ8_0Interleave) * q8_0_x4_group_bytes(w.cols);
}

void interleave_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst) {
  FRUGAL_CHECK(w.type == GgmlType::Q8_0 && w.interleave == 1 && r0 % 4 == 0 && r1 % 4 == 0,
               "interleave_rows: expects a plain Q8_0 view and 4-aligned rows");
  const int64_t nb = w.cols / 32, np = pairs_of(w.cols);
  const size_t group = q8_0_x4_group_bytes(w.cols), qoff = q8_0_x4_quants_offset(w.cols);
  for (int64_t g = r0 / 4; g < r1 / 4; ++g) {
    uint8_t* out = dst + static_cast<size_t>(g) * group;
    std::memset(out, 0, qoff);
    for (int64_t p = 0; p < np; ++p) {
      for (int r = 0; r < 4; ++r) {
        const uint8_t* row = w.row(4 * g + r);
        for (int k = 0; k < 2; ++k) {
          const int64_t b = 2 * p + k;
          uint8_t* q = out + qoff + static_cast<size_t>(p) * 256 + r * 64 + k * 32;
          uint8_t* d = out + static_cast<size_t>(p) * 16 + (r * 2 + k) * 2;
          if (b < nb) {
            const uint8_t* blk = row + b * kBlockBytes;
            std::memcpy(d, blk, 2);
            for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(blk[2 + i] ^ 0x80);
          } else {
            std::memset(q, 0x80, 32);  // w = 0 (scale 0 too)
          }
        }
      }
    }
  }
}

WeightMatrix interleaved_view(const WeightMatrix& w, const uint8_t* dst) {
  WeightMatrix v = w;
  v.data = dst;
  v.row_stride = q8_0_x4_group_bytes(w.cols) / kQ8_0Interleave;
  v.interleave = kQ8_0Interleave;
  return v;
}

void dequantize_q8_0_x4_row(const WeightMatrix& w, int64_t r, float* out) {
  const int64_t nb = w.cols / 32;
  const uint8_t* group = w.row(r / 4 * 4);
  const size_t qoff = q8_0_x4_quants_offset(w.cols);
  const int ri = static_cast<int>(r % 4);
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t p = b / 2;
    const int k = static_cast<int>(b % 2);
    const float d = f16_to_f32(load_le<uint16_t>(group + p * 16 + (ri * 2 + k) * 2));
    const uint8_t* q = group + qoff + p * 256 + ri * 64 + k * 32;
    for (int i = 0; i < 32; ++i)
      out[b * 32 + i] = d * static_cast<float>(static_cast<int8_t>(q[i] ^ 0x80));
  }
}

}  // namespace frugal
