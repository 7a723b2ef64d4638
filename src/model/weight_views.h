// Tensor tables shared by model families: one entry per tensor (GGUF name, HF name, PyTorch
// shape, destination), and the loader that turns a WeightSource's raw tensors into views
// (WeightMatrix / float vectors), checking presence, shape and block alignment and naming the
// tensor in every error. Conversions made at load (norms to F32, HF FP8 to BF16) are kept in a
// caller-owned list of buffers that never move once filled.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "model/weight_source.h"

namespace frugal {

enum class TensorKind {
  Vector,  // float vector (norms, biases): converted to F32 at load if stored otherwise
  Matrix,  // 2-D weight [rows, cols], used as stored
};

struct TensorSpec {
  std::string gguf_name;       // e.g. "blk.3.attn_q.weight"
  std::string hf_name;         // e.g. "model.layers.3.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // PyTorch order: [n] or [rows, cols]
  TensorKind kind = TensorKind::Matrix;
  const float** vector = nullptr;  // destination (Vector)
  WeightMatrix* matrix = nullptr;  // destination (Matrix)

  static TensorSpec vec(std::string g, std::string h, int64_t n, const float** dst) {
    return {std::move(g), std::move(h), {n}, TensorKind::Vector, dst, nullptr};
  }
  static TensorSpec mat(std::string g, std::string h, int64_t rows, int64_t cols,
                        WeightMatrix* dst) {
    return {std::move(g), std::move(h), {rows, cols}, TensorKind::Matrix, nullptr, dst};
  }
};

using OwnedBuffers = std::vector<std::vector<uint8_t>>;

class WeightViews {
 public:
  WeightViews(const WeightSource& src, OwnedBuffers& owned) : src_(src), owned_(owned) {}

  const std::string& name_of(const TensorSpec& e) const {
    return src_.is_hf() ? e.hf_name : e.gguf_name;
  }
  // Throws frugal::Error naming the tensor when it is missing or its shape differs.
  SourceTensor require(const std::string& name, const std::vector<int64_t>& shape) const;
  // A [rows, cols] view of t (HF FP8 is dequantized to BF16 into an owned buffer).
  WeightMatrix matrix(const std::string& name, const SourceTensor& t, int64_t rows, int64_t cols);
  // t as F32 [n] (in place when stored as F32).
  const float* vector(const std::string& name, const SourceTensor& t, int64_t n);
  // Finds, checks and views one table entry into its destination.
  void load(const TensorSpec& e);

 private:
  uint8_t* own(size_t n_bytes);
  const WeightSource& src_;
  OwnedBuffers& owned_;
};

std::string shape_text(const std::vector<int64_t>& shape);  // "[a, b]"

}  // namespace frugal
