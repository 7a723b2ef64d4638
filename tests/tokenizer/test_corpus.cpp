// Encoding the reference corpus: ids must equal those of the reference tokenizer exactly
// (../shared/data/tokenizer/README.md: no BOS, added tokens matched).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tokenizer/load.h"
#include "tokenizer_fixture.h"

namespace frugal {
namespace {

namespace fs = std::filesystem;

TEST(TokenizerCorpus, EveryTextGivesTheReferenceIds) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const fs::path corpus = test::shared_data_dir() + "/tokenizer/corpus";
  int n_checked = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    if (entry.path().extension() != ".txt") continue;
    const fs::path ids_path = fs::path(entry.path()).replace_extension(".ids.json");
    ASSERT_TRUE(fs::exists(ids_path)) << ids_path;
    const std::string text = test::slurp(entry.path());
    const auto expected = nlohmann::json::parse(test::slurp(ids_path)).get<std::vector<int32_t>>();
    const auto got = tok->encode(text, {.add_bos = false, .parse_special = true});
    EXPECT_EQ(got, expected) << entry.path().filename();
    ++n_checked;
  }
  EXPECT_GE(n_checked, 10);
}

TEST(TokenizerCorpus, LoadsTheV3Description) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const VocabData& d = tok->data();
  EXPECT_EQ(d.pre.name, "deepseek-v3");  // the file's three Split regexes match the built-in set
  EXPECT_EQ(d.merges.size(), 127741u);
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->find_token("<｜User｜>"), 128803);
  EXPECT_EQ(tok->token_type(0), TokenType::Control);
  EXPECT_EQ(tok->token_type(128803), TokenType::UserDefined);
  EXPECT_NE(d.chat_template.find("<｜Assistant｜>"), std::string::npos);
  EXPECT_EQ(tok->end_of_generation_ids(), (std::vector<int32_t>{1, 128805}));  // EOS, <|EOT|>
  EXPECT_TRUE(tok->is_end_of_generation(1));
  EXPECT_FALSE(tok->is_end_of_generation(0));
}

TEST(TokenizerCorpus, BosFollowsAddBosAndCanBeTurnedOff) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  EXPECT_EQ(tok->encode("hi").front(), 0);
  EXPECT_NE(tok->encode("hi", {.add_bos = false}).front(), 0);
  EXPECT_TRUE(tok->encode("", {.add_bos = false}).empty());
  EXPECT_EQ(tok->encode(""), std::vector<int32_t>{0});
}

TEST(TokenizerCorpus, DigitsSplitInRunsOfThree) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const auto ids = tok->encode("1234567", {.add_bos = false});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(tok->decode(ids), "1234567");
  EXPECT_EQ(tok->token_bytes(ids[0]), "123");
  EXPECT_EQ(tok->token_bytes(ids[1]), "456");
  EXPECT_EQ(tok->token_bytes(ids[2]), "7");
}

TEST(TokenizerCorpus, SpecialTokensOffTokenizesMarkersAsText) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const std::string text = "a<｜User｜>b<｜end▁of▁sentence｜>";
  const auto on = tok->encode(text, {.add_bos = false, .parse_special = true});
  const auto off = tok->encode(text, {.add_bos = false, .parse_special = false});
  EXPECT_NE(std::find(on.begin(), on.end(), 128803), on.end());
  EXPECT_NE(std::find(on.begin(), on.end(), 1), on.end());
  for (int32_t id : off) {
    EXPECT_FALSE(is_added_token_type(tok->token_type(id))) << id;
  }
  EXPECT_EQ(tok->decode(on), text);
  EXPECT_EQ(tok->decode(off), text);
  EXPECT_GT(off.size(), on.size());
}

TEST(TokenizerCorpus, DecodeSkipsControlTokensOnRequest) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const auto ids = tok->encode("<｜User｜>hello<｜end▁of▁sentence｜>");  // BOS + ...
  EXPECT_EQ(tok->decode(ids, /*skip_control=*/true), "<｜User｜>hello");
  EXPECT_THROW(tok->decode(std::vector<int32_t>{tok->n_tokens()}), Error);
  EXPECT_THROW(tok->decode(std::vector<int32_t>{-1}), Error);
}

TEST(TokenizerCorpus, LongRepeatedInputIsHandled) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  const std::string text(200000, 'a');  // one 200 KB piece: the merge loop must not be quadratic
  const auto ids = tok->encode(text, {.add_bos = false});
  EXPECT_EQ(tok->decode(ids), text);
  EXPECT_LT(ids.size(), text.size() / 4);
}

}  // namespace
}  // namespace frugal
