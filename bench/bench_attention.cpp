// Latent (MLA) attention of one decode token over a cache of n_kv rows, V2-Lite/V3 widths
// (kv_lora_rank 512, rope 64), through latent_attention() (threading included):
//   BM_LatentAttention/<type>/<heads>/<n_kv>/<threads>
//   bytes_per_second = cache bytes read; FLOP/s = 2 H n_kv (2 rank + rope) / s.
// Grouped-query attention of one decode token over n_kv float32 K/V rows, head_dim 128, through
// gqa_attention():
//   BM_GqaAttention/<kv heads>/<group>/<n_kv>/<threads>
//   bytes_per_second = cache bytes read; FLOP/s = 4 H n_kv head_dim / s.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "format/quant.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/gqa_attention.h"
#include "kernels/kernels.h"

namespace frugal {
namespace {

const GgmlType kCacheTypes[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::I8};

void BM_LatentAttention(benchmark::State& state) {
  const GgmlType type = kCacheTypes[state.range(0)];
  const int64_t H = state.range(1), n_kv = state.range(2), R = 512, D = 64;
  set_kernel_threads(static_cast<int>(state.range(3)));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> q_abs(static_cast<size_t>(H * R)), q_pe(static_cast<size_t>(H * D)), row(R + D);
  for (float& v : q_abs) v = 0.05f * dist(rng);
  for (float& v : q_pe) v = 0.05f * dist(rng);
  const size_t rb = latent_row_bytes(type, R, D);
  std::vector<uint8_t> cache(rb * static_cast<size_t>(n_kv));
  for (int64_t j = 0; j < n_kv; ++j) {
    for (float& v : row) v = dist(rng);
    store_latent_row(type, row.data(), cache.data() + rb * j, R, D);
  }
  const LatentQuery q{H, q_abs.data(), R, q_pe.data(), D, 0.1f};
  const LatentCacheView kv = LatentCacheView::contiguous(type, cache.data(), rb, R, D);
  std::vector<float> ctx(static_cast<size_t>(H * R));
  for (auto _ : state) {
    latent_attention(q, kv, n_kv, ctx.data());
    benchmark::DoNotOptimize(ctx.data());
  }
  const double it = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(it * static_cast<double>(cache.size())));
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * H * n_kv * (2 * R + D) * it, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(type_name(type)) + " " + kern::active_kernel_table().name);
}

void attention_args(benchmark::internal::Benchmark* b) {
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t heads : {16, 128})
      for (int64_t n_kv : {4096, 16384})
        for (int64_t th : {1, 2}) b->Args({t, heads, n_kv, th});
}

BENCHMARK(BM_LatentAttention)->Apply(attention_args)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_GqaAttention(benchmark::State& state) {
  const int64_t n_kv_heads = state.range(0), group = state.range(1), n_kv = state.range(2);
  const int64_t D = 128, H = n_kv_heads * group;
  set_kernel_threads(static_cast<int>(state.range(3)));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> q(static_cast<size_t>(H * D)),
      cache(static_cast<size_t>(2 * n_kv_heads * D * n_kv));
  for (float& v : q) v = 0.05f * dist(rng);
  for (float& v : cache) v = dist(rng);
  const GqaQuery query{H, q.data(), 1.0f / std::sqrt(static_cast<float>(D))};
  const GqaCacheView kv{PagedRows::contiguous(reinterpret_cast<const uint8_t*>(cache.data()),
                                              GqaCacheView::row_bytes(n_kv_heads, D)),
                        n_kv_heads, D};
  std::vector<float> out(static_cast<size_t>(H * D));
  for (auto _ : state) {
    gqa_attention(query, kv, n_kv, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  const double it = static_cast<double>(state.iterations());
  state.SetBytesProcessed(
      static_cast<int64_t>(it * static_cast<double>(cache.size() * sizeof(float))));
  state.counters["FLOP/s"] =
      benchmark::Counter(4.0 * H * n_kv * D * it, benchmark::Counter::kIsRate);
  state.SetLabel(kern::active_kernel_table().name);
}

void gqa_args(benchmark::internal::Benchmark* b) {
  for (auto [kv_heads, group] : {std::pair<int64_t, int64_t>{2, 6}, {8, 4}})  // Qwen-1.5B, Llama-8B
    for (int64_t n_kv : {2048, 16384})
      for (int64_t th : {1, 2}) b->Args({kv_heads, group, n_kv, th});
}

BENCHMARK(BM_GqaAttention)->Apply(gqa_args)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace frugal
BENCHMARK_MAIN();
