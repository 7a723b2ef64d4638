#include "model/deepseek2_synth.h"

#include <cmath>
#include <vector>

#include "core/error.h"
#include "format/gguf.h"
#include "format/quant.h"
#include "model/deepseek2_weights.h"
#include "model/synth_fill.h"

namespace frugal {
namespace {

SynthFill fill_for(const TensorEntry& e) {
  const bool is_bias = e.gguf_name.find("exp_probs_b") != std::string::npos;
  if (e.role == TensorRole::Vector) return is_bias ? SynthFill{0, 0.05f} : SynthFill{1, 0.1f};
  if (e.gguf_name == "token_embd.weight") return {0, std::sqrt(3.0f)};
  return projection_fill(e.shape.back());  // uniform, std 1/sqrt(fan_in)
}

// Norms, router and bias stay F32; add_synth_tensor falls back to F32 for unaligned rows.
GgmlType type_for(const TensorEntry& e, GgmlType wanted) {
  return e.role == TensorRole::Vector || e.keep_f32 ? GgmlType::F32 : wanted;
}

void add_kv_b(GgufWriter& w, const Deepseek2Config& c, const TensorEntry& e,
              const SynthOptions& opt) {
  const SynthFill f = fill_for(e);
  if (!opt.split_kv_b) {
    add_synth_tensor(w, e.gguf_name, type_for(e, opt.type), e.shape, f, opt.seed);
    return;
  }
  std::string k = e.gguf_name, v = e.gguf_name;
  k.replace(k.find("attn_kv_b"), 9, "attn_k_b");
  v.replace(v.find("attn_kv_b"), 9, "attn_v_b");
  add_synth_tensor(w, k, opt.type, {c.n_heads, c.kv_lora_rank, c.qk_nope_head_dim}, f, opt.seed);
  add_synth_tensor(w, v, opt.type, {c.n_heads, c.v_head_dim, c.kv_lora_rank}, f, opt.seed);
}

void set_u32(GgufWriter& w, const std::string& k, int64_t v) {
  w.set("deepseek2." + k, GgufValue::u32(static_cast<uint32_t>(v)));
}
void set_f32(GgufWriter& w, const std::string& k, double v) {
  w.set("deepseek2." + k, GgufValue::f32(static_cast<float>(v)));
}

}  // namespace

Deepseek2Config deepseek2_preset(const std::string& name) {
  Deepseek2Config c;
  c.rms_eps = 1e-6f;
  c.rope_theta = 10000.0f;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.kv_lora_rank = 512;
  c.context_length = 163840;
  c.yarn = true;
  c.yarn_factor = 40;
  c.yarn_original_ctx = 4096;
  if (name == "v2-lite") {
    c.n_vocab = 102400, c.dim = 2048, c.n_layers = 27, c.n_heads = 16, c.q_lora_rank = 0;
    c.dense_ffn_dim = 10944, c.moe_ffn_dim = 1408, c.n_dense_layers = 1;
    c.n_routed_experts = 64, c.n_shared_experts = 2, c.n_experts_used = 6;
    c.yarn_mscale_all_dim = 0.707f;
  } else if (name == "v3") {
    c.n_vocab = 129280, c.dim = 7168, c.n_layers = 61, c.n_heads = 128, c.q_lora_rank = 1536;
    c.dense_ffn_dim = 18432, c.moe_ffn_dim = 2048, c.n_dense_layers = 3;
    c.n_routed_experts = 256, c.n_shared_experts = 1, c.n_experts_used = 8;
    c.scoring = ExpertScoring::Sigmoid, c.topk_method = TopkMethod::NoauxTc;
    c.n_groups = 8, c.topk_groups = 4, c.norm_topk_prob = true, c.routed_scaling_factor = 2.5f;
    c.yarn_mscale_all_dim = 1.0f;
  } else if (name == "tiny") {
    c.n_vocab = 1024, c.dim = 128, c.n_layers = 3, c.n_heads = 4, c.q_lora_rank = 64;
    c.kv_lora_rank = 64, c.qk_nope_head_dim = 32, c.qk_rope_head_dim = 16, c.v_head_dim = 32;
    c.dense_ffn_dim = 256, c.moe_ffn_dim = 64, c.n_dense_layers = 1;
    c.n_routed_experts = 16, c.n_shared_experts = 1, c.n_experts_used = 4;
    c.scoring = ExpertScoring::Sigmoid, c.topk_method = TopkMethod::NoauxTc;
    c.n_groups = 4, c.topk_groups = 2, c.norm_topk_prob = true, c.routed_scaling_factor = 2.5f;
    c.context_length = 2048, c.yarn_factor = 4, c.yarn_original_ctx = 512,
    c.yarn_mscale_all_dim = 1.0f;
  } else {
    throw Error("unknown preset '" + name + "' (expected tiny, v2-lite or v3)");
  }
  return c;
}

void write_deepseek2_metadata(const Deepseek2Config& c, bool split_kv_b, GgufWriter& w) {
  w.set("general.architecture", GgufValue::str("deepseek2"));
  set_u32(w, "context_length", c.context_length);
  set_u32(w, "embedding_length", c.dim);
  set_u32(w, "block_count", c.block_count());  // MTP layers counted, as llama.cpp writes it
  if (c.n_mtp_layers > 0) set_u32(w, "nextn_predict_layers", c.n_mtp_layers);
  set_u32(w, "feed_forward_length", c.dense_ffn_dim);
  set_u32(w, "attention.head_count", c.n_heads);
  set_u32(w, "attention.head_count_kv", split_kv_b ? 1 : c.n_heads);
  set_f32(w, "rope.freq_base", c.rope_theta);
  set_f32(w, "attention.layer_norm_rms_epsilon", c.rms_eps);
  set_u32(w, "vocab_size", c.n_vocab);
  if (c.q_lora_rank > 0) set_u32(w, "attention.q_lora_rank", c.q_lora_rank);
  set_u32(w, "attention.kv_lora_rank", c.kv_lora_rank);
  set_u32(w, "attention.key_length", split_kv_b ? c.kv_values_per_token() : c.qk_head_dim());
  set_u32(w, "attention.value_length", split_kv_b ? c.kv_lora_rank : c.v_head_dim);
  if (split_kv_b) {
    set_u32(w, "attention.key_length_mla", c.qk_head_dim());
    set_u32(w, "attention.value_length_mla", c.v_head_dim);
  }
  set_u32(w, "rope.dimension_count", c.qk_rope_head_dim);
  set_u32(w, "leading_dense_block_count", c.n_dense_layers);
  if (c.n_routed_experts > 0) {
    set_u32(w, "expert_count", c.n_routed_experts);
    set_u32(w, "expert_used_count", c.n_experts_used);
    set_u32(w, "expert_feed_forward_length", c.moe_ffn_dim);
    set_u32(w, "expert_shared_count", c.n_shared_experts);
    set_f32(w, "expert_weights_scale", c.routed_scaling_factor);
    w.set("deepseek2.expert_weights_norm", GgufValue::boolean(c.norm_topk_prob));
    set_u32(w, "expert_gating_func", c.scoring == ExpertScoring::Sigmoid ? 2 : 1);
    set_u32(w, "expert_group_count", c.n_groups);
    set_u32(w, "expert_group_used_count", c.topk_groups);
  }
  if (c.yarn) {
    w.set("deepseek2.rope.scaling.type", GgufValue::str("yarn"));
    set_f32(w, "rope.scaling.factor", c.yarn_factor);
    set_u32(w, "rope.scaling.original_context_length", c.yarn_original_ctx);
    set_f32(w, "rope.scaling.yarn_log_multiplier", 0.1 * c.yarn_mscale_all_dim);
    set_f32(w, "rope.scaling.yarn_beta_fast", c.yarn_beta_fast);
    set_f32(w, "rope.scaling.yarn_beta_slow", c.yarn_beta_slow);
  }
}

void write_deepseek2_synth(const Deepseek2Config& c, const SynthOptions& opt,
                           const std::string& path) {
  c.validate();
  if (!can_quantize(opt.type))
    throw Error(std::string("synth: cannot write weights of type ") + type_name(opt.type));
  GgufWriter w;
  write_deepseek2_metadata(c, opt.split_kv_b, w);
  w.set("general.name", GgufValue::str(opt.name));
  w.set("tokenizer.ggml.model", GgufValue::str("none"));
  if (opt.extra_metadata) opt.extra_metadata(w);
  Deepseek2Weights unused;
  for (const TensorEntry& e : deepseek2_tensor_table(c, unused)) {
    if (e.role == TensorRole::KvB) {
      add_kv_b(w, c, e, opt);
    } else {
      add_synth_tensor(w, e.gguf_name, type_for(e, opt.type), e.shape, fill_for(e), opt.seed);
    }
  }
  w.write(path);
}

}  // namespace frugal
