// deepseek2: loading and the top-level forward pass
//   h = Embed[token]; for each layer: h += MLA(attn_norm(h)); h += FFN(ffn_norm(h))
//   logits = output(output_norm(h))
#include "model/deepseek2.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/deepseek2_internal.h"
#include "model/deepseek2_loader.h"
#include "model/model_files.h"

namespace frugal {
namespace {

// The widest SwiGLU MLP: a dense layer's, or the shared experts' (routed experts are narrower).
int64_t widest_ffn(const Deepseek2Config& c) {
  return std::max(c.dense_ffn_dim, c.moe_ffn_dim * std::max<int64_t>(c.n_shared_experts, 1));
}

}  // namespace

// RoPE angles p * f'_i (YaRN-corrected when c.yarn) in double, stored as cos/sin [C, d_r / 2];
// mla.cpp rotates interleaved pairs (rope_interleaved) with them.
Deepseek2Activations::Deepseek2Activations(const Deepseek2Config& c, int64_t B, int64_t C)
    : DecoderActivations(B, c.dim, widest_ffn(c), c.rope_freqs(), C) {
  const int64_t H = c.n_heads, r = c.kv_lora_rank, E = c.n_routed_experts, k = c.n_experts_used;
  q_a = activation_buffer(B * c.q_lora_rank);
  q = activation_buffer(B * H * c.qk_head_dim());
  kv = activation_buffer(B * c.kv_values_per_token());
  q_abs = activation_buffer(B * H * r);
  ctx = activation_buffer(B * H * r);
  o = activation_buffer(B * H * c.v_head_dim);
  router_logits = activation_buffer(B * E);
  router_scratch = activation_buffer(2 * E + c.n_groups);
  expert_idx.assign(static_cast<size_t>(std::max<int64_t>(B * k, 1)), 0);
  expert_w = activation_buffer(B * k);
  expert_start.assign(static_cast<size_t>(E + 2), 0);
  expert_slots.assign(static_cast<size_t>(std::max<int64_t>(B * k, 1)), 0);
  xe = activation_buffer(B * c.dim);
  ye = activation_buffer(B * c.dim);
}

Deepseek2Model::Deepseek2Model() = default;
Deepseek2Model::Deepseek2Model(Deepseek2Model&&) noexcept = default;
Deepseek2Model& Deepseek2Model::operator=(Deepseek2Model&&) noexcept = default;
Deepseek2Model::~Deepseek2Model() = default;

Deepseek2Model Deepseek2Model::load(const std::string& path, const ModelOptions& opt) {
  Deepseek2Model m;
  m.files_ = open_model_files(path, m.config_, m.weights_, &load_deepseek2_weights);
  m.files_.pack(streamed_matrices(m.weights_), opt);
  m.init(opt);
  return m;
}

void Deepseek2Model::init(const ModelOptions& opt) {
  opt_ = checked_options(opt, config_.context_length);
  act_ = std::make_unique<Deepseek2Activations>(config_, opt_.max_batch, opt_.max_context);
}

LatentKvCache Deepseek2Model::new_cache(int64_t n_ctx) const {
  n_ctx = cache_positions(n_ctx, opt_.max_context);
  return LatentKvCache(config_.n_layers, n_ctx, config_.kv_lora_rank, config_.qk_rope_head_dim,
                       opt_.kv_cache_type);
}

std::shared_ptr<KvBlockPool> Deepseek2Model::new_kv_pool(int64_t n_blocks) const {
  return std::make_shared<KvBlockPool>(
      LatentKvCache::pool_geometry(config_.n_layers, config_.kv_lora_rank,
                                   config_.qk_rope_head_dim, opt_.kv_cache_type),
      n_blocks);
}

LatentKvCache Deepseek2Model::new_cache(int64_t n_ctx, std::shared_ptr<KvBlockPool> pool) const {
  n_ctx = cache_positions(n_ctx, opt_.max_context);
  return LatentKvCache(std::move(pool), n_ctx, config_.kv_lora_rank, config_.qk_rope_head_dim,
                       opt_.kv_cache_type);
}

void Deepseek2Model::forward(const Batch& b, LatentKvCache& cache, std::span<float> logits,
                             ForwardTrace* trace) {
  const LatentSequenceBatch one{b, &cache};
  forward_multi({&one, 1}, logits, trace);
}

void Deepseek2Model::forward_multi(std::span<const LatentSequenceBatch> seqs,
                                   std::span<float> logits, ForwardTrace* trace) {
  check_sequences(seqs, config_.n_vocab, logits.size());
  for (const LatentSequenceBatch& s : seqs)
    if (s.cache->n_ctx() > opt_.max_context || s.cache->n_layers() != config_.n_layers ||
        s.cache->row_size() != config_.kv_values_per_token())
      throw Error(
          "forward: the KV cache was not made for this model (use Deepseek2Model::new_cache)");
  // Every position written below is this step's own (paged caches: blocks allocated, shared
  // ones copied) before anything is computed; a full pool fails the step here.
  for (const LatentSequenceBatch& s : seqs) {
    const int64_t p0 = s.batch.positions[0];
    s.cache->prepare_write(p0, p0 + static_cast<int64_t>(s.batch.tokens.size()));
  }
  if (trace) {
    trace->hidden.resize(static_cast<size_t>(config_.n_layers + 1));
    trace->router_indices.resize(static_cast<size_t>(config_.n_moe_layers()));
    trace->router_weights.resize(static_cast<size_t>(config_.n_moe_layers()));
  }
  StepCursor cursor;
  while (next_chunk(seqs, cursor, act_->chunk))
    forward_chunk(seqs, logits.data() + act_->chunk.out_first * config_.n_vocab, trace);
}

std::span<const float> Deepseek2Model::last_hidden(int64_t n_tokens) const {
  FRUGAL_CHECK(n_tokens > 0 && n_tokens <= opt_.max_batch, "last_hidden: bad token count");
  return {act_->h.data(), static_cast<size_t>(n_tokens * config_.dim)};
}

// One chunk of rows (act_->chunk) of one or more sequences; logits: [chunk.n_out, n_vocab].
void Deepseek2Model::forward_chunk(std::span<const LatentSequenceBatch> seqs, float* logits,
                                   ForwardTrace* trace) {
  const Deepseek2Config& c = config_;
  Deepseek2Activations& a = *act_;
  const StepChunk& ch = a.chunk;
  const int64_t dim = c.dim, n = ch.n_rows;
  for (const SegmentRows& g : ch.segments()) seqs[g.seq].cache->set_n_past(ch.pos[g.row0]);
  for (int64_t t = 0; t < n; ++t) weight_row(weights_.token_embd, ch.tokens[t], &a.h[t * dim]);
  auto record = [&](std::vector<float>& dst) {
    dst.insert(dst.end(), a.h.begin(), a.h.begin() + n * dim);
  };
  if (trace) record(trace->hidden[0]);
  Step s{c, a, ch.pos.data(), n, ch.segments(), seqs};
  int64_t moe_layer = 0;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = weights_.layers[l];
    rmsnorm_rows(a.h.data(), L.attn.attn_norm, n, dim, c.rms_eps, a.x.data());
    mla_forward(L.attn, s, l, opt_.attention, a.branch.data());
    axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
    rmsnorm_rows(a.h.data(), L.ffn_norm, n, dim, c.rms_eps, a.x.data());
    if (c.is_moe_layer(l)) {
      moe_forward(L.moe, s, a.branch.data(), trace ? &trace->router_indices[moe_layer] : nullptr,
                  trace ? &trace->router_weights[moe_layer] : nullptr);
      ++moe_layer;
    } else {
      swiglu_mlp(L.mlp, a.x.data(), n, a.ffn_gate.data(), a.ffn_up.data(), a.branch.data());
    }
    axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
    if (trace) record(trace->hidden[l + 1]);
  }
  for (const SegmentRows& g : ch.segments())
    seqs[g.seq].cache->set_n_past(ch.pos[g.row0 + g.n - 1] + 1);
  output_head(weights_.output, weights_.output_norm, c.rms_eps, ch, a.h.data(), a.x.data(), logits);
}

}  // namespace frugal
