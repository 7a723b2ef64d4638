// Dense model: loading and the top-level forward pass.
#include "model/dense_model.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/model_files.h"

namespace frugal {
DenseActivations::DenseActivations(const DenseConfig& c, int64_t B, int64_t C)
    : DecoderActivations(B, c.dim, c.ffn_dim, c.rope_freqs(), C) {
  q = activation_buffer(B * c.q_dim());
  k = activation_buffer(B * c.kv_dim());
  v = activation_buffer(B * c.kv_dim());
  o = activation_buffer(B * c.q_dim());
  q_group = activation_buffer(B * c.group_size() * c.head_dim);
  o_group = activation_buffer(B * c.group_size() * c.head_dim);
  scores = activation_buffer(B * c.group_size() * C);
}

DenseModel::DenseModel() = default;
DenseModel::DenseModel(DenseModel&&) noexcept = default;
DenseModel& DenseModel::operator=(DenseModel&&) noexcept = default;
DenseModel::~DenseModel() = default;

DenseModel DenseModel::load(const std::string& path, const ModelOptions& opt) {
  DenseModel m;
  m.files_ = open_model_files(path, m.config_, m.weights_, &load_dense_weights);
  m.files_.pack(streamed_matrices(m.weights_), opt);
  m.init(opt);
  return m;
}

void DenseModel::init(const ModelOptions& opt) {
  opt_ = checked_options(opt, config_.context_length);
  act_ = std::make_unique<DenseActivations>(config_, opt_.max_batch, opt_.max_context);
}

DenseKvCache DenseModel::new_cache(int64_t n_ctx) const {
  n_ctx = cache_positions(n_ctx, opt_.max_context);
  return DenseKvCache(config_.n_layers, n_ctx, config_.n_kv_heads, config_.head_dim);
}

void DenseModel::forward(const Batch& b, DenseKvCache& cache, std::span<float> logits) {
  check_batch(b, config_.n_vocab, cache.n_past(), cache.n_ctx(), logits.size());
  if (cache.n_ctx() > opt_.max_context || cache.n_layers() != config_.n_layers ||
      cache.kv_dim() != config_.kv_dim())
    throw Error("forward: the KV cache was not made for this model (use DenseModel::new_cache)");
  const int64_t n = static_cast<int64_t>(b.tokens.size());
  const bool last = b.logits == LogitsMode::Last;
  for (int64_t i = 0; i < n; i += opt_.max_batch) {
    const int64_t m = std::min(opt_.max_batch, n - i);
    float* out = nullptr;  // no logits for the chunks before the last one in Last mode
    if (!last) out = logits.data() + i * config_.n_vocab;
    if (last && i + m == n) out = logits.data();
    forward_chunk(&b.tokens[i], &b.positions[i], m, cache, out, last);
  }
}

void DenseModel::forward_chunk(const int32_t* tokens, const int32_t* pos, int64_t n,
                               DenseKvCache& cache, float* logits, bool last_only) {
  const DenseConfig& c = config_;
  DenseActivations& a = *act_;
  const int64_t dim = c.dim;
  cache.set_n_past(pos[0]);
  for (int64_t t = 0; t < n; ++t) weight_row(weights_.token_embd, tokens[t], &a.h[t * dim]);
  DenseStep s{c, a, pos, n};
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const DenseLayerWeights& L = weights_.layers[l];
    rmsnorm_rows(a.h.data(), L.attn_norm, n, dim, c.rms_eps, a.x.data());
    gqa_attention(L, s, cache, l, a.branch.data());
    axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
    rmsnorm_rows(a.h.data(), L.ffn_norm, n, dim, c.rms_eps, a.x.data());
    swiglu_mlp(L.mlp, a.x.data(), n, a.ffn_gate.data(), a.ffn_up.data(), a.branch.data());
    axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
  }
  cache.set_n_past(pos[n - 1] + 1);
  if (logits == nullptr) return;
  const int64_t first = last_only ? n - 1 : 0;
  rmsnorm_rows(&a.h[first * dim], weights_.output_norm, n - first, dim, c.rms_eps,
               &a.x[first * dim]);
  matmul(weights_.output, &a.x[first * dim], n - first, logits);  // [n - first, n_vocab]
}

}  // namespace frugal
