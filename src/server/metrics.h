// Server metrics in Prometheus text format: requests by status, prompt / generated / cache-hit
// tokens, time-to-first-token and inter-token latency histograms, plus the scheduler's gauges.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/scheduler.h"

namespace frugal {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends the _bucket / _sum / _count lines of `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();
  void count_response(int status);
  void add_tokens(int64_t n_prompt, int64_t n_generated, int64_t n_cache_hit);
  void observe_ttft(double seconds);
  void observe_inter_token(double seconds);
  std::string render(const SchedulerStats& s) const;

 private:
  mutable std::mutex mu_;
  std::map<int, uint64_t> responses_;  // by HTTP status
  int64_t n_prompt_ = 0, n_generated_ = 0, n_cache_hit_ = 0;
  Histogram ttft_, itl_;
};

}  // namespace frugal
