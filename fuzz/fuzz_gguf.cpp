// libFuzzer target: GGUF parsing, typed metadata access and tensor bounds.
#include <cstdint>
#include <span>

#include "core/error.h"
#include "format/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    frugal::GgufFile f = frugal::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz");
    for (const auto& [key, value] : f.metadata()) (void)value.to_display_string();
    (void)f.get_optional<uint32_t>("general.alignment");
    volatile uint8_t sink = 0;
    for (const auto& t : f.tensors())
      if (t.n_bytes > 0) sink = sink ^ t.data[0] ^ t.data[t.n_bytes - 1];  // must be in bounds
  } catch (const frugal::Error&) {
  }
  return 0;
}
