// A minimal pull scanner over JSON text, used to read tokenizer.json's large vocab and merges
// without building a DOM (nlohmann's DOM costs ~4x more). Small sub-values are handed to
// nlohmann as raw text spans. Every method throws frugal::Error naming the offset on bad input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace frugal {

class JsonScanner {
 public:
  JsonScanner(std::string_view text, std::string source) : s_(text), source_(std::move(source)) {}

  // Skips whitespace and returns the next byte without consuming it (0 at the end).
  char peek();
  // Consumes `c` (after whitespace) or throws.
  void expect(char c);
  // Consumes `c` if it is next; returns whether it was.
  bool consume(char c);
  // Reads a string value into `out` (unescaped UTF-8).
  void read_string(std::string& out);
  int64_t read_int();
  // Skips one value of any type and returns its raw text.
  std::string_view skip_value();
  // Object iteration: begin_object(), then next_key(first, key) until it returns false; `first`
  // starts true and belongs to the caller, so iterations nest.
  void begin_object() { expect('{'); }
  bool next_key(bool& first, std::string& key);
  // Array iteration: begin_array(), then next_element(first) until it returns false.
  void begin_array() { expect('['); }
  bool next_element(bool& first);
  [[noreturn]] void fail(const std::string& what) const;

 private:
  void skip_ws();
  std::string_view s_;
  std::string source_;
  size_t pos_ = 0;
};

}  // namespace frugal
