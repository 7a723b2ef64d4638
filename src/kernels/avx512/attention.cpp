// AVX-512 latent attention chunk (kernels/attention_impl.h). Rows are processed in blocks of
// kBlock: scores of all heads against each row (the row is read once for every head), an
// online-softmax update per head, then the weighted sum of the block's rows into ctx. Register
// tiles of 4 heads x 4 rows (scores) and 4 heads x 64 values (sums) keep loads per FMA at 1/2.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention_impl.h"
#include "kernels/avx512/simd.h"

namespace frugal::kern {
namespace {

constexpr int64_t kBlock = kAttentionBlock;

// 16 cache values starting at element i of a row, as floats.
struct F32Row {
  static FRUGAL_INLINE __m512 load(const uint8_t* row, int64_t i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
};
struct F16Row {
  static FRUGAL_INLINE __m512 load(const uint8_t* row, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
};
struct BF16Row {
  static FRUGAL_INLINE __m512 load(const uint8_t* row, int64_t i) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
  }
};

// Scores of NH heads (from h0) x NJ rows (from block row j0): each q slice and each row slice
// loaded once per tile. s[(h0 + h) * kBlock + j0 + i].
template <int NH, int NJ, typename Row>
FRUGAL_INLINE void score_tile(const LatentQuery& q, const LatentCacheView& kv, int64_t jb,
                              int64_t h0, int64_t j0, float* s) {
  const uint8_t* rows[NJ];
  FRUGAL_UNROLL
  for (int i = 0; i < NJ; ++i) rows[i] = kv.row(jb + j0 + i);
  __m512 acc[NH * NJ];
  FRUGAL_UNROLL
  for (int k = 0; k < NH * NJ; ++k) acc[k] = _mm512_setzero_ps();
  auto step = [&](const float* qbase, int64_t q_stride, int64_t c, int64_t row_off) {
    __m512 x[NJ];
    FRUGAL_UNROLL
    for (int i = 0; i < NJ; ++i) x[i] = Row::load(rows[i], row_off + c);
    FRUGAL_UNROLL
    for (int h = 0; h < NH; ++h) {
      const __m512 qv = _mm512_loadu_ps(qbase + (h0 + h) * q_stride + c);
      FRUGAL_UNROLL
      for (int i = 0; i < NJ; ++i) acc[h * NJ + i] = _mm512_fmadd_ps(qv, x[i], acc[h * NJ + i]);
    }
  };
  for (int64_t c = 0; c < kv.rank; c += 16) step(q.q_abs, q.q_abs_stride, c, 0);
  for (int64_t c = 0; c < kv.rope_dim; c += 16) step(q.q_pe, q.q_pe_stride, c, kv.rank);
  store_scores<NH, NJ>(acc, q.scale, kBlock, h0, j0, s);
}

// Scores of heads [h0, h0 + NH) against the block's nb rows, 4 rows per tile.
template <int NH, typename Row>
FRUGAL_INLINE void score_heads(const LatentQuery& q, const LatentCacheView& kv, int64_t jb,
                               int64_t nb, int64_t h0, float* s) {
  int64_t j = 0;
  for (; j + 4 <= nb; j += 4) score_tile<NH, 4, Row>(q, kv, jb, h0, j, s);
  for (; j < nb; ++j) score_tile<NH, 1, Row>(q, kv, jb, h0, j, s);
}

template <typename Row>
void block_scores(const LatentQuery& q, const LatentCacheView& kv, int64_t jb, int64_t nb,
                  float* s) {
  int64_t h = 0;
  for (; h + 4 <= q.n_heads; h += 4) score_heads<4, Row>(q, kv, jb, nb, h, s);
  for (; h < q.n_heads; ++h) score_heads<1, Row>(q, kv, jb, nb, h, s);
}

// ctx[h0 + h][c0 .. c0 + 16 NC) += Σ_j p[(h0 + h) * kBlock + j] kv_latent_{jb + j}: each row
// slice loaded once for NH heads, each p broadcast once for NC slices.
template <int NH, int NC, typename Row>
FRUGAL_INLINE void value_tile(const LatentCacheView& kv, int64_t jb, int64_t nb, int64_t h0,
                              int64_t c0, const float* p, float* ctx) {
  auto load_row = [&](int64_t j, __m512(&x)[NC]) {
    const uint8_t* row = kv.row(jb + j);
    FRUGAL_UNROLL
    for (int k = 0; k < NC; ++k) x[k] = Row::load(row, c0 + 16 * k);
  };
  accumulate_values<NH, NC>(load_row, nb, p, kBlock, h0, c0, kv.rank, ctx);
}

template <int NH, typename Row>
FRUGAL_INLINE void value_heads(const LatentCacheView& kv, int64_t jb, int64_t nb, int64_t h0,
                               const float* p, float* ctx) {
  int64_t c = 0;
  for (; c + 64 <= kv.rank; c += 64) value_tile<NH, 4, Row>(kv, jb, nb, h0, c, p, ctx);
  for (; c < kv.rank; c += 16) value_tile<NH, 1, Row>(kv, jb, nb, h0, c, p, ctx);
}

template <typename Row>
void block_values(const LatentCacheView& kv, int64_t jb, int64_t nb, int64_t n_heads,
                  const float* p, float* ctx) {
  int64_t h = 0;
  for (; h + 4 <= n_heads; h += 4) value_heads<4, Row>(kv, jb, nb, h, p, ctx);
  for (; h < n_heads; ++h) value_heads<1, Row>(kv, jb, nb, h, p, ctx);
}

template <typename Row>
void latent_chunk(const LatentQuery& q, const LatentCacheView& kv, int64_t j0, int64_t j1, float* m,
                  float* l, float* ctx) {
  const int64_t H = q.n_heads, R = kv.rank;
  float* s = attention_block_scratch(H);  // [H, kBlock]
  begin_partial(H, R, m, l, ctx);
  for (int64_t jb = j0; jb < j1; jb += kBlock) {
    const int64_t nb = std::min(kBlock, j1 - jb);
    block_scores<Row>(q, kv, jb, nb, s);
    for (int64_t h = 0; h < H; ++h) softmax_update(s + h * kBlock, nb, m[h], l[h], ctx + h * R, R);
    block_values<Row>(kv, jb, nb, H, s, ctx);
  }
}

}  // namespace

LatentChunkFn avx512_latent_chunk(const LatentCacheView& kv) {
  if (kv.rank % 16 != 0 || kv.rope_dim % 16 != 0) return nullptr;
  switch (kv.type) {
    case GgmlType::F32:
      return latent_chunk<F32Row>;
    case GgmlType::F16:
      return latent_chunk<F16Row>;
    case GgmlType::BF16:
      return latent_chunk<BF16Row>;
    case GgmlType::I8:
      return avx512_latent_i8_chunk(kv);
    default:
      return nullptr;
  }
}

}  // namespace frugal::kern
