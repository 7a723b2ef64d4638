// Grouped-query attention: every chunk kernel this CPU runs (AVX-512, the scalar twin) through
// the chunked merge against the plain two-pass reference, on odd group sizes, head widths and
// lengths; rows in shuffled pages give the same bits as the contiguous rows; and the result must
// not depend on whether it ran in parallel (batch invariance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/attention_impl.h"
#include "kernels/gqa_attention.h"

namespace frugal {
namespace {

struct Case {
  int64_t n_kv_heads, group, head_dim, n_kv;
  int64_t n_heads() const { return n_kv_heads * group; }
};

struct Inputs {
  std::vector<float> q;      // [n_heads, head_dim]
  std::vector<float> cache;  // [n_kv, 2 n_kv_heads head_dim] rows [K ; V]
  GqaQuery query;
  GqaCacheView kv;
};

Inputs make_inputs(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Inputs in;
  in.q.resize(static_cast<size_t>(c.n_heads() * c.head_dim));
  for (float& v : in.q) v = 0.3f * dist(rng);
  const size_t rb = GqaCacheView::row_bytes(c.n_kv_heads, c.head_dim);
  in.cache.resize(rb / sizeof(float) * static_cast<size_t>(c.n_kv));
  for (float& v : in.cache) v = dist(rng);
  in.query = {c.n_heads(), in.q.data(), 1.0f / std::sqrt(static_cast<float>(c.head_dim))};
  in.kv = {PagedRows::contiguous(reinterpret_cast<const uint8_t*>(in.cache.data()), rb),
           c.n_kv_heads, c.head_dim};
  return in;
}

// The same rows in pages of 16, stored in a shuffled order with other layers' rows between
// them (as in the block pool: page_stride = 3 layers of 16 rows, plus padding).
struct PagedCopy {
  std::vector<uint8_t> bytes;
  std::vector<int32_t> pages;
  GqaCacheView kv;
};

PagedCopy paged_copy(const Inputs& in, int64_t n_kv, uint32_t seed) {
  constexpr int kShift = 4;
  constexpr int64_t kPage = int64_t{1} << kShift;
  const size_t rb = in.kv.rows.row_stride, page_stride = 3 * kPage * rb + 64;
  const int64_t n_pages = (n_kv + kPage - 1) / kPage;
  PagedCopy p;
  p.pages.resize(static_cast<size_t>(n_pages));
  std::iota(p.pages.begin(), p.pages.end(), 0);
  std::shuffle(p.pages.begin(), p.pages.end(), std::mt19937(seed));
  p.bytes.assign(page_stride * static_cast<size_t>(n_pages + 1), 0xAB);
  const uint8_t* base = p.bytes.data() + kPage * rb;  // "layer 1" of page 0
  p.kv = {{base, rb, p.pages.data(), kShift, page_stride}, in.kv.n_kv_heads, in.kv.head_dim};
  for (int64_t j = 0; j < n_kv; ++j)
    std::copy_n(in.kv.rows.row(j), rb, const_cast<uint8_t*>(p.kv.rows.row(j)));
  return p;
}

std::string name(const Case& c) {
  return "kv" + std::to_string(c.n_kv_heads) + " g" + std::to_string(c.group) + " d" +
         std::to_string(c.head_dim) + " n" + std::to_string(c.n_kv);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (int64_t n_kv : {1, 15, 64, 65, 300, 2100}) {
    out.push_back({2, 6, 128, n_kv});  // R1-Distill-Qwen-1.5B
    out.push_back({3, 7, 32, n_kv});
    out.push_back({1, 5, 64, n_kv});
    out.push_back({4, 1, 16, n_kv});  // plain multi-head attention
    out.push_back({2, 2, 48, n_kv});
  }
  out.push_back({2, 3, 20, 333});  // head_dim not a multiple of 16: scalar path
  return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) m = std::fmax(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<kern::GqaChunkFn> chunk_kernels(const GqaCacheView& kv) {
  std::vector<kern::GqaChunkFn> k{kern::ref_gqa_chunk()};
  if (cpu_features().has_avx512_set())
    if (auto f = kern::avx512_gqa_chunk(kv)) k.push_back(f);
  return k;
}

TEST(GqaAttention, EveryKernelMatchesTheTwoPassReference) {
  for (const Case& c : cases()) {
    const Inputs in = make_inputs(c, 11);
    std::vector<float> want(static_cast<size_t>(c.n_heads() * c.head_dim)), got(want.size());
    gqa_attention_reference(in.query, in.kv, c.n_kv, want.data());
    for (kern::GqaChunkFn f : chunk_kernels(in.kv)) {
      kern::gqa_attention_with(f, in.query, in.kv, c.n_kv, got.data());
      // out is a convex combination of unit-scale rows: float32 rounding stays well below 1e-5.
      EXPECT_LT(max_abs_diff(got, want), 2e-5f) << name(c);
    }
    gqa_attention(in.query, in.kv, c.n_kv, got.data());
    EXPECT_LT(max_abs_diff(got, want), 2e-5f) << name(c) << " (dispatched)";
  }
}

TEST(GqaAttention, ShuffledPagesGiveTheSameBits) {
  for (const Case& c : cases()) {
    const Inputs in = make_inputs(c, 17);
    const PagedCopy paged = paged_copy(in, c.n_kv, 5);
    std::vector<float> flat(static_cast<size_t>(c.n_heads() * c.head_dim)), got(flat.size());
    for (kern::GqaChunkFn f : chunk_kernels(in.kv)) {
      kern::gqa_attention_with(f, in.query, in.kv, c.n_kv, flat.data());
      kern::gqa_attention_with(f, in.query, paged.kv, c.n_kv, got.data());
      EXPECT_EQ(got, flat) << name(c);
    }
    std::vector<float> ref_flat(flat.size()), ref_paged(flat.size());
    gqa_attention_reference(in.query, in.kv, c.n_kv, ref_flat.data());
    gqa_attention_reference(in.query, paged.kv, c.n_kv, ref_paged.data());
    EXPECT_EQ(ref_paged, ref_flat) << name(c);
  }
}

TEST(GqaAttention, SharpScoresStillNormalise) {
  // Large logits: a naive exp would overflow; the online softmax must not.
  const Case c{2, 4, 32, 700};
  Inputs in = make_inputs(c, 5);
  in.query.scale = 40.0f;
  std::vector<float> want(static_cast<size_t>(c.n_heads() * c.head_dim)), got(want.size());
  gqa_attention_reference(in.query, in.kv, c.n_kv, want.data());
  gqa_attention(in.query, in.kv, c.n_kv, got.data());
  for (float v : got) ASSERT_TRUE(std::isfinite(v));
  EXPECT_LT(max_abs_diff(got, want), 1e-4f);
}

TEST(GqaAttention, SameBitsInsideAndOutsideThePool) {
  // Outside the pool the chunks run on several threads; inside a pool task, serially.
  ThreadPool::set_global_threads(2);
  for (const Case& c : {Case{2, 6, 128, 3000}, Case{3, 3, 20, 1000}}) {
    const Inputs in = make_inputs(c, 23);
    std::vector<float> outside(static_cast<size_t>(c.n_heads() * c.head_dim)),
        inside(outside.size());
    gqa_attention(in.query, in.kv, c.n_kv, outside.data());
    ThreadPool::global().parallel_for(2, 1, [&](int64_t b, int64_t) {
      if (b == 0) gqa_attention(in.query, in.kv, c.n_kv, inside.data());
    });
    EXPECT_EQ(outside, inside) << name(c);
  }
}

TEST(GqaAttention, RejectsEmptyInputAndBadGroups) {
  const Case c{2, 2, 16, 4};
  Inputs in = make_inputs(c, 1);
  std::vector<float> out(static_cast<size_t>(c.n_heads() * c.head_dim));
  EXPECT_ANY_THROW(gqa_attention(in.query, in.kv, 0, out.data()));
  in.query.n_heads = 3;  // not a multiple of 2 kv heads
  EXPECT_ANY_THROW(gqa_attention(in.query, in.kv, 4, out.data()));
}

}  // namespace
}  // namespace frugal
