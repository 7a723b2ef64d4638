// frugal: one program, many subcommands (see commands.h).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "core/error.h"

namespace {

void print_usage() {
  std::printf("frugal: run DeepSeek-family models fast on CPU\n\nusage: frugal COMMAND [options]\n\ncommands:\n");
  for (const auto& c : frugal::cli::kCommands) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf("\n'frugal COMMAND --help' describes each command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 1 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("frugal 0.1.0\n");
    return 0;
  }
  for (const auto& c : frugal::cli::kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const frugal::Error& e) {
      std::fprintf(stderr, "frugal %s: error: %s\n", c.name, e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "frugal %s: error: out of memory\n", c.name);
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "frugal %s: internal error: %s\n", c.name, e.what());
      return 2;
    }
  }
  std::fprintf(stderr, "frugal: unknown command '%s' (see 'frugal --help')\n", argv[1]);
  return 1;
}
