#include "model/quant_mix.h"

#include <cctype>
#include <cstdio>
#include <iterator>

#include "core/error.h"
#include "format/quant.h"

namespace frugal {
namespace {

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

// routed experts (and Other), attention, shared experts + dense FFN, token_embd, output.
struct MixRow {
  const char* name;
  GgmlType routed, attention, shared_dense, token_embd, output;
  uint32_t file_type;
};

using T = GgmlType;
constexpr MixRow kMixes[] = {
    {"Q2_K", T::Q2_K, T::Q4_K, T::Q4_K, T::Q4_K, T::Q4_K, 10},
    {"Q3_K_M", T::Q3_K, T::Q4_K, T::Q4_K, T::Q4_K, T::Q6_K, 12},
    {"Q4_K_S", T::Q4_K, T::Q5_K, T::Q5_K, T::Q4_K, T::Q6_K, 14},
    {"Q4_K_M", T::Q4_K, T::Q6_K, T::Q6_K, T::Q6_K, T::Q6_K, 15},
    {"Q5_K_M", T::Q5_K, T::Q6_K, T::Q6_K, T::Q6_K, T::Q6_K, 17},
};

// Plain types and their general.file_type (llama_ftype; K types as their _S variant).
struct PlainRow {
  GgmlType type;
  uint32_t file_type;
};
constexpr PlainRow kPlain[] = {
    {T::F32, 0},   {T::F16, 1},   {T::BF16, 32},   {T::Q4_0, 2},    {T::Q4_1, 3},
    {T::Q5_0, 8},  {T::Q5_1, 9},  {T::Q8_0, 7},    {T::Q3_K, 11},   {T::Q4_K, 14},
    {T::Q5_K, 16}, {T::Q6_K, 18}, {T::IQ4_NL, 25}, {T::IQ4_XS, 30},
};

// The next type to try when `t` does not fit a row (llama.cpp's choice for K types).
GgmlType fallback(GgmlType t) {
  switch (t) {
    case T::Q2_K:
    case T::Q3_K:
    case T::IQ4_XS:
      return T::IQ4_NL;
    case T::Q4_K:
      return T::Q5_0;
    case T::Q5_K:
      return T::Q5_1;
    case T::Q6_K:
      return T::Q8_0;
    default:
      return T::F16;
  }
}

bool fits(GgmlType t, int64_t ne0) {
  return ne0 % type_traits(t).block_elems == 0;
}

}  // namespace

const char* tensor_group_name(TensorGroup g) {
  switch (g) {
    case TensorGroup::KeepF32:
      return "kept F32";
    case TensorGroup::TokenEmbd:
      return "token embedding";
    case TensorGroup::Output:
      return "output";
    case TensorGroup::Attention:
      return "attention";
    case TensorGroup::SharedExperts:
      return "shared experts";
    case TensorGroup::DenseFfn:
      return "dense FFN";
    case TensorGroup::RoutedExperts:
      return "routed experts";
    case TensorGroup::Other:
      return "other";
  }
  return "?";
}

TensorGroup tensor_group(std::string_view name, int n_dims) {
  if (n_dims <= 1 || contains(name, "norm") || contains(name, "ffn_gate_inp") ||
      contains(name, "exp_probs_b") || ends_with(name, ".bias") || contains(name, "rope_freqs"))
    return TensorGroup::KeepF32;
  if (contains(name, "token_embd") || contains(name, "embed_tokens")) return TensorGroup::TokenEmbd;
  if (name == "output.weight" || contains(name, "shared_head_head")) return TensorGroup::Output;
  if (contains(name, "_exps")) return TensorGroup::RoutedExperts;
  if (contains(name, "_shexp")) return TensorGroup::SharedExperts;
  if (contains(name, ".attn_")) return TensorGroup::Attention;
  if (contains(name, ".ffn_")) return TensorGroup::DenseFfn;
  return TensorGroup::Other;
}

QuantMix QuantMix::parse(std::string_view name) {
  const std::string u = upper(name);
  for (const MixRow& m : kMixes) {
    if (u != m.name) continue;
    return {m.name, m.routed, m.attention, m.shared_dense, m.token_embd, m.output, m.file_type};
  }
  for (const PlainRow& p : kPlain) {
    if (u != type_name(p.type)) continue;
    FRUGAL_CHECK(can_quantize(p.type), std::string("no quantizer for ") + type_name(p.type));
    return {u, p.type, p.type, p.type, p.type, p.type, p.file_type};
  }
  std::string accepted;
  for (const MixRow& m : kMixes) accepted += std::string(accepted.empty() ? "" : ", ") + m.name;
  accepted += " (mixes); ";
  for (size_t i = 0; i < std::size(kPlain); ++i)
    accepted += std::string(i ? ", " : "") + type_name(kPlain[i].type);
  throw Error("unknown quantization type '" + std::string(name) + "' (expected " + accepted + ")");
}

GgmlType QuantMix::wanted(TensorGroup g) const {
  switch (g) {
    case TensorGroup::KeepF32:
      return GgmlType::F32;
    case TensorGroup::TokenEmbd:
      return token_embd;
    case TensorGroup::Output:
      return output;
    case TensorGroup::Attention:
      return attention;
    case TensorGroup::SharedExperts:
    case TensorGroup::DenseFfn:
      return shared_dense;
    case TensorGroup::RoutedExperts:
    case TensorGroup::Other:
      return routed_experts;
  }
  return routed_experts;
}

QuantMix QuantMix::for_dense_model() const {
  QuantMix m = *this;
  m.attention = m.shared_dense = routed_experts;
  return m;
}

std::string quant_mix_help() {
  std::string s =
      "  mix      routed experts  attention  shared experts, dense FFN  token_embd  output\n";
  for (const MixRow& m : kMixes) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-8s %-15s %-10s %-26s %-11s %s\n", m.name,
                  type_name(m.routed), type_name(m.attention), type_name(m.shared_dense),
                  type_name(m.token_embd), type_name(m.output));
    s += line;
  }
  return s;
}

TypeChoice choose_tensor_type(const QuantMix& mix, std::string_view name, int n_dims, int64_t ne0) {
  TypeChoice c;
  c.group = tensor_group(name, n_dims);
  const GgmlType wanted = mix.wanted(c.group);
  c.type = wanted;
  while (!fits(c.type, ne0)) c.type = fallback(c.type);
  if (c.type != wanted)
    c.note = std::string(type_name(wanted)) + " needs rows of a multiple of " +
             std::to_string(type_traits(wanted).block_elems) + ", row length is " +
             std::to_string(ne0) + ": using " + type_name(c.type);
  return c;
}

}  // namespace frugal
