#include "tokenizer/json_scan.h"

#include <cstring>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace frugal {

void JsonScanner::fail(const std::string& what) const {
  throw Error(source_ + ": malformed JSON at byte " + std::to_string(pos_) + ": " + what);
}

void JsonScanner::skip_ws() {
  while (pos_ < s_.size() &&
         (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
    ++pos_;
  }
}

char JsonScanner::peek() {
  skip_ws();
  return pos_ < s_.size() ? s_[pos_] : '\0';
}

void JsonScanner::expect(char c) {
  if (peek() != c) fail(std::string("expected '") + c + "'");
  ++pos_;
}

bool JsonScanner::consume(char c) {
  if (peek() != c) return false;
  ++pos_;
  return true;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void JsonScanner::read_string(std::string& out) {
  expect('"');
  out.clear();
  while (true) {
    // Copy the run up to the next quote or backslash in one go.
    size_t end = pos_;
    while (end < s_.size() && s_[end] != '"' && s_[end] != '\\') ++end;
    out.append(s_.data() + pos_, end - pos_);
    pos_ = end;
    if (pos_ >= s_.size()) fail("unterminated string");
    if (s_[pos_++] == '"') return;
    if (pos_ >= s_.size()) fail("unterminated escape");
    const char e = s_[pos_++];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        auto read4 = [&]() -> char32_t {
          if (pos_ + 4 > s_.size()) fail("short \\u escape");
          char32_t v = 0;
          for (int i = 0; i < 4; ++i) {
            const int h = hex_value(s_[pos_++]);
            if (h < 0) fail("bad hex digit in \\u escape");
            v = (v << 4) | char32_t(h);
          }
          return v;
        };
        char32_t cp = read4();
        if (cp >= 0xD800 && cp <= 0xDBFF && pos_ + 1 < s_.size() && s_[pos_] == '\\' &&
            s_[pos_ + 1] == 'u') {
          const size_t save = pos_;
          pos_ += 2;
          const char32_t lo = read4();
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else {
            pos_ = save;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = kReplacementChar;  // lone surrogate
        append_utf8(out, cp);
        break;
      }
      default:
        fail(std::string("bad escape \\") + e);
    }
  }
}

int64_t JsonScanner::read_int() {
  skip_ws();
  const size_t start = pos_;
  bool neg = false;
  if (pos_ < s_.size() && s_[pos_] == '-') neg = true, ++pos_;
  int64_t v = 0;
  size_t n_digits = 0;
  while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
    if (v > (INT64_MAX - 9) / 10) fail("integer too large");
    v = v * 10 + (s_[pos_++] - '0');
    ++n_digits;
  }
  if (n_digits == 0) {
    pos_ = start;
    fail("expected an integer");
  }
  if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
    fail("expected an integer, found a fraction");
  }
  return neg ? -v : v;
}

std::string_view JsonScanner::skip_value() {
  const char c = peek();
  const size_t start = pos_;
  if (c == '"') {
    std::string tmp;
    read_string(tmp);
  } else if (c == '{' || c == '[') {
    // Track nesting, stepping over strings (which may contain brackets).
    int depth = 0;
    do {
      if (pos_ >= s_.size()) fail("unterminated container");
      const char d = s_[pos_];
      if (d == '"') {
        std::string tmp;
        read_string(tmp);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') --depth;
      ++pos_;
    } while (depth > 0);
  } else {
    while (pos_ < s_.size() && std::strchr(",}] \t\r\n", s_[pos_]) == nullptr) ++pos_;
    if (pos_ == start) fail("expected a value");
  }
  return s_.substr(start, pos_ - start);
}

bool JsonScanner::next_key(bool& first, std::string& key) {
  if (consume('}')) return false;
  if (!first) expect(',');
  first = false;
  read_string(key);
  expect(':');
  return true;
}

bool JsonScanner::next_element(bool& first) {
  if (consume(']')) return false;
  if (!first) expect(',');
  first = false;
  return true;
}

}  // namespace frugal
