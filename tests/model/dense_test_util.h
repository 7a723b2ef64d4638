// Helpers for the dense (qwen2 / llama) model tests: synth models of small random configs, run
// logits, and write the Hugging Face form (config.json + F32 safetensors) of a GGUF.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "model/dense_lm.h"
#include "model/dense_synth.h"

namespace frugal::test {

// qwen2 tiny: GQA 4/2, q/k/v biases, untied; llama tiny: GQA 4/2, llama3 scaling.
inline DenseConfig tiny_dense(const std::string& arch) {
  return dense_preset(arch, "tiny");
}

inline std::string synth_dense(const DenseConfig& c, const std::string& path,
                               GgmlType type = GgmlType::F32, uint64_t seed = 3) {
  DenseSynthOptions opt;
  opt.type = type;
  opt.seed = seed;
  write_dense_synth(c, opt, path);
  return path;
}

inline std::vector<int32_t> test_tokens(size_t n, int32_t vocab, uint32_t seed = 7) {
  std::vector<int32_t> t(n);
  uint32_t s = seed;
  for (auto& x : t) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<int32_t>((s >> 8) % static_cast<uint32_t>(vocab));
  }
  return t;
}

inline std::vector<int32_t> positions_from(size_t n, int32_t start = 0) {
  std::vector<int32_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = start + static_cast<int32_t>(i);
  return p;
}

// Full forward from position 0: logits [n, vocab].
inline std::vector<float> dense_logits(DenseModel& m, const std::vector<int32_t>& tokens) {
  DenseKvCache cache = m.new_cache();
  const auto pos = positions_from(tokens.size());
  std::vector<float> logits(tokens.size() * static_cast<size_t>(m.config().n_vocab));
  m.forward({tokens, pos}, cache, logits);
  return logits;
}

inline double max_abs_delta(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    d = std::max(d, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return d;
}

// One safetensors tensor: dtype "F32" or "BF16", PyTorch shape, raw little-endian bytes.
struct StEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

inline void write_safetensors(const std::string& path, const std::vector<StEntry>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const StEntry& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h += ' ';
  std::ofstream f(path, std::ios::binary);
  const uint64_t len = h.size();
  f.write(reinterpret_cast<const char*>(&len), 8);
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const StEntry& t : tensors)
    f.write(reinterpret_cast<const char*>(t.bytes.data()),
            static_cast<std::streamsize>(t.bytes.size()));
}

// GGUF llama q/k rows (adjacent RoPE pairs) back to the HF order (half-split pairs):
// HF row j <- GGUF row 2j, HF row j + hd/2 <- GGUF row 2j + 1, within each head.
inline std::vector<uint8_t> unpermute_rows(const std::vector<uint8_t>& w, int64_t rows,
                                           int64_t head_dim) {
  std::vector<uint8_t> out(w.size());
  const size_t rb = w.size() / static_cast<size_t>(rows);
  const int64_t half = head_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t head = r / head_dim, i = r % head_dim;
    const int64_t hf = head * head_dim + (i % 2 == 0 ? i / 2 : half + i / 2);
    std::memcpy(&out[hf * rb], &w[r * rb], rb);
  }
  return out;
}

inline nlohmann::json hf_config_json(const DenseConfig& c) {
  nlohmann::json j{
      {"model_type", c.architecture},
      {"architectures", {c.architecture == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
      {"vocab_size", c.n_vocab},
      {"hidden_size", c.dim},
      {"num_hidden_layers", c.n_layers},
      {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads},
      {"intermediate_size", c.ffn_dim},
      {"rms_norm_eps", c.rms_eps},
      {"rope_theta", c.rope_theta},
      {"max_position_embeddings", c.context_length},
      {"tie_word_embeddings", c.tied_output},
      {"torch_dtype", "float32"}};
  if (c.head_dim != c.dim / c.n_heads) j["head_dim"] = c.head_dim;
  if (c.llama3.on)
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.llama3.factor},
                         {"low_freq_factor", c.llama3.low_freq_factor},
                         {"high_freq_factor", c.llama3.high_freq_factor},
                         {"original_max_position_embeddings", c.llama3.original_ctx}};
  return j;
}

// The HF directory form of a GGUF made by synth_dense from config `c` (F32 or BF16 tensors,
// copied as stored). `skip` drops one HF tensor and `reshape` gives one a wrong shape (both for
// error tests).
inline void write_hf_from_gguf(const DenseConfig& c, const std::string& gguf_path,
                               const std::string& dir, const std::string& skip = "",
                               const std::string& reshape = "") {
  const GgufFile f = GgufFile::open(gguf_path);
  std::filesystem::create_directories(dir);
  std::vector<StEntry> tensors;
  DenseWeights unused;
  for (const TensorSpec& e : dense_tensor_table(c, unused)) {
    if (e.hf_name == skip) continue;
    const GgufTensorInfo& t = f.tensor(e.gguf_name);
    EXPECT_TRUE(t.type == GgmlType::F32 || t.type == GgmlType::BF16) << e.gguf_name;
    std::vector<uint8_t> bytes(t.data, t.data + t.n_bytes);
    const bool qk =
        e.gguf_name.ends_with("attn_q.weight") || e.gguf_name.ends_with("attn_k.weight");
    if (c.architecture == "llama" && qk) bytes = unpermute_rows(bytes, e.shape[0], c.head_dim);
    std::vector<int64_t> shape = e.shape;
    if (e.hf_name == reshape) shape = {shape[0] * shape.back() / 2, 2};  // same bytes, wrong shape
    tensors.push_back(
        {e.hf_name, t.type == GgmlType::BF16 ? "BF16" : "F32", shape, std::move(bytes)});
  }
  write_safetensors(dir + "/model.safetensors", tensors);
  std::ofstream(dir + "/config.json") << hf_config_json(c).dump(2);
}

}  // namespace frugal::test
