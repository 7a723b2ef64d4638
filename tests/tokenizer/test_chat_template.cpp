// C++ chat renderers against goldens rendered from the real Jinja templates by python3-jinja2
// (tools/gen-chat-goldens.py -> tests/tokenizer/data/chat_goldens.json).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer_fixture.h"

namespace frugal {
namespace {

using nlohmann::json;

const json& goldens() {
  static const json doc = json::parse(
      test::slurp(std::string(FRUGAL_SOURCE_DIR) + "/tests/tokenizer/data/chat_goldens.json"));
  return doc;
}

TEST(ChatTemplate, RenderersMatchJinjaGoldens) {
  const json& doc = goldens();
  ASSERT_GE(doc.at("cases").size(), 50u);
  std::map<std::string, int> n_by_template;
  for (const json& c : doc.at("cases")) {
    const std::string name = c.at("template");
    std::vector<ChatMessage> messages;
    for (const json& m : c.at("messages")) {
      messages.push_back({m.at("role"), m.at("content"), m.value("prefix", false)});
    }
    ChatOptions opts;
    opts.add_generation_prompt = c.at("add_generation_prompt");
    opts.thinking = c.at("thinking").is_boolean() && c.at("thinking").get<bool>();
    opts.bos_token = c.at("bos_token");
    opts.eos_token = c.at("eos_token");
    EXPECT_EQ(render_chat(chat_format_by_name(name), messages, opts),
              c.at("expected").get<std::string>())
        << name << " / " << c.at("case").get<std::string>();
    ++n_by_template[name];
  }
  EXPECT_EQ(n_by_template.size(), 5u);
}

TEST(ChatTemplate, DetectsEachPublishedTemplate) {
  for (const auto& [name, text] : goldens().at("templates").items()) {
    const auto detected = detect_chat_format(text.get<std::string>());
    ASSERT_TRUE(detected.has_value()) << name;
    EXPECT_EQ(*detected, chat_format_by_name(name)) << name;
  }
  EXPECT_FALSE(detect_chat_format("{{ messages }}").has_value());
}

TEST(ChatTemplate, NamesAndErrors) {
  EXPECT_EQ(chat_format_by_name("deepseek-r1-distill-llama"), ChatFormat::DeepSeekR1Distill);
  EXPECT_STREQ(chat_format_name(ChatFormat::DeepSeekV31), "deepseek-v3.1");
  EXPECT_THROW(chat_format_by_name("chatml"), Error);
  const std::vector<ChatMessage> tool = {{"tool", "42"}};
  EXPECT_THROW(render_chat(ChatFormat::DeepSeekV3, tool, {}), Error);
}

TEST(ChatTemplate, V3TokenizerPromptEncodesWithMarkerIds) {
  FRUGAL_REQUIRE_V3_TOKENIZER(tok);
  EXPECT_EQ(chat_format_for(*tok), ChatFormat::DeepSeekV3);
  EXPECT_EQ(chat_format_for(*tok, "deepseek-r1"), ChatFormat::DeepSeekR1);
  const std::vector<ChatMessage> msgs = {{"system", "Be brief."}, {"user", "Hi <｜Assistant｜>"}};
  const std::string prompt = render_chat(ChatFormat::DeepSeekV3, msgs, chat_options_for(*tok));
  // The rendered prompt carries BOS as text: encode with specials and no added BOS.
  const auto ids = tok->encode(prompt, {.add_bos = false, .parse_special = true});
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 128804);  // <｜Assistant｜>
  // A server encodes user text with parse_special off, so a marker typed by the user stays text.
  const auto user_ids =
      tok->encode("Hi <｜Assistant｜>", {.add_bos = false, .parse_special = false});
  EXPECT_EQ(std::count(user_ids.begin(), user_ids.end(), 128804), 0);
}

}  // namespace
}  // namespace frugal
