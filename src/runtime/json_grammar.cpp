#include "runtime/json_grammar.h"

namespace frugal {

namespace {

constexpr std::string_view kLiterals[] = {"true", "false", "null"};

bool is_whitespace(uint8_t b) {
  return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}
bool is_digit(uint8_t b) {
  return b >= '0' && b <= '9';
}
bool is_hex(uint8_t b) {
  return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

}  // namespace

bool JsonGrammar::accepts(std::string_view bytes) const {
  JsonGrammar g = *this;
  return g.feed_all(bytes);
}

bool JsonGrammar::feed_all(std::string_view bytes) {
  for (char c : bytes)
    if (!feed(static_cast<uint8_t>(c))) return false;
  return true;
}

bool JsonGrammar::feed(uint8_t byte) {
  switch (mode_) {
    case Mode::String:
      return feed_string(byte);
    case Mode::Escape:
      if (byte == 'u') {
        mode_ = Mode::Hex;
        n_ = 4;
        return true;
      }
      if (std::string_view("\"\\/bfnrt").find(static_cast<char>(byte)) == std::string_view::npos)
        return false;
      mode_ = Mode::String;
      return true;
    case Mode::Hex:
      if (!is_hex(byte)) return false;
      if (--n_ == 0) mode_ = Mode::String;
      return true;
    case Mode::Utf8:
      if (byte < utf8_lo_ || byte > utf8_hi_) return false;
      utf8_lo_ = 0x80;
      utf8_hi_ = 0xBF;
      if (--n_ == 0) mode_ = Mode::String;
      return true;
    case Mode::Literal: {
      const std::string_view lit = kLiterals[literal_];
      if (static_cast<uint8_t>(lit[n_]) != byte) return false;
      if (++n_ == lit.size()) return on_value_end();
      return true;
    }
    case Mode::Number:
      return feed_number(byte);
    case Mode::Done:
      return false;
    default:
      break;
  }
  // Between tokens of the document.
  if (is_whitespace(byte)) return feed_whitespace();
  n_ws_ = 0;
  switch (mode_) {
    case Mode::Start:
      return byte == '{' && open(true);
    case Mode::ObjectFirst:
      if (byte == '}') return close(true);
      [[fallthrough]];
    case Mode::ObjectKey:
      if (byte != '"') return false;
      mode_ = Mode::String;
      key_ = true;
      return true;
    case Mode::AfterKey:
      if (byte != ':') return false;
      mode_ = Mode::Value;
      return true;
    case Mode::ArrayFirst:
      if (byte == ']') return close(false);
      return begin_value(byte);
    case Mode::Value:
      return begin_value(byte);
    case Mode::AfterValue:
      if (byte == ',') {
        mode_ = top_is_object() ? Mode::ObjectKey : Mode::Value;
        return true;
      }
      if (byte == '}' || byte == ']') return close(byte == '}');
      return false;
    default:
      return false;
  }
}

bool JsonGrammar::feed_whitespace() {
  if (n_ws_ >= kMaxWhitespaceRun) return false;
  ++n_ws_;
  return true;
}

bool JsonGrammar::open(bool object) {
  if (depth_ >= kMaxDepth) return false;
  if (object)
    stack_ |= uint64_t{1} << depth_;
  else
    stack_ &= ~(uint64_t{1} << depth_);
  ++depth_;
  mode_ = object ? Mode::ObjectFirst : Mode::ArrayFirst;
  return true;
}

bool JsonGrammar::close(bool object) {
  if (depth_ == 0 || top_is_object() != object) return false;
  --depth_;
  return on_value_end();
}

bool JsonGrammar::on_value_end() {
  mode_ = depth_ == 0 ? Mode::Done : Mode::AfterValue;
  return true;
}

bool JsonGrammar::begin_value(uint8_t byte) {
  if (byte == '{' || byte == '[') return open(byte == '{');
  if (byte == '"') {
    mode_ = Mode::String;
    key_ = false;
    return true;
  }
  if (byte == '-' || is_digit(byte)) {
    mode_ = Mode::Number;
    num_ = byte == '-' ? Num::Minus : byte == '0' ? Num::Zero : Num::Int;
    n_num_ = 1;
    return true;
  }
  for (uint8_t i = 0; i < 3; ++i) {
    if (static_cast<uint8_t>(kLiterals[i][0]) == byte) {
      mode_ = Mode::Literal;
      literal_ = i;
      n_ = 1;
      return true;
    }
  }
  return false;
}

// RFC 8259 §7: no control characters; UTF-8 per RFC 3629 (Unicode Table 3-7 ranges).
bool JsonGrammar::feed_string(uint8_t byte) {
  if (byte == '"') {
    if (!key_) return on_value_end();
    mode_ = Mode::AfterKey;
    return true;
  }
  if (byte == '\\') {
    mode_ = Mode::Escape;
    return true;
  }
  if (byte < 0x20) return false;
  if (byte < 0x80) return true;
  utf8_lo_ = 0x80;
  utf8_hi_ = 0xBF;
  if (byte >= 0xC2 && byte <= 0xDF) {
    n_ = 1;
  } else if (byte >= 0xE0 && byte <= 0xEF) {
    n_ = 2;
    if (byte == 0xE0) utf8_lo_ = 0xA0;  // no overlong forms
    if (byte == 0xED) utf8_hi_ = 0x9F;  // no UTF-16 surrogates
  } else if (byte >= 0xF0 && byte <= 0xF4) {
    n_ = 3;
    if (byte == 0xF0) utf8_lo_ = 0x90;  // no overlong forms
    if (byte == 0xF4) utf8_hi_ = 0x8F;  // nothing above U+10FFFF
  } else {
    return false;  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  mode_ = Mode::Utf8;
  return true;
}

// number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "-" / "+" ] 1*DIGIT ]
bool JsonGrammar::feed_number(uint8_t byte) {
  Num next = num_;
  bool continues = true;
  switch (num_) {
    case Num::Minus:
      if (!is_digit(byte)) return false;
      next = byte == '0' ? Num::Zero : Num::Int;
      break;
    case Num::Zero:
    case Num::Int:
    case Num::Frac:
      if (is_digit(byte) && num_ != Num::Zero)
        next = num_;
      else if (byte == '.' && num_ != Num::Frac)
        next = Num::Dot;
      else if (byte == 'e' || byte == 'E')
        next = Num::Exp;
      else
        continues = false;
      break;
    case Num::Dot:
      if (!is_digit(byte)) return false;
      next = Num::Frac;
      break;
    case Num::Exp:
      if (byte == '+' || byte == '-')
        next = Num::ExpSign;
      else if (is_digit(byte))
        next = Num::ExpDigits;
      else
        return false;
      break;
    case Num::ExpSign:
      if (!is_digit(byte)) return false;
      next = Num::ExpDigits;
      break;
    case Num::ExpDigits:
      continues = is_digit(byte);
      break;
  }
  if (continues) {
    if (n_num_ >= kMaxNumberBytes) return false;
    ++n_num_;
    num_ = next;
    return true;
  }
  // The number ended (Zero, Int, Frac or ExpDigits): the byte belongs to what follows it.
  mode_ = Mode::AfterValue;
  return feed(byte);
}

}  // namespace frugal
