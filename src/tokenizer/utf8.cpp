#include "tokenizer/utf8.h"

#include <array>
#include <cstring>

namespace frugal {

Utf8Step utf8_step(const uint8_t* p, size_t n) {
  using S = Utf8Step::Status;
  if (n == 0) return {S::Truncated, 0, 0};
  const uint8_t b0 = p[0];
  if (b0 < 0x80) return {S::Ok, 1, b0};
  // Length and the allowed range of the second byte per Unicode Table 3-7.
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  char32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {S::Invalid, 1, 0};
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= n) return {S::Truncated, i, 0};
    const uint8_t b = p[i];
    const uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) return {S::Invalid, i, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {S::Ok, need, cp};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    // ASCII fast path: eight bytes at a time while no high bit is set.
    while (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= s.size()) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    Utf8Step st = utf8_step(p + i, s.size() - i);
    if (st.status != Utf8Step::Status::Ok) return false;
    i += st.n_bytes;
  }
  return true;
}

std::string repair_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    Utf8Step st = utf8_step(p + i, s.size() - i);
    if (st.status == Utf8Step::Status::Ok) {
      out.append(s.data() + i, st.n_bytes);
    } else {
      append_utf8(out, kReplacementChar);
    }
    i += st.n_bytes;
  }
  return out;
}

namespace {

struct ByteTable {
  std::array<char32_t, 256> to_cp{};
  std::array<std::string, 256> to_utf8{};
  std::array<int16_t, 0x144> from_cp{};  // -1 where a code point is not a table character
  ByteTable() {
    from_cp.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_cp[b] = printable ? static_cast<char32_t>(b) : next++;
      append_utf8(to_utf8[b], to_cp[b]);
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteTable& byte_table() {
  static const ByteTable table;
  return table;
}

}  // namespace

char32_t byte_to_unicode(uint8_t b) {
  return byte_table().to_cp[b];
}

int unicode_to_byte(char32_t cp) {
  const auto& inv = byte_table().from_cp;
  return cp < inv.size() ? inv[cp] : -1;
}

std::string bytes_to_byte_level(std::string_view raw) {
  const ByteTable& t = byte_table();
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) out += t.to_utf8[c];
  return out;
}

bool byte_level_to_bytes(std::string_view mapped, std::string& out) {
  const auto& inverse = byte_table().from_cp;
  size_t i = 0;
  while (i < mapped.size()) {
    Utf8Step st = utf8_step(mapped.substr(i));
    if (st.status != Utf8Step::Status::Ok) return false;
    if (st.codepoint >= inverse.size() || inverse[st.codepoint] < 0) return false;
    out += static_cast<char>(inverse[st.codepoint]);
    i += st.n_bytes;
  }
  return true;
}

}  // namespace frugal
