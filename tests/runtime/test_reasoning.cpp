#include <gtest/gtest.h>

#include "runtime/reasoning.h"

namespace frugal {
namespace {

SplitPiece feed(ReasoningSplitter& s, std::initializer_list<std::string_view> pieces) {
  SplitPiece all;
  for (auto p : pieces) {
    auto r = s.push(p);
    all.reasoning += r.reasoning;
    all.content += r.content;
  }
  auto r = s.flush();
  all.reasoning += r.reasoning;
  all.content += r.content;
  return all;
}

TEST(ReasoningSplitter, R1PromptStartsInsideThinking) {
  ReasoningSplitter s(true);
  auto r = feed(s, {"Let me ", "think.</th", "ink>\n\nThe answer", " is 4."});
  EXPECT_EQ(r.reasoning, "Let me think.");
  EXPECT_EQ(r.content, "The answer is 4.");
}

TEST(ReasoningSplitter, ModelOpensItsOwnThinkBlock) {
  ReasoningSplitter s(false);
  auto r = feed(s, {"<thi", "nk>\nhmm</think>", "\n\nYes."});
  EXPECT_EQ(r.reasoning, "\nhmm");
  EXPECT_EQ(r.content, "Yes.");
}

TEST(ReasoningSplitter, TagsInsideTheAnswerStayText) {
  ReasoningSplitter s(false);
  auto r = feed(s, {"Use <think> tags like <think>x</think>."});
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "Use <think> tags like <think>x</think>.");
}

TEST(ReasoningSplitter, UnfinishedReasoningIsNotLost) {
  ReasoningSplitter s(true);
  auto r = feed(s, {"still thinking </thi"});
  EXPECT_EQ(r.reasoning, "still thinking </thi");
  EXPECT_EQ(r.content, "");
}

}  // namespace
}  // namespace frugal
