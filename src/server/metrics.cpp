#include "server/metrics.h"

#include <cstdio>

namespace frugal {
namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(num(value)).append("\n");
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? num(bounds_[i]) : "+Inf";
    out.append(name)
        .append("_bucket{le=\"")
        .append(le)
        .append("\"} ")
        .append(std::to_string(cumulative))
        .append("\n");
  }
  out.append(name).append("_sum ").append(num(sum_)).append("\n");
  out.append(name).append("_count ").append(std::to_string(count_)).append("\n");
}

ServerMetrics::ServerMetrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}) {}

void ServerMetrics::count_response(int status) {
  std::lock_guard lk(mu_);
  ++responses_[status];
}

void ServerMetrics::add_tokens(int64_t n_prompt, int64_t n_generated, int64_t n_cache_hit) {
  std::lock_guard lk(mu_);
  n_prompt_ += n_prompt;
  n_generated_ += n_generated;
  n_cache_hit_ += n_cache_hit;
}

void ServerMetrics::observe_ttft(double seconds) {
  std::lock_guard lk(mu_);
  ttft_.observe(seconds);
}

void ServerMetrics::observe_inter_token(double seconds) {
  std::lock_guard lk(mu_);
  itl_.observe(seconds);
}

std::string ServerMetrics::render(const SchedulerStats& s) const {
  std::lock_guard lk(mu_);
  std::string out;
  out.append(
      "# HELP frugal_requests_total HTTP responses by status code.\n# TYPE frugal_requests_total "
      "counter\n");
  for (const auto& [status, n] : responses_)
    out.append("frugal_requests_total{status=\"")
        .append(std::to_string(status))
        .append("\"} ")
        .append(std::to_string(n))
        .append("\n");
  metric(out, "frugal_prompt_tokens_total", "counter", "Prompt tokens of finished requests.",
         double(n_prompt_));
  metric(out, "frugal_generated_tokens_total", "counter", "Generated tokens.",
         double(n_generated_));
  metric(out, "frugal_prompt_cache_hit_tokens_total", "counter",
         "Prompt tokens served from the context cache.", double(n_cache_hit_));
  const double ratio = n_prompt_ > 0 ? double(n_cache_hit_) / double(n_prompt_) : 0.0;
  metric(out, "frugal_prompt_cache_hit_ratio", "gauge", "Cache-hit prompt tokens / prompt tokens.",
         ratio);
  out.append(
      "# HELP frugal_time_to_first_token_seconds Time from request to first generated token.\n"
      "# TYPE frugal_time_to_first_token_seconds histogram\n");
  ttft_.render("frugal_time_to_first_token_seconds", out);
  out.append(
      "# HELP frugal_inter_token_latency_seconds Time between generated tokens of one request.\n"
      "# TYPE frugal_inter_token_latency_seconds histogram\n");
  itl_.render("frugal_inter_token_latency_seconds", out);
  metric(out, "frugal_queue_depth", "gauge", "Requests waiting for a slot or KV-cache blocks.", double(s.n_waiting));
  metric(out, "frugal_active_sequences", "gauge", "Sequences being generated.", double(s.n_active));
  metric(out, "frugal_slots", "gauge", "Sequence slots (--parallel).", double(s.n_slots));
  const double blocks = double(s.kv_blocks), bt = double(s.kv_block_tokens);
  metric(out, "frugal_kv_cache_capacity_tokens", "gauge",
         "Positions the paged KV cache holds (all blocks).", blocks * bt);
  metric(out, "frugal_kv_cache_used_tokens", "gauge",
         "Positions in blocks held by running sequences or the prefix cache.",
         double(s.kv_blocks - s.kv_blocks_free) * bt);
  metric(out, "frugal_kv_cache_usage_ratio", "gauge", "KV-cache blocks in use / all blocks.",
         blocks > 0 ? double(s.kv_blocks - s.kv_blocks_free) / blocks : 0.0);
  metric(out, "frugal_kv_cache_reserved_tokens", "gauge",
         "Positions admitted sequences may write at most (admission control).",
         double(s.kv_blocks_reserved) * bt);
  metric(out, "frugal_prefix_cache_tokens", "gauge",
         "Prompt positions the prefix cache holds in RAM (radix tree blocks).",
         double(s.prefix_cache_blocks) * bt);
  metric(out, "frugal_engine_steps_total", "counter", "Engine steps run.", double(s.n_steps));
  if (s.disk_cache) {
    metric(out, "frugal_prompt_cache_disk_hit_tokens_total", "counter",
           "Prompt tokens whose KV entries were loaded from the disk tier (--cache-dir).",
           double(s.disk_hit_tokens));
    metric(out, "frugal_prompt_cache_disk_blocks_written_total", "counter",
           "KV-cache blocks written to the disk tier.", double(s.disk_blocks_written));
    metric(out, "frugal_prompt_cache_disk_errors_total", "counter",
           "Disk-tier files rejected (corrupt, truncated, another model) or not written.",
           double(s.disk_errors));
    metric(out, "frugal_prompt_cache_disk_bytes", "gauge", "Bytes held by the disk tier.",
           double(s.disk_bytes));
  }
  return out;
}

}  // namespace frugal
