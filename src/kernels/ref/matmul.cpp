// Reference matmul over a weight view: each weight row is dequantized once into a thread-local
// scratch and dotted with every token's activation in float. Rows are split across the thread
// pool. matmul() (kernels/matmul.cpp) uses it for types without a fast kernel.
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "format/quant.h"
#include "kernels/interleave.h"
#include "kernels/kernels.h"

namespace frugal {
namespace {

std::atomic<int> g_threads{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};

// Below this many multiply-adds a matmul runs on the caller's thread.
constexpr int64_t kMinWorkPerThread = int64_t{1} << 20;

// Scratch grows to the widest row once per thread, then is reused.
float* row_scratch(int64_t cols) {
  thread_local std::vector<float> scratch;
  if (static_cast<int64_t>(scratch.size()) < cols) scratch.resize(static_cast<size_t>(cols));
  return scratch.data();
}

void matmul_rows(const WeightMatrix& w, const float* x, int64_t n_tok, float* y, int64_t r0,
                 int64_t r1) {
  const bool is_f32 = w.type == GgmlType::F32 && w.interleave == 1;
  float* buf = is_f32 ? nullptr : row_scratch(w.cols);
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = is_f32 ? reinterpret_cast<const float*>(w.row(r)) : buf;
    if (!is_f32) weight_row(w, r, buf);
    for (int64_t t = 0; t < n_tok; ++t) y[t * w.rows + r] = dot(row, x + t * w.cols, w.cols);
  }
}

}  // namespace

WeightMatrix make_weight_matrix(GgmlType type, int64_t rows, int64_t cols, const void* data) {
  return {type, rows, cols, static_cast<const uint8_t*>(data), row_bytes(type, cols)};
}

void set_kernel_threads(int n) {
  g_threads = std::max(1, n);
  ThreadPool::set_global_threads(g_threads);
}
int kernel_threads() { return g_threads; }

void weight_row(const WeightMatrix& w, int64_t r, float* out) {
  FRUGAL_DCHECK(r >= 0 && r < w.rows, "weight row out of range");
  if (w.interleave != 1) {
    dequantize_interleaved_row(w, r, out);
    return;
  }
  dequantize_row(w.type, w.row(r), out, w.cols);
}

void matmul_reference(const WeightMatrix& w, const float* x, int64_t n_tok, float* y) {
  FRUGAL_CHECK(w.data != nullptr, "matmul on an empty weight view");
  const int64_t work = w.rows * w.cols * n_tok;
  const int64_t n_threads =
      std::min<int64_t>({g_threads.load(), std::max<int64_t>(1, work / kMinWorkPerThread), w.rows});
  if (n_threads <= 1) {
    matmul_rows(w, x, n_tok, y, 0, w.rows);
    return;
  }
  const int64_t per = (w.rows + n_threads - 1) / n_threads;
  ThreadPool::global().parallel_for(
      w.rows, per, [&](int64_t r0, int64_t r1) { matmul_rows(w, x, n_tok, y, r0, r1); },
      static_cast<int>(n_threads));
}

}  // namespace frugal
