// The per-ISA parts of latent_attention (kernels/attention.h) and gqa_attention
// (kernels/gqa_attention.h): one chunk of cache rows, all heads, as an online-softmax partial,
// and the chunked driver (attention.cpp) that merges the partials in chunk order.
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/gqa_attention.h"

namespace frugal::kern {

// Over rows [j0, j1) (j1 > j0):  m[h] = max_j s[h, j],  l[h] = Σ_j exp(s[h, j] - m[h]),
// ctx[h * rank + i] = Σ_j exp(s[h, j] - m[h]) kv_latent_j[i]  (not yet divided by l).
using LatentChunkFn = void (*)(const LatentQuery& q, const LatentCacheView& kv, int64_t j0,
                               int64_t j1, float* m, float* l, float* ctx);

LatentChunkFn ref_latent_chunk();
// Null when the shapes are not ones the fast kernel handles (rank or rope_dim not a multiple
// of 16); the caller then takes the reference chunk.
LatentChunkFn avx512_latent_chunk(const LatentCacheView& kv);
// The int8-row (I8) kernel avx512_latent_chunk returns; null unless rank % 64 == 0 and
// rope_dim % 4 == 0.
LatentChunkFn avx512_latent_i8_chunk(const LatentCacheView& kv);

// latent_attention() with a given chunk kernel (tests run each ISA's through the same merge).
void latent_attention_with(LatentChunkFn chunk, const LatentQuery& q, const LatentCacheView& kv,
                           int64_t n_kv, float* ctx);

// The same partial for grouped-query attention: m, l [n_heads], ctx [n_heads, head_dim].
using GqaChunkFn = void (*)(const GqaQuery& q, const GqaCacheView& kv, int64_t j0, int64_t j1,
                            float* m, float* l, float* ctx);

GqaChunkFn ref_gqa_chunk();
// Null when head_dim is not a multiple of 16.
GqaChunkFn avx512_gqa_chunk(const GqaCacheView& kv);

void gqa_attention_with(GqaChunkFn chunk, const GqaQuery& q, const GqaCacheView& kv, int64_t n_kv,
                        float* out);

// A non-owning reference to a chunk body chunk(j0, j1, m, l, ctx) (any callable).
class ChunkRef {
 public:
  template <typename F>
  ChunkRef(const F& f)  // NOLINT: implicit on purpose, attend_in_chunks takes lambdas
      : obj_(&f), call_([](const void* o, int64_t j0, int64_t j1, float* m, float* l, float* c) {
          (*static_cast<const F*>(o))(j0, j1, m, l, c);
        }) {}
  void operator()(int64_t j0, int64_t j1, float* m, float* l, float* ctx) const {
    call_(obj_, j0, j1, m, l, ctx);
  }

 private:
  const void* obj_;
  void (*call_)(const void*, int64_t, int64_t, float*, float*, float*);
};

// Splits rows [0, n_kv) into chunks fixed by n_kv alone, runs `chunk` on each (on the thread
// pool when there are several and the caller is outside it) and merges the partials in chunk
// order into out [n_heads, width]:
//   M = max_c m_c,  w_c = exp(m_c - M),  out = Σ_c w_c ctx_c / Σ_c w_c l_c.
void attend_in_chunks(int64_t n_kv, int64_t n_heads, int64_t width, ChunkRef chunk, float* out);

}  // namespace frugal::kern
