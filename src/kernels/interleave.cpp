#include "kernels/interleave.h"

#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "kernels/gemm.h"

namespace frugal {
namespace {

constexpr int kBlockBytes = 34;  // Q8_0: f16 d, 32 x int8
constexpr int kRows = kQ8_0Interleave;

// Byte of value i (< 32) of block b, row ri, in a group's quants.
size_t quant_index(int64_t b, int ri, int i) {
  return static_cast<size_t>(b) * 512 + static_cast<size_t>(i / 4) * 64 + ri * 4 + i % 4;
}

}  // namespace

size_t q8_0_r16_quants_offset(int64_t cols) {
  return (static_cast<size_t>(cols / 32) * kRows * 2 + 63) / 64 * 64;
}

size_t q8_0_r16_group_bytes(int64_t cols) {
  return q8_0_r16_quants_offset(cols) + static_cast<size_t>(cols / 32) * 512;
}

bool interleave_pays(const WeightMatrix& w) {
  return w.interleave == 1 && w.type == GgmlType::Q8_0 && w.rows % kRows == 0 &&
         w.cols % 32 == 0 && kern::active_kernel_table().q8_0_r16 != nullptr;
}

size_t interleaved_bytes(const WeightMatrix& w) {
  return static_cast<size_t>(w.rows / kRows) * q8_0_r16_group_bytes(w.cols);
}

void interleave_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst) {
  FRUGAL_CHECK(w.type == GgmlType::Q8_0 && w.interleave == 1 && r0 % kRows == 0 &&
                   r1 % kRows == 0,
               "interleave_rows: expects a plain Q8_0 view and 16-aligned rows");
  const int64_t nb = w.cols / 32;
  const size_t group = q8_0_r16_group_bytes(w.cols), qoff = q8_0_r16_quants_offset(w.cols);
  for (int64_t g = r0 / kRows; g < r1 / kRows; ++g) {
    uint8_t* out = dst + static_cast<size_t>(g) * group;
    std::memset(out, 0, qoff);
    for (int ri = 0; ri < kRows; ++ri) {
      const uint8_t* row = w.row(g * kRows + ri);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = row + b * kBlockBytes;
        std::memcpy(out + (b * kRows + ri) * 2, blk, 2);
        for (int i = 0; i < 32; ++i) out[qoff + quant_index(b, ri, i)] = blk[2 + i] ^ 0x80;
      }
    }
  }
}

WeightMatrix interleaved_view(const WeightMatrix& w, const uint8_t* dst) {
  WeightMatrix v = w;
  v.data = dst;
  v.row_stride = q8_0_r16_group_bytes(w.cols) / kRows;
  v.interleave = kRows;
  return v;
}

void dequantize_q8_0_r16_row(const WeightMatrix& w, int64_t r, float* out) {
  const int64_t nb = w.cols / 32;
  const uint8_t* group = w.row(r / kRows * kRows);
  const uint8_t* quants = group + q8_0_r16_quants_offset(w.cols);
  const int ri = static_cast<int>(r % kRows);
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_f32(load_le<uint16_t>(group + (b * kRows + ri) * 2));
    for (int i = 0; i < 32; ++i)
      out[b * 32 + i] = d * static_cast<float>(static_cast<int8_t>(quants[quant_index(b, ri, i)] ^ 0x80));
  }
}

}  // namespace frugal
