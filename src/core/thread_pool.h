// A persistent pool of worker threads (started once, never per operation). The caller's thread
// takes part in every parallel_for, so a pool of n threads starts n - 1 workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace frugal {

class ThreadPool {
 public:
  // fn(begin, end) over a sub-range of [0, n); a non-owning reference to any callable.
  class RangeFn {
   public:
    template <typename F>
    RangeFn(const F& f)  // NOLINT: implicit on purpose, parallel_for takes lambdas
        : obj_(&f), call_([](const void* o, int64_t b, int64_t e) { (*static_cast<const F*>(o))(b, e); }) {}
    void operator()(int64_t b, int64_t e) const { call_(obj_, b, e); }

   private:
    const void* obj_;
    void (*call_)(const void*, int64_t, int64_t);
  };

  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn over [0, n) in chunks of `grain` items (the last may be shorter), handed out
  // dynamically to the caller and the workers; returns when all are done. Runs serially on the
  // caller when n <= grain, when the pool has one thread, when called from inside a pool task,
  // or while another thread is using the pool. max_threads (> 0) caps the threads used.
  void parallel_for(int64_t n, int64_t grain, RangeFn fn, int max_threads = 0);

  // The process-wide pool (hardware concurrency threads until set_threads is called).
  static ThreadPool& global();
  // Re-creates the global pool with n threads (n < 1 means 1). Not while it is in use.
  static void set_global_threads(int n);

 private:
  void worker_loop(int index);
  void run_chunks();

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex busy_;  // one parallel_for at a time

  // The current job. Its fields are written by the caller before it publishes a new generation
  // in state_ and stay unchanged until every worker that joined has left.
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  std::atomic<int> n_active_workers_{0};  // workers allowed to join (index < n_active)
  std::atomic<int64_t> next_{0};  // next chunk start
  // state_: generation << 16 | closed << 15 | workers inside the job. A worker joins only while
  // the job is open; the caller closes it once the chunks are all taken and then waits only for
  // the workers that joined, so a worker that is not running (a busy machine) never delays it.
  std::atomic<uint32_t> state_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace frugal
