// A bounds-checked little-endian reader over a byte span. Every read checks the remaining size
// first and throws frugal::Error naming the file, the field and the offset.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace frugal {

class ByteCursor {
 public:
  ByteCursor(std::span<const uint8_t> bytes, std::string source)
      : bytes_(bytes), source_(std::move(source)) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t size() const { return bytes_.size(); }
  const std::string& source() const { return source_; }

  template <typename T>
  T read(std::string_view what) {
    require(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // Returns a view of the next n bytes and advances.
  std::string_view read_bytes(uint64_t n, std::string_view what) {
    require(n, what);
    std::string_view v(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return v;
  }

  void skip(uint64_t n, std::string_view what) {
    require(n, what);
    pos_ += n;
  }

  void require(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      throw Error(source_ + ": truncated at offset " + std::to_string(pos_) + " reading " +
                  std::string(what) + ": need " + std::to_string(n) + " bytes, " +
                  std::to_string(remaining()) + " left");
    }
  }

  [[noreturn]] void fail(std::string_view what) const {
    throw Error(source_ + ": at offset " + std::to_string(pos_) + ": " + std::string(what));
  }

 private:
  std::span<const uint8_t> bytes_;
  std::string source_;
  size_t pos_ = 0;
};

}  // namespace frugal
