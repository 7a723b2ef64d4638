#include "cli/model_args.h"

#include <atomic>
#include <cctype>
#include <csignal>

#include <unistd.h>

#include "cli/progress.h"
#include "core/error.h"
#include "kernels/attention.h"

namespace frugal::cli {

const char* const kModelFlagsHelp =
    "  --tokenizer PATH  tokenizer.json (or a directory / GGUF holding one) when the model has none\n"
    "  --ctx N           context length in tokens (default 4096, at most the model's)\n"
    "  --cache-type T    KV cache element type: f16 (default), bf16, f32 or q8 (int8 rows, one\n"
    "                    scale per row part: half the memory of f16, integer attention\n"
    "                    kernels). The deepseek2 latent cache; dense models keep f32\n"
    "  --no-repack       run from the mapped file: start at once, but skip the interleaved\n"
    "                    huge-page copies the AVX-512 kernels stream fastest (Q8_0, Q5_0, Q4_K,\n"
    "                    Q5_K, Q6_K; packing a 10 GB model takes ~10-30 s on a small VM)\n";
const char* const kSamplingFlagsHelp =
    "  --temp T          temperature; 0 = greedy (default 0.8)\n"
    "  --top-k K         keep the K most likely tokens (0 = off, default 40)\n"
    "  --top-p P         nucleus sampling (1 = off, default 0.95)\n"
    "  --min-p M         drop tokens below M x the top probability (default 0.05)\n"
    "  --repeat-penalty R  repetition penalty (1 = off, default 1)\n"
    "  --seed S          random seed (default 0)\n";

const std::set<std::string>& model_value_flags() {
  static const std::set<std::string> flags = {"--tokenizer", "--ctx",  "--temp", "--top-k", "--cache-type",
                                              "--top-p",     "--min-p", "--seed", "--repeat-penalty"};
  return flags;
}

std::set<std::string> model_bool_flags(std::set<std::string> command_flags) {
  command_flags.insert("--no-repack");
  return command_flags;
}

LoadedModel load_model_and_tokenizer(const std::string& path, const Args& args) {
  LoadedModel m;
  ModelOptions opt;
  opt.max_context = args.get_int_or("--ctx", 4096);
  if (opt.max_context < 1) throw Error("--ctx must be at least 1");
  opt.kv_cache_type = cache_type_from_args(args);
  opt.repack = !args.has("--no-repack");
  opt.on_pack_progress = pack_progress_bar();
  opt.mtp = args.has("--mtp");  // declared by the commands that offer it (run)
  const std::string tok_path = args.get_or("--tokenizer", path);
  m.tokenizer = std::make_unique<Tokenizer>(Tokenizer::from_path(tok_path));
  m.model = load_causal_lm(path, opt);
  if (m.tokenizer->n_tokens() > m.model->n_vocab())
    throw Error("tokenizer " + tok_path + " has " + std::to_string(m.tokenizer->n_tokens()) +
                " tokens but the model's vocabulary has only " + std::to_string(m.model->n_vocab()));
  return m;
}

std::function<void(uint64_t, uint64_t)> pack_progress_bar() {
  if (!::isatty(2)) return {};
  auto bar = std::make_shared<ProgressBar>("pack weights");
  return [bar](uint64_t done, uint64_t total) {
    bar->update(done, total);
    if (done == total) bar->finish();
  };
}

GgmlType cache_type_from_args(const Args& args, GgmlType default_type) {
  const auto v = args.get("--cache-type");
  if (!v) return default_type;
  if (*v == "q8" || *v == "q8_0" || *v == "Q8_0") return GgmlType::I8;  // int8 latent rows
  const auto t = type_from_name(*v);
  if (!t || *t == GgmlType::I8 || !is_latent_cache_type(*t))
    throw Error("--cache-type: expected f16, bf16, f32 or q8, got '" + *v + "'");
  return *t;
}

std::string cache_type_label(GgmlType t) {
  if (t == GgmlType::I8) return "q8";
  std::string s = type_name(t);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

SamplingParams sampling_from_args(const Args& args, SamplingParams d) {
  SamplingParams p = d;
  p.temperature = static_cast<float>(args.get_float_or("--temp", d.temperature));
  p.top_k = static_cast<int32_t>(args.get_int_or("--top-k", d.top_k));
  p.top_p = static_cast<float>(args.get_float_or("--top-p", d.top_p));
  p.min_p = static_cast<float>(args.get_float_or("--min-p", d.min_p));
  p.repetition_penalty = static_cast<float>(args.get_float_or("--repeat-penalty", d.repetition_penalty));
  p.seed = static_cast<uint64_t>(args.get_int_or("--seed", static_cast<int64_t>(d.seed)));
  return p;
}

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }
}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
}

bool take_interrupt() { return g_interrupted.exchange(false); }

}  // namespace frugal::cli
