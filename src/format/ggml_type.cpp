#include "format/ggml_type.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace frugal {
namespace {

constexpr std::array kTypes = {
    TypeTraits{GgmlType::F32, "F32", 1, 4, true},
    TypeTraits{GgmlType::F16, "F16", 1, 2, true},
    TypeTraits{GgmlType::Q4_0, "Q4_0", 32, 18, true},
    TypeTraits{GgmlType::Q4_1, "Q4_1", 32, 20, true},
    TypeTraits{GgmlType::Q5_0, "Q5_0", 32, 22, true},
    TypeTraits{GgmlType::Q5_1, "Q5_1", 32, 24, true},
    TypeTraits{GgmlType::Q8_0, "Q8_0", 32, 34, true},
    TypeTraits{GgmlType::Q8_1, "Q8_1", 32, 36, false},
    TypeTraits{GgmlType::Q2_K, "Q2_K", 256, 84, true},
    TypeTraits{GgmlType::Q3_K, "Q3_K", 256, 110, true},
    TypeTraits{GgmlType::Q4_K, "Q4_K", 256, 144, true},
    TypeTraits{GgmlType::Q5_K, "Q5_K", 256, 176, true},
    TypeTraits{GgmlType::Q6_K, "Q6_K", 256, 210, true},
    TypeTraits{GgmlType::Q8_K, "Q8_K", 256, 292, false},
    TypeTraits{GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66, false},
    TypeTraits{GgmlType::IQ2_XS, "IQ2_XS", 256, 74, false},
    TypeTraits{GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98, false},
    TypeTraits{GgmlType::IQ1_S, "IQ1_S", 256, 50, false},
    TypeTraits{GgmlType::IQ4_NL, "IQ4_NL", 32, 18, true},
    TypeTraits{GgmlType::IQ3_S, "IQ3_S", 256, 110, false},
    TypeTraits{GgmlType::IQ2_S, "IQ2_S", 256, 82, false},
    TypeTraits{GgmlType::IQ4_XS, "IQ4_XS", 256, 136, true},
    TypeTraits{GgmlType::I8, "I8", 1, 1, false},
    TypeTraits{GgmlType::I16, "I16", 1, 2, false},
    TypeTraits{GgmlType::I32, "I32", 1, 4, false},
    TypeTraits{GgmlType::I64, "I64", 1, 8, false},
    TypeTraits{GgmlType::F64, "F64", 1, 8, false},
    TypeTraits{GgmlType::IQ1_M, "IQ1_M", 256, 56, false},
    TypeTraits{GgmlType::BF16, "BF16", 1, 2, true},
    TypeTraits{GgmlType::TQ1_0, "TQ1_0", 256, 54, false},
    TypeTraits{GgmlType::TQ2_0, "TQ2_0", 256, 66, false},
    TypeTraits{GgmlType::MXFP4, "MXFP4", 32, 17, false},
};

}  // namespace

const TypeTraits* find_type_traits(uint32_t id) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == id) return &t;
  }
  return nullptr;
}

const TypeTraits& type_traits(GgmlType t) {
  const TypeTraits* tt = find_type_traits(static_cast<uint32_t>(t));
  FRUGAL_CHECK(tt != nullptr, "unknown GgmlType " + std::to_string(static_cast<uint32_t>(t)));
  return *tt;
}

std::optional<GgmlType> type_from_name(std::string_view name) {
  for (const auto& t : kTypes) {
    std::string_view n = t.name;
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < n.size() && same; ++i)
      same = std::toupper(static_cast<unsigned char>(name[i])) == n[i];
    if (same) return t.type;
  }
  return std::nullopt;
}

size_t row_bytes(GgmlType t, int64_t n) {
  const TypeTraits& tt = type_traits(t);
  if (n < 0 || n % tt.block_elems != 0) {
    throw Error(std::string("row of ") + std::to_string(n) + " elements is not a whole number of " +
                tt.name + " blocks of " + std::to_string(tt.block_elems));
  }
  return static_cast<size_t>(n / tt.block_elems) * tt.block_bytes;
}

}  // namespace frugal
