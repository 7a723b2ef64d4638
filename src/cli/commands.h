// The subcommands of `frugal`. Each takes argc/argv with argv[0] = the subcommand name, returns
// the exit code, and throws frugal::Error for bad input (main prints it and exits 1).
#pragma once

namespace frugal::cli {

int cmd_info(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

// One line per subcommand; main.cpp lists them in --help in this order.
inline constexpr Command kCommands[] = {
    {"info", cmd_info, "describe a GGUF file or Hugging Face directory"},
    {"run", cmd_run, "continue a prompt, streaming the text"},
    {"chat", cmd_chat, "chat with a model in the terminal"},
    {"tokenize", cmd_tokenize, "text on stdin -> token ids as JSON (--decode: ids -> text)"},
    {"logits", cmd_logits, "logits of every position for given token ids, as .npy"},
    {"synth", cmd_synth, "write a random-weight deepseek2 GGUF of real shapes"},
    {"bench", cmd_bench, "memory bandwidth (--memory) or a model's prefill/decode speed"},
    {"serve", cmd_serve, "OpenAI/DeepSeek-compatible HTTP server with continuous batching"},
    {"quantize", cmd_quantize, "re-quantize a GGUF or Hugging Face model to a type or mix (Q4_K_M...)"},
    {"convert", cmd_convert, "Hugging Face deepseek2 directory (BF16/FP8) -> GGUF"},
    {"perplexity", cmd_perplexity, "perplexity of a text; KL divergence against a saved run"},
};

}  // namespace frugal::cli
