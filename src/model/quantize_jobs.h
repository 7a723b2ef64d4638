// Internal to quantize.cpp and deepseek2_convert.cpp: a model to be written, as a list of output
// tensors that each know how to produce their rows as F32.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "format/ggml_type.h"

namespace frugal {

class GgufWriter;

struct TensorJob {
  std::string name;         // GGUF name
  std::vector<int64_t> ne;  // GGUF order; rows = product of ne[1..]
  std::string source_type;  // for the report ("F8_E4M3" for FP8)
  uint64_t source_bytes = 0;
  // The source bytes when they can be copied unchanged into a tensor of type `stored_type`.
  const uint8_t* raw = nullptr;
  GgmlType stored_type = GgmlType::F32;
  // Dequantizes rows [begin, begin + n) into out [n, ne[0]]; thread-safe. Null when the source
  // type cannot be dequantized (the tensor is then copied as stored).
  std::function<void(int64_t begin, int64_t n, float* out)> read_rows;

  int64_t n_rows() const {
    int64_t r = 1;
    for (size_t d = 1; d < ne.size(); ++d) r *= ne[d];
    return r;
  }
};

struct ModelJobs {
  uint32_t alignment = 32;
  std::function<void(GgufWriter&)> write_metadata;
  std::vector<TensorJob> tensors;  // in output order
  std::vector<std::string> notes;
  std::shared_ptr<void> keep_alive;  // the mapped source the jobs point into
};

// A Hugging Face deepseek2 directory (deepseek2_convert.cpp).
ModelJobs deepseek2_hf_jobs(const std::string& dir);

}  // namespace frugal
