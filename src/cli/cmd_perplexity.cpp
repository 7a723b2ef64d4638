// frugal perplexity MODEL FILE.txt: perplexity of a text under a model, and with
// --kl-divergence the KL divergence, top-1 agreement and perplexity change against a run saved
// with --save-logits (runtime/perplexity.h states the scoring rule).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/causal_lm.h"
#include "cli/model_args.h"
#include "runtime/logit_file.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {
namespace {

constexpr const char* kHelp =
    "usage: frugal perplexity MODEL FILE.txt [--ctx N] [--batch N] [--chunks N]\n"
    "                         [--save-logits BASE.bin] [--kl-divergence BASE.bin]\n\n"
    "Perplexity of FILE.txt under MODEL (GGUF file or Hugging Face directory), as llama.cpp's\n"
    "'perplexity' computes it: the text is tokenized (BOS first when the tokenizer adds one) and\n"
    "cut into non-overlapping chunks of N tokens (a trailing partial chunk is dropped); the first\n"
    "token of every chunk is replaced by BOS; each chunk is evaluated from an empty cache and the\n"
    "tokens of its second half (positions N/2+1 .. N-1, each seen with at least N/2 tokens of\n"
    "context) are scored. PPL = exp(mean negative log-likelihood), +/- its standard error.\n\n"
    "To measure a quantization: run the full-precision model with --save-logits BASE.bin, then\n"
    "the quantized one with --kl-divergence BASE.bin on the same text: it reports the mean\n"
    "KL(base || quantized) per token (+/- standard error, with median, 99th percentile, max),\n"
    "how often both pick the same most likely token (top-1 agreement), and PPL - PPL_base.\n\n"
    "  --ctx N             tokens per chunk (default 512, or the saved run's; at least 3)\n"
    "  --batch N           tokens per forward call (default 512)\n"
    "  --chunks N          evaluate only the first N chunks (default: all, or the saved run's)\n"
    "  --save-logits FILE  write the run's log-probabilities (2 bytes per vocabulary entry per\n"
    "                      scored token; format in src/runtime/logit_file.h)\n"
    "  --kl-divergence FILE  compare against a run saved with --save-logits\n"
    "  --tokenizer PATH    tokenizer.json (or a directory / GGUF holding one) when MODEL has none\n"
    "  --cache-type T      KV cache element type: f16 (default), bf16, f32 or q8 (int8 rows)\n"
    "  --threads N         matmul threads (default: all cores)\n";

std::string read_text(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": no such file");
  if (std::filesystem::is_directory(path))
    throw Error(path + ": is a directory, expected a text file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.empty()) throw Error(path + ": the text is empty: nothing to score");
  return text;
}

// --threads, --ctx, --batch, --chunks (defaults from the saved run, when there is one).
PerplexityOptions options_from_args(const Args& args, const LogitFileReader* base) {
  if (args.has("--threads")) {
    const int64_t n = args.get_int_or("--threads", 1);
    if (n < 1) throw Error("--threads must be at least 1, found " + std::to_string(n));
    set_kernel_threads(static_cast<int>(n));
  }
  PerplexityOptions opt;
  opt.n_ctx = args.get_int_or("--ctx", base ? base->header().n_ctx : 512);
  opt.n_batch = args.get_int_or("--batch", 512);
  opt.max_chunks = args.get_int_or("--chunks", base ? base->header().n_chunks : 0);
  if (opt.n_ctx < 3)
    throw Error("--ctx must be at least 3 (a chunk scores the tokens of its second half), found " +
                std::to_string(opt.n_ctx));
  if (opt.n_batch < 1)
    throw Error("--batch must be at least 1, found " + std::to_string(opt.n_batch));
  if (opt.max_chunks < 0)
    throw Error("--chunks must be positive, found " + std::to_string(opt.max_chunks));
  return opt;
}

void print_chunk(const PerplexityResult& p) {
  std::printf("[%lld/%lld] PPL = %.4f +/- %.4f", static_cast<long long>(p.n_chunks),
              static_cast<long long>(p.n_chunks_total), p.ppl(), p.ppl_error());
  if (p.kl)
    std::printf("  mean KL = %.6f  top-1 = %.2f%%", p.kl->kl.mean(),
                100.0 * p.kl->top1_same.mean());
  std::printf("\n");
  std::fflush(stdout);
}

void print_kl(const PerplexityResult& r) {
  const KlStats& k = *r.kl;
  const double ppl = r.ppl(), base = k.base_ppl();
  std::printf("\nKL divergence against the saved run (%lld tokens):\n",
              static_cast<long long>(k.kl.n));
  std::printf("  PPL_base          = %.4f\n", base);
  std::printf("  PPL - PPL_base    = %+.4f (%+.3f%%)\n", ppl - base, 100.0 * (ppl / base - 1.0));
  std::printf("  ln(PPL/PPL_base)  = %+.6f +/- %.6f\n", k.nll_diff.mean(), k.nll_diff.std_error());
  std::printf("  mean KL           = %.6f +/- %.6f nats\n", k.kl.mean(), k.kl.std_error());
  std::printf("  KL median / 99%% / max = %.6f / %.6f / %.6f\n", k.kl_quantile(0.5),
              k.kl_quantile(0.99), k.kl_quantile(1.0));
  std::printf("  top-1 agreement   = %.3f +/- %.3f %%\n", 100.0 * k.top1_same.mean(),
              100.0 * k.top1_same.std_error());
}

}  // namespace

int cmd_perplexity(int argc, char** argv) {
  Args args(argc, argv,
            {"--ctx", "--batch", "--chunks", "--save-logits", "--kl-divergence", "--tokenizer",
             "--threads", "--cache-type"},
            {});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  const std::string model_path = args.require_positional(0, "MODEL");
  const std::string text_path = args.require_positional(1, "FILE.txt");
  // The saved run sets the defaults of --ctx (which must then agree) and --chunks.
  std::unique_ptr<LogitFileReader> base;
  if (auto b = args.get("--kl-divergence")) base = std::make_unique<LogitFileReader>(*b);
  PerplexityOptions opt = options_from_args(args, base.get());
  const std::string text = read_text(text_path);

  const Tokenizer tok = Tokenizer::from_path(args.get_or("--tokenizer", model_path));
  EncodeOptions enc;
  enc.parse_special = false;  // the text is data
  const std::vector<int32_t> tokens = tok.encode(text, enc);
  if (tok.add_bos() && tok.bos_id() >= 0) opt.bos = tok.bos_id();
  const std::vector<int32_t> chunks = perplexity_chunks(tokens, opt);
  const int64_t n_chunks = static_cast<int64_t>(chunks.size()) / opt.n_ctx;

  ModelOptions mopt;
  mopt.max_context = opt.n_ctx;
  mopt.kv_cache_type = cache_type_from_args(args);
  std::unique_ptr<CausalLm> model = load_causal_lm(model_path, mopt);
  std::unique_ptr<LogitFileWriter> save;
  if (auto s = args.get("--save-logits"))
    save = std::make_unique<LogitFileWriter>(
        *s, perplexity_log_header(model->n_vocab(), n_chunks, opt), chunks);

  std::printf("%s: %zu bytes, %zu tokens; %lld chunks of %lld, scoring %lld tokens each\n",
              text_path.c_str(), text.size(), tokens.size(), static_cast<long long>(n_chunks),
              static_cast<long long>(opt.n_ctx),
              static_cast<long long>(opt.n_ctx - 1 - opt.n_ctx / 2));
  std::fflush(stdout);
  const PerplexityResult r =
      run_perplexity(*model, chunks, opt, save.get(), base.get(), print_chunk);
  if (save) {
    save->close();
    std::fprintf(stderr, "saved log-probabilities of %lld tokens to %s\n",
                 static_cast<long long>(r.nll.n), args.get("--save-logits")->c_str());
  }
  std::printf("\nFinal estimate: PPL = %.4f +/- %.4f (%lld tokens scored, mean NLL %.6f)\n",
              r.ppl(), r.ppl_error(), static_cast<long long>(r.nll.n), r.nll.mean());
  if (r.kl) print_kl(r);
  return 0;
}

}  // namespace frugal::cli
