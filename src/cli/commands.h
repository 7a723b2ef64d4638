// The subcommands of `frugal`. Each takes argc/argv with argv[0] = the subcommand name, returns
// the exit code, and throws frugal::Error for bad input (main prints it and exits 1).
#pragma once

namespace frugal::cli {

int cmd_info(int argc, char** argv);

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

// One line per subcommand; main.cpp lists them in --help in this order.
inline constexpr Command kCommands[] = {
    {"info", cmd_info, "describe a GGUF file or Hugging Face directory"},
};

}  // namespace frugal::cli
