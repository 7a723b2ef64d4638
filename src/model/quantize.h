// `frugal quantize` / `frugal convert`: writes a GGUF whose weights are re-quantized to a type or
// mix (model/quant_mix.h), from
//   - a GGUF file (any architecture): every tensor and every metadata key is carried over, in
//     file order; general.file_type is updated;
//   - a Hugging Face deepseek2 directory (config.json + safetensors in BF16/F16/F32 or FP8 e4m3
//     with weight_scale_inv): tensors are renamed to GGUF names and per-expert tensors stacked into
//     ffn_*_exps, driven by the deepseek2 tensor table; deepseek2 metadata and the tokenizer
//     (tokenizer.json in the directory) are written.
// Streaming: one tensor at a time is held in memory (the source stays mapped); each tensor's rows
// are dequantized to F32 and quantized in parallel on the global thread pool. A tensor already
// stored in its target type is copied unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "format/ggml_type.h"
#include "model/quant_mix.h"

namespace frugal {

struct QuantizeProgress {
  uint64_t done_bytes = 0;              // source bytes processed so far
  uint64_t total_bytes = 0;             // source bytes of all tensors
  const std::string* tensor = nullptr;  // the tensor being written
};

struct QuantizeOptions {
  int n_threads = 0;  // 0 = the global pool's size
  // Called from the writing thread or a pool worker (one call at a time), at least once a tensor.
  std::function<void(const QuantizeProgress&)> progress;
};

struct QuantizedTensor {
  std::string name;
  std::vector<int64_t> ne;  // GGUF order
  std::string source_type;  // as stored in the source ("F8_E4M3" for FP8)
  GgmlType type = GgmlType::F32;
  TensorGroup group = TensorGroup::Other;
  std::string note;  // why the type differs from the mix's (row length), when it does
  uint64_t bytes = 0;
};

struct QuantizeReport {
  std::vector<QuantizedTensor> tensors;  // in file order
  std::vector<std::string> notes;        // about the whole file (skipped tensors, tokenizer)
  uint64_t source_bytes = 0;             // tensor bytes read
  uint64_t output_bytes = 0;             // size of the written file
};

// Reads `in` (a .gguf file or a Hugging Face directory) and writes `out` with the mix applied
// (QuantMix::for_dense_model() when the model has no routed experts).
// Throws frugal::Error for a missing or unreadable input, an unsupported architecture, a tensor
// type that cannot be dequantized, or an unwritable output. `out` must differ from `in`.
QuantizeReport quantize_model(const std::string& in, const std::string& out, const QuantMix& mix,
                              const QuantizeOptions& opt = {});

}  // namespace frugal
