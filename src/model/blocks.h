// Building blocks shared by the model families: the activations every decoder writes, RMSNorm
// over rows, the SwiGLU MLP over WeightMatrix views, and RoPE frequencies, tables and half-split
// rotation. Plain buffers and sizes; the caller owns every buffer (sized at load, STYLE.md §7).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernels.h"
#include "model/causal_lm.h"
#include "model/step_plan.h"

namespace frugal {

// A float buffer of n values (at least one, so that data() is never null), zeroed.
std::vector<float> activation_buffer(int64_t n);

// The activations of the residual stream, the SwiGLU branch and RoPE, and the current chunk's
// rows, common to every decoder family (each family's activations extend it). B = max_batch,
// C = max_context, ffn = the widest SwiGLU MLP, half = rope_freqs.size() (rotated pairs per head).
struct DecoderActivations {
  StepChunk chunk;              // [B] rows: tokens, positions, segments, rows wanting logits
  std::vector<float> h;         // [B, dim] residual stream
  std::vector<float> x;         // [B, dim] normalised input of the current branch
  std::vector<float> branch;    // [B, dim] output of the current branch
  std::vector<float> ffn_gate;  // [B, ffn]
  std::vector<float> ffn_up;    // [B, ffn]
  std::vector<float> rope_cos;  // [C, half] cos(p * rope_freqs[i])
  std::vector<float> rope_sin;  // [C, half] sin(p * rope_freqs[i])

  DecoderActivations(int64_t max_batch, int64_t dim, int64_t ffn,
                     const std::vector<double>& rope_freqs, int64_t max_context);
};

struct SwiGluWeights {  // down(silu(gate x) * up x)
  WeightMatrix gate;    // [ffn, dim]
  WeightMatrix up;      // [ffn, dim]
  WeightMatrix down;    // [dim, ffn]
};

// out [n, dim] = SwiGLU(x [n, dim]); gate_buf / up_buf: [n, ffn] scratch.
void swiglu_mlp(const SwiGluWeights& w, const float* x, int64_t n, float* gate_buf, float* up_buf,
                float* out);

// The output head over the rows of a chunk that want logits: for each k < chunk.n_out,
// logits[k] = output · rmsnorm(h[chunk.out_rows[k]]) * output_norm.
// h: [chunk.n_rows, dim]; x: [chunk.n_out, dim] scratch; logits: [chunk.n_out, output.rows].
void output_head(const WeightMatrix& output, const float* output_norm, float eps,
                 const StepChunk& chunk, const float* h, float* x, float* logits);

// y[t] = rmsnorm(x[t]) * w for n rows of `dim` floats (y may alias x).
void rmsnorm_rows(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* y);

// The unscaled RoPE frequencies theta^(-2i / head_dim) of the head_dim / 2 pairs, in double.
std::vector<double> rope_base_freqs(double theta, int64_t head_dim);

// cos / sin [n_pos, freqs.size()] of the angles p * freqs[i], computed in double.
void rope_tables(const std::vector<double>& freqs, int64_t n_pos, std::vector<float>& cos,
                 std::vector<float>& sin);

// Rotates the pairs (x[i], x[i + half]) by angle i (HF rotate_half / ggml ROPE_TYPE_NEOX):
//   x'[i] = x[i] cos - x[i+half] sin,   x'[i+half] = x[i+half] cos + x[i] sin.
void rope_half_split(float* x, const float* cos, const float* sin, int64_t half);

}  // namespace frugal
