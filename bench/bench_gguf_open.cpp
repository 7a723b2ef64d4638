// Opening and validating a large GGUF: a sparse ~10 GB file with a DeepSeek-V2-Lite-like tensor
// table and a 129K-entry tokenizer vocabulary + merges in its metadata (the part that costs).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "format/gguf.h"

namespace {

std::string make_large_gguf() {
  const std::string path = (std::filesystem::temp_directory_path() / "frugal-bench-10g.gguf").string();
  if (std::filesystem::exists(path)) return path;
  frugal::GgufWriter w;
  w.set("general.architecture", frugal::GgufValue::str("deepseek2"));
  std::vector<std::string> tokens, merges;
  for (int i = 0; i < 129280; ++i) tokens.push_back("tok" + std::to_string(i * 7919));
  for (int i = 0; i < 127741; ++i) merges.push_back("a" + std::to_string(i) + " b" + std::to_string(i));
  w.set("tokenizer.ggml.tokens", frugal::GgufValue::string_array(tokens));
  w.set("tokenizer.ggml.token_type", frugal::GgufValue::i32_array(std::vector<int32_t>(tokens.size(), 1)));
  w.set("tokenizer.ggml.merges", frugal::GgufValue::string_array(merges));
  using frugal::GgmlType;
  const int64_t d = 2048, e = 64, f = 1408;
  w.add_tensor("token_embd.weight", GgmlType::Q8_0, {d, 102400}, frugal::GgufWriter::Filler{});
  for (int l = 0; l < 27; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    w.add_tensor(p + "attn_norm.weight", GgmlType::F32, {d}, frugal::GgufWriter::Filler{});
    w.add_tensor(p + "attn_q.weight", GgmlType::Q8_0, {d, 3072}, frugal::GgufWriter::Filler{});
    w.add_tensor(p + "attn_kv_a_mqa.weight", GgmlType::Q8_0, {d, 576}, frugal::GgufWriter::Filler{});
    w.add_tensor(p + "attn_kv_b.weight", GgmlType::Q8_0, {512, 4096}, frugal::GgufWriter::Filler{});
    w.add_tensor(p + "attn_output.weight", GgmlType::Q8_0, {2048, d}, frugal::GgufWriter::Filler{});
    w.add_tensor(p + "ffn_gate_exps.weight", GgmlType::Q8_0, {d, f, e}, frugal::GgufWriter::Filler{});
    w.add_tensor(p + "ffn_up_exps.weight", GgmlType::Q8_0, {d, f, e}, frugal::GgufWriter::Filler{});
    w.add_tensor(p + "ffn_down_exps.weight", GgmlType::Q8_0, {f, d, e}, frugal::GgufWriter::Filler{});
  }
  w.add_tensor("output.weight", GgmlType::Q8_0, {d, 102400}, frugal::GgufWriter::Filler{});
  w.write(path);
  return path;
}

void BM_OpenAndValidateLargeGguf(benchmark::State& state) {
  const std::string path = make_large_gguf();
  uint64_t size = 0;
  for (auto _ : state) {
    frugal::GgufFile f = frugal::GgufFile::open(path);
    size = f.file_size();
    benchmark::DoNotOptimize(f.tensors().data());
  }
  state.counters["file_GB"] = static_cast<double>(size) / 1e9;
}
BENCHMARK(BM_OpenAndValidateLargeGguf)->Unit(benchmark::kMillisecond)->Iterations(5)->Repetitions(3);

}  // namespace

BENCHMARK_MAIN();
