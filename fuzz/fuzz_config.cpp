// libFuzzer target: config.json parsing and typed field access.
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "format/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto c = frugal::HfConfig::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    (void)c.top_level_fields();
    for (const char* key : {"hidden_size", "rope_scaling.factor", "q_lora_rank", "scoring_func"}) {
      try {
        (void)c.get_int_or(key, 0);
      } catch (const frugal::Error&) {
      }
      try {
        (void)c.get_string_or(key, "");
      } catch (const frugal::Error&) {
      }
    }
  } catch (const frugal::Error&) {
  }
  return 0;
}
