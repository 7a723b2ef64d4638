// Splits R1-style output into reasoning ("<think> ... </think>") and the answer, piece by piece
// as text streams in. A tag cut across pieces is held back until it is complete.
#pragma once

#include <string>
#include <string_view>

namespace frugal {

struct SplitPiece {
  std::string reasoning;
  std::string content;
};

class ReasoningSplitter {
 public:
  // starts_in_reasoning: the prompt already opened "<think>" (R1 generation prompts do).
  explicit ReasoningSplitter(bool starts_in_reasoning) : in_reasoning_(starts_in_reasoning) {}
  SplitPiece push(std::string_view text);
  SplitPiece flush();
  bool in_reasoning() const { return in_reasoning_; }

 private:
  bool in_reasoning_;
  bool seen_content_ = false;   // answer text (or a finished reasoning block) has been seen
  bool strip_newlines_ = false;  // just after </think>
  std::string held_;
};

}  // namespace frugal
