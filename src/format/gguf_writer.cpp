// GGUF v3 writer: header, metadata, tensor infos, then each tensor's bytes at an aligned offset.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <unistd.h>

#include "core/error.h"
#include "format/gguf.h"

namespace frugal {
namespace {

class FileOut {
 public:
  explicit FileOut(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {
    if (f_ == nullptr) throw Error(path + ": cannot create: " + std::strerror(errno));
  }
  ~FileOut() {
    if (f_) std::fclose(f_);
  }
  void bytes(const void* p, size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, f_) != n) throw Error(path_ + ": write failed: " + std::strerror(errno));
    pos_ += n;
  }
  template <typename T>
  void pod(T v) { bytes(&v, sizeof v); }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static const uint8_t zeros[256] = {};
    while (pos_ % alignment != 0) bytes(zeros, std::min<uint64_t>(alignment - pos_ % alignment, sizeof zeros));
  }
  // Leaves a hole of n bytes (a sparse region that reads as zeros).
  void skip(uint64_t n) {
    if (n > 0 && fseeko(f_, static_cast<off_t>(n), SEEK_CUR) != 0) throw Error(path_ + ": seek failed: " + std::strerror(errno));
    pos_ += n;
  }
  // Makes the file exactly pos() bytes long (needed when it ends in a hole).
  void finish_length() {
    if (std::fflush(f_) != 0 || ftruncate(fileno(f_), static_cast<off_t>(pos_)) != 0)
      throw Error(path_ + ": cannot set length: " + std::strerror(errno));
  }
  void close() {
    if (std::fclose(f_) != 0) {
      f_ = nullptr;
      throw Error(path_ + ": close failed: " + std::strerror(errno));
    }
    f_ = nullptr;
  }
  uint64_t pos() const { return pos_; }

 private:
  std::string path_;
  FILE* f_;
  uint64_t pos_ = 0;
};

void write_value(FileOut& out, const GgufValue& v);

void write_payload(FileOut& out, GgufValueType t, const GgufValue& v) {
  auto as_u = [&] { return std::holds_alternative<uint64_t>(v.data) ? std::get<uint64_t>(v.data) : static_cast<uint64_t>(std::get<int64_t>(v.data)); };
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: out.pod<uint8_t>(static_cast<uint8_t>(as_u())); break;
    case GgufValueType::UINT16: case GgufValueType::INT16: out.pod<uint16_t>(static_cast<uint16_t>(as_u())); break;
    case GgufValueType::UINT32: case GgufValueType::INT32: out.pod<uint32_t>(static_cast<uint32_t>(as_u())); break;
    case GgufValueType::UINT64: case GgufValueType::INT64: out.pod<uint64_t>(as_u()); break;
    case GgufValueType::FLOAT32: out.pod<float>(static_cast<float>(std::get<double>(v.data))); break;
    case GgufValueType::FLOAT64: out.pod<double>(std::get<double>(v.data)); break;
    case GgufValueType::BOOL: out.pod<uint8_t>(std::get<bool>(v.data) ? 1 : 0); break;
    case GgufValueType::STRING: out.str(std::get<std::string>(v.data)); break;
    case GgufValueType::ARRAY: {
      const auto& a = std::get<GgufArray>(v.data);
      out.pod<uint32_t>(static_cast<uint32_t>(a.elem_type));
      out.pod<uint64_t>(a.items.size());
      for (const auto& item : a.items) write_payload(out, a.elem_type, item);
      break;
    }
  }
}

void write_value(FileOut& out, const GgufValue& v) {
  out.pod<uint32_t>(static_cast<uint32_t>(v.type));
  write_payload(out, v.type, v);
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, Filler fill) {
  if (ne.empty() || ne.size() > 4) throw Error("tensor '" + name + "': need 1..4 dimensions");
  for (const auto& t : tensors_)
    if (t.name == name) throw Error("tensor '" + name + "' added twice");
  uint64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) rows *= static_cast<uint64_t>(ne[d]);
  const uint64_t n_bytes = row_bytes(type, ne[0]) * rows;
  tensors_.push_back({name, type, std::move(ne), n_bytes, std::move(fill)});
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                            std::vector<uint8_t> bytes) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  const size_t have = shared->size();
  add_tensor(name, type, std::move(ne), [shared](uint8_t* dst, size_t n) {
    std::memcpy(dst, shared->data(), std::min(n, shared->size()));
  });
  if (tensors_.back().n_bytes != have)
    throw Error("tensor '" + name + "': " + std::to_string(have) + " bytes given, shape needs " +
                std::to_string(tensors_.back().n_bytes));
}

void GgufWriter::write(const std::string& path) const {
  FileOut out(path);
  out.pod<uint32_t>(0x46554747);
  out.pod<uint32_t>(3);
  out.pod<uint64_t>(tensors_.size());
  const bool has_alignment_key = std::any_of(kv_.begin(), kv_.end(), [](const auto& kv) { return kv.first == "general.alignment"; });
  out.pod<uint64_t>(kv_.size() + (alignment_ != 32 && !has_alignment_key ? 1 : 0));
  for (const auto& [key, value] : kv_) {
    out.str(key);
    write_value(out, value);
  }
  if (alignment_ != 32 && !has_alignment_key) {
    out.str("general.alignment");
    write_value(out, GgufValue::u32(alignment_));
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    out.str(t.name);
    out.pod<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) out.pod<uint64_t>(static_cast<uint64_t>(n));
    out.pod<uint32_t>(static_cast<uint32_t>(t.type));
    out.pod<uint64_t>(offset);
    offset = (offset + t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  out.pad_to(alignment_);
  std::vector<uint8_t> buf;
  for (const auto& t : tensors_) {
    if (!t.fill) {
      out.skip(t.n_bytes);
    } else {
      buf.assign(t.n_bytes, 0);
      t.fill(buf.data(), buf.size());
      out.bytes(buf.data(), buf.size());
    }
    out.pad_to(alignment_);
  }
  out.finish_length();
  out.close();
}

}  // namespace frugal
