// Latent attention: every chunk kernel this CPU runs (AVX-512, the scalar twin) through the
// chunked merge against the plain two-pass reference, on each cache type and odd shapes; and the
// result must not depend on whether it ran in parallel (batch invariance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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
  const size_t rb = row_bytes(c.type, width);
  in.cache.resize(rb * static_cast<size_t>(c.n_kv));
  std::vector<float> row(static_cast<size_t>(width));
  for (int64_t j = 0; j < c.n_kv; ++j) {
    for (float& v : row) v = dist(rng);
    quantize_row(c.type, row.data(), in.cache.data() + rb * j, width);
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
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16})
    for (int64_t n_kv : {1, 17, 64, 65, 300, 2100}) {
      out.push_back({t, 16, 512, 64, n_kv});
      out.push_back({t, 3, 48, 16, n_kv});
      out.push_back({t, 21, 32, 16, n_kv});
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

TEST(LatentAttention, EveryKernelMatchesTheTwoPassReference) {
  for (const Case& c : cases()) {
    const Inputs in = make_inputs(c, 11);
    const size_t n_out = static_cast<size_t>(c.n_heads * c.rank);
    std::vector<float> want(n_out), got(n_out);
    latent_attention_reference(in.q, in.kv, c.n_kv, want.data());
    for (kern::LatentChunkFn f : chunk_kernels(in.kv)) {
      kern::latent_attention_with(f, in.q, in.kv, c.n_kv, got.data());
      // ctx is a convex combination of unit-scale rows: float32 rounding bounds it well below 1e-5.
      EXPECT_LT(max_abs_diff(got, want), 2e-5f) << name(c);
    }
    latent_attention(in.q, in.kv, c.n_kv, got.data());
    EXPECT_LT(max_abs_diff(got, want), 2e-5f) << name(c) << " (dispatched)";
  }
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
  for (GgmlType t : {GgmlType::F32, GgmlType::F16}) {
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
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
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
