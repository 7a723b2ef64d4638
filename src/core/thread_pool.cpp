#include "core/thread_pool.h"

#include <algorithm>
#include <memory>

namespace frugal {
namespace {

thread_local bool t_inside_pool = false;

// Spins this many polls before sleeping on the atomic: decode issues hundreds of small
// matmuls per token, and waking a sleeping thread costs more than the work of some of them.
constexpr int kSpinPolls = 1 << 14;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

std::unique_ptr<ThreadPool>& global_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}

std::mutex& global_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 0; i < n_threads_ - 1; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks() {
  for (;;) {
    const int64_t b = next_.fetch_add(grain_, std::memory_order_relaxed);
    if (b >= n_) break;
    (*fn_)(b, std::min(n_, b + grain_));
  }
}

void ThreadPool::worker_loop(int index) {
  t_inside_pool = true;
  uint32_t seen = 0;
  for (;;) {
    uint32_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < kSpinPolls; ++spin) {
      cpu_relax();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = g;
    if (stop_.load()) return;
    // Every worker acknowledges every job (idle ones without work), so no worker can lag
    // behind into the next job's state.
    if (index < n_active_workers_) run_chunks();
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, RangeFn fn, int max_threads) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n_chunks = (n + grain - 1) / grain;
  int use = max_threads > 0 ? std::min(max_threads, n_threads_) : n_threads_;
  use = static_cast<int>(std::min<int64_t>(use, n_chunks));
  std::unique_lock<std::mutex> lock(busy_, std::defer_lock);
  if (use <= 1 || t_inside_pool || !lock.try_lock()) {
    fn(0, n);
    return;
  }
  fn_ = &fn;
  n_ = n;
  grain_ = grain;
  n_active_workers_ = use - 1;
  next_.store(0, std::memory_order_relaxed);
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();

  t_inside_pool = true;
  run_chunks();
  t_inside_pool = false;

  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinPolls) {
      cpu_relax();
    } else {
      const int p = pending_.load(std::memory_order_acquire);
      if (p != 0) pending_.wait(p, std::memory_order_acquire);
    }
  }
}

ThreadPool& ThreadPool::global() {
  std::lock_guard<std::mutex> g(global_mutex());
  auto& slot = global_slot();
  if (!slot) slot = std::make_unique<ThreadPool>(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return *slot;
}

void ThreadPool::set_global_threads(int n) {
  std::lock_guard<std::mutex> g(global_mutex());
  auto& slot = global_slot();
  n = std::max(1, n);
  if (slot && slot->size() == n) return;
  slot.reset();
  slot = std::make_unique<ThreadPool>(n);
}

}  // namespace frugal
