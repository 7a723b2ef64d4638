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

std::shared_ptr<KvBlockPool> DenseModel::new_kv_pool(int64_t n_blocks) const {
  return std::make_shared<KvBlockPool>(
      DenseKvCache::pool_geometry(config_.n_layers, config_.n_kv_heads, config_.head_dim),
      n_blocks);
}

DenseKvCache DenseModel::new_cache(int64_t n_ctx, std::shared_ptr<KvBlockPool> pool) const {
  n_ctx = cache_positions(n_ctx, opt_.max_context);
  return DenseKvCache(std::move(pool), n_ctx, config_.n_kv_heads, config_.head_dim);
}

void DenseModel::forward(const Batch& b, DenseKvCache& cache, std::span<float> logits) {
  const DenseSequenceBatch one{b, &cache};
  forward_multi({&one, 1}, logits);
}

void DenseModel::forward_multi(std::span<const DenseSequenceBatch> seqs, std::span<float> logits) {
  check_sequences(seqs, config_.n_vocab, logits.size());
  for (const DenseSequenceBatch& s : seqs)
    if (s.cache->n_ctx() > opt_.max_context || s.cache->n_layers() != config_.n_layers ||
        s.cache->kv_dim() != config_.kv_dim())
      throw Error("forward: the KV cache was not made for this model (use DenseModel::new_cache)");
  // Every position written below is this step's own (paged caches: blocks allocated, shared
  // ones copied) before anything is computed; a full pool fails the step here.
  for (const DenseSequenceBatch& s : seqs) {
    const int64_t p0 = s.batch.positions[0];
    s.cache->prepare_write(p0, p0 + static_cast<int64_t>(s.batch.tokens.size()));
  }
  StepCursor cursor;
  while (next_chunk(seqs, cursor, act_->chunk))
    forward_chunk(seqs, logits.data() + act_->chunk.out_first * config_.n_vocab);
}

// One chunk of rows (act_->chunk) of one or more sequences; logits: [chunk.n_out, n_vocab].
void DenseModel::forward_chunk(std::span<const DenseSequenceBatch> seqs, float* logits) {
  const DenseConfig& c = config_;
  DenseActivations& a = *act_;
  const StepChunk& ch = a.chunk;
  const int64_t dim = c.dim, n = ch.n_rows;
  for (const SegmentRows& g : ch.segments()) seqs[g.seq].cache->set_n_past(ch.pos[g.row0]);
  for (int64_t t = 0; t < n; ++t) weight_row(weights_.token_embd, ch.tokens[t], &a.h[t * dim]);
  DenseStep s{c, a, ch.pos.data(), n, ch.segments(), seqs};
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const DenseLayerWeights& L = weights_.layers[l];
    rmsnorm_rows(a.h.data(), L.attn_norm, n, dim, c.rms_eps, a.x.data());
    dense_attention(L, s, l, a.branch.data());
    axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
    rmsnorm_rows(a.h.data(), L.ffn_norm, n, dim, c.rms_eps, a.x.data());
    swiglu_mlp(L.mlp, a.x.data(), n, a.ffn_gate.data(), a.ffn_up.data(), a.branch.data());
    axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
  }
  for (const SegmentRows& g : ch.segments())
    seqs[g.seq].cache->set_n_past(ch.pos[g.row0 + g.n - 1] + 1);
  output_head(weights_.output, weights_.output_norm, c.rms_eps, ch, a.h.data(), a.x.data(), logits);
}

}  // namespace frugal
