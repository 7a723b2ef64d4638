// AVX-512 VNNI latent attention chunk over int8 cache rows (type I8, kernels/attention.h), with
// the 16 lanes of a register holding 16 heads, so the softmax needs no reductions:
// - scores: q rounded per head and part to u8 (q ≈ sq (u - 128)); for each row and 4 dims,
//   vpdpbusd of the heads' 4 q bytes with the row's 4 bytes broadcast:
//     s[h, j] = scale (sq_lat[h] sk_lat[j] (acc_lat - 128 Σk_lat) + sq_pe[h] sk_pe[j] (...));
// - values: per block of kSub rows, the weights w[h, j] = exp(s - m) sk_lat[j] rounded per head
//   to u8 (w ≈ W[h]/255 u) and the block's latent rows transposed to 4-row groups, so each
//   vpdpbusd adds 4 rows of one dimension for 16 heads.
// The result is within a few 1e-3 of the float reference (8-bit q and weights); the
// dequantized cache itself is exact in both.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention_impl.h"
#include "kernels/avx512/simd.h"

namespace frugal::kern {
namespace {

constexpr int64_t kSub = 64;    // rows per block (multiple of 16; 128 and 32 measured slower)
constexpr int64_t kLanes = 16;  // heads per register

// Per-thread buffers of one chunk call.
struct Scratch {
  std::vector<uint8_t> q;         // [groups][dims / 4][64]: lane h = 4 bytes of q_h, + 128
  std::vector<float> sq;          // [groups][2][16]: q scales (latent, pe)
  std::vector<float> s;           // [kSub][16]: scores, then weights
  std::vector<uint8_t> p;         // [kSub / 4][64]: u8 weights of 4 rows per head
  std::vector<uint8_t> t;         // [kSub / 4][rank * 4]: 4-row groups, slot order
  std::vector<float> ctx;         // [groups][rank][16]: ctx by slot, lanes = heads
  std::vector<float> m, l;        // [groups][16]: the online softmax's max and sum
  std::vector<uint8_t> zero_row;  // padding row: left out of the max, its weight 0
  const uint8_t* rows[kSub];
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Per head group: q bytes u = round(q / sq) + 128 (sq = max|q| / 127) of the latent and pe
// parts; lane h of dim group g at out[64 g + 4 h].
void quantize_queries(const LatentQuery& q, int64_t rank, int64_t rope, int64_t h0, uint8_t* out,
                      float* sq) {
  const int64_t dims = rank + rope;
  std::memset(out, 128, static_cast<size_t>(dims / 4 * 64));
  for (int64_t lane = 0; lane < kLanes; ++lane) {
    const int64_t h = h0 + lane;
    for (int part = 0; part < 2; ++part) {
      sq[part * kLanes + lane] = 0.0f;
      if (h >= q.n_heads) continue;
      const float* x = part == 0 ? q.q_abs + h * q.q_abs_stride : q.q_pe + h * q.q_pe_stride;
      const int64_t n = part == 0 ? rank : rope, d0 = part == 0 ? 0 : rank;
      __m512 vmax = _mm512_setzero_ps();
      for (int64_t i = 0; i < n; i += 16)
        vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i)));
      const float amax = _mm512_reduce_max_ps(vmax);
      if (amax == 0.0f) continue;
      sq[part * kLanes + lane] = amax / 127.0f;
      const __m512 inv = _mm512_set1_ps(127.0f / amax);
      for (int64_t i = 0; i < n; i += 16) {  // |x| inv <= 127: no clamp needed; n % 4 == 0
        const __m512i v =
            _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i), inv));
        alignas(16) uint32_t b[4];  // 4 dims a word
        _mm_store_si128(reinterpret_cast<__m128i*>(b),
                        _mm512_cvtepi32_epi8(_mm512_add_epi32(v, _mm512_set1_epi32(128))));
        for (int64_t k = 0; k < std::min<int64_t>(16, n - i); k += 4)
          std::memcpy(out + (d0 + i + k) / 4 * 64 + lane * 4, &b[k / 4], 4);
      }
    }
  }
}

// Integer dot products of R rows with the heads' q over dim groups [g0, g1):
// acc[r] lane h = Σ_d u_h[d] k_r[d].
template <int R>
FRUGAL_INLINE void dot_rows(const uint8_t* q, const uint8_t* const* rows, int64_t g0, int64_t g1,
                            __m512i (&acc)[R]) {
  FRUGAL_UNROLL
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
  for (int64_t g = g0; g < g1; ++g) {
    const __m512i qg = _mm512_loadu_si512(q + g * 64);
    FRUGAL_UNROLL
    for (int r = 0; r < R; ++r) acc[r] = dpbusd_bcast(acc[r], qg, rows[r] + 4 * g);
  }
}

// (acc - 128 sum) * sq * sk, the part's dot product of q and the row in floats.
FRUGAL_INLINE __m512 part_dot(__m512i acc, int32_t sum, __m512 sq, float sk) {
  const __m512i exact = _mm512_sub_epi32(acc, _mm512_set1_epi32(128 * sum));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(sq, _mm512_set1_ps(sk)));
}

// s[r] (lanes = heads) for R rows (8 row pointers and accumulators stay in registers).
template <int R>
void score_tile(const uint8_t* q, const float* sq, const uint8_t* const* rows, int64_t rank,
                int64_t rope, float scale, float* s) {
  const int64_t dims = rank + rope;
  const __m512 sq_lat = _mm512_loadu_ps(sq), sq_pe = _mm512_loadu_ps(sq + kLanes);
  __m512i acc[R];
  dot_rows<R>(q, rows, 0, rank / 4, acc);
  FRUGAL_UNROLL
  for (int r = 0; r < R; ++r) {
    const LatentI8Tail t = latent_i8_tail(rows[r], dims);
    _mm512_storeu_ps(s + r * kLanes, part_dot(acc[r], t.sum_latent, sq_lat, t.scale_latent));
  }
  dot_rows<R>(q, rows, rank / 4, dims / 4, acc);
  const __m512 vscale = _mm512_set1_ps(scale);
  FRUGAL_UNROLL
  for (int r = 0; r < R; ++r) {
    const LatentI8Tail t = latent_i8_tail(rows[r], dims);
    const __m512 pe = part_dot(acc[r], t.sum_pe, sq_pe, t.scale_pe);
    _mm512_storeu_ps(s + r * kLanes,
                     _mm512_mul_ps(_mm512_add_ps(_mm512_loadu_ps(s + r * kLanes), pe), vscale));
  }
}

// Rows 4g .. 4g+3 of the block's latent parts into t[g]: in each 64-dim chunk c, slot
// c*64 + 16k + 4L + i holds dim 64c + 16L + 4k + i, as 4 bytes (one per row).
void transpose_rows(const uint8_t* const* rows, int64_t n_groups, int64_t rank, uint8_t* t) {
  for (int64_t g = 0; g < n_groups; ++g) {
    const uint8_t* const* r = rows + 4 * g;
    uint8_t* out = t + g * rank * 4;
    for (int64_t c = 0; c < rank; c += 64) {
      const __m512i r0 = _mm512_loadu_si512(r[0] + c), r1 = _mm512_loadu_si512(r[1] + c);
      const __m512i r2 = _mm512_loadu_si512(r[2] + c), r3 = _mm512_loadu_si512(r[3] + c);
      const __m512i t0 = _mm512_unpacklo_epi8(r0, r1), t1 = _mm512_unpackhi_epi8(r0, r1);
      const __m512i t2 = _mm512_unpacklo_epi8(r2, r3), t3 = _mm512_unpackhi_epi8(r2, r3);
      _mm512_storeu_si512(out + c * 4, _mm512_unpacklo_epi16(t0, t2));
      _mm512_storeu_si512(out + c * 4 + 64, _mm512_unpackhi_epi16(t0, t2));
      _mm512_storeu_si512(out + c * 4 + 128, _mm512_unpacklo_epi16(t1, t3));
      _mm512_storeu_si512(out + c * 4 + 192, _mm512_unpackhi_epi16(t1, t3));
    }
  }
}

// r[j] = column j of the 16 x 16 matrix whose rows were r[0..15].
FRUGAL_INLINE void transpose16(__m512 (&r)[16]) {
  __m512 t[16], u[16];
  FRUGAL_UNROLL
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  FRUGAL_UNROLL
  for (int i = 0; i < 4; ++i) {  // u[4i + e], 128-bit block l: rows 4i..4i+3 of column 4l + e
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  FRUGAL_UNROLL
  for (int e = 0; e < 4; ++e) {
    const __m512 a = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88);
    const __m512 b = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xDD);
    const __m512 c = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88);
    const __m512 d = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xDD);
    r[e] = _mm512_shuffle_f32x4(a, c, 0x88);
    r[8 + e] = _mm512_shuffle_f32x4(a, c, 0xDD);
    r[4 + e] = _mm512_shuffle_f32x4(b, d, 0x88);
    r[12 + e] = _mm512_shuffle_f32x4(b, d, 0xDD);
  }
}

// ctx_out[h, dim] for the first n_heads lanes from ctx [slot][16 lanes]. Slots s0 + 4L + i of
// the 16 from s0 = 64c + 16k hold dims 64c + 16L + 4k + i (transpose_rows).
void store_ctx(const float* ctx, int64_t rank, int64_t n_heads, float* ctx_out) {
  for (int64_t s0 = 0; s0 < rank; s0 += 16) {
    __m512 r[16];
    FRUGAL_UNROLL
    for (int k = 0; k < 16; ++k) r[k] = _mm512_loadu_ps(ctx + (s0 + k) * kLanes);
    transpose16(r);  // r[h] = head h's 16 slots
    const int64_t base = (s0 / 64) * 64 + 4 * ((s0 % 64) / 16);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* o = ctx_out + h * rank + base;
      _mm_storeu_ps(o, _mm512_extractf32x4_ps(r[h], 0));
      _mm_storeu_ps(o + 16, _mm512_extractf32x4_ps(r[h], 1));
      _mm_storeu_ps(o + 32, _mm512_extractf32x4_ps(r[h], 2));
      _mm_storeu_ps(o + 48, _mm512_extractf32x4_ps(r[h], 3));
    }
  }
}

// Online-softmax step of one head group over the block's nr rows (scores s, padded to n16 with
// anything): m' = max(m, max s), l' = l e^(m - m') + Σ p, ctx *= e^(m - m'); then the weights
// w = p sk_lat rounded to u8 per head into p_u8 (4 rows a lane). Returns W / 255 (per head).
__m512 weigh_rows(float* s, const uint8_t* const* rows, int64_t nr, int64_t n16, int64_t dims,
                  __m512& m, __m512& l, float* ctx, int64_t rank, uint8_t* p_u8) {
  __m512 mb = _mm512_set1_ps(-INFINITY);
  for (int64_t r = 0; r < nr; ++r) mb = _mm512_max_ps(mb, _mm512_loadu_ps(s + r * kLanes));
  const __m512 m_new = _mm512_max_ps(m, mb);
  if (_mm512_cmp_ps_mask(m_new, m, _CMP_NEQ_OQ) != 0) {
    const __m512 alpha = exp_nonpositive(_mm512_sub_ps(m, m_new));  // ~0 while m is -inf
    l = _mm512_mul_ps(l, alpha);
    for (int64_t i = 0; i < rank; ++i)
      _mm512_storeu_ps(ctx + i * kLanes, _mm512_mul_ps(_mm512_loadu_ps(ctx + i * kLanes), alpha));
  }
  m = m_new;
  __m512 wmax = _mm512_setzero_ps();
  for (int64_t r = 0; r < nr; ++r) {
    const __m512 p = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s + r * kLanes), m_new));
    l = _mm512_add_ps(l, p);
    const __m512 w = _mm512_mul_ps(p, _mm512_set1_ps(latent_i8_tail(rows[r], dims).scale_latent));
    _mm512_storeu_ps(s + r * kLanes, w);
    wmax = _mm512_max_ps(wmax, w);
  }
  for (int64_t r = nr; r < n16; ++r) _mm512_storeu_ps(s + r * kLanes, _mm512_setzero_ps());
  // u = round(w 255 / W) in [0, 255]; lanes whose weights are all 0 get 0.
  const __mmask16 live = _mm512_cmp_ps_mask(wmax, _mm512_setzero_ps(), _CMP_GT_OQ);
  const __m512 inv = _mm512_maskz_div_ps(live, _mm512_set1_ps(255.0f), wmax);
  for (int64_t g = 0; g < n16 / 4; ++g) {
    __m512i u = _mm512_setzero_si512();
    FRUGAL_UNROLL
    for (int k = 0; k < 4; ++k) {
      const __m512i b =
          _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(s + (4 * g + k) * kLanes), inv));
      u = _mm512_or_si512(u, _mm512_slli_epi32(b, 8 * k));
    }
    _mm512_storeu_si512(p_u8 + g * 64, u);
  }
  return _mm512_mul_ps(wmax, _mm512_set1_ps(1.0f / 255.0f));
}

// ctx[slot] += wscale * Σ_g dpbusd(p_u8[g], t[g][slot]) for every slot, 16 slots a tile.
void add_values(const uint8_t* p_u8, const uint8_t* t, int64_t n_groups, int64_t rank,
                __m512 wscale, float* ctx) {
  constexpr int S = 16;
  for (int64_t s0 = 0; s0 < rank; s0 += S) {
    __m512i acc[S];
    FRUGAL_UNROLL
    for (int k = 0; k < S; ++k) acc[k] = _mm512_setzero_si512();
    for (int64_t g = 0; g < n_groups; ++g) {
      const __m512i pg = _mm512_loadu_si512(p_u8 + g * 64);
      const uint8_t* base = t + g * rank * 4 + s0 * 4;
      FRUGAL_UNROLL
      for (int k = 0; k < S; ++k) acc[k] = dpbusd_bcast(acc[k], pg, base + 4 * k);
    }
    FRUGAL_UNROLL
    for (int k = 0; k < S; ++k) {
      float* c = ctx + (s0 + k) * kLanes;
      _mm512_storeu_ps(c, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[k]), wscale, _mm512_loadu_ps(c)));
    }
  }
}

void latent_chunk_i8(const LatentQuery& q, const LatentCacheView& kv, int64_t j0, int64_t j1,
                     float* m_out, float* l_out, float* ctx_out) {
  const int64_t H = q.n_heads, rank = kv.rank, rope = kv.rope_dim, dims = rank + rope;
  const int64_t n_hg = (H + kLanes - 1) / kLanes;
  Scratch& sc = scratch();
  sc.q.resize(static_cast<size_t>(n_hg * dims / 4 * 64));
  sc.sq.resize(static_cast<size_t>(n_hg * 2 * kLanes));
  sc.s.resize(static_cast<size_t>(kSub * kLanes));
  sc.p.resize(static_cast<size_t>(kSub / 4 * 64));
  sc.t.resize(static_cast<size_t>(kSub * rank));
  sc.ctx.assign(static_cast<size_t>(n_hg * rank * kLanes), 0.0f);
  sc.zero_row.assign(static_cast<size_t>(latent_row_bytes(GgmlType::I8, rank, rope)), 0);
  for (int64_t hg = 0; hg < n_hg; ++hg)
    quantize_queries(q, rank, rope, hg * kLanes, &sc.q[hg * dims / 4 * 64],
                     &sc.sq[hg * 2 * kLanes]);
  sc.m.assign(static_cast<size_t>(n_hg * kLanes), -INFINITY);
  sc.l.assign(static_cast<size_t>(n_hg * kLanes), 0.0f);

  for (int64_t jb = j0; jb < j1; jb += kSub) {
    const int64_t nr = std::min(kSub, j1 - jb), n16 = (nr + 15) / 16 * 16;
    for (int64_t r = 0; r < n16; ++r) sc.rows[r] = r < nr ? kv.row(jb + r) : sc.zero_row.data();
    transpose_rows(sc.rows, n16 / 4, rank, sc.t.data());
    for (int64_t hg = 0; hg < n_hg; ++hg) {
      const uint8_t* qg = &sc.q[hg * dims / 4 * 64];
      for (int64_t r = 0; r < n16; r += 8)
        score_tile<8>(qg, &sc.sq[hg * 2 * kLanes], sc.rows + r, rank, rope, q.scale,
                      &sc.s[r * kLanes]);
      float* ctx = &sc.ctx[hg * rank * kLanes];
      __m512 m = _mm512_loadu_ps(&sc.m[hg * kLanes]), l = _mm512_loadu_ps(&sc.l[hg * kLanes]);
      const __m512 wscale =
          weigh_rows(sc.s.data(), sc.rows, nr, n16, dims, m, l, ctx, rank, sc.p.data());
      _mm512_storeu_ps(&sc.m[hg * kLanes], m);
      _mm512_storeu_ps(&sc.l[hg * kLanes], l);
      add_values(sc.p.data(), sc.t.data(), n16 / 4, rank, wscale, ctx);
    }
  }

  for (int64_t hg = 0; hg < n_hg; ++hg) {
    const int64_t nh = std::min(kLanes, H - hg * kLanes);
    std::copy_n(&sc.m[hg * kLanes], nh, m_out + hg * kLanes);
    std::copy_n(&sc.l[hg * kLanes], nh, l_out + hg * kLanes);
    store_ctx(&sc.ctx[hg * rank * kLanes], rank, nh, ctx_out + hg * kLanes * rank);
  }
}

}  // namespace

LatentChunkFn avx512_latent_i8_chunk(const LatentCacheView& kv) {
  if (kv.type != GgmlType::I8 || kv.rank % 64 != 0 || kv.rope_dim % 4 != 0) return nullptr;
  return latent_chunk_i8;
}

}  // namespace frugal::kern
