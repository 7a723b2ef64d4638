// decode(encode(x)) == x on the corpus and on random valid UTF-8; random bytes never crash the
// encoder; the streaming decoder only ever emits valid UTF-8.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "tokenizer/stream_decoder.h"
#include "tokenizer/utf8.h"
#include "tokenizer_fixture.h"

namespace frugal {
namespace {

// Random valid UTF-8 biased toward the interesting classes: ASCII letters/digits/punctuation,
// whitespace incl. CR/LF/NBSP, Latin-1, CJK, kana, combining marks, emoji, marker fragments.
std::string random_utf8(std::mt19937& rng, size_t n_chars) {
  static const char32_t kPicks[] = {' ',    '\n',   '\r',   '\t',   0xA0,   0x3000,  0x2028,
                                    0x85,   '<',    '>',    '|',    0xFF5C, 0x2581,  '\'',
                                    0x301,  0x4E2D, 0x3042, 0x30A2, 0xAC00, 0x1F600, 0x1F3FD,
                                    0x200D, 0x0663, 0x09E8, 0xFEFF, 0x180E, '.',     '_'};
  std::uniform_int_distribution<int> kind(0, 9);
  std::string s;
  for (size_t i = 0; i < n_chars; ++i) {
    char32_t cp;
    switch (kind(rng)) {
      case 0:
      case 1:
      case 2:
        cp = U'a' + rng() % 26;
        break;
      case 3:
        cp = U'0' + rng() % 10;
        break;
      case 4:
        cp = 0x21 + rng() % 0x5E;
        break;
      case 5:
        cp = kPicks[rng() % std::size(kPicks)];
        break;
      case 6:
        cp = 0x80 + rng() % 0x780;
        break;
      case 7:
        cp = 0x800 + rng() % 0xD000;
        break;  // below the surrogates
      case 8:
        cp = 0xE000 + rng() % 0x1F00;
        break;
      default:
        cp = 0x10000 + rng() % 0x20000;
        break;
    }
    append_utf8(s, cp);
  }
  return s;
}

TEST(TokenizerRoundTrip, CorpusDecodesToItself) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  for (const auto& e :
       std::filesystem::directory_iterator(test::shared_data_dir() + "/tokenizer/corpus")) {
    if (e.path().extension() != ".txt") continue;
    const std::string text = test::slurp(e.path());
    EXPECT_EQ(tok->decode(tok->encode(text, {.add_bos = false})), text) << e.path();
    EXPECT_EQ(tok->decode(tok->encode(text, {.add_bos = false, .parse_special = false})), text);
  }
}

TEST(TokenizerRoundTrip, RandomValidUtf8DecodesToItself) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    const std::string text = random_utf8(rng, 1 + rng() % 64);
    ASSERT_TRUE(is_valid_utf8(text));
    const auto ids = tok->encode(text, {.add_bos = false, .parse_special = i % 2 == 0});
    ASSERT_EQ(tok->decode(ids), text) << "case " << i;
  }
}

TEST(TokenizerRoundTrip, RandomBytesAreRepairedNotFatal) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  std::mt19937 rng(99);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(1 + rng() % 48, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    const auto ids = tok->encode(bytes, {.add_bos = false});
    // Invalid input is tokenized as its U+FFFD-repaired form.
    ASSERT_EQ(tok->decode(ids), repair_utf8(bytes)) << "case " << i;
  }
}

TEST(Utf8, StepFollowsTable3_7) {
  EXPECT_TRUE(is_valid_utf8("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));          // truncated
  // One U+FFFD per maximal ill-formed subpart (Unicode §3.9 example).
  EXPECT_EQ(repair_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c\xEF\xBF\xBD\xEF\xBF\xBD"
            "d");
}

TEST(Utf8, ByteLevelTableIsABijection) {
  EXPECT_EQ(byte_to_unicode(' '), U'\u0120');
  EXPECT_EQ(byte_to_unicode('\n'), U'\u010A');
  EXPECT_EQ(byte_to_unicode(0xAD), U'\u0143');
  EXPECT_EQ(byte_to_unicode('A'), U'A');
  for (int b = 0; b < 256; ++b) EXPECT_EQ(unicode_to_byte(byte_to_unicode(uint8_t(b))), b);
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  std::string back;
  ASSERT_TRUE(byte_level_to_bytes(bytes_to_byte_level(all), back));
  EXPECT_EQ(back, all);
}

TEST(StreamDecoder, HoldsBackSplitCharacters) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("a\xE4"), "a");
  EXPECT_EQ(d.n_pending(), 1u);
  EXPECT_EQ(d.push("\xB8"), "");
  EXPECT_EQ(d.push("\xAD!"), "\xE4\xB8\xAD!");
  EXPECT_EQ(d.push("\xF0\x9F"), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(d.push("\xFF"
                   "x"),
            "\xEF\xBF\xBDx");
  EXPECT_EQ(d.push("\xE4"
                   "x"),
            "\xEF\xBF\xBDx");  // a start byte followed by a non-continuation
}

TEST(StreamDecoder, NeverEmitsInvalidUtf8OnRandomChunks) {
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(i % 2 ? rng() % 256 : 0x80 + rng() % 0x78);
    Utf8StreamDecoder d;
    std::string out;
    size_t pos = 0;
    while (pos < bytes.size()) {
      const size_t n = 1 + rng() % 4;
      const std::string piece = d.push(std::string_view(bytes).substr(pos, n));
      ASSERT_TRUE(is_valid_utf8(piece));
      out += piece;
      pos += n;
    }
    out += d.flush();
    ASSERT_EQ(out, repair_utf8(bytes)) << "case " << i;  // chunking does not change the result
  }
}

TEST(StreamDecoder, TokenStreamReassemblesText) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const std::string text =
      test::slurp(test::shared_data_dir() + "/tokenizer/corpus/zh_ja_ko.txt") +
      test::slurp(test::shared_data_dir() + "/tokenizer/corpus/emoji_symbols.txt");
  const auto ids = tok->encode(text);  // BOS first: a control token, skipped
  TokenStreamDecoder d(*tok);
  std::string out;
  for (int32_t id : ids) {
    const std::string piece = d.push(id);
    ASSERT_TRUE(is_valid_utf8(piece));
    out += piece;
  }
  out += d.flush();
  EXPECT_EQ(out, text);
}

}  // namespace
}  // namespace frugal
