// Cache rows in pages, as attention kernels read them: the KV block pool's blocks
// (model/kv_pool.h) hold 2^page_shift rows of one layer each, at some stride, in any order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace frugal {

// Row j is at data + pages[j >> page_shift] * page_stride + (j & (2^page_shift - 1)) * row_stride.
// A plain array of rows is one page (contiguous()).
struct PagedRows {
  const uint8_t* data = nullptr;   // row 0 of page index 0
  size_t row_stride = 0;           // bytes
  const int32_t* pages = nullptr;  // page index of each 2^page_shift rows, in order
  int page_shift = 62;
  size_t page_stride = 0;  // bytes from one page index to the next

  const uint8_t* row(int64_t j) const {
    const uint64_t u = static_cast<uint64_t>(j);
    return data + static_cast<size_t>(pages[u >> page_shift]) * page_stride +
           static_cast<size_t>(u & ((uint64_t{1} << page_shift) - 1)) * row_stride;
  }
  // Rows at data + j * row_stride.
  static PagedRows contiguous(const uint8_t* data, size_t row_stride) {
    static constexpr int32_t kOnePage = 0;
    return {data, row_stride, &kOnePage, 62, 0};
  }
};

}  // namespace frugal
