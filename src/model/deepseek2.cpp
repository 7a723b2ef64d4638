// deepseek2: loading and the top-level forward pass
//   h = Embed[token]; for each layer: h += MLA(attn_norm(h)); h += FFN(ffn_norm(h))
//   logits = output(output_norm(h))
#include "model/deepseek2.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "format/gguf.h"
#include "format/hf_config.h"
#include "format/safetensors.h"
#include "kernels/kernels.h"
#include "model/deepseek2_internal.h"
#include "model/deepseek2_loader.h"

namespace frugal {
namespace {

std::vector<float> sized(int64_t n) {
  return std::vector<float>(static_cast<size_t>(std::max<int64_t>(n, 1)));
}

}  // namespace

Deepseek2Activations::Deepseek2Activations(const Deepseek2Config& c, int64_t B, int64_t C) {
  const int64_t H = c.n_heads, r = c.kv_lora_rank, E = c.n_routed_experts, k = c.n_experts_used;
  const int64_t ff =
      std::max({c.dense_ffn_dim, c.moe_ffn_dim * std::max<int64_t>(c.n_shared_experts, 1)});
  h = sized(B * c.dim);
  x = sized(B * c.dim);
  branch = sized(B * c.dim);
  q_a = sized(B * c.q_lora_rank);
  q = sized(B * H * c.qk_head_dim());
  kv = sized(B * c.kv_values_per_token());
  head_in = sized(B * std::max(c.qk_nope_head_dim, r));
  head_out = sized(B * std::max(c.v_head_dim, r));
  q_abs = sized(B * H * r);
  ctx = sized(B * H * r);
  o = sized(B * H * c.v_head_dim);
  ffn_gate = sized(B * ff);
  ffn_up = sized(B * ff);
  router_logits = sized(B * E);
  router_scratch = sized(2 * E + c.n_groups);
  expert_idx.assign(static_cast<size_t>(std::max<int64_t>(B * k, 1)), 0);
  expert_w = sized(B * k);
  expert_start.assign(static_cast<size_t>(E + 2), 0);
  expert_slots.assign(static_cast<size_t>(std::max<int64_t>(B * k, 1)), 0);
  xe = sized(B * c.dim);
  ye = sized(B * c.dim);
  // RoPE angles p * f'_i in double, stored as cos/sin [C, d_r / 2].
  const std::vector<double> freqs = c.rope_freqs();
  const int64_t half = c.qk_rope_head_dim / 2;
  rope_cos = sized(C * half);
  rope_sin = sized(C * half);
  for (int64_t p = 0; p < C; ++p)
    for (int64_t i = 0; i < half; ++i) {
      rope_cos[p * half + i] = static_cast<float>(std::cos(static_cast<double>(p) * freqs[i]));
      rope_sin[p * half + i] = static_cast<float>(std::sin(static_cast<double>(p) * freqs[i]));
    }
}

Deepseek2Model::Deepseek2Model() = default;
Deepseek2Model::Deepseek2Model(Deepseek2Model&&) noexcept = default;
Deepseek2Model& Deepseek2Model::operator=(Deepseek2Model&&) noexcept = default;
Deepseek2Model::~Deepseek2Model() = default;

Deepseek2Model Deepseek2Model::load(const std::string& path, const ModelOptions& opt) {
  Deepseek2Model m;
  if (std::filesystem::is_directory(path)) {
    m.config_ = Deepseek2Config::from_hf(HfConfig::load(path));
    m.hf_ = std::make_shared<const SafetensorsModel>(SafetensorsModel::open(path));
    load_deepseek2_weights(m.config_, HfWeightSource(*m.hf_, path), m.weights_);
  } else {
    m.gguf_ = std::make_shared<const GgufFile>(GgufFile::open(path));
    m.config_ = Deepseek2Config::from_gguf(*m.gguf_);
    load_deepseek2_weights(m.config_, GgufWeightSource(*m.gguf_), m.weights_);
  }
  m.init(opt);
  return m;
}

void Deepseek2Model::init(const ModelOptions& opt) {
  if (opt.max_batch <= 0)
    throw Error("max_batch must be > 0, found " + std::to_string(opt.max_batch));
  if (opt.max_context <= 0)
    throw Error("max_context must be > 0, found " + std::to_string(opt.max_context));
  opt_ = opt;
  opt_.max_context = std::min(opt.max_context, config_.context_length);
  act_ = std::make_unique<Deepseek2Activations>(config_, opt_.max_batch, opt_.max_context);
}

LatentKvCache Deepseek2Model::new_cache(int64_t n_ctx) const {
  if (n_ctx <= 0) n_ctx = opt_.max_context;
  if (n_ctx > opt_.max_context)
    throw Error("cache of " + std::to_string(n_ctx) +
                " positions exceeds the model's max context " + std::to_string(opt_.max_context));
  return LatentKvCache(config_.n_layers, n_ctx, config_.kv_lora_rank, config_.qk_rope_head_dim);
}

void Deepseek2Model::check_batch(const Batch& b, const LatentKvCache& cache,
                                 size_t n_logits) const {
  const size_t n = b.tokens.size();
  if (n == 0) throw Error("forward: empty batch");
  if (b.positions.size() != n)
    throw Error("forward: " + std::to_string(n) + " tokens but " +
                std::to_string(b.positions.size()) + " positions");
  for (size_t i = 0; i < n; ++i)
    if (b.tokens[i] < 0 || b.tokens[i] >= config_.n_vocab)
      throw Error("forward: token id " + std::to_string(b.tokens[i]) + " at index " +
                  std::to_string(i) + " is out of range [0, " + std::to_string(config_.n_vocab) +
                  ")");
  const int64_t p0 = b.positions[0];
  if (p0 < 0 || p0 > cache.n_past())
    throw Error("forward: first position " + std::to_string(p0) + " must be in [0, " +
                std::to_string(cache.n_past()) + "] (the cache holds " +
                std::to_string(cache.n_past()) + " positions)");
  for (size_t i = 1; i < n; ++i)
    if (b.positions[i] != p0 + static_cast<int64_t>(i))
      throw Error("forward: positions must be consecutive; position[" + std::to_string(i) +
                  "] = " + std::to_string(b.positions[i]) + ", expected " +
                  std::to_string(p0 + static_cast<int64_t>(i)));
  if (p0 + static_cast<int64_t>(n) > cache.n_ctx())
    throw Error("forward: " + std::to_string(n) + " tokens from position " + std::to_string(p0) +
                " exceed the context of " + std::to_string(cache.n_ctx()) + " positions");
  if (cache.n_ctx() > opt_.max_context || cache.n_layers() != config_.n_layers ||
      cache.row_size() != config_.kv_values_per_token())
    throw Error(
        "forward: the KV cache was not made for this model (use Deepseek2Model::new_cache)");
  const size_t want = (b.logits == LogitsMode::All ? n : 1) * static_cast<size_t>(config_.n_vocab);
  if (n_logits != want)
    throw Error("forward: logits buffer holds " + std::to_string(n_logits) + " floats, expected " +
                std::to_string(want));
}

void Deepseek2Model::forward(const Batch& b, LatentKvCache& cache, std::span<float> logits,
                             ForwardTrace* trace) {
  check_batch(b, cache, logits.size());
  if (trace) {
    trace->hidden.resize(static_cast<size_t>(config_.n_layers + 1));
    trace->router_indices.resize(static_cast<size_t>(config_.n_moe_layers()));
    trace->router_weights.resize(static_cast<size_t>(config_.n_moe_layers()));
  }
  const int64_t n = static_cast<int64_t>(b.tokens.size());
  for (int64_t i = 0; i < n; i += opt_.max_batch) {
    const int64_t m = std::min(opt_.max_batch, n - i);
    const bool last_chunk = i + m == n;
    if (b.logits == LogitsMode::Last && !last_chunk) {
      forward_chunk(&b.tokens[i], &b.positions[i], m, cache, nullptr, true, trace);
    } else {
      float* out =
          b.logits == LogitsMode::All ? logits.data() + i * config_.n_vocab : logits.data();
      forward_chunk(&b.tokens[i], &b.positions[i], m, cache, out, b.logits == LogitsMode::Last,
                    trace);
    }
  }
}

void Deepseek2Model::forward_chunk(const int32_t* tokens, const int32_t* pos, int64_t n,
                                   LatentKvCache& cache, float* logits, bool last_only,
                                   ForwardTrace* trace) {
  const Deepseek2Config& c = config_;
  Deepseek2Activations& a = *act_;
  const int64_t dim = c.dim;
  cache.set_n_past(pos[0]);
  for (int64_t t = 0; t < n; ++t) weight_row(weights_.token_embd, tokens[t], &a.h[t * dim]);
  auto record = [&](std::vector<float>& dst) {
    dst.insert(dst.end(), a.h.begin(), a.h.begin() + n * dim);
  };
  if (trace) record(trace->hidden[0]);
  Step s{c, a, pos, n};
  int64_t moe_layer = 0;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = weights_.layers[l];
    for (int64_t t = 0; t < n; ++t)
      rmsnorm(&a.h[t * dim], L.attn.attn_norm, dim, c.rms_eps, &a.x[t * dim]);
    mla_forward(L.attn, s, cache, l, opt_.attention, a.branch.data());
    axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
    for (int64_t t = 0; t < n; ++t)
      rmsnorm(&a.h[t * dim], L.ffn_norm, dim, c.rms_eps, &a.x[t * dim]);
    if (c.is_moe_layer(l)) {
      moe_forward(L.moe, s, a.branch.data(), trace ? &trace->router_indices[moe_layer] : nullptr,
                  trace ? &trace->router_weights[moe_layer] : nullptr);
      ++moe_layer;
    } else {
      mlp_forward(L.mlp, a.x.data(), n, a, a.branch.data());
    }
    axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
    if (trace) record(trace->hidden[l + 1]);
  }
  cache.set_n_past(pos[n - 1] + 1);
  if (logits == nullptr) return;
  const int64_t first = last_only ? n - 1 : 0;
  for (int64_t t = first; t < n; ++t)
    rmsnorm(&a.h[t * dim], weights_.output_norm, dim, c.rms_eps, &a.x[t * dim]);
  matmul(weights_.output, &a.x[first * dim], n - first, logits);  // [n - first, vocab]
}

}  // namespace frugal
