// .npy parsing and writing (format: numpy/lib/format.py, described in npy.h).
#include "format/npy.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#include "core/byte_cursor.h"
#include "core/error.h"
#include "core/mmap_file.h"

namespace frugal {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

// A minimal parser for the header dict: string keys; values are strings, True/False or tuples
// of non-negative integers. Anything else is an error naming the header.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  struct Fields {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<int64_t>> shape;
  };

  Fields parse() {
    Fields f;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      skip_space();
      if (key == "descr") {
        f.descr = parse_string();
      } else if (key == "fortran_order") {
        f.fortran_order = parse_bool();
      } else if (key == "shape") {
        f.shape = parse_tuple();
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++pos_;
    }
    return f;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(source_ + ": bad .npy header at character " + std::to_string(pos_) + ": " + what +
                " (header: " + std::string(s_.substr(0, 120)) + ")");
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  int64_t parse_int() {
    skip_space();
    int64_t v = 0;
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("dimension too large");
      v = v * 10 + (s_[pos_++] - '0');
    }
    if (pos_ == start) fail("expected a non-negative integer");
    if (peek() == 'L') ++pos_;  // Python 2 long suffix
    return v;
  }
  std::vector<int64_t> parse_tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      dims.push_back(parse_int());
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in shape");
      }
    }
    ++pos_;
    return dims;
  }

  std::string_view s_;
  const std::string& source_;
  size_t pos_ = 0;
};

// "<f4" -> "f4"; throws for byte orders or kinds Frugal does not read.
std::string normalize_descr(const std::string& descr, const std::string& source) {
  static constexpr const char* kSupported[] = {"f4", "f8", "i4", "i8"};
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=')) {
    const std::string kind = descr.substr(1);
    for (const char* s : kSupported) {
      if (kind == s) return kind;
    }
  }
  throw Error(source + ": unsupported .npy dtype '" + descr +
              "' (expected little-endian <f4, <f8, <i4 or <i8)");
}

// Product of dims, throwing on overflow of the byte count.
int64_t checked_count(const std::vector<int64_t>& shape, size_t itemsize,
                      const std::string& source) {
  int64_t count = 1;
  const int64_t limit = std::numeric_limits<int64_t>::max() / static_cast<int64_t>(itemsize);
  for (const int64_t d : shape) {
    if (d != 0 && count > limit / d) throw Error(source + ": .npy shape is too large");
    count *= d;
  }
  return count;
}

template <typename T>
std::vector<T> load_all(const std::vector<uint8_t>& bytes) {
  std::vector<T> v(bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}

template <typename To, typename From>
std::vector<To> convert_all(const std::vector<uint8_t>& bytes) {
  const std::vector<From> src = load_all<From>(bytes);
  return std::vector<To>(src.begin(), src.end());
}

}  // namespace

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

size_t NpyArray::itemsize() const {
  return dtype.size() == 2 ? static_cast<size_t>(dtype[1] - '0') : 0;  // "f4" -> 4
}

std::vector<float> NpyArray::to_float() const {
  if (dtype == "f4") return load_all<float>(bytes);
  if (dtype == "f8") return convert_all<float, double>(bytes);
  if (dtype == "i4") return convert_all<float, int32_t>(bytes);
  if (dtype == "i8") return convert_all<float, int64_t>(bytes);
  throw Error("npy: cannot convert dtype " + dtype + " to float");
}

std::vector<int64_t> NpyArray::to_int64() const {
  if (dtype == "i8") return load_all<int64_t>(bytes);
  if (dtype == "i4") return convert_all<int64_t, int32_t>(bytes);
  throw Error("npy: cannot convert dtype " + dtype + " to int64 (integer arrays only)");
}

NpyArray parse_npy(std::span<const uint8_t> bytes, const std::string& source) {
  ByteCursor cur(bytes, source);
  if (cur.read_bytes(kMagic.size(), "npy magic") != kMagic)
    throw Error(source + ": not a .npy file (missing \\x93NUMPY magic)");
  const uint8_t major = cur.read<uint8_t>("npy major version");
  cur.read<uint8_t>("npy minor version");
  if (major < 1 || major > 3)
    throw Error(source + ": unsupported .npy version " + std::to_string(major) +
                " (expected 1, 2 or 3)");
  const uint32_t header_len = major == 1 ? cur.read<uint16_t>("npy header length")
                                         : cur.read<uint32_t>("npy header length");
  const std::string_view header = cur.read_bytes(header_len, "npy header");
  const HeaderParser::Fields f = HeaderParser(header, source).parse();
  if (!f.descr || !f.fortran_order || !f.shape)
    throw Error(source + ": .npy header lacks one of 'descr', 'fortran_order', 'shape'");
  if (*f.fortran_order && f.shape->size() > 1)
    throw Error(source + ": Fortran-order .npy arrays are not supported (expected C order)");

  NpyArray a;
  a.dtype = normalize_descr(*f.descr, source);
  a.shape = *f.shape;
  const int64_t count = checked_count(a.shape, a.itemsize(), source);
  const uint64_t n_bytes = static_cast<uint64_t>(count) * a.itemsize();
  if (cur.remaining() != n_bytes) {
    throw Error(source + ": .npy data is " + std::to_string(cur.remaining()) + " bytes, expected " +
                std::to_string(n_bytes) + " for dtype " + a.dtype + " and " +
                std::to_string(count) + " elements");
  }
  const std::string_view data = cur.read_bytes(n_bytes, "npy data");
  a.bytes.assign(data.begin(), data.end());
  return a;
}

NpyArray read_npy(const std::string& path) {
  MappedFile file(path);
  return parse_npy(file.bytes(), path);
}

void write_npy_f32(const std::string& path, const float* data, std::span<const int64_t> shape) {
  std::string dims;  // Python tuple body: "2, 3", or "5," for one dimension, "" for a scalar
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0)
      throw Error(path + ": cannot write .npy with negative dimension " + std::to_string(shape[i]));
    dims += (i ? ", " : "") + std::to_string(shape[i]);
    count *= shape[i];
  }
  if (shape.size() == 1) dims += ',';
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so magic + version + length + header + '\n' is a multiple of 64.
  const size_t prefix = kMagic.size() + 2 + 2;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';

  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  const uint8_t version[2] = {1, 0};
  const uint16_t header_len = static_cast<uint16_t>(header.size());
  bool ok = std::fwrite(kMagic.data(), 1, kMagic.size(), out) == kMagic.size() &&
            std::fwrite(version, 1, 2, out) == 2 && std::fwrite(&header_len, 2, 1, out) == 1 &&
            std::fwrite(header.data(), 1, header.size(), out) == header.size();
  if (ok && count > 0)
    ok = std::fwrite(data, sizeof(float), count, out) == static_cast<size_t>(count);
  ok = (std::fclose(out) == 0) && ok;
  if (!ok) throw Error(path + ": write failed: " + std::strerror(errno));
}

}  // namespace frugal
