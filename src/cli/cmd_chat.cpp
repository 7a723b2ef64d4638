// frugal chat MODEL: an interactive chat in the terminal with the model's own chat template.
// R1-style reasoning is shown apart from the answer; /reset starts over, /exit leaves; Ctrl-C
// stops the current answer (at the prompt it leaves).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "core/error.h"
#include "runtime/generator.h"
#include "runtime/reasoning.h"
#include "tokenizer/chat_template.h"

namespace frugal::cli {
namespace {

void print_help() {
  std::printf(
      "usage: frugal chat MODEL [options]\n\n"
      "Chats with the model in the terminal using its chat template. Type a message and press\n"
      "Enter; '/reset' forgets the conversation, '/exit' (or Ctrl-D) leaves. Ctrl-C stops the\n"
      "answer being written. Reasoning models (R1) show their thinking apart from the answer.\n\n"
      "  --system TEXT         a system message\n"
      "  --chat-template NAME  deepseek-v3 | deepseek-r1 | deepseek-r1-distill | deepseek-v3.1 |\n"
      "                        deepseek-v2 (default: recognised from the model's template)\n"
      "  --think               V3.1: answer in thinking mode\n"
      "  -n N                  tokens per answer at most (default 1024)\n"
      "%s%s",
      kModelFlagsHelp, kSamplingFlagsHelp);
}

bool starts_in_reasoning(ChatFormat f, bool thinking) {
  return f == ChatFormat::DeepSeekR1 || f == ChatFormat::DeepSeekR1Distill ||
         (f == ChatFormat::DeepSeekV31 && thinking);
}

struct Style {
  const char* dim;
  const char* reset;
};

}  // namespace

int cmd_chat(int argc, char** argv) {
  auto flags = model_value_flags();
  flags.insert({"--system", "--chat-template", "-n"});
  Args args(argc, argv, flags, model_bool_flags({"--think"}));
  if (args.help()) {
    print_help();
    return 0;
  }
  LoadedModel m = load_model_and_tokenizer(args.require_positional(0, "MODEL"), args);
  const ChatFormat format = chat_format_for(*m.tokenizer, args.get_or("--chat-template", ""));
  ChatOptions copts = chat_options_for(*m.tokenizer);
  copts.thinking = args.has("--think");
  SamplingParams defaults;
  defaults.temperature = 0.6f;
  defaults.top_p = 0.95f;
  const SamplingParams sampling = sampling_from_args(args, defaults);
  const int64_t max_tokens = args.get_int_or("-n", 1024);
  const bool tty = ::isatty(STDOUT_FILENO);
  const Style style = tty ? Style{"\033[2m", "\033[0m"} : Style{"", ""};

  std::vector<ChatMessage> history;
  if (auto sys = args.get("--system")) history.push_back({"system", *sys});
  const size_t n_fixed = history.size();
  Generator gen(*m.model, *m.tokenizer);
  install_interrupt_handler();
  std::fprintf(stderr, "chat template: %s. '/reset' starts over, '/exit' leaves.\n", chat_format_name(format));
  std::string line;
  while (true) {
    std::printf("\n> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line) || take_interrupt()) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      history.resize(n_fixed);
      std::printf("(conversation cleared)\n");
      continue;
    }
    if (line.empty()) continue;
    history.push_back({"user", line});
    GenerationRequest req;
    req.prompt = encode_chat(*m.tokenizer, render_chat_segments(format, history, copts));
    req.max_tokens = max_tokens;
    req.sampling = sampling;
    ReasoningSplitter split(starts_in_reasoning(format, copts.thinking));
    bool in_thinking_block = false;
    auto show = [&](const SplitPiece& p) {
      if (!p.reasoning.empty()) {
        if (!in_thinking_block) std::printf("%s[thinking]\n", style.dim);
        in_thinking_block = true;
        std::printf("%s%s", style.dim, p.reasoning.c_str());
      }
      if (!p.content.empty()) {
        if (in_thinking_block) std::printf("%s\n[answer]\n", style.reset);
        in_thinking_block = false;
        std::printf("%s", p.content.c_str());
      }
      std::fflush(stdout);
    };
    std::string answer;
    gen.generate(req, [&](std::string_view piece) {
      SplitPiece p = split.push(piece);
      answer += p.content;
      show(p);
      return !take_interrupt();
    });
    SplitPiece rest = split.flush();
    answer += rest.content;
    show(rest);
    std::printf("%s\n", style.reset);
    history.push_back({"assistant", answer});
  }
  std::printf("\n");
  return 0;
}

}  // namespace frugal::cli
