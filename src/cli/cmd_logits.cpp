// frugal logits MODEL --tokens 1,2,3 --out FILE.npy: logits at every position of one forward pass
// from position 0, saved as float32 [n_tokens, n_vocab].
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "format/npy.h"
#include "kernels/kernels.h"
#include "model/causal_lm.h"
#include "cli/model_args.h"

namespace frugal::cli {
namespace {

constexpr const char* kHelp =
    "usage: frugal logits MODEL --tokens ID,ID,... --out FILE.npy [--naive] [--threads N]\n\n"
    "Runs one forward pass of a model (deepseek2, qwen2 or llama; GGUF file or Hugging Face\n"
    "directory) over the token ids at positions 0..n-1 and writes the logits of every position\n"
    "as a float32 .npy of shape [n_tokens, n_vocab].\n\n"
    "  --tokens LIST   comma-separated token ids\n"
    "  --out FILE      .npy file to write\n"
    "  --naive         deepseek2: the expanded (reference) MLA instead of the absorbed one\n"
    "  --cache-type T  KV cache element type: f32 (default here, exact), f16, bf16 or q8\n"
    "  --threads N     matmul threads (default: all cores)\n";

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string item = s.substr(i, j - i);
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      if (used != item.size() || v < INT32_MIN || v > INT32_MAX) throw std::invalid_argument(item);
      out.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw Error("--tokens: '" + item + "' is not a token id");
    }
    i = j + 1;
  }
  if (out.empty()) throw Error("--tokens: no token ids given");
  return out;
}

}  // namespace

int cmd_logits(int argc, char** argv) {
  Args args(argc, argv, {"--tokens", "--out", "--threads", "--cache-type"}, {"--naive"});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  const std::string path = args.require_positional(0, "MODEL");
  const auto tokens = parse_ids(args.get_or("--tokens", ""));
  const auto out = args.get("--out");
  if (!out) throw Error("--out FILE.npy is required");
  if (args.has("--threads")) set_kernel_threads(static_cast<int>(args.get_int_or("--threads", 1)));
  ModelOptions opt;
  opt.max_context = static_cast<int64_t>(tokens.size());
  opt.kv_cache_type = cache_type_from_args(args, GgmlType::F32);
  opt.attention = args.has("--naive") ? AttentionImpl::Naive : AttentionImpl::Absorbed;
  std::unique_ptr<CausalLm> model = load_causal_lm(path, opt);
  std::unique_ptr<SequenceState> seq = model->new_sequence();  // min(n_tokens, context length)
  std::vector<int32_t> positions(tokens.size());
  for (size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<int32_t>(i);
  const int64_t V = model->n_vocab();
  std::vector<float> logits(tokens.size() * static_cast<size_t>(V));
  model->forward({tokens, positions}, *seq, logits);
  const int64_t shape[2] = {static_cast<int64_t>(tokens.size()), V};
  write_npy_f32(*out, logits.data(), shape);
  std::fprintf(stderr, "wrote %s: [%lld, %lld] float32\n", out->c_str(),
               static_cast<long long>(shape[0]), static_cast<long long>(shape[1]));
  return 0;
}

}  // namespace frugal::cli
