#include "core/thread_pool.h"

#include <algorithm>
#include <memory>

namespace frugal {
namespace {

thread_local bool t_inside_pool = false;

// Spins this many polls before sleeping on the atomic: decode issues hundreds of small
// matmuls per token, and waking a sleeping thread costs more than the work of some of them.
constexpr int kSpinPolls = 1 << 11;

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

constexpr uint32_t kClosed = 1u << 15;
constexpr uint32_t kCountMask = kClosed - 1;
constexpr uint32_t generation_of(uint32_t s) {
  return s >> 16;
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  state_.fetch_add(1u << 16);  // a new generation wakes everyone; they see stop_
  state_.notify_all();
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
  uint32_t seen = 0;  // the constructor's generation (a job published before this thread ran is
                      // seen as new and joined if still open)
  for (;;) {
    if (stop_.load()) return;
    uint32_t s = state_.load(std::memory_order_acquire);
    for (int spin = 0; generation_of(s) == seen && spin < kSpinPolls; ++spin) {
      cpu_relax();
      s = state_.load(std::memory_order_acquire);
    }
    if (generation_of(s) == seen) {
      state_.wait(s, std::memory_order_acquire);
      continue;
    }
    seen = generation_of(s);
    // Join while the job is open (CAS fails if it closed or a newer job started meanwhile).
    bool joined = false;
    while (generation_of(s) == seen && !(s & kClosed) &&
           index < n_active_workers_.load(std::memory_order_relaxed)) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    run_chunks();
    const uint32_t left = state_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if ((left & kCountMask) == 0 && (left & kClosed)) state_.notify_all();
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
  n_active_workers_.store(use - 1, std::memory_order_relaxed);
  next_.store(0, std::memory_order_relaxed);
  // New generation, open, nobody inside (the previous job left the count at zero).
  const uint32_t gen = generation_of(state_.load(std::memory_order_relaxed)) + 1;
  state_.store(gen << 16, std::memory_order_release);
  state_.notify_all();

  t_inside_pool = true;
  run_chunks();
  t_inside_pool = false;

  // Close the job; wait for the workers that joined (they may still run a chunk).
  uint32_t s = state_.fetch_or(kClosed, std::memory_order_acq_rel) | kClosed;
  for (int spin = 0; (s & kCountMask) != 0; ++spin) {
    if (spin < kSpinPolls)
      cpu_relax();
    else
      state_.wait(s, std::memory_order_acquire);
    s = state_.load(std::memory_order_acquire);
  }
}

ThreadPool& ThreadPool::global() {
  std::lock_guard<std::mutex> g(global_mutex());
  auto& slot = global_slot();
  if (!slot)
    slot = std::make_unique<ThreadPool>(
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
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
