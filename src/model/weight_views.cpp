#include "model/weight_views.h"

#include "core/error.h"
#include "core/half.h"
#include "format/quant.h"

namespace frugal {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

uint8_t* WeightViews::own(size_t n_bytes) {
  owned_.emplace_back(n_bytes);
  return owned_.back().data();
}

SourceTensor WeightViews::require(const std::string& name,
                                  const std::vector<int64_t>& shape) const {
  auto t = src_.find(name);
  if (!t)
    throw Error(src_.source() + ": missing tensor '" + name + "' (expected shape " +
                shape_text(shape) + ")");
  if (t->shape != shape)
    throw Error(src_.source() + ": tensor '" + name + "': expected shape " + shape_text(shape) +
                " (PyTorch order), found " + shape_text(t->shape));
  return *t;
}

WeightMatrix WeightViews::matrix(const std::string& name, const SourceTensor& t, int64_t rows,
                                 int64_t cols) {
  if (cols % type_traits(t.type).block_elems != 0)
    throw Error(src_.source() + ": tensor '" + name + "': row length " + std::to_string(cols) +
                " is not a whole number of " + type_name(t.type) + " blocks");
  if (!t.is_fp8()) return make_weight_matrix(t.type, rows, cols, t.data);
  auto* out = reinterpret_cast<uint16_t*>(own(static_cast<size_t>(rows * cols) * 2));
  std::vector<float> buf(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_fp8_block_scaled(t.data, t.fp8_scale_inv, rows, cols, r, 1, buf.data());
    for (int64_t j = 0; j < cols; ++j) out[r * cols + j] = f32_to_bf16(buf[j]);
  }
  return make_weight_matrix(GgmlType::BF16, rows, cols, out);
}

const float* WeightViews::vector(const std::string& name, const SourceTensor& t, int64_t n) {
  if (t.type == GgmlType::F32) return reinterpret_cast<const float*>(t.data);
  const WeightMatrix m = matrix(name, t, 1, n);
  auto* out = reinterpret_cast<float*>(own(static_cast<size_t>(n) * sizeof(float)));
  weight_row(m, 0, out);
  return out;
}

void WeightViews::load(const TensorSpec& e) {
  const std::string& name = name_of(e);
  const SourceTensor t = require(name, e.shape);
  if (e.kind == TensorKind::Vector)
    *e.vector = vector(name, t, e.shape[0]);
  else
    *e.matrix = matrix(name, t, e.shape[0], e.shape[1]);
}

}  // namespace frugal
