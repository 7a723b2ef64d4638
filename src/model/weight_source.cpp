#include "model/weight_source.h"

#include "core/error.h"
#include "format/gguf.h"
#include "format/safetensors.h"

namespace frugal {

const std::string& GgufWeightSource::source() const {
  return f_.source();
}

std::optional<SourceTensor> GgufWeightSource::find(const std::string& name) const {
  const GgufTensorInfo* t = f_.find_tensor(name);
  if (t == nullptr) return std::nullopt;
  SourceTensor s;
  s.type = t->type;
  for (int d = t->n_dims - 1; d >= 0; --d) s.shape.push_back(t->ne[d]);
  s.data = t->data;
  if (!type_traits(t->type).dequantizable)
    throw Error(f_.source() + ": tensor '" + name + "' has type " + type_name(t->type) +
                ", which Frugal cannot compute with");
  return s;
}

std::optional<SourceTensor> HfWeightSource::find(const std::string& name) const {
  const StTensor* t = m_.find(name);
  if (t == nullptr) return std::nullopt;
  SourceTensor s;
  s.shape = t->shape;
  s.data = t->data;
  switch (t->dtype) {
    case StDtype::F32:
      s.type = GgmlType::F32;
      break;
    case StDtype::F16:
      s.type = GgmlType::F16;
      break;
    case StDtype::BF16:
      s.type = GgmlType::BF16;
      break;
    case StDtype::F8_E4M3: {
      const StTensor* scale = m_.find(name + "_scale_inv");
      if (scale == nullptr)
        throw Error(dir_ + ": FP8 tensor '" + name + "' has no '" + name + "_scale_inv' sibling");
      if (scale->dtype != StDtype::F32 || t->shape.size() != 2)
        throw Error(dir_ + ": FP8 tensor '" + name +
                    "': expected a 2-D weight with an F32 scale, found " + t->shape_string() +
                    " with " + st_dtype_name(scale->dtype) + " scale");
      const int64_t want_r = (t->shape[0] + 127) / 128, want_c = (t->shape[1] + 127) / 128;
      if (scale->shape != std::vector<int64_t>{want_r, want_c})
        throw Error(dir_ + ": '" + name + "_scale_inv': expected shape [" + std::to_string(want_r) +
                    ", " + std::to_string(want_c) + "], found " + scale->shape_string());
      s.type = GgmlType::BF16;  // what the loader turns it into
      s.fp8_scale_inv = reinterpret_cast<const float*>(scale->data);
      break;
    }
    default:
      throw Error(dir_ + ": tensor '" + name + "' has dtype " + st_dtype_name(t->dtype) +
                  " (expected F32, F16, BF16 or F8_E4M3)");
  }
  return s;
}

}  // namespace frugal
