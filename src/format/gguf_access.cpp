// Typed access to GGUF metadata: integers widen/narrow with range checks, floats accept both
// widths, and every failure names the file, the key, and what was found.
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "format/gguf.h"

namespace frugal {
namespace {

template <typename T>
std::optional<T> convert_integer(const GgufValue& v) {
  if (auto* u = std::get_if<uint64_t>(&v.data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
    return static_cast<T>(*u);
  }
  if (auto* i = std::get_if<int64_t>(&v.data)) {
    if constexpr (std::is_unsigned_v<T>) {
      if (*i < 0 || static_cast<uint64_t>(*i) > std::numeric_limits<T>::max()) return std::nullopt;
    } else {
      if (*i < std::numeric_limits<T>::min() || *i > std::numeric_limits<T>::max()) return std::nullopt;
    }
    return static_cast<T>(*i);
  }
  return std::nullopt;
}

// Converts one value to T, or nullopt when the type does not fit.
template <typename T>
std::optional<T> convert_value(const GgufValue& v) {
  if constexpr (std::is_same_v<T, bool>) {
    if (auto* b = std::get_if<bool>(&v.data)) return *b;
    return std::nullopt;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (auto* s = std::get_if<std::string>(&v.data)) return *s;
    return std::nullopt;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (auto* d = std::get_if<double>(&v.data)) return static_cast<T>(*d);
    if (v.is_integer()) {
      if (auto i = convert_integer<int64_t>(v)) return static_cast<T>(*i);
    }
    return std::nullopt;
  } else {
    return convert_integer<T>(v);
  }
}

template <typename T>
const char* wanted_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (std::is_floating_point_v<T>) return "number";
  else if constexpr (std::is_unsigned_v<T>) return "unsigned integer in range";
  else return "integer in range";
}

}  // namespace

template <typename T>
std::optional<T> GgufFile::get_optional(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  auto r = convert_value<T>(*v);
  if (!r)
    throw Error(source_ + ": metadata '" + std::string(key) + "' should be a " + wanted_name<T>() +
                ", found " + gguf_value_type_name(v->type) + " " + v->to_display_string());
  return r;
}

template <typename T>
T GgufFile::get(std::string_view key) const {
  auto r = get_optional<T>(key);
  if (!r) throw Error(source_ + ": missing metadata key '" + std::string(key) + "'");
  return *r;
}

template <typename T>
std::vector<T> GgufFile::get_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) throw Error(source_ + ": missing metadata key '" + std::string(key) + "'");
  const auto* a = std::get_if<GgufArray>(&v->data);
  if (a == nullptr)
    throw Error(source_ + ": metadata '" + std::string(key) + "' should be an array, found " +
                gguf_value_type_name(v->type));
  std::vector<T> out;
  out.reserve(a->items.size());
  for (size_t i = 0; i < a->items.size(); ++i) {
    auto r = convert_value<T>(a->items[i]);
    if (!r)
      throw Error(source_ + ": metadata '" + std::string(key) + "'[" + std::to_string(i) +
                  "] should be a " + wanted_name<T>() + ", found " +
                  gguf_value_type_name(a->items[i].type));
    out.push_back(std::move(*r));
  }
  return out;
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  return get_array<std::string>(key);
}

#define FRUGAL_GGUF_INSTANTIATE(T)                                              \
  template T GgufFile::get<T>(std::string_view) const;                          \
  template std::optional<T> GgufFile::get_optional<T>(std::string_view) const;  \
  template std::vector<T> GgufFile::get_array<T>(std::string_view) const;

FRUGAL_GGUF_INSTANTIATE(uint8_t)
FRUGAL_GGUF_INSTANTIATE(uint16_t)
FRUGAL_GGUF_INSTANTIATE(uint32_t)
FRUGAL_GGUF_INSTANTIATE(uint64_t)
FRUGAL_GGUF_INSTANTIATE(int32_t)
FRUGAL_GGUF_INSTANTIATE(int64_t)
FRUGAL_GGUF_INSTANTIATE(float)
FRUGAL_GGUF_INSTANTIATE(double)
FRUGAL_GGUF_INSTANTIATE(bool)
FRUGAL_GGUF_INSTANTIATE(std::string)
#undef FRUGAL_GGUF_INSTANTIATE

}  // namespace frugal
