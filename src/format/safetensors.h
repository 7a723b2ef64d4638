// safetensors reader: single files and sharded Hugging Face directories
// (model.safetensors.index.json). Layout: ../shared/docs/reference/formats-and-names.md §1.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mmap_file.h"

namespace frugal {

enum class StDtype { F32, F16, BF16, F8_E4M3, F64, I64, I32, I16, I8, U8, BOOL };
const char* st_dtype_name(StDtype d);
size_t st_dtype_size(StDtype d);

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;  // PyTorch order (row-major, last dim contiguous)
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  std::string file;  // which file it came from (for messages)

  int64_t n_elements() const;
  std::string shape_string() const;
};

// One parsed safetensors file (header validated: JSON, offsets in range and non-overlapping,
// dtype x shape = byte size).
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  // Parses caller-owned bytes (fuzzing, tests).
  static SafetensorsFile parse(std::span<const uint8_t> bytes, const std::string& source);

  const std::vector<StTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::vector<StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model: one file, or every shard of a sharded directory merged into one table.
class SafetensorsModel {
 public:
  // `path` is a directory (uses model.safetensors.index.json if present, else every
  // *.safetensors in it) or a single .safetensors file.
  static SafetensorsModel open(const std::string& path);

  const StTensor* find(std::string_view name) const;
  const StTensor& get(std::string_view name) const;  // throws naming the tensor when missing
  const std::vector<const StTensor*>& tensors() const { return order_; }
  uint64_t total_bytes() const;

 private:
  std::vector<SafetensorsFile> files_;
  std::unordered_map<std::string, const StTensor*> by_name_;
  std::vector<const StTensor*> order_;
};

}  // namespace frugal
