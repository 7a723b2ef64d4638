// Where weights come from: a GGUF file or a Hugging Face safetensors directory, behind one small
// interface that hands out raw tensors (type, PyTorch-order shape, bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "format/ggml_type.h"

namespace frugal {

class GgufFile;
class SafetensorsModel;

struct SourceTensor {
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> shape;  // PyTorch order
  const uint8_t* data = nullptr;
  const float* fp8_scale_inv = nullptr;  // HF FP8 e4m3 only: [ceil(rows/128), ceil(cols/128)]
  bool is_fp8() const { return fp8_scale_inv != nullptr; }
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool is_hf() const = 0;
  virtual const std::string& source() const = 0;  // file or directory, for messages
  // nullopt when absent; throws frugal::Error for a tensor stored in an unsupported type.
  virtual std::optional<SourceTensor> find(const std::string& name) const = 0;
};

class GgufWeightSource : public WeightSource {
 public:
  explicit GgufWeightSource(const GgufFile& f) : f_(f) {}
  bool is_hf() const override { return false; }
  const std::string& source() const override;
  std::optional<SourceTensor> find(const std::string& name) const override;

 private:
  const GgufFile& f_;
};

// BF16/F16/F32 tensors are used as stored; F8_E4M3 with a `<name>_scale_inv` sibling is FP8.
class HfWeightSource : public WeightSource {
 public:
  HfWeightSource(const SafetensorsModel& m, std::string dir) : m_(m), dir_(std::move(dir)) {}
  bool is_hf() const override { return true; }
  const std::string& source() const override { return dir_; }
  std::optional<SourceTensor> find(const std::string& name) const override;

 private:
  const SafetensorsModel& m_;
  std::string dir_;
};

}  // namespace frugal
