// The per-ISA part of latent_attention (kernels/attention.h): one chunk of cache rows, all heads,
// as an online-softmax partial that attention.cpp merges in chunk order.
#pragma once

#include <cstdint>

#include "kernels/attention.h"

namespace frugal::kern {

// Over rows [j0, j1) (j1 > j0):  m[h] = max_j s[h, j],  l[h] = Σ_j exp(s[h, j] - m[h]),
// ctx[h * rank + i] = Σ_j exp(s[h, j] - m[h]) kv_latent_j[i]  (not yet divided by l).
using LatentChunkFn = void (*)(const LatentQuery& q, const LatentCacheView& kv, int64_t j0,
                               int64_t j1, float* m, float* l, float* ctx);

LatentChunkFn ref_latent_chunk();
// Null when the shapes are not ones the fast kernel handles (rank or rope_dim not a multiple
// of 16); the caller then takes the reference chunk.
LatentChunkFn avx512_latent_chunk(const LatentCacheView& kv);

// latent_attention() with a given chunk kernel (tests run each ISA's through the same merge).
void latent_attention_with(LatentChunkFn chunk, const LatentQuery& q, const LatentCacheView& kv,
                           int64_t n_kv, float* ctx);

}  // namespace frugal::kern
