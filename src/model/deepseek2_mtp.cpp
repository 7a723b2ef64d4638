// MTP module 0 of a deepseek2 model (deepseek2_mtp.h; deepseek-arch.md §5).
#include "model/deepseek2_mtp.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/deepseek2_internal.h"

namespace frugal {

Deepseek2Mtp::Deepseek2Mtp(const Deepseek2Model& model) : model_(&model) {
  const Deepseek2Config& c = model.config();
  if (model.weights().mtp.empty())
    throw Error("MTP: the model has no MTP module loaded (" + c.architecture + ", " +
                std::to_string(c.n_mtp_layers) + " nextn_predict_layers)");
  const int64_t B = model.options().max_batch;
  act_ = std::make_unique<Deepseek2Activations>(c, B, model.options().max_context);
  eh_in_ = activation_buffer(B * 2 * c.dim);
}

Deepseek2Mtp::Deepseek2Mtp(Deepseek2Mtp&&) noexcept = default;
Deepseek2Mtp& Deepseek2Mtp::operator=(Deepseek2Mtp&&) noexcept = default;
Deepseek2Mtp::~Deepseek2Mtp() = default;

LatentKvCache Deepseek2Mtp::new_cache(int64_t n_ctx) const {
  const Deepseek2Config& c = model_->config();
  n_ctx = cache_positions(n_ctx, model_->options().max_context);
  return LatentKvCache(c.n_mtp_layers, n_ctx, c.kv_lora_rank, c.qk_rope_head_dim);
}

void Deepseek2Mtp::forward(const MtpBatch& b, LatentKvCache& cache, std::span<float> logits) {
  const Deepseek2Config& c = model_->config();
  const int64_t n = static_cast<int64_t>(b.next_tokens.size());
  const size_t n_logits =
      logits.empty() ? static_cast<size_t>((b.logits == LogitsMode::All ? n : 1) * c.n_vocab)
                     : logits.size();
  check_batch({b.next_tokens, b.positions, b.logits}, c.n_vocab, cache.n_past(), cache.n_ctx(),
              n_logits);
  if (static_cast<int64_t>(b.hidden.size()) != n * c.dim)
    throw Error("MTP forward: hidden holds " + std::to_string(b.hidden.size()) +
                " floats, expected " + std::to_string(n) + " x " + std::to_string(c.dim));
  if (cache.n_ctx() > model_->options().max_context || cache.n_layers() != c.n_mtp_layers ||
      cache.row_size() != c.kv_values_per_token())
    throw Error(
        "MTP forward: the KV cache was not made for this MTP module "
        "(use Deepseek2Mtp::new_cache)");
  const int64_t B = model_->options().max_batch;
  for (int64_t i = 0; i < n; i += B) {
    const int64_t m = std::min(B, n - i);
    float* out = nullptr;
    if (!logits.empty() && (b.logits == LogitsMode::All || i + m == n))
      out = b.logits == LogitsMode::All ? logits.data() + i * c.n_vocab : logits.data();
    forward_chunk(b, i, m, cache, out, b.logits == LogitsMode::Last);
  }
}

void Deepseek2Mtp::forward_chunk(const MtpBatch& b, int64_t first, int64_t n, LatentKvCache& cache,
                                 float* logits, bool last_only) {
  const Deepseek2Config& c = model_->config();
  const Deepseek2Weights& w = model_->weights();
  const MtpWeights& mtp = w.mtp[0];
  Deepseek2Activations& a = *act_;
  const int64_t dim = c.dim;
  const int32_t* pos = &b.positions[first];
  cache.set_n_past(pos[0]);
  for (int64_t t = 0; t < n; ++t) {  // eh_in_[t] = [enorm(Embed[t_{i+1}]) ; hnorm(h_i)]
    float* row = &eh_in_[t * 2 * dim];
    weight_row(w.token_embd, b.next_tokens[first + t], &a.x[t * dim]);
    rmsnorm(&a.x[t * dim], mtp.enorm, dim, c.rms_eps, row);
    rmsnorm(&b.hidden[(first + t) * dim], mtp.hnorm, dim, c.rms_eps, row + dim);
  }
  matmul(mtp.eh_proj, eh_in_.data(), n, a.h.data());  // [n, dim] = eh_proj [dim, 2 dim] · eh_in
  // One sequence, one segment: the MTP layer's own cache.
  const LatentSequenceBatch seq{{}, &cache};
  const SegmentRows seg{0, 0, n};
  Step s{c, a, pos, n, {&seg, 1}, {&seq, 1}};
  block_forward(mtp.block, c.is_moe_layer(c.n_layers), s, /*cache_layer=*/0,
                model_->options().attention);
  cache.set_n_past(pos[n - 1] + 1);
  if (logits == nullptr) return;
  const int64_t from = last_only ? n - 1 : 0;
  rmsnorm_rows(&a.h[from * dim], mtp.shared_head_norm, n - from, dim, c.rms_eps, &a.x[from * dim]);
  matmul(w.output, &a.x[from * dim], n - from, logits);  // [n - from, vocab]
}

}  // namespace frugal
