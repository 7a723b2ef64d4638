// matmul(): the entry point the model calls for every weight. Weight types with a fast kernel
// (kernels/gemm.h, table chosen once per process) quantize x once per call into a reusable
// per-thread scratch, then split the rows across the persistent thread pool; other types use
// the reference in ref/matmul.cpp.
#include <algorithm>
#include <span>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

namespace frugal {
namespace {

// Below this many multiply-adds a matmul stays on the caller's thread.
constexpr int64_t kMinParallelWork = int64_t{1} << 16;
// Weight bytes one chunk of rows covers when several tokens share it (stays in L2).
constexpr size_t kChunkBytes = size_t{96} << 10;

// Grows only; 64-byte aligned.
uint8_t* act_scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  const auto p = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - p % 64) % 64);
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tok, float* y) {
  FRUGAL_CHECK(w.data != nullptr, "matmul on an empty weight view");
  const kern::KernelTable& table = kern::active_kernel_table();
  const kern::TypeKernel k = kern::find_kernel(table, w.type, w.interleave);
  if (k.gemm == nullptr) {
    matmul_reference(w, x, n_tok, y);
    return;
  }
  if (n_tok <= 0 || w.rows <= 0) return;
  ThreadPool& pool = ThreadPool::global();
  const int n_threads = std::min(kernel_threads(), pool.size());

  // Activations in the kernel's format: [n_tok] rows of x_stride bytes.
  const uint8_t* xa = reinterpret_cast<const uint8_t*>(x);
  size_t x_stride = static_cast<size_t>(w.cols) * sizeof(float);
  if (k.act != kern::ActFormat::F32) {
    const kern::QuantizeActFn quantize = kern::find_quantizer(table, k.act);
    x_stride = kern::act_row_bytes(k.act, w.cols);
    uint8_t* buf = act_scratch(x_stride * static_cast<size_t>(n_tok));
    const int64_t cols = w.cols;
    auto quantize_rows = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) quantize(x + t * cols, cols, buf + static_cast<size_t>(t) * x_stride);
    };
    pool.parallel_for(n_tok, std::max<int64_t>(1, n_tok / n_threads), quantize_rows,
                      n_tok * cols >= kMinParallelWork ? n_threads : 1);
    xa = buf;
  }

  const kern::GemmArgs all{w.data, w.row_stride, w.rows, w.cols, xa, x_stride, n_tok, y, w.rows};
  auto run_rows = [&](int64_t r0, int64_t r1) {
    kern::GemmArgs a = all;
    a.w = w.data + static_cast<size_t>(r0) * w.row_stride;
    a.n_rows = r1 - r0;
    a.y = y + r0;
    k.gemm(a);
  };
  const int64_t work = w.rows * w.cols * n_tok;
  if (n_threads <= 1 || work < kMinParallelWork) {
    run_rows(0, w.rows);
    return;
  }
  // Several chunks per thread for balance; with several tokens, chunks small enough to stay in
  // L2 while every token passes over them. Multiples of the tile height (4 rows, or the
  // interleaved group).
  const int64_t align = std::max<int64_t>(4, w.interleave);
  int64_t grain = (w.rows + 4 * n_threads - 1) / (4 * n_threads);
  if (n_tok > 1) grain = std::min<int64_t>(grain, std::max<int64_t>(1, kChunkBytes / w.row_stride));
  grain = std::max<int64_t>(align, (grain + align - 1) / align * align);
  pool.parallel_for(w.rows, grain, run_rows, n_threads);
}

void matmul_batch(std::span<const MatmulJob> jobs) {
  const kern::KernelTable& table = kern::active_kernel_table();
  struct Prepared {
    const MatmulJob* job;
    kern::TypeKernel k;
    size_t x_stride = 0;
    size_t x_offset = 0;  // in the activation scratch
  };
  std::vector<Prepared> prep;
  prep.reserve(jobs.size());
  size_t act_bytes = 0;
  for (const MatmulJob& j : jobs) {
    FRUGAL_CHECK(j.w != nullptr && j.w->data != nullptr, "matmul on an empty weight view");
    const kern::TypeKernel k = kern::find_kernel(table, j.w->type, j.w->interleave);
    if (k.gemm == nullptr || k.act == kern::ActFormat::F32) {
      matmul(*j.w, j.x, j.n_tok, j.y);  // no quantized fast path: on its own
      continue;
    }
    Prepared p{&j, k, kern::act_row_bytes(k.act, j.w->cols), act_bytes};
    const Prepared* prev = prep.empty() ? nullptr : &prep.back();
    if (prev && prev->job->x == j.x && prev->job->n_tok == j.n_tok &&
        prev->job->w->cols == j.w->cols && prev->k.act == k.act)
      p.x_offset = prev->x_offset;  // the same activations (gate and up of one expert)
    else
      act_bytes += p.x_stride * static_cast<size_t>(j.n_tok);
    prep.push_back(p);
  }
  if (prep.empty()) return;
  uint8_t* act = act_scratch(act_bytes);
  for (size_t i = 0; i < prep.size(); ++i) {
    const Prepared& p = prep[i];
    if (i > 0 && p.x_offset == prep[i - 1].x_offset) continue;
    const kern::QuantizeActFn quantize = kern::find_quantizer(table, p.k.act);
    for (int64_t t = 0; t < p.job->n_tok; ++t)
      quantize(p.job->x + t * p.job->w->cols, p.job->w->cols,
               act + p.x_offset + static_cast<size_t>(t) * p.x_stride);
  }
  // Row chunks of every job: multiples of the tile height (a decode's four interleaved groups).
  struct Task {
    const Prepared* p;
    int64_t r0, r1;
  };
  std::vector<Task> tasks;
  for (const Prepared& p : prep) {
    const WeightMatrix& w = *p.job->w;
    const int64_t align = w.interleave > 1 ? 4 * w.interleave : 4;
    int64_t rows = std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / w.row_stride));
    rows = std::max(align, rows / align * align);
    for (int64_t r = 0; r < w.rows; r += rows) tasks.push_back({&p, r, std::min(w.rows, r + rows)});
  }
  auto run = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const Task& t = tasks[static_cast<size_t>(i)];
      const MatmulJob& j = *t.p->job;
      const WeightMatrix& w = *j.w;
      t.p->k.gemm({w.data + static_cast<size_t>(t.r0) * w.row_stride, w.row_stride, t.r1 - t.r0,
                   w.cols, act + t.p->x_offset, t.p->x_stride, j.n_tok, j.y + t.r0, w.rows});
    }
  };
  ThreadPool& pool = ThreadPool::global();
  const int n_threads = std::min(kernel_threads(), pool.size());
  pool.parallel_for(static_cast<int64_t>(tasks.size()), 1, run, n_threads);
}

}  // namespace frugal
