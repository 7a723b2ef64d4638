// One deepseek2 transformer block (deepseek-arch.md §2-3):
//   h += MLA(attn_norm(h));  h += FFN(ffn_norm(h))
#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/deepseek2_internal.h"

namespace frugal {

void block_forward(const LayerWeights& w, bool moe, Step& s, int64_t cache_layer,
                   AttentionImpl impl) {
  const Deepseek2Config& c = s.c;
  Deepseek2Activations& a = s.a;
  const int64_t n = s.n, dim = c.dim;
  rmsnorm_rows(a.h.data(), w.attn.attn_norm, n, dim, c.rms_eps, a.x.data());
  mla_forward(w.attn, s, cache_layer, impl, a.branch.data());
  axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
  rmsnorm_rows(a.h.data(), w.ffn_norm, n, dim, c.rms_eps, a.x.data());
  if (moe)
    moe_forward(w.moe, s, a.branch.data(), nullptr, nullptr);
  else
    swiglu_mlp(w.mlp, a.x.data(), n, a.ffn_gate.data(), a.ffn_up.data(), a.branch.data());
  axpy(1.0f, a.branch.data(), a.h.data(), n * dim);
}

}  // namespace frugal
