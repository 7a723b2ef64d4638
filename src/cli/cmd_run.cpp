// frugal run MODEL -p TEXT: streams the model's continuation of TEXT to stdout.
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "core/error.h"
#include "runtime/generator.h"

namespace frugal::cli {
namespace {

void print_help() {
  std::printf(
      "usage: frugal run MODEL -p TEXT [-n N] [options]\n\n"
      "Continues TEXT with the model (a GGUF file or Hugging Face directory) and streams the\n"
      "generated text to stdout. Timing goes to stderr.\n\n"
      "  -p, --prompt TEXT  the text to continue (required)\n"
      "  -n N               tokens to generate at most (default 128)\n"
      "  --no-bos           do not prepend the BOS token\n"
      "  --ignore-eos       keep generating past the end-of-sequence token\n"
      "  --mtp              self-speculative decoding with the model's MTP layer (DeepSeek-V3/R1\n"
      "                     GGUFs with nextn layers): greedy only (--temp 0), same output as plain\n"
      "                     greedy, up to 2 tokens per model pass; reports the acceptance rate\n"
      "%s%s",
      kModelFlagsHelp, kSamplingFlagsHelp);
}

}  // namespace

int cmd_run(int argc, char** argv) {
  auto flags = model_value_flags();
  flags.insert({"-p", "--prompt", "-n"});
  Args args(argc, argv, flags, model_bool_flags({"--no-bos", "--ignore-eos", "--mtp"}));
  if (args.help()) {
    print_help();
    return 0;
  }
  const std::string& path = args.require_positional(0, "MODEL");
  auto prompt_text = args.get("-p") ? args.get("-p") : args.get("--prompt");
  if (!prompt_text) throw Error("missing -p TEXT (see 'frugal run --help')");
  LoadedModel m = load_model_and_tokenizer(path, args);
  GenerationRequest req;
  EncodeOptions enc;
  enc.add_bos = !args.has("--no-bos");
  enc.parse_special = true;
  req.prompt = m.tokenizer->encode(*prompt_text, enc);
  req.max_tokens = args.get_int_or("-n", 128);
  req.ignore_eos = args.has("--ignore-eos");
  SamplingParams defaults;
  defaults.temperature = 0.8f;
  defaults.top_k = 40;
  defaults.top_p = 0.95f;
  defaults.min_p = 0.05f;
  req.sampling = sampling_from_args(args, defaults);
  req.speculative = args.has("--mtp");
  if (req.speculative && !req.sampling.is_greedy())
    std::fprintf(stderr, "[--mtp drafts for greedy decoding only (--temp 0); sampling as usual]\n");
  install_interrupt_handler();
  Generator gen(*m.model, *m.tokenizer);
  GenerationResult r = gen.generate(req, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return !take_interrupt();
  });
  std::printf("\n");
  const double n_gen = static_cast<double>(r.tokens.size());
  std::fprintf(stderr, "[prompt %zu tokens in %.2f s (%.1f tok/s); generated %zu tokens in %.2f s (%.1f tok/s); finish: %s]\n",
               req.prompt.size(), r.prefill_seconds, req.prompt.size() / std::max(r.prefill_seconds, 1e-9),
               r.tokens.size(), r.decode_seconds, n_gen / std::max(r.decode_seconds, 1e-9),
               finish_reason_name(r.finish));
  if (r.n_drafted > 0)
    std::fprintf(stderr, "[MTP drafts: %lld, accepted %lld (%.1f%%)]\n",
                 static_cast<long long>(r.n_drafted), static_cast<long long>(r.n_accepted),
                 100.0 * static_cast<double>(r.n_accepted) / static_cast<double>(r.n_drafted));
  return 0;
}

}  // namespace frugal::cli
