// GGUF v2/v3 reader (over mmap, validated before any tensor is touched) and writer.
// Layout: ../shared/docs/reference/gguf.md §2.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/mmap_file.h"
#include "format/ggml_type.h"

namespace frugal {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* gguf_value_type_name(GgufValueType t);

struct GgufValue;
struct GgufArray {
  GgufValueType elem_type = GgufValueType::UINT8;
  std::vector<GgufValue> items;
};

// One metadata value. Integers keep their stored width in `type`; their value is widened into
// the uint64_t / int64_t alternatives, floats into double.
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> data;

  static GgufValue u32(uint32_t v) { return {GgufValueType::UINT32, uint64_t{v}}; }
  static GgufValue i32(int32_t v) { return {GgufValueType::INT32, int64_t{v}}; }
  static GgufValue u64(uint64_t v) { return {GgufValueType::UINT64, v}; }
  static GgufValue f32(float v) { return {GgufValueType::FLOAT32, double{v}}; }
  static GgufValue boolean(bool v) { return {GgufValueType::BOOL, v}; }
  static GgufValue str(std::string v) { return {GgufValueType::STRING, std::move(v)}; }
  static GgufValue array(GgufValueType elem, std::vector<GgufValue> items) {
    return {GgufValueType::ARRAY, GgufArray{elem, std::move(items)}};
  }
  static GgufValue string_array(const std::vector<std::string>& v);
  static GgufValue i32_array(const std::vector<int32_t>& v);
  static GgufValue f32_array(const std::vector<float>& v);

  bool is_integer() const;
  // Short human-readable rendering (arrays abbreviated) for `frugal info`.
  std::string to_display_string(size_t max_items = 8) const;
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // ne[0] innermost (contiguous) dimension
  uint64_t offset = 0;                    // relative to the data section
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;
  const uint8_t* data = nullptr;          // points into the mapped file

  int64_t n_rows() const { return n_elements / ne[0]; }
  std::string shape_string() const;  // "[ne0, ne1, ...]"
};

class GgufFile {
 public:
  // Maps and validates a file; throws frugal::Error naming the file, the problem and the offset.
  static GgufFile open(const std::string& path);
  // Parses bytes that the caller keeps alive (fuzzing, tests).
  static GgufFile parse(std::span<const uint8_t> bytes, const std::string& source);

  const std::string& source() const { return source_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed accessors. Integers accept any stored integer type that fits T; floats accept
  // FLOAT32/FLOAT64. Throws frugal::Error naming the key when missing or of the wrong type.
  template <typename T>
  T get(std::string_view key) const;
  template <typename T>
  std::optional<T> get_optional(std::string_view key) const;
  template <typename T>
  T get_or(std::string_view key, T fallback) const {
    auto v = get_optional<T>(key);
    return v ? *v : fallback;
  }
  // Arrays: strings, and numbers converted to T (integers or float).
  std::vector<std::string> get_string_array(std::string_view key) const;
  template <typename T>
  std::vector<T> get_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const GgufTensorInfo& tensor(std::string_view name) const;  // throws when missing
  // The mapped file (empty when parsing caller-owned bytes).
  std::span<const uint8_t> mapped_bytes() const;

 private:
  std::string source_;
  std::shared_ptr<MappedFile> file_;  // null when parsing caller-owned bytes
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;

  friend class GgufParser;
};

// Writes GGUF v3. Tensor data is produced by a callback at write time, so large synthetic models
// stream to disk without being held in memory.
class GgufWriter {
 public:
  // Fills a tensor's bytes. A null Filler leaves the tensor's bytes as a hole in a sparse file
  // (reads as zeros): used to make very large test files quickly.
  using Filler = std::function<void(uint8_t* dst, size_t n_bytes)>;

  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}
  void set(const std::string& key, GgufValue value);  // replaces an existing key
  // ne in GGUF order (innermost first).
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, Filler fill);
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                  std::vector<uint8_t> bytes);
  void write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    uint64_t n_bytes;
    Filler fill;
  };
  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace frugal
