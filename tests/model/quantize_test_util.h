// A small synth deepseek2 model whose every weight row is a whole number of 256-element K-quant
// blocks (the "tiny" preset's 128-wide rows would make every K type fall back), shared by the
// quantization and perplexity tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/deepseek2_synth.h"

namespace frugal::test {

inline Deepseek2Config quantizable_config() {
  Deepseek2Config c = deepseek2_preset("tiny");
  c.n_vocab = 512, c.dim = 256, c.n_layers = 2, c.n_dense_layers = 1, c.n_heads = 4;
  c.q_lora_rank = 256, c.kv_lora_rank = 256, c.qk_nope_head_dim = 32, c.qk_rope_head_dim = 16;
  c.v_head_dim = 64;  // wo rows: 4 heads x 64 = 256
  c.dense_ffn_dim = 512, c.moe_ffn_dim = 256;
  c.n_routed_experts = 8, c.n_experts_used = 2, c.n_groups = 4, c.topk_groups = 2;
  return c;
}

// Writes quantizable_config() with F32 weights (seed 3) to `path`.
inline void write_quantizable_synth(const std::string& path) {
  SynthOptions opt;
  opt.seed = 3;
  write_deepseek2_synth(quantizable_config(), opt, path);
}

// Logits [n, vocab] of one forward pass over `tokens` from position 0.
inline std::vector<float> causal_lm_logits(const std::string& path,
                                           const std::vector<int32_t>& tokens) {
  auto m = load_causal_lm(path);
  auto seq = m->new_sequence(static_cast<int64_t>(tokens.size()));
  std::vector<int32_t> pos(tokens.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
  std::vector<float> logits(tokens.size() * static_cast<size_t>(m->n_vocab()));
  m->forward({tokens, pos}, *seq, logits);
  return logits;
}

// ||a - b|| / ||b||
inline double relative_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// The median over positions of ||a[i] - b[i]|| / ||b[i]|| (a, b: [n, vocab]). The median, since
// on random weights a small change can flip a token's routed experts and move its logits far.
inline double median_relative_error(const std::vector<float>& a, const std::vector<float>& b,
                                    int64_t n_vocab) {
  std::vector<double> e;
  for (size_t i = 0; i + n_vocab <= a.size(); i += static_cast<size_t>(n_vocab)) {
    const std::vector<float> ai(a.begin() + i, a.begin() + i + n_vocab);
    const std::vector<float> bi(b.begin() + i, b.begin() + i + n_vocab);
    e.push_back(relative_rms(ai, bi));
  }
  std::sort(e.begin(), e.end());
  return e.empty() ? 0.0 : e[e.size() / 2];
}

}  // namespace frugal::test
