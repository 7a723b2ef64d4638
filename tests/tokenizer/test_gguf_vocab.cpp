// The GGUF path: a GGUF carrying the V3 tokenizer (written with GgufWriter) loads to the same
// VocabData and gives the same ids as tokenizer.json.
#include <gtest/gtest.h>

#include <filesystem>

#include "format/gguf.h"
#include "tokenizer/load.h"
#include "tokenizer_fixture.h"

namespace frugal {
namespace {

TEST(TokenizerGguf, GgufAndTokenizerJsonAgree) {
  FRUGAL_REQUIRE_V3_TOKENIZER(json_tok);
  const std::string path = test::temp_dir() + "/v3_tokenizer.gguf";
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("deepseek2"));
  write_gguf_vocab(json_tok->data(), w);
  w.write(path);
  const GgufFile gguf = GgufFile::open(path);
  const Tokenizer gguf_tok = Tokenizer::from_gguf(gguf);

  const VocabData& a = json_tok->data();
  const VocabData& b = gguf_tok.data();
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.types, b.types);
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_TRUE(a.pre.same_splits(b.pre));
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
  EXPECT_EQ(a.add_bos, b.add_bos);
  EXPECT_EQ(a.chat_template, b.chat_template);

  namespace fs = std::filesystem;
  for (const auto& e : fs::directory_iterator(test::shared_data_dir() + "/tokenizer/corpus")) {
    if (e.path().extension() != ".txt") continue;
    const std::string text = test::slurp(e.path());
    EXPECT_EQ(json_tok->encode(text), gguf_tok.encode(text)) << e.path().filename();
    EXPECT_EQ(json_tok->encode(text, {.parse_special = false}),
              gguf_tok.encode(text, {.parse_special = false}));
  }
  fs::remove(path);
}

TEST(TokenizerGguf, RejectsNonBpeModels) {
  const std::string path = test::temp_dir() + "/spm_tokenizer.gguf";
  GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::str("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array({"a"}));
  w.write(path);
  const GgufFile gguf = GgufFile::open(path);
  EXPECT_THROW(Tokenizer::from_gguf(gguf), Error);
}

TEST(TokenizerGguf, KnownPreTokenizerNamesCompile) {
  for (const char* name : {"deepseek-v3", "deepseek-llm", "deepseek-coder", "qwen2",
                           "deepseek-r1-qwen", "llama-bpe", "gpt2"}) {
    const PreTokenizerSpec spec = pre_tokenizer_by_name(name);
    EXPECT_NO_THROW(PreTokenizer{spec}) << name;
  }
  EXPECT_THROW(pre_tokenizer_by_name("no-such-pre"), Error);
}

}  // namespace
}  // namespace frugal
