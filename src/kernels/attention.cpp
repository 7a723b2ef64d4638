// latent_attention(): splits the cache rows into chunks, runs the chosen ISA's chunk kernel on
// each (in parallel when long), and merges the online-softmax partials in chunk order:
//   M = max_c m_c,  w_c = exp(m_c - M),  ctx = Σ_c w_c ctx_c / Σ_c w_c l_c.
#include <algorithm>
#include <cmath>
#include <cstring>
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

kern::LatentChunkFn chunk_kernel(const LatentCacheView& kv) {
  static const bool avx512 = std::string_view(kern::active_kernel_table().name) == "avx512";
  if (avx512)
    if (kern::LatentChunkFn f = kern::avx512_latent_chunk(kv)) return f;
  return kern::ref_latent_chunk();
}

// Per-thread partials: [n_chunks] x (m [H], l [H], ctx [H, rank]); grows, then reused.
float* partial_scratch(size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

}  // namespace

void latent_attention(const LatentQuery& q, const LatentCacheView& kv, int64_t n_kv, float* ctx) {
  kern::latent_attention_with(chunk_kernel(kv), q, kv, n_kv, ctx);
}

void kern::latent_attention_with(LatentChunkFn chunk, const LatentQuery& q,
                                 const LatentCacheView& kv, int64_t n_kv, float* ctx) {
  FRUGAL_CHECK(n_kv >= 1 && q.n_heads >= 1 && kv.rank >= 1, "latent_attention: empty input");
  FRUGAL_CHECK(is_latent_cache_type(kv.type), "latent_attention: unsupported cache type");
  const int64_t H = q.n_heads, R = kv.rank;
  const int64_t rows = chunk_rows(n_kv), n_chunks = (n_kv + rows - 1) / rows;
  const size_t part = static_cast<size_t>(2 * H + H * R);
  float* parts = partial_scratch(part * static_cast<size_t>(n_chunks));
  auto run = [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* p = parts + part * static_cast<size_t>(c);
      chunk(q, kv, c * rows, std::min(n_kv, (c + 1) * rows), p, p + H, p + 2 * H);
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
    float* out = ctx + h * R;
    std::fill(out, out + R, 0.0f);
    for (int64_t c = 0; c < n_chunks; ++c) {
      const float* p = parts + part * c;
      axpy(std::exp(p[h] - mx) / denom, p + 2 * H + h * R, out, R);
    }
  }
}

}  // namespace frugal
