#include <sstream>

#include "format/gguf.h"

namespace frugal {

const char* gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: return "uint8";
    case GgufValueType::INT8: return "int8";
    case GgufValueType::UINT16: return "uint16";
    case GgufValueType::INT16: return "int16";
    case GgufValueType::UINT32: return "uint32";
    case GgufValueType::INT32: return "int32";
    case GgufValueType::FLOAT32: return "float32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::UINT64: return "uint64";
    case GgufValueType::INT64: return "int64";
    case GgufValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

GgufValue GgufValue::string_array(const std::vector<std::string>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(str(s));
  return array(GgufValueType::STRING, std::move(items));
}

GgufValue GgufValue::i32_array(const std::vector<int32_t>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (int32_t x : v) items.push_back(i32(x));
  return array(GgufValueType::INT32, std::move(items));
}

GgufValue GgufValue::f32_array(const std::vector<float>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (float x : v) items.push_back(f32(x));
  return array(GgufValueType::FLOAT32, std::move(items));
}

bool GgufValue::is_integer() const {
  return std::holds_alternative<uint64_t>(data) || std::holds_alternative<int64_t>(data);
}

std::string GgufValue::to_display_string(size_t max_items) const {
  std::ostringstream os;
  if (auto* u = std::get_if<uint64_t>(&data)) {
    os << *u;
  } else if (auto* i = std::get_if<int64_t>(&data)) {
    os << *i;
  } else if (auto* d = std::get_if<double>(&data)) {
    os << *d;
  } else if (auto* b = std::get_if<bool>(&data)) {
    os << (*b ? "true" : "false");
  } else if (auto* s = std::get_if<std::string>(&data)) {
    std::string shown = s->size() > 60 ? s->substr(0, 57) + "..." : *s;
    for (char& c : shown)
      if (c == '\n') c = ' ';
    os << '"' << shown << '"';
  } else if (auto* a = std::get_if<GgufArray>(&data)) {
    os << gguf_value_type_name(a->elem_type) << "[" << a->items.size() << "] [";
    for (size_t k = 0; k < a->items.size() && k < max_items; ++k)
      os << (k ? ", " : "") << a->items[k].to_display_string(max_items);
    if (a->items.size() > max_items) os << ", ...";
    os << "]";
  }
  return os.str();
}

std::string GgufTensorInfo::shape_string() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

}  // namespace frugal
