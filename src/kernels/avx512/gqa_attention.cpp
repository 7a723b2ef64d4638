// AVX-512 grouped-query attention chunk (kernels/attention_impl.h). Rows are processed in blocks
// of kBlock; for each kv head g of a block: the scores of its group of query heads against the
// block's keys (each key read once for the whole group), an online-softmax update per head, then
// the weighted sum of the block's values. Register tiles of NH heads x 16 / NH rows (scores) and
// NH heads x 64 values (sums).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention_impl.h"
#include "kernels/avx512/simd.h"

namespace frugal::kern {
namespace {

constexpr int64_t kBlock = kAttentionBlock;

// One kv head's part of a chunk: its group's queries and outputs.
struct GroupArgs {
  const GqaCacheView& kv;
  int64_t g;       // kv head
  int64_t group;   // query heads per kv head
  const float* q;  // [group, head_dim] the group's queries
  float scale;
};

// Scores of NH heads (from h0) x NJ rows (from block row j0): each query slice and each key
// slice loaded once per tile. s[(h0 + h) * kBlock + j0 + i].
template <int NH, int NJ>
FRUGAL_INLINE void score_tile(const GroupArgs& a, int64_t jb, int64_t h0, int64_t j0, float* s) {
  const int64_t D = a.kv.head_dim;
  const float* k[NJ];
  FRUGAL_UNROLL
  for (int i = 0; i < NJ; ++i) k[i] = a.kv.keys(jb + j0 + i, a.g);
  __m512 acc[NH * NJ];
  FRUGAL_UNROLL
  for (int t = 0; t < NH * NJ; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t c = 0; c < D; c += 16) {
    __m512 x[NJ];
    FRUGAL_UNROLL
    for (int i = 0; i < NJ; ++i) x[i] = _mm512_loadu_ps(k[i] + c);
    FRUGAL_UNROLL
    for (int h = 0; h < NH; ++h) {
      const __m512 qv = _mm512_loadu_ps(a.q + (h0 + h) * D + c);
      FRUGAL_UNROLL
      for (int i = 0; i < NJ; ++i) acc[h * NJ + i] = _mm512_fmadd_ps(qv, x[i], acc[h * NJ + i]);
    }
  }
  store_scores<NH, NJ>(acc, a.scale, kBlock, h0, j0, s);
}

// Scores of heads [h0, h0 + NH) against the block's nb rows, 16 / NH rows per tile.
template <int NH>
FRUGAL_INLINE void score_heads(const GroupArgs& a, int64_t jb, int64_t nb, int64_t h0, float* s) {
  constexpr int NJ = 16 / NH;
  int64_t j = 0;
  for (; j + NJ <= nb; j += NJ) score_tile<NH, NJ>(a, jb, h0, j, s);
  for (; j < nb; ++j) score_tile<NH, 1>(a, jb, h0, j, s);
}

void block_scores(const GroupArgs& a, int64_t jb, int64_t nb, float* s) {
  int64_t h = 0;
  for (; h + 4 <= a.group; h += 4) score_heads<4>(a, jb, nb, h, s);
  if (h + 2 <= a.group) {
    score_heads<2>(a, jb, nb, h, s);
    h += 2;
  }
  if (h < a.group) score_heads<1>(a, jb, nb, h, s);
}

// ctx[h0 + h][c0 .. c0 + 16 NC) += Σ_j p[(h0 + h) * kBlock + j] V_{jb + j}[g]: each value slice
// loaded once for NH heads, each p broadcast once for NC slices.
template <int NH, int NC>
FRUGAL_INLINE void value_tile(const GroupArgs& a, int64_t jb, int64_t nb, int64_t h0, int64_t c0,
                              const float* p, float* ctx) {
  auto load_row = [&](int64_t j, __m512(&x)[NC]) {
    const float* v = a.kv.values(jb + j, a.g) + c0;
    FRUGAL_UNROLL
    for (int k = 0; k < NC; ++k) x[k] = _mm512_loadu_ps(v + 16 * k);
  };
  accumulate_values<NH, NC>(load_row, nb, p, kBlock, h0, c0, a.kv.head_dim, ctx);
}

template <int NH>
FRUGAL_INLINE void value_heads(const GroupArgs& a, int64_t jb, int64_t nb, int64_t h0,
                               const float* p, float* ctx) {
  int64_t c = 0;
  for (; c + 64 <= a.kv.head_dim; c += 64) value_tile<NH, 4>(a, jb, nb, h0, c, p, ctx);
  for (; c < a.kv.head_dim; c += 16) value_tile<NH, 1>(a, jb, nb, h0, c, p, ctx);
}

void block_values(const GroupArgs& a, int64_t jb, int64_t nb, const float* p, float* ctx) {
  int64_t h = 0;
  for (; h + 4 <= a.group; h += 4) value_heads<4>(a, jb, nb, h, p, ctx);
  if (h + 2 <= a.group) {
    value_heads<2>(a, jb, nb, h, p, ctx);
    h += 2;
  }
  if (h < a.group) value_heads<1>(a, jb, nb, h, p, ctx);
}

void gqa_chunk(const GqaQuery& q, const GqaCacheView& kv, int64_t j0, int64_t j1, float* m,
               float* l, float* ctx) {
  const int64_t H = q.n_heads, D = kv.head_dim, group = H / kv.n_kv_heads;
  float* s = attention_block_scratch(group);  // [group, kBlock]
  begin_partial(H, D, m, l, ctx);
  for (int64_t jb = j0; jb < j1; jb += kBlock) {
    const int64_t nb = std::min(kBlock, j1 - jb);
    for (int64_t g = 0; g < kv.n_kv_heads; ++g) {
      const int64_t h0 = g * group;  // the group's first query head
      const GroupArgs a{kv, g, group, q.q + h0 * D, q.scale};
      block_scores(a, jb, nb, s);
      for (int64_t h = 0; h < group; ++h)
        softmax_update(s + h * kBlock, nb, m[h0 + h], l[h0 + h], ctx + (h0 + h) * D, D);
      block_values(a, jb, nb, s, ctx + h0 * D);
    }
  }
}

}  // namespace

GqaChunkFn avx512_gqa_chunk(const GqaCacheView& kv) {
  return kv.head_dim % 16 == 0 ? gqa_chunk : nullptr;
}

}  // namespace frugal::kern
