// A byte-level pushdown automaton that accepts exactly one JSON object (RFC 8259: `{...}` with
// strings and their escapes incl. \uXXXX, numbers, true/false/null, nested arrays and objects),
// fed one byte at a time. String contents must be valid UTF-8 (RFC 8259 §8.1), checked byte by
// byte so a character split across tokens is accepted piece by piece.
//
// Bounds that keep a sampled document finite and the state a small copyable value:
// - at most kMaxWhitespaceRun consecutive whitespace bytes (a model cannot loop on spaces; enough
//   for pretty-printing three levels deep with 4-space indentation),
// - at most kMaxDepth nested arrays/objects (the container stack is a bit set),
// - at most kMaxNumberBytes bytes in one number.
// The state is trivially copyable (~24 bytes): "would these bytes be accepted?" is a copy and a
// few feeds, cheap enough to test a whole vocabulary.
#pragma once

#include <cstdint>
#include <string_view>

namespace frugal {

class JsonGrammar {
 public:
  static constexpr int kMaxWhitespaceRun = 16;
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxNumberBytes = 64;

  // Feeds one byte. Returns false, leaving the state unusable, when the byte cannot continue a
  // prefix of a JSON object; callers test on a copy (see accepts()).
  bool feed(uint8_t byte);
  // Whether all of `bytes` continue the document from this state (the state is unchanged).
  bool accepts(std::string_view bytes) const;
  // Feeds all of `bytes`; false when one is rejected.
  bool feed_all(std::string_view bytes);

  // The top-level object is closed: nothing but the end of generation may follow.
  bool done() const { return mode_ == Mode::Done; }
  int depth() const { return depth_; }

 private:
  enum class Mode : uint8_t {
    Start,        // before the top-level '{'
    ObjectFirst,  // after '{': a key or '}'
    ObjectKey,    // after ',' in an object: a key
    AfterKey,     // after a key: ':'
    Value,        // after ':' or ',' in an array: a value
    ArrayFirst,   // after '[': a value or ']'
    AfterValue,   // after a value: ',' or the container's closing bracket
    String,       // inside a string (key_ says which kind)
    Escape,       // after '\' in a string
    Hex,          // inside \uXXXX; n_ hex digits left
    Utf8,         // inside a multi-byte UTF-8 character; n_ continuation bytes left
    Literal,      // inside true/false/null; literal_ and n_ say where
    Number,       // inside a number; num_ says where
    Done,         // the top-level object is closed
  };
  // Where a number stands: what may come next.
  enum class Num : uint8_t { Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpDigits };

  bool feed_whitespace();
  bool open(bool object);
  bool close(bool object);
  bool begin_value(uint8_t byte);
  bool feed_string(uint8_t byte);
  bool feed_number(uint8_t byte);
  bool number_can_end() const;
  bool on_value_end();
  bool top_is_object() const { return (stack_ >> (depth_ - 1)) & 1u; }

  uint64_t stack_ = 0;  // bit i: container i (from the outside) is an object, else an array
  Mode mode_ = Mode::Start;
  Num num_ = Num::Minus;
  bool key_ = false;        // the string being read is an object key
  uint8_t depth_ = 0;       // open containers
  uint8_t n_ = 0;           // Hex: digits left; Utf8: bytes left; Literal: bytes matched
  uint8_t utf8_lo_ = 0x80;  // the next UTF-8 continuation byte's range (tighter after E0, ED,
  uint8_t utf8_hi_ = 0xBF;  // F0, F4: no overlong forms, surrogates or code points > U+10FFFF)
  uint8_t literal_ = 0;     // index into the literal table
  uint8_t n_ws_ = 0;        // consecutive whitespace bytes so far
  uint8_t n_num_ = 0;       // bytes of the current number
};

}  // namespace frugal
