// `frugal tokenize`: ids as one JSON array, --no-bos, --no-special, --decode, errors exit 1.
#include <gtest/gtest.h>

#include "format/gguf.h"
#include "tokenizer/load.h"
#include "tokenizer_fixture.h"

namespace frugal {
namespace {

std::string run(const std::string& stdin_text, const std::string& args, int* rc) {
  const std::string in = test::temp_dir() + "/tokenize_stdin.txt";
  {
    std::ofstream f(in, std::ios::binary);
    f << stdin_text;
  }
  std::string out;
  *rc = test::run_command(test::frugal_binary() + " tokenize " + args + " < " + in, &out);
  return out;
}

TEST(CmdTokenize, EncodesAndDecodes) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const std::string dir = test::v3_tokenizer_dir();
  const std::string text = "Hi <｜User｜> 12345";
  int rc = 0;
  std::string expected = "[";
  const auto ids = tok->encode(text);
  for (size_t i = 0; i < ids.size(); ++i) expected += (i ? ", " : "") + std::to_string(ids[i]);
  expected += "]\n";
  EXPECT_EQ(run(text, dir, &rc), expected);
  EXPECT_EQ(rc, 0);

  const std::string no_bos = run(text, dir + "/tokenizer.json --no-bos --no-special", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(no_bos.find("[0,"), std::string::npos);
  EXPECT_EQ(no_bos.find("128803"), std::string::npos);

  EXPECT_EQ(run("[0, 19923, 128803]", dir + " --decode", &rc),
            "<｜begin▁of▁sentence｜>Hello<｜User｜>");
  EXPECT_EQ(rc, 0);
}

TEST(CmdTokenize, ReadsGguf) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const std::string path = test::temp_dir() + "/cli_tokenizer.gguf";
  GgufWriter w;
  write_gguf_vocab(tok->data(), w);
  w.write(path);
  int rc = 0;
  const std::string from_gguf = run("深度求索 <｜User｜> 42", path + " --no-bos", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(from_gguf, run("深度求索 <｜User｜> 42", test::v3_tokenizer_dir() + " --no-bos", &rc));
  std::filesystem::remove(path);
}

TEST(CmdTokenize, ErrorsExitOne) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const std::string dir = test::v3_tokenizer_dir();
  int rc = 0;
  EXPECT_NE(run("[1, 999999999]", dir + " --decode", &rc).find("outside the vocabulary"),
            std::string::npos);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(run("not json", dir + " --decode", &rc).find("JSON array"), std::string::npos);
  EXPECT_EQ(rc, 1);
  run("x", "/no/such/tokenizer.json", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(run("", "--help", &rc).find("usage: frugal tokenize"), std::string::npos);
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace frugal
