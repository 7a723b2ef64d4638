#include "model/dense_synth.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "format/gguf.h"
#include "format/quant.h"
#include "model/dense_weights.h"
#include "model/synth_fill.h"

namespace frugal {
namespace {

DenseConfig qwen2_preset(const std::string& name) {
  DenseConfig c;
  c.architecture = "qwen2";
  c.qkv_bias = true;
  c.head_dim = 128, c.rope_theta = 10000.0f, c.rms_eps = 1e-6f, c.context_length = 131072;
  if (name == "r1-distill-qwen-1.5b") {
    c.n_vocab = 151936, c.dim = 1536, c.n_layers = 28, c.n_heads = 12, c.n_kv_heads = 2,
    c.ffn_dim = 8960;
  } else if (name == "r1-distill-qwen-7b") {
    c.n_vocab = 152064, c.dim = 3584, c.n_layers = 28, c.n_heads = 28, c.n_kv_heads = 4,
    c.ffn_dim = 18944;
  } else if (name == "tiny") {
    c.n_vocab = 512, c.dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16;
    c.ffn_dim = 128, c.context_length = 2048;
  } else {
    throw Error("unknown qwen2 preset '" + name +
                "' (expected tiny, r1-distill-qwen-1.5b or r1-distill-qwen-7b)");
  }
  return c;
}

DenseConfig llama_preset(const std::string& name) {
  DenseConfig c;
  c.architecture = "llama";
  c.rope_pairs = RopePairs::Adjacent;  // what a llama GGUF holds
  c.llama3 = {true, 8.0, 1.0, 4.0, 8192};
  c.head_dim = 128, c.rope_theta = 500000.0f, c.rms_eps = 1e-5f, c.context_length = 131072;
  if (name == "r1-distill-llama-8b") {
    c.n_vocab = 128256, c.dim = 4096, c.n_layers = 32, c.n_heads = 32, c.n_kv_heads = 8,
    c.ffn_dim = 14336;
  } else if (name == "tiny") {
    // head_dim 16, theta 10000, original context 256: pairs 0-2 kept, 3 blended, 4-7 scaled by 1/8
    c.n_vocab = 512, c.dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16;
    c.ffn_dim = 128, c.context_length = 2048, c.rope_theta = 10000.0f, c.llama3.original_ctx = 256;
  } else {
    throw Error("unknown llama preset '" + name + "' (expected tiny or r1-distill-llama-8b)");
  }
  return c;
}

SynthFill fill_for(const TensorSpec& e) {
  if (e.kind == TensorKind::Vector) {
    const bool bias = e.gguf_name.size() > 5 && e.gguf_name.ends_with(".bias");
    return bias ? SynthFill{0.0f, 0.1f} : SynthFill{1.0f, 0.1f};
  }
  if (e.gguf_name == "token_embd.weight") return {0.0f, std::sqrt(3.0f)};
  return projection_fill(e.shape.back());
}

// rope_freqs.weight: divisors f_i / f'_i of the llama3-scaled frequencies (F32 [head_dim / 2]).
void add_rope_freqs(const DenseConfig& c, GgufWriter& w) {
  DenseConfig plain = c;
  plain.llama3.on = false;
  plain.rope_freq_divisors.clear();
  const std::vector<double> f = plain.rope_freqs(), scaled = llama3_scaled_freqs(f, c.llama3);
  std::vector<uint8_t> bytes(f.size() * sizeof(float));
  for (size_t i = 0; i < f.size(); ++i) {
    const float d = static_cast<float>(f[i] / scaled[i]);
    std::memcpy(bytes.data() + i * sizeof(float), &d, sizeof(float));
  }
  w.add_tensor("rope_freqs.weight", GgmlType::F32, {static_cast<int64_t>(f.size())},
               std::move(bytes));
}

}  // namespace

DenseConfig dense_preset(const std::string& arch, const std::string& name) {
  DenseConfig c;
  if (arch == "qwen2")
    c = qwen2_preset(name);
  else if (arch == "llama")
    c = llama_preset(name);
  else
    throw Error("unknown dense architecture '" + arch + "' (expected qwen2 or llama)");
  c.validate();
  return c;
}

void write_dense_metadata(const DenseConfig& c, GgufWriter& w) {
  const std::string a = c.architecture;
  auto u32 = [&](const char* k, int64_t v) {
    w.set(a + "." + k, GgufValue::u32(static_cast<uint32_t>(v)));
  };
  auto f32 = [&](const char* k, double v) {
    w.set(a + "." + k, GgufValue::f32(static_cast<float>(v)));
  };
  w.set("general.architecture", GgufValue::str(a));
  u32("context_length", c.context_length);
  u32("embedding_length", c.dim);
  u32("block_count", c.n_layers);
  u32("feed_forward_length", c.ffn_dim);
  u32("attention.head_count", c.n_heads);
  u32("attention.head_count_kv", c.n_kv_heads);
  u32("attention.key_length", c.head_dim);
  u32("attention.value_length", c.head_dim);
  u32("rope.dimension_count", c.head_dim);
  u32("vocab_size", c.n_vocab);
  f32("rope.freq_base", c.rope_theta);
  f32("attention.layer_norm_rms_epsilon", c.rms_eps);
}

void write_dense_synth(const DenseConfig& c, const DenseSynthOptions& opt,
                       const std::string& path) {
  c.validate();
  if (c.architecture == "qwen2" && !c.qkv_bias)
    throw Error("synth: qwen2 models carry q/k/v biases");
  if (c.architecture == "llama" && c.qkv_bias)
    throw Error("synth: llama GGUFs carry no q/k/v biases");
  if (!can_quantize(opt.type))
    throw Error(std::string("synth: cannot write weights of type ") + type_name(opt.type));
  GgufWriter w;
  write_dense_metadata(c, w);
  w.set("general.name", GgufValue::str(opt.name));
  w.set("tokenizer.ggml.model", GgufValue::str("none"));
  if (opt.extra_metadata) opt.extra_metadata(w);
  if (c.llama3.on) add_rope_freqs(c, w);
  DenseWeights unused;
  for (const TensorSpec& e : dense_tensor_table(c, unused)) {
    const GgmlType type = e.kind == TensorKind::Vector ? GgmlType::F32 : opt.type;
    add_synth_tensor(w, e.gguf_name, type, e.shape, fill_for(e), opt.seed);
  }
  w.write(path);
}

}  // namespace frugal
