// Tokenizer speed: vocabulary load time and encode throughput (MB/s, one core) on the reference
// corpus mix (../shared/data/tokenizer/corpus). FRUGAL_TOKENIZER_DIR overrides the location.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

fs::path tokenizer_root() {
  if (const char* env = std::getenv("FRUGAL_TOKENIZER_DIR")) return env;
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "shared/data/tokenizer";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// All corpus texts concatenated (sorted by name), repeated to about 1 MiB.
const std::string& corpus_mix() {
  static const std::string mix = [] {
    std::vector<fs::path> files;
    const fs::path dir = tokenizer_root() / "corpus";
    if (fs::is_directory(dir)) {
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".txt") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::string once;
    for (const auto& f : files) once += slurp(f) + "\n";
    std::string all;
    while (!once.empty() && all.size() < (1u << 20)) all += once;
    return all;
  }();
  return mix;
}

const frugal::Tokenizer* v3() {
  static const std::unique_ptr<frugal::Tokenizer> tok = []() -> std::unique_ptr<frugal::Tokenizer> {
    const fs::path dir = tokenizer_root() / "deepseek-v3";
    if (!fs::exists(dir / "tokenizer.json")) return nullptr;
    return std::make_unique<frugal::Tokenizer>(frugal::Tokenizer::from_hf(dir.string()));
  }();
  return tok.get();
}

#define REQUIRE_DATA(state)                                                    \
  if (v3() == nullptr || corpus_mix().empty()) {                               \
    state.SkipWithError("DeepSeek-V3 tokenizer/corpus not found (../shared)"); \
    return;                                                                    \
  }

void BM_LoadTokenizerJson(benchmark::State& state) {
  const fs::path dir = tokenizer_root() / "deepseek-v3";
  if (!fs::exists(dir / "tokenizer.json")) return state.SkipWithError("tokenizer.json not found");
  for (auto _ : state) {
    frugal::Tokenizer tok = frugal::Tokenizer::from_hf(dir.string());
    benchmark::DoNotOptimize(tok.n_tokens());
  }
}
BENCHMARK(BM_LoadTokenizerJson)->Unit(benchmark::kMillisecond)->Iterations(5);

void encode_mix(benchmark::State& state, bool cache) {
  REQUIRE_DATA(state);
  const std::string& text = corpus_mix();
  auto& tok = const_cast<frugal::Tokenizer&>(*v3());
  tok.set_cache_enabled(cache);
  size_t n_ids = 0;
  for (auto _ : state) {
    auto ids = tok.encode(text, {.add_bos = false});
    n_ids = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  tok.set_cache_enabled(true);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["tokens/s"] =
      benchmark::Counter(double(n_ids) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_EncodeCorpusMix(benchmark::State& state) {
  encode_mix(state, true);
}
BENCHMARK(BM_EncodeCorpusMix)->Unit(benchmark::kMillisecond);

// Every piece through the BPE merge loop (no per-piece cache).
void BM_EncodeCorpusMixNoCache(benchmark::State& state) {
  encode_mix(state, false);
}
BENCHMARK(BM_EncodeCorpusMixNoCache)->Unit(benchmark::kMillisecond);

void BM_DecodeCorpusMix(benchmark::State& state) {
  REQUIRE_DATA(state);
  const std::string& text = corpus_mix();
  const auto ids = v3()->encode(text, {.add_bos = false});
  for (auto _ : state) {
    std::string out = v3()->decode(ids);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_DecodeCorpusMix)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
