// Reference dequantizers (format/quant.h): throughput of dequantize_row per type on a 1 Mi-element
// row of random weights. bytes_per_second counts the quantized bytes read; elems_per_second the
// floats written. These are the scalar references fast kernels are compared against, not the
// decode path, so they are expected to be far below memory bandwidth.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "format/quant.h"

namespace frugal {
namespace {

constexpr int64_t kElems = 1 << 20;

const std::vector<float>& random_weights() {
  static const std::vector<float> w = [] {
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> v(kElems);
    for (float& x : v) x = normal(rng);
    return v;
  }();
  return w;
}

void bm_dequantize_row(benchmark::State& state, GgmlType type) {
  std::vector<uint8_t> packed(row_bytes(type, kElems));
  quantize_row(type, random_weights().data(), packed.data(), kElems);
  std::vector<float> out(kElems);
  for (auto _ : state) {
    dequantize_row(type, packed.data(), out.data(), kElems);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(packed.size()));
  state.counters["elems_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kElems), benchmark::Counter::kIsRate);
}

void bm_quantize_row(benchmark::State& state, GgmlType type) {
  std::vector<uint8_t> packed(row_bytes(type, kElems));
  for (auto _ : state) {
    quantize_row(type, random_weights().data(), packed.data(), kElems);
    benchmark::DoNotOptimize(packed.data());
  }
  state.SetBytesProcessed(state.iterations() * kElems * static_cast<int64_t>(sizeof(float)));
}

int register_all() {
  for (const GgmlType t :
       {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
        GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,
        GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS}) {
    benchmark::RegisterBenchmark((std::string("dequantize_row/") + type_name(t)).c_str(),
                                 bm_dequantize_row, t);
    benchmark::RegisterBenchmark((std::string("quantize_row/") + type_name(t)).c_str(),
                                 bm_quantize_row, t)
        ->Unit(benchmark::kMillisecond);
  }
  return 0;
}

const int kRegistered = register_all();

}  // namespace
}  // namespace frugal

BENCHMARK_MAIN();
