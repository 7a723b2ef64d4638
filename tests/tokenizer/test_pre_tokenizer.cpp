// Pre-tokenizer pieces and tokenizer.json parsing on small hand-made inputs.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/load.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

std::vector<std::string> pieces(const PreTokenizerSpec& spec, std::string_view text) {
  PreTokenizer pre(spec);
  std::vector<Piece> ps;
  pre.split(text, ps);
  std::vector<std::string> out;
  for (const Piece& p : ps) out.emplace_back(text.substr(p.offset, p.size));
  return out;
}

using Strings = std::vector<std::string>;

TEST(PreTokenizer, DeepSeekV3Pieces) {
  const auto v3 = pre_tokenizer_by_name("deepseek-v3");
  EXPECT_EQ(pieces(v3, "Hello world"), (Strings{"Hello", " world"}));
  EXPECT_EQ(pieces(v3, "12345 x"), (Strings{"123", "45", " x"}));
  EXPECT_EQ(pieces(v3, "a.com's"), (Strings{"a", ".com", "'s"}));
  EXPECT_EQ(pieces(v3, "深度求索abc"), (Strings{"深度求索", "abc"}));
  EXPECT_EQ(pieces(v3, "x  \n\ny"), (Strings{"x", "  \n\n", "y"}));
  EXPECT_EQ(pieces(v3, "a   b"), (Strings{"a", "  ", " b"}));  // \s+(?!\S) leaves one space
}

TEST(PreTokenizer, Llama3AndQwen2Digits) {
  EXPECT_EQ(pieces(pre_tokenizer_by_name("llama-bpe"), "12345 don't"),
            (Strings{"123", "45", " don", "'t"}));
  EXPECT_EQ(pieces(pre_tokenizer_by_name("qwen2"), "123 DON'T"),
            (Strings{"1", "2", "3", " DON", "'T"}));
}

TEST(PreTokenizer, DeepSeekLlmPieces) {
  const auto v2 = pre_tokenizer_by_name("deepseek-llm");
  EXPECT_EQ(pieces(v2, "Hello world 123\n"), (Strings{"Hello", " world", " ", "123", "\n"}));
  EXPECT_EQ(pieces(v2, "Ελλάδα, 한국어!  "), (Strings{"Ελλάδα", ",", " ", "한국어", "!", "  "}));
}

TEST(PreTokenizer, WhitespaceIsUnicodeWhiteSpace) {
  // \s follows Unicode White_Space: NEL and NBSP are spaces, U+180E and U+200B are not.
  const std::string p = to_pcre2_pattern(R"(\s+|[\s\d]|\S)");
  EXPECT_EQ(p, R"([\t-\r\x{85}\p{Z}]+|[\t-\r\x{85}\p{Z}\d]|[^\t-\r\x{85}\p{Z}])");
  PreTokenizerSpec spec{"", {{R"(\s+)", SplitBehavior::Isolated, false}}};
  EXPECT_EQ(pieces(spec, "a\u00a0\u0085b"), (Strings{"a", "\u00a0\u0085", "b"}));
  EXPECT_EQ(pieces(spec, "a\u180e\u200bb"), (Strings{"a\u180e\u200bb"}));
}

TEST(PreTokenizer, SplitBehaviours) {
  auto spec = [](SplitBehavior b, bool invert = false) {
    return PreTokenizerSpec{"", {{"-", b, invert}}};
  };
  EXPECT_EQ(pieces(spec(SplitBehavior::Isolated), "a-b--c"),
            (Strings{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(pieces(spec(SplitBehavior::Removed), "a-b--c"), (Strings{"a", "b", "c"}));
  EXPECT_EQ(pieces(spec(SplitBehavior::Contiguous), "a-b--c"), (Strings{"a", "-", "b", "--", "c"}));
  EXPECT_EQ(pieces(spec(SplitBehavior::MergedWithPrevious), "a-b-c"), (Strings{"a-", "b-", "c"}));
  EXPECT_EQ(pieces(spec(SplitBehavior::MergedWithNext), "a-b-c"), (Strings{"a", "-b", "-c"}));
  EXPECT_EQ(pieces(spec(SplitBehavior::Removed, true), "a-b-c"), (Strings{"-", "-"}));
  EXPECT_THROW(PreTokenizer(PreTokenizerSpec{"", {{"(", SplitBehavior::Isolated, false}}}), Error);
}

// A tiny byte-level tokenizer.json: all 256 bytes, merges in both encodings, Digits splitting.
std::string tiny_tokenizer_json(const std::string& merges, const std::string& pre) {
  std::string vocab;
  for (int b = 0; b < 256; ++b) {
    std::string t;
    append_utf8(t, byte_to_unicode(uint8_t(b)));
    if (t == "\"" || t == "\\") t = "\\" + t;
    vocab += "\"" + t + "\": " + std::to_string(b) + ", ";
  }
  vocab += "\"ab\": 256, \"abc\": 257, \"\\u0120x\": 258";
  return R"({"version": "1.0", "added_tokens": [{"id": 260, "content": "<eot>", "special": true}],
             "normalizer": null, "pre_tokenizer": )" +
         pre + R"(, "model": {"type": "BPE", "vocab": {)" + vocab + R"(}, "merges": )" + merges +
         "}}";
}

TEST(HfLoader, ParsesBothMergeEncodingsAndDigits) {
  const std::string pre = R"({"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": true},
      {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})";
  for (const std::string merges :
       {R"(["a b", "ab c", "\u0120 x"])", R"([["a","b"],["ab","c"],["Ġ","x"]])"}) {
    const Tokenizer tok(parse_hf_vocab(tiny_tokenizer_json(merges, pre), "", "tiny"));
    EXPECT_EQ(tok.n_tokens(), 261);
    EXPECT_EQ(tok.token_text(259), "[PAD259]");
    EXPECT_EQ(tok.encode("abc x12<eot>"), (std::vector<int32_t>{257, 258, '1', '2', 260}));
    EXPECT_EQ(tok.data().pre.splits.size(), 1u);
  }
}

TEST(HfLoader, RejectsWhatItCannotRun) {
  const std::string merges = R"(["a b"])";
  EXPECT_THROW(parse_hf_vocab(tiny_tokenizer_json(merges, R"({"type": "Metaspace"})"), "", "t"),
               Error);
  EXPECT_THROW(parse_hf_vocab("{\"model\": {\"vocab\": {\"a\": 0}", "", "t"), Error);
  EXPECT_THROW(parse_hf_vocab("[]", "", "t"), Error);
  // A merge naming a missing token fails when the tokenizer is built.
  EXPECT_THROW(Tokenizer(parse_hf_vocab(tiny_tokenizer_json(R"(["q z"])", "null"), "", "t")),
               Error);
  // tokenizer_config.json: bos/eos by content, add_bos_token, template list.
  const VocabData d = parse_hf_vocab(
      tiny_tokenizer_json(merges, "null"),
      R"({"bos_token": {"content": "<eot>"}, "eos_token": "<eot>", "add_bos_token": true,
          "chat_template": [{"name": "default", "template": "T"}]})",
      "t");
  EXPECT_EQ(d.bos_id, 260);
  EXPECT_EQ(d.eos_id, 260);
  EXPECT_TRUE(d.add_bos);
  EXPECT_EQ(d.chat_template, "T");
}

}  // namespace
}  // namespace frugal
