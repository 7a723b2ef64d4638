// ggml tensor type ids as stored in GGUF (ggml.h), with block geometry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace frugal {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct TypeTraits {
  GgmlType type;
  const char* name;
  int64_t block_elems;   // elements per block (1 for scalar types)
  size_t block_bytes;    // bytes per block
  bool dequantizable;    // Frugal can turn it into floats
};

// Traits of a raw type id read from a file; nullptr for ids that are unknown or removed.
const TypeTraits* find_type_traits(uint32_t id);
// Traits of a known type (always succeeds).
const TypeTraits& type_traits(GgmlType t);
inline const char* type_name(GgmlType t) { return type_traits(t).name; }
// "Q4_K" -> GgmlType::Q4_K (case-insensitive); nullopt if unknown.
std::optional<GgmlType> type_from_name(std::string_view name);

// Bytes of a row of n elements; throws frugal::Error if n is not a whole number of blocks.
size_t row_bytes(GgmlType t, int64_t n);

}  // namespace frugal
