// Deterministic random tensors for `frugal synth`, streamed into a GgufWriter: each tensor's
// values depend only on (seed, tensor name, row), drawn uniform as center ± half_width and
// quantized row by row with quantize_row. Shared by the model families' synth writers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/ggml_type.h"

namespace frugal {

class GgufWriter;

struct SynthFill {
  float center = 0.0f, half_width = 1.0f;  // values in [center - half_width, center + half_width)
};

// A projection with unit-scale activations: uniform with standard deviation 1/sqrt(fan_in).
SynthFill projection_fill(int64_t fan_in);

// Adds tensor `name` of PyTorch-order `shape` (rows = all but the last dim) to w, written as
// `type` when its row length is a whole number of blocks, else as F32.
void add_synth_tensor(GgufWriter& w, const std::string& name, GgmlType type,
                      const std::vector<int64_t>& shape, SynthFill f, uint64_t seed);

}  // namespace frugal
