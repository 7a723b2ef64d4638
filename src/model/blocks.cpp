#include "model/blocks.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace frugal {

std::vector<float> activation_buffer(int64_t n) {
  return std::vector<float>(static_cast<size_t>(std::max<int64_t>(n, 1)));
}

DecoderActivations::DecoderActivations(int64_t B, int64_t dim, int64_t ffn,
                                       const std::vector<double>& rope_freqs, int64_t C)
    : chunk(B),
      h(activation_buffer(B * dim)),
      x(activation_buffer(B * dim)),
      branch(activation_buffer(B * dim)),
      ffn_gate(activation_buffer(B * ffn)),
      ffn_up(activation_buffer(B * ffn)) {
  rope_tables(rope_freqs, C, rope_cos, rope_sin);
}

void swiglu_mlp(const SwiGluWeights& w, const float* x, int64_t n, float* gate_buf, float* up_buf,
                float* out) {
  const MatmulJob gate_up[] = {{&w.gate, x, n, gate_buf}, {&w.up, x, n, up_buf}};  // [n, ffn]
  matmul_batch(gate_up);
  silu_mul(gate_buf, up_buf, n * w.gate.rows);
  matmul(w.down, gate_buf, n, out);  // [n, dim]
}

void output_head(const WeightMatrix& output, const float* output_norm, float eps,
                 const StepChunk& chunk, const float* h, float* x, float* logits) {
  if (chunk.n_out == 0) return;
  const int64_t dim = output.cols;
  for (int64_t k = 0; k < chunk.n_out; ++k)
    rmsnorm(h + chunk.out_rows[k] * dim, output_norm, dim, eps, x + k * dim);
  matmul(output, x, chunk.n_out, logits);  // [n_out, n_vocab]
}

void rmsnorm_rows(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* y) {
  for (int64_t t = 0; t < n; ++t) rmsnorm(x + t * dim, w, dim, eps, y + t * dim);
}

std::vector<double> rope_base_freqs(double theta, int64_t head_dim) {
  std::vector<double> f(static_cast<size_t>(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i) f[i] = std::pow(theta, -2.0 * i / head_dim);
  return f;
}

void rope_tables(const std::vector<double>& freqs, int64_t n_pos, std::vector<float>& cos,
                 std::vector<float>& sin) {
  const int64_t half = static_cast<int64_t>(freqs.size());
  cos.assign(static_cast<size_t>(n_pos * half), 0.0f);
  sin.assign(static_cast<size_t>(n_pos * half), 0.0f);
  for (int64_t p = 0; p < n_pos; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * freqs[i];
      cos[p * half + i] = static_cast<float>(std::cos(angle));
      sin[p * half + i] = static_cast<float>(std::sin(angle));
    }
}

void rope_half_split(float* x, const float* cos, const float* sin, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[i], b = x[i + half];
    x[i] = a * cos[i] - b * sin[i];
    x[i + half] = b * cos[i] + a * sin[i];
  }
}

}  // namespace frugal
