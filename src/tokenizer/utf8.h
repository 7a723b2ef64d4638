// UTF-8 stepping and repair, and the GPT-2 byte <-> unicode table used by byte-level BPE.
// Reference: ../shared/docs/reference/tokenizer.md §2.3, Unicode Table 3-7 (well-formed UTF-8).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace frugal {

constexpr char32_t kReplacementChar = 0xFFFD;

// One step of UTF-8 decoding at the start of a buffer.
struct Utf8Step {
  enum class Status { Ok, Invalid, Truncated };
  Status status = Status::Ok;
  // Ok: bytes of the character. Invalid: bytes of the maximal ill-formed subpart (>= 1), which
  // becomes one U+FFFD. Truncated: a well-formed prefix that the buffer ends inside of.
  size_t n_bytes = 0;
  char32_t codepoint = 0;  // valid only when status == Ok
};

Utf8Step utf8_step(const uint8_t* p, size_t n);
inline Utf8Step utf8_step(std::string_view s) {
  return utf8_step(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

void append_utf8(std::string& out, char32_t cp);
bool is_valid_utf8(std::string_view s);
// Replaces each maximal ill-formed subpart (and a truncated tail) by U+FFFD; valid input is
// returned unchanged.
std::string repair_utf8(std::string_view s);

// GPT-2 byte-level table: byte b <-> one code point (printable bytes map to themselves, the other
// 68 bytes to U+0100..U+0143 in increasing byte order).
char32_t byte_to_unicode(uint8_t b);
// Inverse; returns -1 for code points that are not in the table.
int unicode_to_byte(char32_t cp);
// Maps every byte of `raw` to its UTF-8-encoded table character.
std::string bytes_to_byte_level(std::string_view raw);
// Inverse of bytes_to_byte_level; returns false (leaving `out` partial) when a character of
// `mapped` is not a table character.
bool byte_level_to_bytes(std::string_view mapped, std::string& out);

}  // namespace frugal
