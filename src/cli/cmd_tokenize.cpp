// frugal tokenize MODEL [--no-bos] [--no-special] [--decode]: text on stdin -> JSON array of ids,
// or (--decode) a JSON array of ids on stdin -> text.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {
namespace {

constexpr const char* kHelp =
    "usage: frugal tokenize MODEL [--no-bos] [--no-special] [--decode]\n\n"
    "Reads UTF-8 text on stdin and prints its token ids as one JSON array.\n"
    "MODEL is a .gguf file, a tokenizer.json, or a directory holding tokenizer.json\n"
    "(tokenizer_config.json beside it supplies BOS and add_bos_token).\n\n"
    "  --no-bos      do not prepend BOS (by default it is added when the tokenizer says so)\n"
    "  --no-special  tokenize added/special tokens such as <｜User｜> as plain text\n"
    "  --decode      read a JSON array of ids on stdin and print the text they decode to\n"
    "                (special tokens included, bytes as they are)\n\n"
    "Invalid UTF-8 input is replaced by U+FFFD before tokenizing.\n";

std::string read_stdin() {
  std::string s{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  return s;
}

std::vector<int32_t> parse_ids(const std::string& text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("--decode expects a JSON array of token ids on stdin: ") + e.what());
  }
  if (!doc.is_array()) throw Error("--decode expects a JSON array of token ids on stdin");
  std::vector<int32_t> ids;
  for (const auto& v : doc) {
    if (!v.is_number_integer()) {
      throw Error("--decode: every element must be an integer token id, found " + v.dump());
    }
    const int64_t id = v.get<int64_t>();
    if (id < INT32_MIN || id > INT32_MAX)
      throw Error("--decode: token id " + v.dump() + " is out of range");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  const Args args(argc, argv, {}, {"--no-bos", "--no-special", "--decode"});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.positional().size() != 1) {
    throw Error("expected one MODEL argument (see 'frugal tokenize --help')");
  }
  const Tokenizer tok = Tokenizer::from_path(args.positional()[0]);
  const std::string input = read_stdin();
  if (args.has("--decode")) {
    const std::string text = tok.decode(parse_ids(input));
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  EncodeOptions opts;
  opts.add_bos = !args.has("--no-bos");
  opts.parse_special = !args.has("--no-special");
  const std::vector<int32_t> ids = tok.encode(input, opts);
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(ids[i]);
  }
  out += "]\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace frugal::cli
