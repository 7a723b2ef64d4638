// Kernel benchmarks through the model's entry point matmul() (activation quantization, threading
// and the dispatched kernel included):
//   BM_Matvec/<type>/<threads>: one token against a weight of ~1 GiB (several times the L3);
//     bytes_per_second = weight bytes streamed (compare with `frugal bench --memory`).
//   BM_MatvecR16/<type>/<threads>: the same for Q8_0 (0), Q4_K (1), Q6_K (2), Q5_0 (3) or
//     Q5_K (4) interleaved 16 rows per group (huge pages).
//   BM_MatmulR16/<type>/<threads>: 64 tokens through the interleaved copy (prefill), FLOP/s.
//   BM_MatvecHot/<type>: the same on a weight that fits in L2, one thread (compute ceiling).
//   BM_Matmul/<type>/<threads>: 64 tokens against a 4096 x 4096 weight; FLOP/s = 2 n k m / s.
//   BM_Quantize*: activation quantization alone.
//   BM_InterleaveR16/<type>: the load-time packer alone (one thread, a 2048 x 4096 weight into
//     a destination already touched); bytes_per_second = plain bytes read.
#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "format/quant.h"
#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/kernels.h"

namespace frugal {
namespace {

const GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K,
                           GgmlType::BF16, GgmlType::F16,  GgmlType::F32,  GgmlType::Q5_K,
                           GgmlType::Q5_0, GgmlType::Q4_1, GgmlType::Q5_1};

std::vector<float> random_floats(int64_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& f : v) f = d(rng);
  return v;
}

// rows x cols weight of `type`: 64 genuinely quantized rows repeated (content does not change the
// speed; quantizing hundreds of MiB would dominate the run).
struct BenchWeight {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};
BenchWeight make_weight(GgmlType type, int64_t rows, int64_t cols) {
  BenchWeight b;
  const size_t rb = row_bytes(type, cols);
  b.bytes.resize(rb * static_cast<size_t>(rows));
  const auto src = random_floats(64 * cols, 7, 0.05f);
  for (int64_t r = 0; r < std::min<int64_t>(64, rows); ++r) {
    uint8_t* dst = b.bytes.data() + r * rb;
    const float* s = src.data() + r * cols;
    if (type == GgmlType::F32) {
      std::memcpy(dst, s, rb);
    } else if (type == GgmlType::F16 || type == GgmlType::BF16) {
      for (int64_t c = 0; c < cols; ++c) {
        const uint16_t h = type == GgmlType::F16 ? f32_to_f16(s[c]) : f32_to_bf16(s[c]);
        std::memcpy(dst + 2 * c, &h, 2);
      }
    } else {
      quantize_row(type, s, dst, cols);
    }
  }
  for (int64_t r = 64; r < rows; ++r)
    std::memcpy(b.bytes.data() + r * rb, b.bytes.data() + (r % 64) * rb, rb);
  b.w = make_weight_matrix(type, rows, cols, b.bytes.data());
  return b;
}

// One token through matmul(w) per iteration; bytes_per_second counts `bytes` of weights.
void time_matvec(benchmark::State& state, const WeightMatrix& w, size_t bytes) {
  const auto x = random_floats(w.cols, 3, 1.0f);
  std::vector<float> y(static_cast<size_t>(w.rows));
  for (auto _ : state) {
    matmul(w, x.data(), 1, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

void BM_Matvec(benchmark::State& state) {
  const GgmlType type = kTypes[state.range(0)];
  set_kernel_threads(static_cast<int>(state.range(1)));
  const int64_t cols = 4096;
  const int64_t rows = (int64_t{1} << 30) / static_cast<int64_t>(row_bytes(type, cols)) / 64 * 64;
  const BenchWeight bw = make_weight(type, rows, cols);
  time_matvec(state, bw.w, bw.bytes.size());
  state.SetLabel(std::string(type_name(type)) + " " + kern::active_kernel_table().name +
                 (kern::find_kernel(kern::active_kernel_table(), type).gemm ? "" : " (reference)"));
}

// The interleaved r16 copy (kernels/interleave.h) of a plain weight, in huge pages, as
// the model makes it at load.
struct PackedWeight {
  WeightMatrix view;
  void* mem = nullptr;
  size_t n = 0;
  explicit PackedWeight(const WeightMatrix& w) : n(interleaved_bytes(w)) {
    mem = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(mem, n, MADV_HUGEPAGE);
    interleave_rows(w, 0, w.rows, static_cast<uint8_t*>(mem));
    view = interleaved_view(w, static_cast<uint8_t*>(mem));
  }
  ~PackedWeight() { munmap(mem, n); }
};

// The types with an interleaved r16 layout (kernels/interleave.h).
const GgmlType kR16Types[] = {GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q5_0,
                              GgmlType::Q5_K};

// One token through the interleaved copy of a rows x 4096 weight of r16 type `type`.
void time_r16_matvec(benchmark::State& state, GgmlType type, int64_t rows) {
  const BenchWeight bw = make_weight(type, rows, 4096);
  if (!interleave_pays(bw.w)) {
    state.SkipWithError("no interleaved kernel for this type on this CPU");
    return;
  }
  const PackedWeight p(bw.w);
  time_matvec(state, p.view, bw.bytes.size());
  state.SetLabel(std::string(type_name(type)) + "r16 " + kern::active_kernel_table().name);
}

// Decode on the interleaved copy (1 GiB): compare with BM_Matvec/<type>/<threads> (the plain
// layout). Args: r16 type index (0 Q8_0, 1 Q4_K, 2 Q6_K, 3 Q5_0, 4 Q5_K), threads.
void BM_MatvecR16(benchmark::State& state) {
  const GgmlType type = kR16Types[state.range(0)];
  set_kernel_threads(static_cast<int>(state.range(1)));
  time_r16_matvec(state, type,
                  (int64_t{1} << 30) / static_cast<int64_t>(row_bytes(type, 4096)) / 64 * 64);
}

// The interleaved kernels' compute ceiling: a ~512 KiB weight that stays in L2, one thread.
void BM_MatvecR16Hot(benchmark::State& state) {
  const GgmlType type = kR16Types[state.range(0)];
  set_kernel_threads(1);
  time_r16_matvec(state, type,
                  std::max<int64_t>(16, (int64_t{512} << 10) /
                                            static_cast<int64_t>(row_bytes(type, 4096)) / 64 * 64));
}

// The kernel's compute ceiling: a ~512 KiB weight that stays in L2, one thread.
void BM_MatvecHot(benchmark::State& state) {
  const GgmlType type = kTypes[state.range(0)];
  set_kernel_threads(1);
  const int64_t cols = 4096;
  const int64_t rows = std::max<int64_t>(
      4, (int64_t{512} << 10) / static_cast<int64_t>(row_bytes(type, cols)) / 4 * 4);
  const BenchWeight bw = make_weight(type, rows, cols);
  time_matvec(state, bw.w, bw.bytes.size());
  state.SetLabel(std::string(type_name(type)) + " " + kern::active_kernel_table().name);
}

// 64 tokens through a 4096 x 4096 weight (prefill); `packed`: the interleaved Q8_0 copy.
void time_matmul(benchmark::State& state, const WeightMatrix& w) {
  const int64_t n_tok = 64;
  const auto x = random_floats(n_tok * w.cols, 3, 1.0f);
  std::vector<float> y(static_cast<size_t>(w.rows * n_tok));
  for (auto _ : state) {
    matmul(w, x.data(), n_tok, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(w.rows * w.cols * n_tok) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

void BM_Matmul(benchmark::State& state) {
  const GgmlType type = kTypes[state.range(0)];
  set_kernel_threads(static_cast<int>(state.range(1)));
  const BenchWeight bw = make_weight(type, 4096, 4096);
  time_matmul(state, bw.w);
  state.SetLabel(std::string(type_name(type)) + " " + kern::active_kernel_table().name);
}

void BM_MatmulR16(benchmark::State& state) {
  const GgmlType type = kR16Types[state.range(0)];
  set_kernel_threads(static_cast<int>(state.range(1)));
  const BenchWeight bw = make_weight(type, 4096, 4096);
  if (!interleave_pays(bw.w)) {
    state.SkipWithError("no interleaved kernel for this type on this CPU");
    return;
  }
  const PackedWeight p(bw.w);
  time_matmul(state, p.view);
  state.SetLabel(std::string(type_name(type)) + "r16 " + kern::active_kernel_table().name);
}

void BM_InterleaveR16(benchmark::State& state) {
  const GgmlType type = kR16Types[state.range(0)];
  const BenchWeight bw = make_weight(type, 2048, 4096);
  std::vector<uint8_t> dst(interleaved_bytes(bw.w) + 64);
  uint8_t* d = dst.data() + (64 - reinterpret_cast<uintptr_t>(dst.data()) % 64) % 64;
  for (auto _ : state) {
    interleave_rows(bw.w, 0, bw.w.rows, d);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bw.bytes.size()));
  state.SetLabel(type_name(type));
}

void BM_QuantizeQ8_0(benchmark::State& state) {
  const int64_t n = 4096;
  const auto x = random_floats(n, 1, 1.0f);
  std::vector<uint8_t> out(kern::act_row_bytes(kern::ActFormat::Q8_0, n) + 64);
  uint8_t* o = out.data() + (64 - reinterpret_cast<uintptr_t>(out.data()) % 64) % 64;
  for (auto _ : state) {
    kern::active_kernel_table().quantize_q8_0(x.data(), n, o);
    benchmark::DoNotOptimize(o);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 4);
}

void BM_QuantizeQ8_K(benchmark::State& state) {
  const int64_t n = 4096;
  const auto x = random_floats(n, 1, 1.0f);
  std::vector<uint8_t> out(kern::act_row_bytes(kern::ActFormat::Q8_K, n) + 64);
  uint8_t* o = out.data() + (64 - reinterpret_cast<uintptr_t>(out.data()) % 64) % 64;
  for (auto _ : state) {
    kern::active_kernel_table().quantize_q8_k(x.data(), n, o);
    benchmark::DoNotOptimize(o);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 4);
}

void type_thread_args(benchmark::internal::Benchmark* b) {
  for (int64_t t = 0; t < static_cast<int64_t>(std::size(kTypes)); ++t)
    for (int64_t th : {1, 2}) b->Args({t, th});
}

BENCHMARK(BM_Matvec)->Apply(type_thread_args)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatvecR16)
    ->ArgsProduct({{0, 1, 2, 3, 4}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatvecR16Hot)->DenseRange(0, 4)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MatvecHot)
    ->DenseRange(0, static_cast<int>(std::size(kTypes)) - 2)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Matmul)->Apply(type_thread_args)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatmulR16)
    ->ArgsProduct({{0, 1, 2, 3, 4}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InterleaveR16)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_QuantizeQ8_0);
BENCHMARK(BM_QuantizeQ8_K);

}  // namespace
}  // namespace frugal

BENCHMARK_MAIN();
