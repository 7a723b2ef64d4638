// frugal synth: a deterministic random-weight deepseek2 GGUF of real shapes (for tests, benchmarks
// and memory planning without downloading a model).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "format/gguf.h"
#include "model/deepseek2_synth.h"
#include "tokenizer/load.h"

namespace frugal::cli {
namespace {

constexpr const char* kHelp =
    "usage: frugal synth --arch deepseek2 --preset tiny|v2-lite|v3 --out FILE.gguf [options]\n"
    "       frugal synth --arch qwen2|llama ... (see frugal synth --arch qwen2 --help)\n\n"
    "Writes a deepseek2 model with deterministic random weights (same seed, same file).\n\n"
    "  --preset P          tiny (V3-style, small), v2-lite, v3\n"
    "  --layers N          number of layers (default: the preset's)\n"
    "  --type T            weight type: F32, F16, BF16, Q8_0, Q4_K, ... (default F32);\n"
    "                      norms, router and bias stay F32\n"
    "  --seed S            random seed (default 1)\n"
    "  --tokenizer FILE    embed this tokenizer.json as tokenizer.ggml.* keys\n"
    "  --split-kv-b        write attn_k_b/attn_v_b (newer GGUF form) instead of attn_kv_b\n"
    "overrides of the preset (to generate test cases):\n"
    "  --vocab N  --context N  --q-lora N (0: none)  --yarn on|off  --scoring softmax|sigmoid\n"
    "  --experts N  --experts-used N  --groups N  --topk-groups N\n";

// Applies the --vocab ... --topk-groups overrides.
void apply_overrides(const Args& a, Deepseek2Config& c) {
  c.n_vocab = a.get_int_or("--vocab", c.n_vocab);
  c.context_length = a.get_int_or("--context", c.context_length);
  c.q_lora_rank = a.get_int_or("--q-lora", c.q_lora_rank);
  c.n_layers = a.get_int_or("--layers", c.n_layers);
  c.n_dense_layers = std::min(c.n_dense_layers, c.n_layers);
  if (auto y = a.get("--yarn")) {
    if (*y != "on" && *y != "off") throw Error("--yarn: expected on or off, found '" + *y + "'");
    c.yarn = *y == "on";
  }
  c.n_routed_experts = a.get_int_or("--experts", c.n_routed_experts);
  c.n_experts_used = a.get_int_or("--experts-used", c.n_experts_used);
  c.n_groups = a.get_int_or("--groups", c.n_groups);
  c.topk_groups = a.get_int_or("--topk-groups", c.topk_groups);
  if (auto s = a.get("--scoring")) {
    if (*s != "softmax" && *s != "sigmoid")
      throw Error("--scoring: expected softmax or sigmoid, found '" + *s + "'");
    c.scoring = *s == "sigmoid" ? ExpertScoring::Sigmoid : ExpertScoring::Softmax;
    c.norm_topk_prob = c.scoring == ExpertScoring::Sigmoid;
    if (c.scoring == ExpertScoring::Softmax) c.routed_scaling_factor = 1.0f;
  }
  // What a GGUF reader will derive (GGUF stores no topk method).
  c.topk_method = c.scoring == ExpertScoring::Sigmoid ? TopkMethod::NoauxTc
                  : c.n_groups > 1                    ? TopkMethod::GroupLimitedGreedy
                                                      : TopkMethod::Greedy;
  c.yarn = c.yarn && c.context_length > c.yarn_original_ctx;
}

}  // namespace

int cmd_synth_dense(int argc, char** argv);  // cmd_synth_dense.cpp: --arch qwen2 | llama

int cmd_synth(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--arch" && (std::string(argv[i + 1]) == "qwen2" || std::string(argv[i + 1]) == "llama"))
      return cmd_synth_dense(argc, argv);
  Args args(argc, argv,
            {"--arch", "--preset", "--layers", "--type", "--tokenizer", "--seed", "--out",
             "--vocab", "--context", "--q-lora", "--yarn", "--scoring", "--experts",
             "--experts-used", "--groups", "--topk-groups"},
            {"--split-kv-b"});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  const std::string arch = args.get_or("--arch", "deepseek2");
  if (arch != "deepseek2")
    throw Error("--arch: unsupported architecture '" + arch + "' (expected deepseek2, qwen2 or llama)");
  const auto out = args.get("--out");
  if (!out) throw Error("--out FILE.gguf is required");
  const std::string preset = args.get_or("--preset", "tiny");
  Deepseek2Config c = deepseek2_preset(preset);
  apply_overrides(args, c);
  SynthOptions opt;
  const std::string type = args.get_or("--type", "F32");
  const auto t = type_from_name(type);
  if (!t) throw Error("--type: unknown tensor type '" + type + "'");
  opt.type = *t;
  opt.seed = static_cast<uint64_t>(args.get_int_or("--seed", 1));
  opt.split_kv_b = args.has("--split-kv-b");
  opt.name = "frugal-synth-" + preset;
  if (auto tok = args.get("--tokenizer")) {
    auto vocab = std::make_shared<VocabData>(load_hf_vocab(*tok));
    c.n_vocab = std::max<int64_t>(c.n_vocab, vocab->n_tokens());
    opt.extra_metadata = [vocab](GgufWriter& w) { write_gguf_vocab(*vocab, w); };
  }
  write_deepseek2_synth(c, opt, *out);
  std::fprintf(stderr, "wrote %s\n%s", out->c_str(), c.summary().c_str());
  return 0;
}

}  // namespace frugal::cli
