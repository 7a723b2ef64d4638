// Dispatch for the reference (de)quantizers: one table row per supported type. The block formats
// live in quant_legacy.cpp, quant_kquants.cpp and quant_iq4.cpp; FP8 in quant_fp8.cpp.
#include "format/quant.h"

#include <cstring>
#include <string>

#include "core/error.h"
#include "core/half.h"
#include "format/quant_blocks.h"

namespace frugal {
namespace {

using quant::DequantizeFn;
using quant::QuantizeFn;

void dequantize_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void quantize_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_le<uint16_t>(p + 2 * i));
}
void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_f16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_le<uint16_t>(p + 2 * i));
}
void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t b = f32_to_bf16(src[i]);
    std::memcpy(p + 2 * i, &b, 2);
  }
}

struct QuantOps {
  GgmlType type;
  DequantizeFn dequantize;
  QuantizeFn quantize;
};

constexpr QuantOps kOps[] = {
    {GgmlType::F32, dequantize_f32, quantize_f32},
    {GgmlType::F16, dequantize_f16, quantize_f16},
    {GgmlType::BF16, dequantize_bf16, quantize_bf16},
    {GgmlType::Q4_0, quant::dequantize_q4_0, quant::quantize_q4_0},
    {GgmlType::Q4_1, quant::dequantize_q4_1, quant::quantize_q4_1},
    {GgmlType::Q5_0, quant::dequantize_q5_0, quant::quantize_q5_0},
    {GgmlType::Q5_1, quant::dequantize_q5_1, quant::quantize_q5_1},
    {GgmlType::Q8_0, quant::dequantize_q8_0, quant::quantize_q8_0},
    {GgmlType::Q2_K, quant::dequantize_q2_k, quant::quantize_q2_k},
    {GgmlType::Q3_K, quant::dequantize_q3_k, quant::quantize_q3_k},
    {GgmlType::Q4_K, quant::dequantize_q4_k, quant::quantize_q4_k},
    {GgmlType::Q5_K, quant::dequantize_q5_k, quant::quantize_q5_k},
    {GgmlType::Q6_K, quant::dequantize_q6_k, quant::quantize_q6_k},
    {GgmlType::IQ4_NL, quant::dequantize_iq4_nl, quant::quantize_iq4_nl},
    {GgmlType::IQ4_XS, quant::dequantize_iq4_xs, quant::quantize_iq4_xs},
};

const QuantOps* find_ops(GgmlType t) {
  for (const auto& ops : kOps) {
    if (ops.type == t) return &ops;
  }
  return nullptr;
}

std::string type_label(GgmlType t) {
  const TypeTraits* tt = find_type_traits(static_cast<uint32_t>(t));
  return tt ? tt->name : "type id " + std::to_string(static_cast<uint32_t>(t));
}

// Throws unless n >= 0 is a whole number of t's blocks (row_bytes checks the block count).
void check_row(const char* what, GgmlType t, int64_t n) {
  if (n < 0) throw Error(std::string(what) + ": negative element count " + std::to_string(n));
  if (find_type_traits(static_cast<uint32_t>(t)) == nullptr)
    throw Error(std::string(what) + ": unknown " + type_label(t));
  row_bytes(t, n);
}

}  // namespace

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
  check_row("dequantize_row", t, n);
  const QuantOps* ops = find_ops(t);
  if (ops == nullptr)
    throw Error("dequantize_row: no dequantizer for tensor type " + type_label(t));
  ops->dequantize(src, dst, n);
}

bool can_quantize(GgmlType t) {
  return find_ops(t) != nullptr;
}

void quantize_row(GgmlType t, const float* src, void* dst, int64_t n) {
  check_row("quantize_row", t, n);
  const QuantOps* ops = find_ops(t);
  if (ops == nullptr) throw Error("quantize_row: no quantizer for tensor type " + type_label(t));
  ops->quantize(src, dst, n);
}

}  // namespace frugal
