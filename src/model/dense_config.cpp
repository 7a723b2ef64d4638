// DenseConfig from GGUF metadata / HF config.json, validation and derived values.
#include "model/dense_config.h"

#include <cmath>
#include <numbers>
#include <sstream>

#include "core/error.h"
#include "format/gguf.h"
#include "format/hf_config.h"
#include "model/blocks.h"

namespace frugal {
namespace {

bool is_dense_arch(const std::string& a) {
  return a == "qwen2" || a == "llama";
}

void require_positive(int64_t v, const char* name) {
  if (v <= 0)
    throw Error(std::string("dense model config: ") + name + " must be > 0, found " +
                std::to_string(v));
}

// llama.cpp stores Llama-3 scaling as the tensor rope_freqs.weight (F32 [head_dim / 2]).
void read_gguf_rope_freqs(const GgufFile& f, DenseConfig& c) {
  const GgufTensorInfo* t = f.find_tensor("rope_freqs.weight");
  if (t == nullptr) return;
  if (t->type != GgmlType::F32 || t->n_elements != c.head_dim / 2)
    throw Error(f.source() + ": tensor 'rope_freqs.weight': expected F32 [" +
                std::to_string(c.head_dim / 2) + "], found " + type_name(t->type) + " " +
                t->shape_string());
  const auto* d = reinterpret_cast<const float*>(t->data);
  c.rope_freq_divisors.assign(d, d + t->n_elements);
  c.llama3.on = true;
}

void read_hf_rope_scaling(const HfConfig& h, DenseConfig& c) {
  if (!h.has("rope_scaling") || h.is_null("rope_scaling")) return;
  std::string type = h.get_string_or("rope_scaling.rope_type", "");
  if (type.empty()) type = h.get_string_or("rope_scaling.type", "");
  if (type == "default" || type.empty()) return;
  if (type != "llama3")
    throw Error(h.source() + ": unsupported rope_scaling type '" + type + "' for " +
                c.architecture + " (supported: llama3)");
  Llama3RopeScaling& s = c.llama3;
  s.on = true;
  s.factor = h.get_float("rope_scaling.factor");
  s.low_freq_factor = h.get_float("rope_scaling.low_freq_factor");
  s.high_freq_factor = h.get_float("rope_scaling.high_freq_factor");
  s.original_ctx = h.get_int("rope_scaling.original_max_position_embeddings");
}

}  // namespace

DenseConfig DenseConfig::from_gguf(const GgufFile& f) {
  DenseConfig c;
  c.architecture = f.get<std::string>("general.architecture");
  if (!is_dense_arch(c.architecture))
    throw Error(f.source() + ": unsupported architecture '" + c.architecture +
                "' (this loader reads qwen2, llama)");
  auto key = [&](const char* k) { return c.architecture + "." + k; };
  c.dim = f.get<int64_t>(key("embedding_length"));
  c.n_layers = f.get<int64_t>(key("block_count"));
  c.n_heads = f.get<int64_t>(key("attention.head_count"));
  c.n_kv_heads = f.get_or<int64_t>(key("attention.head_count_kv"), c.n_heads);
  c.head_dim =
      f.get_or<int64_t>(key("attention.key_length"), c.n_heads > 0 ? c.dim / c.n_heads : 0);
  const int64_t rope_dims = f.get_or<int64_t>(key("rope.dimension_count"), c.head_dim);
  if (rope_dims != c.head_dim)
    throw Error(f.source() + ": " + key("rope.dimension_count") + " = " +
                std::to_string(rope_dims) +
                ": partial RoPE is not supported (expected the head size " +
                std::to_string(c.head_dim) + ")");
  c.ffn_dim = f.get<int64_t>(key("feed_forward_length"));
  c.rms_eps = f.get_or<float>(key("attention.layer_norm_rms_epsilon"), 1e-6f);
  c.rope_theta = f.get_or<float>(key("rope.freq_base"), 10000.0f);
  c.context_length = f.get<int64_t>(key("context_length"));
  c.n_vocab = f.get_or<int64_t>(key("vocab_size"), 0);
  if (c.n_vocab == 0) c.n_vocab = f.tensor("token_embd.weight").ne[1];
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.rope_pairs = c.architecture == "llama" ? RopePairs::Adjacent : RopePairs::HalfSplit;
  read_gguf_rope_freqs(f, c);
  c.validate();
  return c;
}

DenseConfig DenseConfig::from_hf(const HfConfig& h) {
  DenseConfig c;
  c.architecture = h.get_string_or("model_type", "");
  if (!is_dense_arch(c.architecture))
    throw Error(h.source() + ": unsupported model_type '" + c.architecture +
                "' (expected qwen2 or llama)");
  c.n_vocab = h.get_int("vocab_size");
  c.dim = h.get_int("hidden_size");
  c.n_layers = h.get_int("num_hidden_layers");
  c.n_heads = h.get_int("num_attention_heads");
  c.n_kv_heads = h.get_int_or("num_key_value_heads", c.n_heads);
  c.head_dim = h.get_int_or("head_dim", c.n_heads > 0 ? c.dim / c.n_heads : 0);
  c.ffn_dim = h.get_int("intermediate_size");
  c.rms_eps = static_cast<float>(h.get_float_or("rms_norm_eps", 1e-6));
  c.rope_theta = static_cast<float>(h.get_float_or("rope_theta", 10000.0));
  c.context_length = h.get_int("max_position_embeddings");
  c.tied_output = h.get_bool_or("tie_word_embeddings", false);
  c.qkv_bias = c.architecture == "qwen2";  // Qwen2 q/k/v projections always carry a bias
  if (c.architecture == "llama" &&
      (h.get_bool_or("attention_bias", false) || h.get_bool_or("mlp_bias", false)))
    throw Error(h.source() + ": llama with attention_bias or mlp_bias is not supported");
  if (c.architecture == "qwen2" && h.get_bool_or("use_sliding_window", false))
    throw Error(h.source() + ": qwen2 with use_sliding_window = true is not supported");
  c.rope_pairs = RopePairs::HalfSplit;
  read_hf_rope_scaling(h, c);
  c.validate();
  return c;
}

void DenseConfig::validate() const {
  require_positive(n_vocab, "vocab size");
  require_positive(dim, "hidden size");
  require_positive(n_layers, "layer count");
  require_positive(n_heads, "head count");
  require_positive(n_kv_heads, "kv head count");
  require_positive(ffn_dim, "FFN size");
  require_positive(context_length, "context length");
  if (head_dim <= 0 || head_dim % 2 != 0)
    throw Error("dense model config: head size must be even and > 0, found " +
                std::to_string(head_dim));
  if (n_heads % n_kv_heads != 0)
    throw Error("dense model config: " + std::to_string(n_kv_heads) + " kv heads must divide " +
                std::to_string(n_heads) + " query heads");
  if (!rope_freq_divisors.empty() &&
      static_cast<int64_t>(rope_freq_divisors.size()) != head_dim / 2)
    throw Error("dense model config: rope_freqs holds " +
                std::to_string(rope_freq_divisors.size()) +
                " values, expected head size / 2 = " + std::to_string(head_dim / 2));
  if (llama3.on && rope_freq_divisors.empty() &&
      (llama3.factor <= 0 || llama3.original_ctx <= 0 ||
       llama3.high_freq_factor <= llama3.low_freq_factor))
    throw Error(
        "dense model config: llama3 rope scaling needs factor > 0, "
        "original_max_position_embeddings > 0 "
        "and high_freq_factor > low_freq_factor");
}

std::vector<double> llama3_scaled_freqs(const std::vector<double>& f, const Llama3RopeScaling& s) {
  std::vector<double> out(f.size());
  const double L0 = static_cast<double>(s.original_ctx);
  const double low_wavelen = L0 / s.low_freq_factor, high_wavelen = L0 / s.high_freq_factor;
  for (size_t i = 0; i < f.size(); ++i) {
    const double wavelen = 2.0 * std::numbers::pi / f[i];
    if (wavelen < high_wavelen) {
      out[i] = f[i];
    } else if (wavelen > low_wavelen) {
      out[i] = f[i] / s.factor;
    } else {
      const double a =
          (L0 / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out[i] = (1.0 - a) * f[i] / s.factor + a * f[i];
    }
  }
  return out;
}

std::vector<double> DenseConfig::rope_freqs() const {
  const int64_t half = head_dim / 2;
  std::vector<double> f = rope_base_freqs(rope_theta, head_dim);
  if (!rope_freq_divisors.empty()) {
    for (int64_t i = 0; i < half; ++i) f[i] /= rope_freq_divisors[i];
    return f;
  }
  return llama3.on ? llama3_scaled_freqs(f, llama3) : f;
}

std::string DenseConfig::summary() const {
  std::ostringstream o;
  o << architecture << ": " << n_layers << " layers, dim " << dim << ", " << n_heads << " heads / "
    << n_kv_heads << " kv heads of " << head_dim << ", FFN " << ffn_dim << ", vocab " << n_vocab
    << ", context " << context_length << "\n  q/k/v bias " << (qkv_bias ? "yes" : "no")
    << ", output " << (tied_output ? "tied" : "untied") << ", RoPE theta " << rope_theta
    << " pairs " << (rope_pairs == RopePairs::Adjacent ? "adjacent" : "half-split");
  if (!rope_freq_divisors.empty())
    o << ", llama3 scaling (rope_freqs.weight)";
  else if (llama3.on)
    o << ", llama3 scaling factor " << llama3.factor << " low/high " << llama3.low_freq_factor
      << "/" << llama3.high_freq_factor << " orig ctx " << llama3.original_ctx;
  o << "\n";
  return o.str();
}

}  // namespace frugal
