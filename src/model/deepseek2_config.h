// Hyperparameters of the deepseek2 family (DeepSeek-V2, V2-Lite, V2.5, V3, R1, V3.1): one struct,
// read once from GGUF metadata or a Hugging Face config.json, validated once.
// Each field names its GGUF key (prefix "deepseek2.") and its HF config.json key.
// Math: ../shared/docs/reference/deepseek-arch.md; keys: formats-and-names.md §4.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frugal {

class GgufFile;
class HfConfig;

enum class ExpertScoring { Softmax, Sigmoid };
// How the routed experts are chosen from the scores.
enum class TopkMethod {
  Greedy,              // top-k over all experts (V2-Lite)
  GroupLimitedGreedy,  // keep topk_group groups ranked by their max score, then top-k (V2)
  NoauxTc,             // scores + bias; groups ranked by the sum of their top-2; top-k (V3)
};

const char* scoring_name(ExpertScoring s);
const char* topk_method_name(TopkMethod m);

struct Deepseek2Config {
  std::string architecture = "deepseek2";  // general.architecture | architectures[0]
  int64_t n_vocab = 0;                     // vocab_size (or rows of token_embd) | vocab_size
  int64_t dim = 0;                         // embedding_length | hidden_size
  int64_t n_layers = 0;  // main layers: block_count - nextn_predict_layers | num_hidden_layers
  int64_t n_heads = 0;         // attention.head_count | num_attention_heads
  int64_t context_length = 0;  // context_length | max_position_embeddings
  float rms_eps = 1e-6f;       // attention.layer_norm_rms_epsilon | rms_norm_eps

  // ---- MLA ----
  int64_t q_lora_rank = 0;   // attention.q_lora_rank | q_lora_rank (0/absent/null = wq)
  int64_t kv_lora_rank = 0;  // attention.kv_lora_rank | kv_lora_rank
  int64_t qk_nope_head_dim =
      0;  // attention.key_length_mla - rope dims (old: key_length - rope) | qk_nope_head_dim
  int64_t qk_rope_head_dim = 0;  // rope.dimension_count | qk_rope_head_dim
  int64_t v_head_dim = 0;        // attention.value_length_mla (old: value_length) | v_head_dim

  // ---- RoPE / YaRN ----
  float rope_theta = 10000.0f;  // rope.freq_base | rope_theta
  bool yarn = false;            // rope.scaling.type == "yarn" | rope_scaling.type == "yarn";
                                // on only when factor > 1 and context_length > yarn_original_ctx
  float yarn_factor = 1.0f;     // rope.scaling.factor | rope_scaling.factor
  int64_t yarn_original_ctx =
      0;  // rope.scaling.original_context_length | rope_scaling.original_max_position_embeddings
  float yarn_beta_fast = 32.0f;  // rope.scaling.yarn_beta_fast | rope_scaling.beta_fast
  float yarn_beta_slow = 1.0f;   // rope.scaling.yarn_beta_slow | rope_scaling.beta_slow
  float yarn_mscale_all_dim =
      0;  // rope.scaling.yarn_log_multiplier / 0.1 | rope_scaling.mscale_all_dim

  // ---- FFN / MoE ----
  int64_t dense_ffn_dim = 0;     // feed_forward_length | intermediate_size
  int64_t moe_ffn_dim = 0;       // expert_feed_forward_length | moe_intermediate_size
  int64_t n_dense_layers = 0;    // leading_dense_block_count | first_k_dense_replace
  int64_t moe_layer_freq = 1;    // (not stored, 1) | moe_layer_freq
  int64_t n_routed_experts = 0;  // expert_count | n_routed_experts (0 = no MoE)
  int64_t n_shared_experts = 0;  // expert_shared_count | n_shared_experts
  int64_t n_experts_used = 0;    // expert_used_count | num_experts_per_tok
  ExpertScoring scoring =
      ExpertScoring::Softmax;  // expert_gating_func 1/2 (absent = softmax) | scoring_func
  TopkMethod topk_method =
      TopkMethod::Greedy;   // (derived: sigmoid -> noaux_tc, groups -> group_limited) | topk_method
  int64_t n_groups = 1;     // expert_group_count | n_group
  int64_t topk_groups = 1;  // expert_group_used_count | topk_group
  bool norm_topk_prob = false;         // expert_weights_norm | norm_topk_prob
  float routed_scaling_factor = 1.0f;  // expert_weights_scale | routed_scaling_factor

  // MTP (next-N) modules, stored as layers n_layers .. n_layers + n_mtp_layers - 1 (GGUF
  // blk.{i}.* + blk.{i}.nextn.*, HF model.layers.{i}.*). llama.cpp's convention: GGUF block_count
  // counts them, HF num_hidden_layers does not.
  int64_t n_mtp_layers = 0;  // nextn_predict_layers | num_nextn_predict_layers

  static Deepseek2Config from_gguf(const GgufFile& f);
  static Deepseek2Config from_hf(const HfConfig& c);
  // Throws frugal::Error naming the first inconsistent field.
  void validate() const;

  // ---- derived ----
  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  bool has_q_lora() const { return q_lora_rank > 0; }
  bool is_moe_layer(int64_t l) const {
    return n_routed_experts > 0 && l >= n_dense_layers && l % moe_layer_freq == 0;
  }
  int64_t n_moe_layers() const;  // among the main layers
  int64_t block_count() const { return n_layers + n_mtp_layers; }  // GGUF block_count
  // Latent KV cache values per token per layer: kv_lora_rank + qk_rope_head_dim.
  int64_t kv_values_per_token() const { return kv_lora_rank + qk_rope_head_dim; }
  // (d_n + d_r)^-1/2, times mscale^2 with YaRN (mscale = 1 + 0.1 mscale_all_dim ln factor).
  double softmax_scale() const;
  // RoPE frequencies for the qk_rope_head_dim/2 pairs, YaRN-corrected when yarn is on.
  std::vector<double> rope_freqs() const;

  std::string summary() const;  // one line per group of fields, for `frugal info` / logs
};

}  // namespace frugal
