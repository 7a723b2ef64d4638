// frugal bench --memory | MODEL: the machine's read bandwidth, and a model's prefill and decode
// speed with the GB/s of weights each decode token reads and its share of that bandwidth.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "model/deepseek2_lm.h"
#include "model/dense_lm.h"
#include "cli/model_args.h"

namespace frugal::cli {
namespace {

constexpr const char* kHelp =
    "usage: frugal bench --memory [--size-mib N] [--runs N] [-t N] [--json]\n"
    "       frugal bench MODEL [-p 512] [-n 128] [--ctx-depth D] [-t N] [--runs 3] [--mem-gbs X] [--json]\n\n"
    "--memory: read bandwidth of this machine: a huge-page buffer read by several threads with\n"
    "the widest loads the CPU has; prints the median GB/s of several runs per thread count.\n"
    "MODEL: prefill of -p tokens and decode of -n tokens (median of --runs), GB of weights read\n"
    "per decode token, the GB/s that makes and its % of the measured (or --mem-gbs) bandwidth.\n\n"
    "  --ctx-depth D decode with D tokens already in the KV cache (filled untimed after prefill)\n"
    "  --cache-type T  KV cache element type: f16 (default), bf16, f32 or q8 (int8 rows)\n"
    "  --no-repack   run from the mapped file instead of interleaved huge-page copies\n"
    "  --ubatch N    tokens per forward chunk (ModelOptions::max_batch, default 512)\n"
    "  --size-mib N  buffer size for --memory (default 1024)\n"
    "  --runs N      repetitions; the median is reported (default 7 for --memory, 3 for MODEL)\n"
    "  -t N          threads (default: all hardware threads)\n"
    "  --json        one JSON object on stdout\n";

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// A 2 MiB-aligned anonymous mapping advised to use transparent huge pages.
class HugeBuffer {
 public:
  explicit HugeBuffer(size_t bytes) : bytes_(bytes) {
    constexpr size_t kHuge = size_t{2} << 20;
    map_bytes_ = bytes + kHuge;
    void* p = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      throw Error("bench --memory: cannot map " + std::to_string(bytes >> 20) + " MiB");
    map_ = static_cast<uint8_t*>(p);
    data_ = map_ + (kHuge - reinterpret_cast<uintptr_t>(map_) % kHuge) % kHuge;
    madvise(data_, bytes_, MADV_HUGEPAGE);
  }
  ~HugeBuffer() { munmap(map_, map_bytes_); }
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  uint8_t* map_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t bytes_ = 0, map_bytes_ = 0;
};

struct MemoryResult {
  int threads;
  double gbs_median, gbs_best;
};

// Each of n threads streams its own contiguous slice of the buffer, `passes` times per run.
MemoryResult measure_read(const HugeBuffer& buf, int n_threads, int runs) {
  kern::StreamReadFn read = kern::active_kernel_table().stream_read;
  if (read == nullptr) read = kern::ref_kernel_table().stream_read;
  ThreadPool& pool = ThreadPool::global();
  const size_t slice = buf.size() / static_cast<size_t>(n_threads) / 256 * 256;
  std::vector<uint64_t> sink(static_cast<size_t>(n_threads) * 8);
  std::vector<double> gbs;
  for (int r = 0; r < runs + 1; ++r) {  // the first run warms up (TLB, frequency)
    const auto t0 = Clock::now();
    pool.parallel_for(
        n_threads, 1,
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i)
            sink[static_cast<size_t>(i) * 8] += read(buf.data() + slice * i, slice);
        },
        n_threads);
    const double s = seconds_since(t0);
    if (r > 0) gbs.push_back(static_cast<double>(slice) * n_threads / s / 1e9);
  }
  uint64_t x = 0;
  for (uint64_t v : sink) x ^= v;
  if (x == 0x123456789abcdefULL) std::fprintf(stderr, " ");  // keep the reads
  return {n_threads, median(gbs), *std::max_element(gbs.begin(), gbs.end())};
}

int run_memory(const Args& args) {
  const size_t mib = static_cast<size_t>(args.get_int_or("--size-mib", 1024));
  const int runs = static_cast<int>(std::max<int64_t>(1, args.get_int_or("--runs", 7)));
  const int max_threads =
      static_cast<int>(args.get_int_or("-t", std::max(1u, std::thread::hardware_concurrency())));
  if (mib < 16) throw Error("--size-mib: expected at least 16, found " + std::to_string(mib));
  set_kernel_threads(max_threads);
  HugeBuffer buf(mib << 20);
  // Touch every page (in parallel, so pages spread like the readers'); non-zero content.
  ThreadPool::global().parallel_for(static_cast<int64_t>(buf.size() >> 20), 1,
                                    [&](int64_t b, int64_t e) {
                                      std::memset(buf.data() + (static_cast<size_t>(b) << 20), 0x5A,
                                                  static_cast<size_t>(e - b) << 20);
                                    });
  std::vector<MemoryResult> results;
  for (int t = 1; t <= max_threads; ++t) results.push_back(measure_read(buf, t, runs));
  const MemoryResult best = *std::max_element(
      results.begin(), results.end(), [](auto& a, auto& b) { return a.gbs_median < b.gbs_median; });
  if (args.has("--json")) {
    nlohmann::json j{{"kernels", kern::active_kernel_table().name},
                     {"cpu", cpu_features().to_string()},
                     {"buffer_mib", mib},
                     {"runs", runs},
                     {"read_gbs", best.gbs_median},
                     {"read_gbs_threads", best.threads}};
    for (const auto& r : results)
      j["by_threads"].push_back(
          {{"threads", r.threads}, {"median_gbs", r.gbs_median}, {"best_gbs", r.gbs_best}});
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("memory read bandwidth (%zu MiB huge-page buffer, %s loads, median of %d runs)\n",
                mib, kern::active_kernel_table().name, runs);
    for (const auto& r : results)
      std::printf("  %2d thread%s  %7.2f GB/s  (best %.2f)\n", r.threads, r.threads > 1 ? "s" : " ",
                  r.gbs_median, r.gbs_best);
    std::printf("read bandwidth: %.2f GB/s (%d threads)\n", best.gbs_median, best.threads);
  }
  return 0;
}

// ---- model benchmark ----

size_t matrix_bytes(const WeightMatrix& w) {
  return w.empty() ? 0 : static_cast<size_t>(w.rows) * w.row_stride;
}
size_t mlp_bytes(const SwiGluWeights& m) {
  return matrix_bytes(m.gate) + matrix_bytes(m.up) + matrix_bytes(m.down);
}

// Weight bytes one decode token reads: every dense matrix, the router, the shared experts and
// n_experts_used routed experts per MoE layer, the output head (not the embedding table).
double decode_bytes_per_token(const Deepseek2Model& m) {
  const Deepseek2Weights& w = m.weights();
  const Deepseek2Config& c = m.config();
  double total = static_cast<double>(matrix_bytes(w.output));
  for (const LayerWeights& l : w.layers) {
    const AttentionWeights& a = l.attn;
    for (const WeightMatrix* x : {&a.wq, &a.wq_a, &a.wq_b, &a.wkv_a, &a.wo})
      total += static_cast<double>(matrix_bytes(*x));
    for (const auto& x : a.k_b) total += static_cast<double>(matrix_bytes(x));
    for (const auto& x : a.v_b) total += static_cast<double>(matrix_bytes(x));
    total += static_cast<double>(mlp_bytes(l.mlp));
    if (!l.moe.gate.empty()) {
      double experts = 0;
      for (size_t e = 0; e < l.moe.gate.size(); ++e)
        experts += static_cast<double>(matrix_bytes(l.moe.gate[e]) + matrix_bytes(l.moe.up[e]) +
                                       matrix_bytes(l.moe.down[e]));
      total +=
          experts * static_cast<double>(c.n_experts_used) / static_cast<double>(l.moe.gate.size());
      total += static_cast<double>(matrix_bytes(l.moe.router) + mlp_bytes(l.moe.shared));
    }
  }
  return total;
}

// Dense qwen2 / llama: every matrix but the embedding table (the output head even when tied).
double decode_bytes_per_token(const DenseModel& m) {
  const DenseWeights& w = m.weights();
  double total = static_cast<double>(matrix_bytes(w.output));
  for (const DenseLayerWeights& l : w.layers)
    for (const WeightMatrix* x : {&l.wq, &l.wk, &l.wv, &l.wo, &l.mlp.gate, &l.mlp.up, &l.mlp.down})
      total += static_cast<double>(matrix_bytes(*x));
  return total;
}

double decode_bytes_per_token(CausalLm& lm) {
  if (auto* d = dynamic_cast<Deepseek2Lm*>(&lm)) return decode_bytes_per_token(d->model());
  if (auto* d = dynamic_cast<DenseLm*>(&lm)) return decode_bytes_per_token(d->model());
  return 0;
}

int run_model(const Args& args, const std::string& path) {
  const int64_t n_prompt = args.get_int_or("-p", 512);
  const int64_t n_gen = args.get_int_or("-n", 128);
  const int runs = static_cast<int>(std::max<int64_t>(1, args.get_int_or("--runs", 3)));
  const int threads =
      static_cast<int>(args.get_int_or("-t", std::max(1u, std::thread::hardware_concurrency())));
  const double mem_gbs = args.get_float_or("--mem-gbs", 0.0);
  const int64_t depth = args.get_int_or("--ctx-depth", 0);
  if (n_prompt < 1 || n_gen < 1) throw Error("-p and -n: expected at least 1 token each");
  if (depth < 0) throw Error("--ctx-depth: expected at least 0");
  const int64_t decode_from = std::max(n_prompt, depth);  // first decoded position
  set_kernel_threads(threads);
  ModelOptions opt;
  opt.max_context = decode_from + n_gen + 1;
  opt.kv_cache_type = cache_type_from_args(args);
  opt.repack = !args.has("--no-repack");
  opt.on_pack_progress = pack_progress_bar();
  opt.max_batch = args.get_int_or("--ubatch", opt.max_batch);
  if (opt.max_batch < 1) throw Error("--ubatch: expected at least 1");
  const auto t_load = Clock::now();
  std::unique_ptr<CausalLm> model = load_causal_lm(path, opt);
  const double load_s = seconds_since(t_load);
  const int64_t vocab = model->n_vocab();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(decode_from)),
      pos(static_cast<size_t>(decode_from + n_gen));
  for (auto& t : tokens) t = tok(rng);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
  std::vector<float> logits(static_cast<size_t>(vocab));

  std::vector<double> pp, tg;
  for (int r = 0; r < runs; ++r) {
    std::unique_ptr<SequenceState> seq = model->new_sequence(decode_from + n_gen);
    auto t0 = Clock::now();
    model->forward({std::span<const int32_t>(tokens.data(), static_cast<size_t>(n_prompt)),
                    std::span<const int32_t>(pos.data(), static_cast<size_t>(n_prompt)), LogitsMode::Last},
                   *seq, logits);
    pp.push_back(static_cast<double>(n_prompt) / seconds_since(t0));
    if (depth > n_prompt)  // fill the cache to the requested depth, untimed
      model->forward({std::span<const int32_t>(tokens.data() + n_prompt, static_cast<size_t>(depth - n_prompt)),
                      std::span<const int32_t>(pos.data() + n_prompt, static_cast<size_t>(depth - n_prompt)),
                      LogitsMode::Last},
                     *seq, logits);
    int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    t0 = Clock::now();
    for (int64_t i = 0; i < n_gen; ++i) {
      const int32_t p = static_cast<int32_t>(decode_from + i);
      model->forward({std::span<const int32_t>(&next, 1),
                      std::span<const int32_t>(&pos[static_cast<size_t>(p)], 1), LogitsMode::Last},
                     *seq, logits);
      next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    tg.push_back(static_cast<double>(n_gen) / seconds_since(t0));
  }
  const double pp_tps = median(pp), tg_tps = median(tg);
  const double gb_per_token = decode_bytes_per_token(*model) / 1e9;
  const double gbs = gb_per_token * tg_tps;
  const std::string cache = cache_type_label(model->kv_cache_type());
  if (args.has("--json")) {
    nlohmann::json j{{"model", path},           {"kernels", kern::active_kernel_table().name},
                     {"threads", threads},      {"n_prompt", n_prompt},
                     {"n_gen", n_gen},          {"runs", runs},
                     {"ctx_depth", decode_from}, {"cache_type", cache},
                     {"load_s", load_s},        {"prefill_tok_s", pp_tps},
                     {"decode_tok_s", tg_tps},  {"decode_gb_per_token", gb_per_token},
                     {"decode_weight_gbs", gbs}};
    if (mem_gbs > 0) j["decode_pct_of_bandwidth"] = 100.0 * gbs / mem_gbs;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s  (%s kernels, %d threads, %s cache, load %.1f s)\n", path.c_str(),
                kern::active_kernel_table().name, threads,
                cache.c_str(), load_s);
    std::printf("  prefill pp%lld: %8.2f tok/s\n", static_cast<long long>(n_prompt), pp_tps);
    std::printf("  decode  tg%lld @ depth %lld: %8.2f tok/s  %.3f GB/token  %.2f GB/s",
                static_cast<long long>(n_gen), static_cast<long long>(decode_from), tg_tps,
                gb_per_token, gbs);
    if (mem_gbs > 0) std::printf("  %.0f%% of %.2f GB/s", 100.0 * gbs / mem_gbs, mem_gbs);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  const Args args(argc, argv, {"--size-mib", "--runs", "-t", "-p", "-n", "--mem-gbs", "--ctx-depth",
                               "--cache-type", "--ubatch"},
                  {"--memory", "--json", "--no-repack"});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  if (args.has("--memory")) return run_memory(args);
  return run_model(args, args.require_positional(0, "MODEL (or --memory)"));
}

}  // namespace frugal::cli
