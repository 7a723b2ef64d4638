#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"

namespace frugal {
namespace {

TEST(ThreadPool, CoversEveryItemOnceForAnyGrain) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 7, 100, 1001}) {
    for (int64_t grain : {1, 3, 64, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
        EXPECT_LE(e - b, grain);
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "n=" << n << " grain=" << grain;
    }
  }
}

TEST(ThreadPool, ManySmallJobsAndNestedCalls) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int rep = 0; rep < 20000; ++rep) {
    pool.parallel_for(4, 1, [&](int64_t b, int64_t e) {
      // nested: runs serially on the calling worker
      pool.parallel_for(e - b, 1, [&](int64_t nb, int64_t ne) { sum += ne - nb; });
    });
  }
  EXPECT_EQ(sum.load(), 20000 * 4);
}

TEST(ThreadPool, UsesSeveralThreads) {
  ThreadPool pool(2);
  std::atomic<int> distinct{0};
  std::atomic<bool> a_seen{false};
  const auto caller = std::this_thread::get_id();
  pool.parallel_for(64, 1, [&](int64_t, int64_t) {
    if (std::this_thread::get_id() != caller && !a_seen.exchange(true)) distinct++;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  });
  EXPECT_EQ(distinct.load(), 1);
}

TEST(CpuFeatures, ConsistentFlags) {
  const CpuFeatures& f = cpu_features();
  if (f.has_avx512_set()) EXPECT_TRUE(f.has_avx2_set());
  EXPECT_FALSE(f.to_string().empty());
}

}  // namespace
}  // namespace frugal
