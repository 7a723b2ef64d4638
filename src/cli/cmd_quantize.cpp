// frugal quantize IN OUT TYPE / frugal convert HF_DIR OUT [--type T]: one code path
// (model/quantize.h) writing a GGUF with weights re-quantized to a type or a mix.
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/quantize.h"

namespace frugal::cli {
namespace {

constexpr const char* kQuantizeHelp =
    "usage: frugal quantize IN OUT.gguf TYPE [--threads N] [--verbose]\n\n"
    "Writes OUT.gguf with the weights of IN re-quantized to TYPE. IN is a GGUF file (any\n"
    "architecture: all metadata is copied, general.file_type updated) or a Hugging Face\n"
    "deepseek2 directory (config.json + safetensors in BF16/F16/F32 or FP8 e4m3 with\n"
    "weight_scale_inv; its tokenizer.json is embedded), as 'frugal convert' does.\n"
    "The model is streamed: one tensor at a time is held in memory.\n\n"
    "TYPE is a plain type, applied to every weight:\n"
    "  F32 F16 BF16 Q8_0 Q6_K Q5_K Q5_1 Q5_0 Q4_K Q4_1 Q4_0 IQ4_NL IQ4_XS Q3_K\n"
    "  (Q2_K, as in llama.cpp, names a mix)\n"
    "or a mix, which keeps the small, sensitive tensors at higher precision than the routed\n"
    "experts (which hold most of a MoE model's bytes):\n";

constexpr const char* kQuantizeRules =
    "Rules, whatever TYPE:\n"
    "  - 1-D tensors, *_norm, the router ffn_gate_inp, exp_probs_b and biases stay F32;\n"
    "  - 'attention' = blk.N.attn_* weights; 'shared experts' = ffn_*_shexp; 'dense FFN' =\n"
    "    ffn_gate/up/down of dense layers; other 2-D tensors (e.g. MTP nextn.eh_proj) follow\n"
    "    the routed experts' type;\n"
    "  - a tensor whose row length is not a multiple of the type's block (256 for K types, 32\n"
    "    for Q4_0..Q8_0, IQ4_NL) falls back along Q2_K/Q3_K/IQ4_XS -> IQ4_NL, Q4_K -> Q5_0,\n"
    "    Q5_K -> Q5_1, Q6_K -> Q8_0, then -> F16, with a note;\n"
    "  - in a model without routed experts (dense qwen2 / llama), attention and FFN weights\n"
    "    take the mix's routed-expert type; token_embd and output keep the mix's types;\n"
    "  - a tensor already stored in its target type is copied unchanged.\n\n"
    "  --threads N   threads quantizing rows (default: all cores)\n"
    "  --verbose     list every tensor with its source and output type\n";

constexpr const char* kConvertHelp =
    "usage: frugal convert HF_DIR OUT.gguf [--type TYPE] [--threads N] [--verbose]\n\n"
    "Converts a Hugging Face deepseek2 directory (DeepSeek-V2/V2-Lite/V2.5/V3/R1/V3.1:\n"
    "config.json + safetensors in BF16, F16, F32, or FP8 e4m3 with 128x128 weight_scale_inv)\n"
    "to GGUF: tensors get llama.cpp's deepseek2 names, per-expert tensors are stacked into\n"
    "ffn_*_exps, kv_b_proj is kept as attn_kv_b, MTP layers become blk.N.* + blk.N.nextn.*\n"
    "counted in block_count (llama.cpp's next-N layout; their embed_tokens / shared_head.head\n"
    "copies are dropped), the deepseek2 metadata and the tokenizer (tokenizer.json +\n"
    "tokenizer_config.json in HF_DIR) are written.\n\n"
    "  --type TYPE   weight type or mix as in 'frugal quantize --help' (default BF16)\n"
    "  --threads N   threads quantizing rows (default: all cores)\n"
    "  --verbose     list every tensor with its source and output type\n";

std::string ne_string(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

void print_report(const QuantizeReport& r, const QuantMix& mix, const std::string& out,
                  bool verbose) {
  std::map<std::string, int> counts;
  // Fallbacks grouped by (wanted -> used) unless --verbose lists each tensor.
  std::map<std::string, std::pair<int, std::string>> fallbacks;  // note -> (count, first tensor)
  uint64_t n_weights = 0;
  for (const QuantizedTensor& t : r.tensors) {
    ++counts[type_name(t.type)];
    int64_t n = 1;
    for (int64_t d : t.ne) n *= d;
    n_weights += static_cast<uint64_t>(n);
    if (verbose)
      std::fprintf(stderr, "  %-36s %-22s %-8s -> %-6s %s%s%s\n", t.name.c_str(),
                   ne_string(t.ne).c_str(), t.source_type.c_str(), type_name(t.type),
                   tensor_group_name(t.group), t.note.empty() ? "" : ": ", t.note.c_str());
    if (t.note.empty()) continue;
    const std::string key = t.note.substr(0, t.note.find(", row length"));
    auto& [count, first] = fallbacks[key + " -> " + type_name(t.type)];
    if (count++ == 0) first = t.name;
  }
  if (!verbose)
    for (const auto& [what, cf] : fallbacks)
      std::fprintf(stderr, "note: %d tensor(s) (e.g. %s): %s\n", cf.first, cf.second.c_str(),
                   what.c_str());
  for (const std::string& n : r.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  std::string types;
  for (const auto& [name, n] : counts)
    types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + name;
  std::fprintf(stderr, "wrote %s (%s): %zu tensors (%s); %.2f MB -> %.2f MB, %.2f bits/weight\n",
               out.c_str(), mix.name.c_str(), r.tensors.size(), types.c_str(),
               static_cast<double>(r.source_bytes) / 1e6, static_cast<double>(r.output_bytes) / 1e6,
               n_weights ? 8.0 * static_cast<double>(r.output_bytes) / n_weights : 0.0);
}

int run_quantize(const std::string& in, const std::string& out, const std::string& type,
                 const Args& args) {
  const QuantMix mix = QuantMix::parse(type);
  QuantizeOptions opt;
  if (args.has("--threads")) {
    const int64_t n = args.get_int_or("--threads", 1);
    if (n < 1) throw Error("--threads must be at least 1, found " + std::to_string(n));
    set_kernel_threads(static_cast<int>(n));
    opt.n_threads = static_cast<int>(n);
  }
  ProgressBar bar("quantize " + mix.name);
  opt.progress = [&bar](const QuantizeProgress& p) {
    bar.update(p.done_bytes, p.total_bytes, p.tensor ? *p.tensor : std::string());
  };
  const QuantizeReport r = quantize_model(in, out, mix, opt);
  bar.finish();
  print_report(r, mix, out, args.has("--verbose"));
  return 0;
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  Args args(argc, argv, {"--threads"}, {"--verbose"});
  if (args.help()) {
    std::printf("%s%s\n%s", kQuantizeHelp, quant_mix_help().c_str(), kQuantizeRules);
    return 0;
  }
  const std::string& in =
      args.require_positional(0, "IN (a .gguf file or a Hugging Face directory)");
  const std::string& out = args.require_positional(1, "OUT.gguf");
  const std::string& type = args.require_positional(2, "TYPE (e.g. Q4_K_M, Q8_0; see --help)");
  if (args.positional().size() > 3)
    throw Error("unexpected argument '" + args.positional()[3] +
                "' (usage: frugal quantize IN OUT TYPE)");
  return run_quantize(in, out, type, args);
}

int cmd_convert(int argc, char** argv) {
  Args args(argc, argv, {"--type", "--threads"}, {"--verbose"});
  if (args.help()) {
    std::printf("%s", kConvertHelp);
    return 0;
  }
  const std::string& in = args.require_positional(0, "HF_DIR (a Hugging Face model directory)");
  const std::string& out = args.require_positional(1, "OUT.gguf");
  if (args.positional().size() > 2)
    throw Error("unexpected argument '" + args.positional()[2] +
                "' (usage: frugal convert HF_DIR OUT.gguf [--type T])");
  if (!std::filesystem::is_directory(in))
    throw Error(in +
                ": not a directory (convert reads a Hugging Face model directory; "
                "use 'frugal quantize' for a GGUF file)");
  return run_quantize(in, out, args.get_or("--type", "BF16"), args);
}

}  // namespace frugal::cli
