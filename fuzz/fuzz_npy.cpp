// libFuzzer target: .npy header/data parsing and .npz (zip, stored or deflated) reading.
#include <cstdint>
#include <span>

#include "core/error.h"
#include "format/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    const frugal::NpyArray a = frugal::parse_npy(bytes, "fuzz");
    (void)a.to_float();
  } catch (const frugal::Error&) {
  }
  try {
    for (const auto& [name, a] : frugal::parse_npz(bytes, "fuzz")) (void)a.to_float();
  } catch (const frugal::Error&) {
  }
  return 0;
}
