// frugal synth --arch qwen2|llama: a deterministic random-weight dense model of the R1-Distill
// shapes (reached from cmd_synth, which handles deepseek2).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/args.h"
#include "core/error.h"
#include "format/gguf.h"
#include "model/dense_synth.h"
#include "tokenizer/load.h"

namespace frugal::cli {
namespace {

constexpr const char* kHelp =
    "usage: frugal synth --arch qwen2|llama --preset P --out FILE.gguf [options]\n\n"
    "Writes a dense (R1-Distill) model with deterministic random weights (same seed, same "
    "file).\n\n"
    "  --preset P          qwen2: tiny, r1-distill-qwen-1.5b, r1-distill-qwen-7b\n"
    "                      llama: tiny (with llama3 scaling), r1-distill-llama-8b\n"
    "  --type T            weight type: F32, F16, BF16, Q8_0, Q4_K, ... (default F32);\n"
    "                      norms and biases stay F32\n"
    "  --seed S            random seed (default 1)\n"
    "  --tokenizer FILE    embed this tokenizer.json as tokenizer.ggml.* keys\n"
    "overrides of the preset (to generate test cases):\n"
    "  --layers N  --vocab N  --context N  --heads N  --kv-heads N  --tied on|off\n"
    "  --llama3 on|off (llama only)\n";

bool on_off(const Args& a, const std::string& flag, bool fallback) {
  const auto v = a.get(flag);
  if (!v) return fallback;
  if (*v != "on" && *v != "off") throw Error(flag + ": expected on or off, found '" + *v + "'");
  return *v == "on";
}

void apply_overrides(const Args& a, DenseConfig& c) {
  c.n_layers = a.get_int_or("--layers", c.n_layers);
  c.n_vocab = a.get_int_or("--vocab", c.n_vocab);
  c.context_length = a.get_int_or("--context", c.context_length);
  c.n_heads = a.get_int_or("--heads", c.n_heads);
  c.n_kv_heads = a.get_int_or("--kv-heads", c.n_kv_heads);
  c.tied_output = on_off(a, "--tied", c.tied_output);
  c.llama3.on = on_off(a, "--llama3", c.llama3.on);
  if (c.llama3.on && c.architecture != "llama")
    throw Error("--llama3: only llama models use llama3 scaling");
}

}  // namespace

int cmd_synth_dense(int argc, char** argv) {
  Args args(argc, argv,
            {"--arch", "--preset", "--layers", "--type", "--tokenizer", "--seed", "--out",
             "--vocab", "--context", "--heads", "--kv-heads", "--tied", "--llama3"},
            {});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  const std::string arch = args.get_or("--arch", "qwen2");
  const auto out = args.get("--out");
  if (!out) throw Error("--out FILE.gguf is required");
  const std::string preset = args.get_or("--preset", "tiny");
  DenseConfig c = dense_preset(arch, preset);
  apply_overrides(args, c);
  DenseSynthOptions opt;
  const std::string type = args.get_or("--type", "F32");
  const auto t = type_from_name(type);
  if (!t) throw Error("--type: unknown tensor type '" + type + "'");
  opt.type = *t;
  opt.seed = static_cast<uint64_t>(args.get_int_or("--seed", 1));
  opt.name = "frugal-synth-" + preset;
  if (auto tok = args.get("--tokenizer")) {
    auto vocab = std::make_shared<VocabData>(load_hf_vocab(*tok));
    c.n_vocab = std::max<int64_t>(c.n_vocab, vocab->n_tokens());
    opt.extra_metadata = [vocab](GgufWriter& w) { write_gguf_vocab(*vocab, w); };
  }
  write_dense_synth(c, opt, *out);
  std::fprintf(stderr, "wrote %s\n%s", out->c_str(), c.summary().c_str());
  return 0;
}

}  // namespace frugal::cli
