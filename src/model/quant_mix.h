// What type each tensor gets when a model is (re-)quantized: a plain type for every weight, or a
// named mix (Q4_K_M ...) that keeps the small, sensitive tensors (attention, shared experts,
// dense FFN, embeddings, output) at higher precision than the routed experts, which hold most of
// a MoE model's bytes. Tensors are told apart by their GGUF names (llama.cpp's naming, shared by
// deepseek2, qwen2 and llama), never by their sizes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "format/ggml_type.h"

namespace frugal {

// The parts of a model a mix treats differently.
enum class TensorGroup {
  KeepF32,        // 1-D tensors, *_norm, router ffn_gate_inp, exp_probs_b, biases: always F32
  TokenEmbd,      // token_embd.weight (and MTP embed_tokens)
  Output,         // output.weight (lm_head; MTP shared_head_head)
  Attention,      // blk.N.attn_* weights
  SharedExperts,  // blk.N.ffn_*_shexp
  DenseFfn,       // blk.N.ffn_gate/up/down of dense layers
  RoutedExperts,  // blk.N.ffn_*_exps
  Other,          // anything else (e.g. MTP eh_proj): the mix's routed-expert type
};

const char* tensor_group_name(TensorGroup g);
TensorGroup tensor_group(std::string_view gguf_name, int n_dims);

struct QuantMix {
  std::string name;                         // "Q4_K_M", or the plain type's name
  GgmlType routed_experts = GgmlType::F32;  // also Other
  GgmlType attention = GgmlType::F32;
  GgmlType shared_dense = GgmlType::F32;  // shared experts and dense FFN
  GgmlType token_embd = GgmlType::F32;
  GgmlType output = GgmlType::F32;
  uint32_t file_type = 0;  // general.file_type (llama_ftype), informational

  // A mix name (Q2_K, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_M) or a plain type Frugal can quantize to
  // (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS);
  // case-insensitive. Throws frugal::Error listing the accepted names.
  static QuantMix parse(std::string_view name);
  // The type the mix wants for a group (KeepF32 -> F32).
  GgmlType wanted(TensorGroup g) const;
  // For a model without routed experts (dense qwen2 / llama), where attention and FFN are the
  // bulk of the bytes: they take the routed-expert type; token_embd and output keep theirs.
  QuantMix for_dense_model() const;
};

// The text of `frugal quantize --help` that states the rules above, one line per mix.
std::string quant_mix_help();

struct TypeChoice {
  GgmlType type = GgmlType::F32;
  TensorGroup group = TensorGroup::Other;
  std::string note;  // non-empty when the wanted type did not fit the row length
};

// The type of one tensor: the mix's type for its group, or, when the row length ne0 is not a
// whole number of that type's blocks, the first type that fits along the fallback chain
// Q2_K/Q3_K/IQ4_XS -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then Q8_0 -> F16
// (block of 1, always fits), with a note saying so.
TypeChoice choose_tensor_type(const QuantMix& mix, std::string_view gguf_name, int n_dims,
                              int64_t ne0);

}  // namespace frugal
