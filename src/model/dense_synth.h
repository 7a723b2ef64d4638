// Deterministic random-weight qwen2 / llama models of the R1-Distill shapes, written as GGUF by
// streaming (`frugal synth --arch qwen2|llama`). Driven by the tensor table, so every tensor the
// loader expects is written; llama3 scaling is written as rope_freqs.weight like llama.cpp does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "format/ggml_type.h"
#include "model/dense_config.h"

namespace frugal {

class GgufWriter;

// qwen2: "tiny", "r1-distill-qwen-1.5b", "r1-distill-qwen-7b";
// llama: "tiny" (with llama3 scaling), "r1-distill-llama-8b". Throws frugal::Error otherwise.
DenseConfig dense_preset(const std::string& arch, const std::string& name);

struct DenseSynthOptions {
  GgmlType type = GgmlType::F32;  // 2-D weights; norms and biases stay F32, and a weight whose
                                  // row length is not a whole number of blocks falls back to F32
  uint64_t seed = 1;
  std::string name = "frugal-synth";
  std::function<void(GgufWriter&)> extra_metadata;  // e.g. tokenizer.ggml.* keys
};

// Writes config `c` with random weights to `path`. Values: uniform with standard deviation
// 1/sqrt(fan_in) for projections, 1 for the embedding, norms 1 ± 0.1, biases ± 0.1.
void write_dense_synth(const DenseConfig& c, const DenseSynthOptions& opt, const std::string& path);

// The GGUF metadata keys for `c` (the inverse of DenseConfig::from_gguf, less rope_freqs).
void write_dense_metadata(const DenseConfig& c, GgufWriter& w);

}  // namespace frugal
