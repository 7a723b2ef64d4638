// libFuzzer target: safetensors header parsing and tensor bounds.
#include <cstdint>
#include <span>

#include "core/error.h"
#include "format/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = frugal::SafetensorsFile::parse(std::span<const uint8_t>(data, size), "fuzz");
    volatile uint8_t sink = 0;
    for (const auto& t : f.tensors())
      if (t.n_bytes > 0) sink = sink ^ t.data[0] ^ t.data[t.n_bytes - 1];
  } catch (const frugal::Error&) {
  }
  return 0;
}
