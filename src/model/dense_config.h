// Hyperparameters of the dense decoder families behind the R1-Distill models: qwen2
// (R1-Distill-Qwen-1.5B/7B/14B/32B) and llama (R1-Distill-Llama-8B/70B). One struct for both,
// read once from GGUF metadata (prefix "qwen2." / "llama.") or a Hugging Face config.json,
// validated once. Each field names its GGUF key and its HF key.
// Math: ../shared/docs/reference/deepseek-arch.md §8; names: formats-and-names.md §3.3–3.4.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frugal {

class GgufFile;
class HfConfig;

// Which dimensions of a head RoPE rotates together at frequency i.
enum class RopePairs {
  HalfSplit,  // (i, i + head_dim/2): HF weights (rotate_half), llama.cpp ROPE_TYPE_NEOX (qwen2
              // GGUF)
  Adjacent,   // (2i, 2i + 1): llama GGUF, whose converter permuted the attn_q / attn_k rows
};

// Llama-3 RoPE frequency scaling (deepseek-arch.md §8.2).
struct Llama3RopeScaling {
  bool on = false;               // (rope_freqs.weight present) | rope_scaling.rope_type == "llama3"
  double factor = 8.0;           // (folded into rope_freqs.weight) | rope_scaling.factor
  double low_freq_factor = 1.0;  // (folded into rope_freqs.weight) | rope_scaling.low_freq_factor
  double high_freq_factor = 4.0;  // (folded into rope_freqs.weight) | rope_scaling.high_freq_factor
  int64_t original_ctx =
      8192;  // (folded into rope_freqs.weight) | rope_scaling.original_max_position_embeddings
};

struct DenseConfig {
  std::string architecture;     // general.architecture | model_type ("qwen2" or "llama")
  int64_t n_vocab = 0;          // vocab_size (or rows of token_embd) | vocab_size
  int64_t dim = 0;              // embedding_length | hidden_size
  int64_t n_layers = 0;         // block_count | num_hidden_layers
  int64_t n_heads = 0;          // attention.head_count | num_attention_heads
  int64_t n_kv_heads = 0;       // attention.head_count_kv | num_key_value_heads (absent = n_heads)
  int64_t head_dim = 0;         // attention.key_length (absent = dim / n_heads) | head_dim (same)
  int64_t ffn_dim = 0;          // feed_forward_length | intermediate_size
  float rms_eps = 1e-6f;        // attention.layer_norm_rms_epsilon | rms_norm_eps
  float rope_theta = 10000.0f;  // rope.freq_base | rope_theta
  int64_t context_length = 0;   // context_length | max_position_embeddings
  bool tied_output = false;     // (output.weight absent) | tie_word_embeddings
  bool qkv_bias = false;        // (attn_q.bias present) | (model_type qwen2: always)
  RopePairs rope_pairs = RopePairs::HalfSplit;  // (llama GGUF: Adjacent) | HalfSplit
  Llama3RopeScaling llama3;                     // see the struct
  // GGUF only: rope_freqs.weight [head_dim / 2], divisors of the base frequencies as the
  // llama.cpp converter wrote them (empty = compute from llama3 when on).
  std::vector<float> rope_freq_divisors;

  static DenseConfig from_gguf(const GgufFile& f);
  static DenseConfig from_hf(const HfConfig& h);
  // Throws frugal::Error naming the first inconsistent field.
  void validate() const;

  // ---- derived ----
  int64_t q_dim() const { return n_heads * head_dim; }         // rows of wq
  int64_t kv_dim() const { return n_kv_heads * head_dim; }     // rows of wk and wv
  int64_t group_size() const { return n_heads / n_kv_heads; }  // query heads per kv head
  // RoPE frequency of each of the head_dim / 2 pairs: θ^(-2i/d), Llama-3 scaled when on.
  std::vector<double> rope_freqs() const;
  std::string summary() const;  // for `frugal info` / logs
};

// Llama-3 scaled frequencies from unscaled ones (deepseek-arch.md §8.2); exposed for tests.
std::vector<double> llama3_scaled_freqs(const std::vector<double>& f, const Llama3RopeScaling& s);

}  // namespace frugal
