// The chunked driver of latent_attention() and gqa_attention(): splits the cache rows into
// chunks, runs the chosen ISA's chunk kernel on each (in parallel when long), and merges the
// online-softmax partials in chunk order.
#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/attention_impl.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

namespace frugal {
namespace {

// Chunk length fixed by n_kv alone (never by threads or batch): at most 8 chunks, >= 256 rows.
int64_t chunk_rows(int64_t n_kv) {
  const int64_t eighth = (n_kv + 7) / 8;
  return std::max<int64_t>(256, (eighth + 63) / 64 * 64);
}

bool avx512_active() {
  static const bool on = std::string_view(kern::active_kernel_table().name) == "avx512";
  return on;
}

kern::LatentChunkFn chunk_kernel(const LatentCacheView& kv) {
  if (avx512_active())
    if (kern::LatentChunkFn f = kern::avx512_latent_chunk(kv)) return f;
  return kern::ref_latent_chunk();
}

kern::GqaChunkFn chunk_kernel(const GqaCacheView& kv) {
  if (avx512_active())
    if (kern::GqaChunkFn f = kern::avx512_gqa_chunk(kv)) return f;
  return kern::ref_gqa_chunk();
}

// Per-thread partials: [n_chunks] x (m [H], l [H], ctx [H, width]); grows, then reused.
float* partial_scratch(size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

}  // namespace

void kern::attend_in_chunks(int64_t n_kv, int64_t H, int64_t R, ChunkRef chunk, float* out) {
  const int64_t rows = chunk_rows(n_kv), n_chunks = (n_kv + rows - 1) / rows;
  const size_t part = static_cast<size_t>(2 * H + H * R);
  float* parts = partial_scratch(part * static_cast<size_t>(n_chunks));
  auto run = [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* p = parts + part * static_cast<size_t>(c);
      chunk(c * rows, std::min(n_kv, (c + 1) * rows), p, p + H, p + 2 * H);
    }
  };
  if (n_chunks == 1)
    run(0, 1);
  else
    ThreadPool::global().parallel_for(n_chunks, 1, run, kernel_threads());

  for (int64_t h = 0; h < H; ++h) {
    float mx = -INFINITY;
    for (int64_t c = 0; c < n_chunks; ++c) mx = std::max(mx, parts[part * c + h]);
    float denom = 0.0f;
    for (int64_t c = 0; c < n_chunks; ++c) {
      const float* p = parts + part * c;
      denom += std::exp(p[h] - mx) * p[H + h];
    }
    float* o = out + h * R;
    std::fill(o, o + R, 0.0f);
    for (int64_t c = 0; c < n_chunks; ++c) {
      const float* p = parts + part * c;
      axpy(std::exp(p[h] - mx) / denom, p + 2 * H + h * R, o, R);
    }
  }
}

void latent_attention(const LatentQuery& q, const LatentCacheView& kv, int64_t n_kv, float* ctx) {
  kern::latent_attention_with(chunk_kernel(kv), q, kv, n_kv, ctx);
}

void kern::latent_attention_with(LatentChunkFn chunk, const LatentQuery& q,
                                 const LatentCacheView& kv, int64_t n_kv, float* ctx) {
  FRUGAL_CHECK(n_kv >= 1 && q.n_heads >= 1 && kv.rank >= 1, "latent_attention: empty input");
  FRUGAL_CHECK(is_latent_cache_type(kv.type), "latent_attention: unsupported cache type");
  attend_in_chunks(
      n_kv, q.n_heads, kv.rank,
      [&](int64_t j0, int64_t j1, float* m, float* l, float* c) { chunk(q, kv, j0, j1, m, l, c); },
      ctx);
}

void gqa_attention(const GqaQuery& q, const GqaCacheView& kv, int64_t n_kv, float* out) {
  kern::gqa_attention_with(chunk_kernel(kv), q, kv, n_kv, out);
}

void kern::gqa_attention_with(GqaChunkFn chunk, const GqaQuery& q, const GqaCacheView& kv,
                              int64_t n_kv, float* out) {
  FRUGAL_CHECK(n_kv >= 1 && kv.n_kv_heads >= 1 && kv.head_dim >= 1 && q.n_heads >= 1,
               "gqa_attention: empty input");
  FRUGAL_CHECK(q.n_heads % kv.n_kv_heads == 0, "gqa_attention: " + std::to_string(q.n_heads) +
                                                   " query heads are not a multiple of " +
                                                   std::to_string(kv.n_kv_heads) + " kv heads");
  attend_in_chunks(
      n_kv, q.n_heads, kv.head_dim,
      [&](int64_t j0, int64_t j1, float* m, float* l, float* c) { chunk(q, kv, j0, j1, m, l, c); },
      out);
}

}  // namespace frugal
