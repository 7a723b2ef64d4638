// NumPy .npy / .npz reading (reference data in ../shared/data) and .npy float32 writing
// (`frugal logits --out FILE.npy`).
//
// .npy: "\x93NUMPY", version byte pair, header length (u16 for v1, u32 for v2/v3), then an ASCII
// Python dict {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to
// a multiple of 16/64 and ended by '\n', then the raw C-order data.
// .npz: a zip archive of .npy members, stored or deflated (numpy.savez / savez_compressed).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace frugal {

struct NpyArray {
  std::string dtype;           // "f4", "f8", "i4" or "i8" (stored little-endian)
  std::vector<int64_t> shape;  // C order; empty for a scalar
  std::vector<uint8_t> bytes;  // size() * itemsize() bytes

  int64_t size() const;     // number of elements (product of shape; 1 for a scalar)
  size_t itemsize() const;  // bytes per element
  bool is_float() const { return dtype[0] == 'f'; }

  // Elements converted to float (from any supported dtype; f8 and i8 may round).
  std::vector<float> to_float() const;
  // Elements converted to int64; throws frugal::Error for float dtypes.
  std::vector<int64_t> to_int64() const;
};

// Parses one .npy image; `source` names it in error messages. Throws frugal::Error for a bad
// magic, header, unsupported dtype (big-endian, Fortran order, objects...) or a size mismatch.
NpyArray parse_npy(std::span<const uint8_t> bytes, const std::string& source);
NpyArray read_npy(const std::string& path);

// Every member of a .npz, keyed by the member name without its ".npy" suffix.
std::map<std::string, NpyArray> read_npz(const std::string& path);
std::map<std::string, NpyArray> parse_npz(std::span<const uint8_t> bytes,
                                          const std::string& source);

// Writes a version 1.0 .npy of dtype '<f4'; throws frugal::Error naming the path on I/O failure.
void write_npy_f32(const std::string& path, const float* data, std::span<const int64_t> shape);

}  // namespace frugal
