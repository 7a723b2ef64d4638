#include "model/weight_pack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/interleave.h"

namespace frugal {
namespace {

constexpr size_t kAlign = 64;
constexpr int64_t kRowsPerTask = 256;  // multiple of every interleave factor

size_t round_up(size_t n, size_t a) {
  return (n + a - 1) / a * a;
}

// Drops the whole pages of [p, p + n) inside `mapped` from this process (file-backed: they
// re-fault from the file if ever read again).
void release_source(const uint8_t* p, size_t n, std::span<const uint8_t> mapped) {
  if (mapped.empty() || p < mapped.data() || p + n > mapped.data() + mapped.size()) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

}  // namespace

std::shared_ptr<PackedWeights> PackedWeights::pack(
    const std::vector<WeightMatrix*>& targets, std::span<const uint8_t> mapped,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  struct Job {
    WeightMatrix* w;
    size_t offset;
  };
  std::vector<Job> jobs;
  size_t total = 0;
  uint64_t total_src = 0;  // source bytes, for progress
  for (WeightMatrix* w : targets) {
    if (w == nullptr || w->empty() || !interleave_pays(*w)) continue;
    jobs.push_back({w, total});
    total += round_up(interleaved_bytes(*w), kAlign);
    total_src += static_cast<uint64_t>(w->rows) * w->row_stride;
  }
  if (jobs.empty()) return nullptr;

  std::shared_ptr<PackedWeights> p(new PackedWeights());
  void* mem = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    throw Error("cannot allocate " + std::to_string(total >> 20) +
                " MiB for the interleaved weights: " + std::strerror(errno));
  ::madvise(mem, total, MADV_HUGEPAGE);  // a hint; plain pages work too
  p->mem_ = static_cast<uint8_t*>(mem);
  p->bytes_ = total;
  p->n_ = jobs.size();

  // Tasks of kRowsPerTask rows across all matrices, spread over the pool.
  struct Task {
    const Job* job;
    int64_t r0, r1;
  };
  std::vector<Task> tasks;
  for (const Job& j : jobs)
    for (int64_t r = 0; r < j.w->rows; r += kRowsPerTask)
      tasks.push_back({&j, r, std::min(j.w->rows, r + kRowsPerTask)});
  std::atomic<uint64_t> done{0};
  const std::thread::id caller = std::this_thread::get_id();
  ThreadPool::global().parallel_for(
      static_cast<int64_t>(tasks.size()), 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const Task& t = tasks[i];
          const size_t src_bytes = static_cast<size_t>(t.r1 - t.r0) * t.job->w->row_stride;
          interleave_rows(*t.job->w, t.r0, t.r1, p->mem_ + t.job->offset);
          // Released as it goes, so resident memory never holds the model twice.
          release_source(t.job->w->row(t.r0), src_bytes, mapped);
          const uint64_t now = done.fetch_add(src_bytes) + src_bytes;
          if (progress && std::this_thread::get_id() == caller) progress(now, total_src);
        }
      });
  for (const Job& j : jobs) *j.w = interleaved_view(*j.w, p->mem_ + j.offset);
  if (progress) progress(total_src, total_src);
  return p;
}

PackedWeights::~PackedWeights() {
  if (mem_ != nullptr) ::munmap(mem_, bytes_);
}

}  // namespace frugal
