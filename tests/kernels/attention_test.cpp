// Latent attention: every chunk kernel this CPU runs (AVX-512, the scalar twin) through the
// chunked merge against the plain two-pass reference, on each cache type and odd shapes; and the
// result must not depend on whether it ran in parallel (batch invariance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "format/quant.h"
#include "kernels/attention.h"
#include "kernels/attention_impl.h"

namespace frugal {
namespace {

struct Case {
  GgmlType type;
  int64_t n_heads, rank, rope_dim, n_kv;
};

struct Inputs {
  std::vector<float> q_abs, q_pe;  // [n_heads, rank + 3] / [n_heads, rope_dim + 5] (padded)
  std::vector<uint8_t> cache;      // [n_kv, rank + rope_dim] of c.type
  LatentQuery q;
  LatentCacheView kv;
};

Inputs make_inputs(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Inputs in;
  const int64_t qa_stride = c.rank + 3, qp_stride = c.rope_dim + 5, width = c.rank + c.rope_dim;
  in.q_abs.resize(static_cast<size_t>(c.n_heads * qa_stride));
  in.q_pe.resize(static_cast<size_t>(c.n_heads * qp_stride));
  for (float& v : in.q_abs) v = 0.3f * dist(rng);
  for (float& v : in.q_pe) v = 0.3f * dist(rng);
  const size_t rb = latent_row_bytes(c.type, c.rank, c.rope_dim);
  in.cache.resize(rb * static_cast<size_t>(c.n_kv));
  std::vector<float> row(static_cast<size_t>(width));
  for (int64_t j = 0; j < c.n_kv; ++j) {
    for (float& v : row) v = dist(rng);
    store_latent_row(c.type, row.data(), in.cache.data() + rb * j, c.rank, c.rope_dim);
  }
  in.q = {c.n_heads, in.q_abs.data(), qa_stride, in.q_pe.data(), qp_stride, 0.125f};
  in.kv = LatentCacheView::contiguous(c.type, in.cache.data(), rb, c.rank, c.rope_dim);
  return in;
}

std::string name(const Case& c) {
  return std::string(type_name(c.type)) + " H" + std::to_string(c.n_heads) + " r" +
         std::to_string(c.rank) + " d" + std::to_string(c.rope_dim) + " n" + std::to_string(c.n_kv);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::I8})
    for (int64_t n_kv : {1, 17, 64, 65, 300, 2100}) {
      out.push_back({t, 16, 512, 64, n_kv});
      out.push_back({t, 3, 48, 16, n_kv});
      out.push_back({t, 21, 32, 16, n_kv});
      if (t == GgmlType::I8) {  // shapes of the integer kernel: rank % 64, rope % 4
        out.push_back({t, 5, 64, 4, n_kv});
        out.push_back({t, 40, 128, 20, n_kv});
      }
    }
  out.push_back({GgmlType::F32, 5, 20, 6, 333});  // rank/rope not multiples of 16: scalar path
  return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) m = std::fmax(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<kern::LatentChunkFn> chunk_kernels(const LatentCacheView& kv) {
  std::vector<kern::LatentChunkFn> k{kern::ref_latent_chunk()};
  if (cpu_features().has_avx512_set())
    if (auto f = kern::avx512_latent_chunk(kv)) k.push_back(f);
  return k;
}

// The bound on |got - want| for a chunk kernel. ctx is a convex combination of unit-scale rows:
// float32 rounding bounds it well below 1e-5. The integer kernel of I8 rows also rounds q (per
// head, to 1/254 of its largest element) and the softmax weights (to 1/510 of the block's
// largest): a few 1e-3 of the rows' unit scale.
float tolerance(GgmlType t, kern::LatentChunkFn f) {
  return t == GgmlType::I8 && f != kern::ref_latent_chunk() ? 2e-2f : 2e-5f;
}

TEST(LatentAttention, EveryKernelMatchesTheTwoPassReference) {
  for (const Case& c : cases()) {
    const Inputs in = make_inputs(c, 11);
    const size_t n_out = static_cast<size_t>(c.n_heads * c.rank);
    std::vector<float> want(n_out), got(n_out);
    latent_attention_reference(in.q, in.kv, c.n_kv, want.data());
    for (kern::LatentChunkFn f : chunk_kernels(in.kv)) {
      kern::latent_attention_with(f, in.q, in.kv, c.n_kv, got.data());
      EXPECT_LT(max_abs_diff(got, want), tolerance(c.type, f)) << name(c);
    }
    latent_attention(in.q, in.kv, c.n_kv, got.data());
    EXPECT_LT(max_abs_diff(got, want), tolerance(c.type, kern::avx512_latent_chunk(in.kv)))
        << name(c) << " (dispatched)";
  }
}

// The int8 kernel's error, printed for the record, must stay well inside its bound.
TEST(LatentAttention, Int8KernelErrorIsSmall) {
  if (!cpu_features().has_avx512_set()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  float worst = 0.0f;
  for (int64_t n_kv : {1, 300, 2100, 5000}) {
    Case c{GgmlType::I8, 16, 512, 64, n_kv};
    const Inputs in = make_inputs(c, 3);
    std::vector<float> want(static_cast<size_t>(c.n_heads * c.rank)), got(want.size());
    latent_attention_reference(in.q, in.kv, c.n_kv, want.data());
    kern::latent_attention_with(kern::avx512_latent_i8_chunk(in.kv), in.q, in.kv, n_kv, got.data());
    worst = std::max(worst, max_abs_diff(got, want));
  }
  std::printf("int8 latent attention: max |error| %.2e\n", worst);
  EXPECT_LT(worst, 1e-2f);
}

TEST(LatentRows, Int8RowsRoundEachPartToItsOwnScale) {
  const int64_t rank = 64, rope = 8;
  std::vector<float> x(static_cast<size_t>(rank + rope)), back(x.size());
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < rank; ++i) x[i] = dist(rng);
  for (int64_t i = rank; i < rank + rope; ++i) x[i] = 100.0f * dist(rng);  // another scale
  std::vector<uint8_t> row(latent_row_bytes(GgmlType::I8, rank, rope));
  ASSERT_EQ(row.size(), static_cast<size_t>(rank + rope + 16));
  store_latent_row(GgmlType::I8, x.data(), row.data(), rank, rope);
  load_latent_row(GgmlType::I8, row.data(), back.data(), rank, rope);
  const LatentI8Tail tail = latent_i8_tail(row.data(), rank + rope);
  int32_t sum_lat = 0, sum_pe = 0;
  for (int64_t i = 0; i < rank + rope; ++i) {
    const float scale = i < rank ? tail.scale_latent : tail.scale_pe;
    EXPECT_LE(std::fabs(back[i] - x[i]), 0.5f * scale * 1.0001f) << i;
    (i < rank ? sum_lat : sum_pe) += static_cast<int8_t>(row[i]);
  }
  EXPECT_EQ(tail.sum_latent, sum_lat);
  EXPECT_EQ(tail.sum_pe, sum_pe);
  EXPECT_GT(tail.scale_pe, 10.0f * tail.scale_latent);
  std::fill(x.begin(), x.end(), 0.0f);  // an all-zero row stays zero
  store_latent_row(GgmlType::I8, x.data(), row.data(), rank, rope);
  load_latent_row(GgmlType::I8, row.data(), back.data(), rank, rope);
  for (float v : back) EXPECT_EQ(v, 0.0f);
}

TEST(LatentAttention, SharpScoresStillNormalise) {
  // Large logits: a naive exp would overflow; the online softmax must not.
  Case c{GgmlType::F32, 4, 32, 16, 700};
  Inputs in = make_inputs(c, 5);
  in.q.scale = 40.0f;
  std::vector<float> want(static_cast<size_t>(c.n_heads * c.rank)), got(want.size());
  latent_attention_reference(in.q, in.kv, c.n_kv, want.data());
  latent_attention(in.q, in.kv, c.n_kv, got.data());
  for (float v : got) ASSERT_TRUE(std::isfinite(v));
  EXPECT_LT(max_abs_diff(got, want), 1e-4f);
}

TEST(LatentAttention, SameBitsInsideAndOutsideThePool) {
  // Outside the pool the chunks run on several threads; inside a pool task, serially.
  ThreadPool::set_global_threads(2);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::I8}) {
    Case c{t, 16, 512, 64, 3000};
    const Inputs in = make_inputs(c, 23);
    std::vector<float> outside(static_cast<size_t>(c.n_heads * c.rank)), inside(outside.size());
    latent_attention(in.q, in.kv, c.n_kv, outside.data());
    ThreadPool::global().parallel_for(2, 1, [&](int64_t b, int64_t) {
      if (b == 0) latent_attention(in.q, in.kv, c.n_kv, inside.data());
    });
    EXPECT_EQ(outside, inside) << type_name(t);
  }
}

// The same rows scattered over pages (the paged KV cache's blocks, in shuffled order) give the
// same bits as the contiguous rows, on every kernel.
TEST(LatentAttention, PagedRowsGiveTheContiguousResult) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::I8}) {
    Case c{t, 16, 512, 64, 1000};
    const Inputs in = make_inputs(c, 31);
    constexpr int kShift = 4;  // 16 rows a page
    const int64_t n_pages = (c.n_kv + 15) >> kShift, rb = static_cast<int64_t>(in.kv.rows.row_stride);
    const size_t page_stride = static_cast<size_t>(16 * rb + 64);  // not a multiple of the rows
    std::vector<int32_t> order(static_cast<size_t>(n_pages));
    for (int64_t p = 0; p < n_pages; ++p) order[static_cast<size_t>(p)] = static_cast<int32_t>(p);
    std::shuffle(order.begin(), order.end(), std::mt19937(5));
    std::vector<uint8_t> paged(page_stride * static_cast<size_t>(n_pages));
    for (int64_t j = 0; j < c.n_kv; ++j)
      std::copy_n(in.kv.row(j), rb,
                  paged.data() + static_cast<size_t>(order[static_cast<size_t>(j >> kShift)]) * page_stride +
                      static_cast<size_t>((j & 15) * rb));
    LatentCacheView pv = in.kv;
    pv.rows = {paged.data(), static_cast<size_t>(rb), order.data(), kShift, page_stride};
    std::vector<float> flat(static_cast<size_t>(c.n_heads * c.rank)), got(flat.size());
    for (kern::LatentChunkFn f : chunk_kernels(in.kv)) {
      kern::latent_attention_with(f, in.q, in.kv, c.n_kv, flat.data());
      kern::latent_attention_with(f, in.q, pv, c.n_kv, got.data());
      EXPECT_EQ(flat, got) << type_name(t);
    }
  }
}

TEST(LatentAttention, RejectsEmptyInput) {
  Case c{GgmlType::F32, 2, 16, 16, 4};
  const Inputs in = make_inputs(c, 1);
  std::vector<float> out(32);
  EXPECT_ANY_THROW(latent_attention(in.q, in.kv, 0, out.data()));
  LatentCacheView bad = in.kv;
  bad.type = GgmlType::Q4_K;
  EXPECT_ANY_THROW(latent_attention(in.q, bad, 4, out.data()));
}

}  // namespace
}  // namespace frugal
