// Deepseek2Config from GGUF metadata / HF config.json, validation and derived values.
#include "model/deepseek2_config.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

#include "core/error.h"
#include "format/gguf.h"
#include "format/hf_config.h"
#include "model/blocks.h"

namespace frugal {
namespace {

constexpr const char* kArch = "deepseek2";

std::string key(const char* k) {
  return std::string(kArch) + "." + k;
}

TopkMethod topk_method_from_hf(const std::string& s, const std::string& source) {
  if (s == "greedy") return TopkMethod::Greedy;
  if (s == "group_limited_greedy") return TopkMethod::GroupLimitedGreedy;
  if (s == "noaux_tc") return TopkMethod::NoauxTc;
  throw Error(source + ": unsupported topk_method '" + s +
              "' (expected greedy, group_limited_greedy or noaux_tc)");
}

// Old GGUFs carry no topk method; derive it from the scoring function and group count.
TopkMethod derived_topk_method(ExpertScoring scoring, int64_t n_groups) {
  if (scoring == ExpertScoring::Sigmoid) return TopkMethod::NoauxTc;
  return n_groups > 1 ? TopkMethod::GroupLimitedGreedy : TopkMethod::Greedy;
}

void read_gguf_rope(const GgufFile& f, Deepseek2Config& c) {
  c.rope_theta = f.get_or<float>(key("rope.freq_base"), 10000.0f);
  const std::string type = f.get_or<std::string>(key("rope.scaling.type"), "none");
  c.yarn_factor = f.get_or<float>(key("rope.scaling.factor"), 1.0f);
  c.yarn_original_ctx = f.get_or<int64_t>(key("rope.scaling.original_context_length"), 0);
  c.yarn_beta_fast = f.get_or<float>(key("rope.scaling.yarn_beta_fast"), 32.0f);
  c.yarn_beta_slow = f.get_or<float>(key("rope.scaling.yarn_beta_slow"), 1.0f);
  c.yarn_mscale_all_dim = f.get_or<float>(key("rope.scaling.yarn_log_multiplier"), 0.0f) / 0.1f;
  c.yarn = type == "yarn" && c.yarn_factor > 1.0f && c.context_length > c.yarn_original_ctx;
}

// llama.cpp's next-N convention (convert_hf_to_gguf DeepseekV32Model, glm4moe, ...): block_count
// counts the MTP layers, which follow the main ones. A file that stores them past block_count
// (written by Frugal's demo exporter before it followed the convention) is refused by name.
void read_gguf_layer_counts(const GgufFile& f, Deepseek2Config& c) {
  const int64_t block_count = f.get<int64_t>(key("block_count"));
  c.n_mtp_layers = f.get_or<int64_t>(key("nextn_predict_layers"), 0);
  if (c.n_mtp_layers < 0 || c.n_mtp_layers >= block_count)
    throw Error(f.source() + ": " + key("nextn_predict_layers") + " " +
                std::to_string(c.n_mtp_layers) + " must be in 0.." + std::to_string(block_count - 1) +
                " (" + key("block_count") + " " + std::to_string(block_count) +
                " counts the MTP layers too, as llama.cpp writes it)");
  c.n_layers = block_count - c.n_mtp_layers;
  const std::string past_end = "blk." + std::to_string(block_count) + ".nextn.eh_proj.weight";
  if (c.n_mtp_layers > 0 && f.find_tensor(past_end) != nullptr)
    throw Error(f.source() + ": holds '" + past_end + "' past " + key("block_count") + " " +
                std::to_string(block_count) +
                ": the file does not count its MTP layers in block_count (llama.cpp's "
                "convention, which Frugal reads); rewrite it with block_count " +
                std::to_string(block_count + c.n_mtp_layers));
}

void read_gguf_moe(const GgufFile& f, Deepseek2Config& c) {
  c.dense_ffn_dim = f.get<int64_t>(key("feed_forward_length"));
  c.n_routed_experts = f.get_or<int64_t>(key("expert_count"), 0);
  c.n_dense_layers = f.get_or<int64_t>(key("leading_dense_block_count"), 0);
  if (c.n_routed_experts == 0) return;
  c.moe_ffn_dim = f.get<int64_t>(key("expert_feed_forward_length"));
  c.n_shared_experts = f.get_or<int64_t>(key("expert_shared_count"), 0);
  c.n_experts_used = f.get<int64_t>(key("expert_used_count"));
  const int64_t gating = f.get_or<int64_t>(key("expert_gating_func"), 1);
  if (gating != 1 && gating != 2)
    throw Error(f.source() + ": unsupported " + key("expert_gating_func") + " " +
                std::to_string(gating) + " (expected 1 = softmax or 2 = sigmoid)");
  c.scoring = gating == 2 ? ExpertScoring::Sigmoid : ExpertScoring::Softmax;
  c.n_groups = f.get_or<int64_t>(key("expert_group_count"), 1);
  c.topk_groups = f.get_or<int64_t>(key("expert_group_used_count"), c.n_groups);
  c.topk_method = derived_topk_method(c.scoring, c.n_groups);
  c.norm_topk_prob = f.get_or<bool>(key("expert_weights_norm"), false);
  c.routed_scaling_factor = f.get_or<float>(key("expert_weights_scale"), 1.0f);
}

void read_hf_moe(const HfConfig& h, Deepseek2Config& c) {
  c.dense_ffn_dim = h.get_int("intermediate_size");
  c.n_routed_experts = h.get_int_or("n_routed_experts", 0);
  c.n_dense_layers = h.get_int_or("first_k_dense_replace", 0);
  c.moe_layer_freq = h.get_int_or("moe_layer_freq", 1);
  if (c.n_routed_experts == 0) return;
  c.moe_ffn_dim = h.get_int("moe_intermediate_size");
  c.n_shared_experts = h.get_int_or("n_shared_experts", 0);
  c.n_experts_used = h.get_int("num_experts_per_tok");
  const std::string scoring = h.get_string_or("scoring_func", "softmax");
  if (scoring != "softmax" && scoring != "sigmoid")
    throw Error(h.source() + ": unsupported scoring_func '" + scoring + "'");
  c.scoring = scoring == "sigmoid" ? ExpertScoring::Sigmoid : ExpertScoring::Softmax;
  c.n_groups = h.get_int_or("n_group", 1);
  c.topk_groups = h.get_int_or("topk_group", c.n_groups);
  c.topk_method = topk_method_from_hf(h.get_string_or("topk_method", "greedy"), h.source());
  c.norm_topk_prob = h.get_bool_or("norm_topk_prob", false);
  c.routed_scaling_factor = static_cast<float>(h.get_float_or("routed_scaling_factor", 1.0));
}

void read_hf_rope(const HfConfig& h, Deepseek2Config& c) {
  c.rope_theta = static_cast<float>(h.get_float_or("rope_theta", 10000.0));
  if (!h.has("rope_scaling") || h.is_null("rope_scaling")) return;
  std::string type = h.get_string_or("rope_scaling.type", "");
  if (type.empty()) type = h.get_string_or("rope_scaling.rope_type", "none");
  c.yarn_factor = static_cast<float>(h.get_float_or("rope_scaling.factor", 1.0));
  c.yarn_original_ctx = h.get_int_or("rope_scaling.original_max_position_embeddings", 0);
  c.yarn_beta_fast = static_cast<float>(h.get_float_or("rope_scaling.beta_fast", 32.0));
  c.yarn_beta_slow = static_cast<float>(h.get_float_or("rope_scaling.beta_slow", 1.0));
  c.yarn_mscale_all_dim = static_cast<float>(h.get_float_or("rope_scaling.mscale_all_dim", 0.0));
  c.yarn = type == "yarn" && c.yarn_factor > 1.0f && c.context_length > c.yarn_original_ctx;
}

void require_positive(int64_t v, const char* name) {
  if (v <= 0)
    throw Error(std::string("deepseek2 config: ") + name + " must be > 0, found " +
                std::to_string(v));
}

}  // namespace

const char* scoring_name(ExpertScoring s) {
  return s == ExpertScoring::Sigmoid ? "sigmoid" : "softmax";
}

const char* topk_method_name(TopkMethod m) {
  switch (m) {
    case TopkMethod::Greedy:
      return "greedy";
    case TopkMethod::GroupLimitedGreedy:
      return "group_limited_greedy";
    case TopkMethod::NoauxTc:
      return "noaux_tc";
  }
  return "?";
}

Deepseek2Config Deepseek2Config::from_gguf(const GgufFile& f) {
  const std::string arch = f.get<std::string>("general.architecture");
  if (arch != kArch)
    throw Error(f.source() + ": unsupported architecture '" + arch +
                "' (this loader reads deepseek2)");
  Deepseek2Config c;
  c.dim = f.get<int64_t>(key("embedding_length"));
  read_gguf_layer_counts(f, c);
  c.n_heads = f.get<int64_t>(key("attention.head_count"));
  c.context_length = f.get<int64_t>(key("context_length"));
  c.rms_eps = f.get_or<float>(key("attention.layer_norm_rms_epsilon"), 1e-6f);
  c.n_vocab = f.get_or<int64_t>(key("vocab_size"), 0);
  if (c.n_vocab == 0) c.n_vocab = f.tensor("token_embd.weight").ne[1];
  c.q_lora_rank = f.get_or<int64_t>(key("attention.q_lora_rank"), 0);
  c.kv_lora_rank = f.get<int64_t>(key("attention.kv_lora_rank"));
  c.qk_rope_head_dim = f.get<int64_t>(key("rope.dimension_count"));
  const bool mla_keys = f.has(key("attention.key_length_mla"));
  const int64_t key_len =
      f.get<int64_t>(key(mla_keys ? "attention.key_length_mla" : "attention.key_length"));
  c.qk_nope_head_dim = key_len - c.qk_rope_head_dim;
  c.v_head_dim =
      f.get<int64_t>(key(mla_keys ? "attention.value_length_mla" : "attention.value_length"));
  read_gguf_rope(f, c);
  read_gguf_moe(f, c);
  c.validate();
  return c;
}

Deepseek2Config Deepseek2Config::from_hf(const HfConfig& h) {
  const std::string model_type = h.get_string_or("model_type", "");
  if (model_type != "deepseek_v2" && model_type != "deepseek_v3")
    throw Error(h.source() + ": unsupported model_type '" + model_type +
                "' (expected deepseek_v2 or deepseek_v3)");
  Deepseek2Config c;
  c.architecture = model_type;
  c.n_vocab = h.get_int("vocab_size");
  c.dim = h.get_int("hidden_size");
  c.n_layers = h.get_int("num_hidden_layers");
  c.n_heads = h.get_int("num_attention_heads");
  c.context_length = h.get_int("max_position_embeddings");
  c.rms_eps = static_cast<float>(h.get_float_or("rms_norm_eps", 1e-6));
  c.q_lora_rank = h.get_int_or("q_lora_rank", 0);
  c.kv_lora_rank = h.get_int("kv_lora_rank");
  c.qk_nope_head_dim = h.get_int("qk_nope_head_dim");
  c.qk_rope_head_dim = h.get_int("qk_rope_head_dim");
  c.v_head_dim = h.get_int("v_head_dim");
  read_hf_rope(h, c);
  read_hf_moe(h, c);
  c.n_mtp_layers = h.get_int_or("num_nextn_predict_layers", 0);
  c.validate();
  return c;
}

void Deepseek2Config::validate() const {
  require_positive(n_vocab, "vocab size");
  require_positive(dim, "hidden size");
  require_positive(n_layers, "layer count");
  require_positive(n_heads, "head count");
  require_positive(context_length, "context length");
  require_positive(kv_lora_rank, "kv_lora_rank");
  require_positive(qk_nope_head_dim, "qk_nope_head_dim");
  require_positive(v_head_dim, "v_head_dim");
  require_positive(dense_ffn_dim, "dense FFN size");
  if (qk_rope_head_dim <= 0 || qk_rope_head_dim % 2 != 0)
    throw Error("deepseek2 config: qk_rope_head_dim must be even and > 0, found " +
                std::to_string(qk_rope_head_dim));
  if (q_lora_rank < 0) throw Error("deepseek2 config: q_lora_rank must be >= 0");
  if (moe_layer_freq <= 0) throw Error("deepseek2 config: moe_layer_freq must be > 0");
  if (n_mtp_layers < 0)
    throw Error("deepseek2 config: MTP layer count must be >= 0, found " +
                std::to_string(n_mtp_layers));
  if (n_routed_experts == 0) return;
  require_positive(moe_ffn_dim, "expert FFN size");
  if (n_experts_used <= 0 || n_experts_used > n_routed_experts)
    throw Error("deepseek2 config: experts used per token must be in 1.." +
                std::to_string(n_routed_experts) + ", found " + std::to_string(n_experts_used));
  if (n_groups <= 0 || n_routed_experts % n_groups != 0)
    throw Error("deepseek2 config: expert group count " + std::to_string(n_groups) +
                " must divide " + std::to_string(n_routed_experts) + " experts");
  if (topk_groups <= 0 || topk_groups > n_groups)
    throw Error("deepseek2 config: groups used " + std::to_string(topk_groups) + " must be in 1.." +
                std::to_string(n_groups));
  if (topk_groups * (n_routed_experts / n_groups) < n_experts_used)
    throw Error(
        "deepseek2 config: the kept expert groups hold fewer experts than experts used per token");
}

int64_t Deepseek2Config::n_moe_layers() const {
  int64_t n = 0;
  for (int64_t l = 0; l < n_layers; ++l) n += is_moe_layer(l) ? 1 : 0;
  return n;
}

double Deepseek2Config::softmax_scale() const {
  double s = 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
  if (yarn) {
    const double m = 1.0 + 0.1 * yarn_mscale_all_dim * std::log(static_cast<double>(yarn_factor));
    s *= m * m;
  }
  return s;
}

std::vector<double> Deepseek2Config::rope_freqs() const {
  const int64_t d = qk_rope_head_dim;
  std::vector<double> f = rope_base_freqs(rope_theta, d);
  if (!yarn) return f;
  // YaRN: keep high frequencies, interpolate low ones by 1/factor, blend linearly between.
  const double two_pi = 2.0 * std::numbers::pi,
               ln_theta = std::log(static_cast<double>(rope_theta));
  auto corr_dim = [&](double n_rot) {
    return d * std::log(static_cast<double>(yarn_original_ctx) / (n_rot * two_pi)) /
           (2.0 * ln_theta);
  };
  const double low = std::max(std::floor(corr_dim(yarn_beta_fast)), 0.0);
  double high = std::min(std::ceil(corr_dim(yarn_beta_slow)), static_cast<double>(d - 1));
  if (low == high) high += 0.001;
  for (int64_t i = 0; i < d / 2; ++i) {
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    const double smooth = 1.0 - ramp;
    f[i] = f[i] / yarn_factor * (1.0 - smooth) + f[i] * smooth;
  }
  return f;
}

std::string Deepseek2Config::summary() const {
  std::ostringstream o;
  o << architecture << ": " << n_layers << " layers, dim " << dim << ", " << n_heads
    << " heads, vocab " << n_vocab << ", context " << context_length << "\n"
    << "  MLA: q_lora " << q_lora_rank << ", kv_lora " << kv_lora_rank << ", qk_nope "
    << qk_nope_head_dim << ", qk_rope " << qk_rope_head_dim << ", v_head " << v_head_dim
    << ", softmax scale " << softmax_scale() << "\n"
    << "  RoPE: theta " << rope_theta;
  if (yarn)
    o << ", YaRN factor " << yarn_factor << " orig ctx " << yarn_original_ctx << " beta "
      << yarn_beta_fast << "/" << yarn_beta_slow << " mscale_all_dim " << yarn_mscale_all_dim;
  o << "\n  FFN: " << n_dense_layers << " dense (" << dense_ffn_dim << ")";
  if (n_routed_experts > 0)
    o << ", MoE " << n_routed_experts << " experts (" << moe_ffn_dim << ") top-" << n_experts_used
      << " + " << n_shared_experts << " shared, " << scoring_name(scoring) << " "
      << topk_method_name(topk_method) << " groups " << n_groups << "/" << topk_groups << ", norm "
      << (norm_topk_prob ? "yes" : "no") << ", scale " << routed_scaling_factor;
  o << "\n  MTP layers: " << n_mtp_layers;
  if (n_mtp_layers > 0)
    o << " (blk." << n_layers << (n_mtp_layers > 1 ? ".." + std::to_string(block_count() - 1) : "")
      << ")";
  o << "\n";
  return o.str();
}

}  // namespace frugal
