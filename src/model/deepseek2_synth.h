// Deterministic random-weight deepseek2 models of real shapes, written as GGUF by streaming
// (`frugal synth`). Driven by the tensor table, so every tensor the loader expects is written.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "format/ggml_type.h"
#include "model/deepseek2_config.h"

namespace frugal {

class GgufWriter;

// "tiny" (V3-style, small: q_lora, sigmoid routing with groups, YaRN), "v2-lite", "v3".
// Throws frugal::Error for an unknown name.
Deepseek2Config deepseek2_preset(const std::string& name);

struct SynthOptions {
  GgmlType type =
      GgmlType::F32;  // 2-D weights; norms, router and bias stay F32, and a weight
                      // whose row length is not a whole number of blocks falls back to F32
  uint64_t seed = 1;
  bool split_kv_b = false;  // write attn_k_b/attn_v_b (newer GGUF form) instead of attn_kv_b
  std::string name = "frugal-synth";
  std::function<void(GgufWriter&)> extra_metadata;  // e.g. tokenizer.ggml.* keys
};

// Writes config `c` with random weights to `path`. Values: uniform with standard deviation
// 1/sqrt(fan_in) for projections (activations keep unit scale), 1 for the embedding, norms
// 1 ± 0.1, score bias ± 0.05. The same (seed, tensor name) always gives the same values.
void write_deepseek2_synth(const Deepseek2Config& c, const SynthOptions& opt,
                           const std::string& path);

// The GGUF metadata keys for `c` (the inverse of Deepseek2Config::from_gguf).
void write_deepseek2_metadata(const Deepseek2Config& c, bool split_kv_b, GgufWriter& w);

}  // namespace frugal
