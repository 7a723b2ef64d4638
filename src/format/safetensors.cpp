// safetensors parsing: u64 header length, JSON header, byte buffer. Offsets, sizes and dtypes
// are validated before any tensor is exposed.
#include "format/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/half.h"

namespace frugal {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the reference reader's limit

struct DtypeInfo {
  const char* name;
  StDtype dtype;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {"F32", StDtype::F32, 4},   {"F16", StDtype::F16, 2},         {"BF16", StDtype::BF16, 2},
    {"F8_E4M3", StDtype::F8_E4M3, 1}, {"F64", StDtype::F64, 8},   {"I64", StDtype::I64, 8},
    {"I32", StDtype::I32, 4},   {"I16", StDtype::I16, 2},         {"I8", StDtype::I8, 1},
    {"U8", StDtype::U8, 1},     {"BOOL", StDtype::BOOL, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  throw Error(source + ": invalid safetensors header: " + what);
}

StTensor parse_tensor_entry(const std::string& source, const std::string& name,
                            const nlohmann::json& e, uint64_t buffer_size) {
  const std::string ctx = "tensor '" + name + "'";
  if (!e.is_object()) bad(source, ctx + " is not an object");
  if (!e.contains("dtype") || !e["dtype"].is_string()) bad(source, ctx + ": missing string 'dtype'");
  if (!e.contains("shape") || !e["shape"].is_array()) bad(source, ctx + ": missing array 'shape'");
  if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
    bad(source, ctx + ": 'data_offsets' must be [begin, end]");
  const std::string dt = e["dtype"].get<std::string>();
  const DtypeInfo* di = find_dtype(dt);
  if (di == nullptr) bad(source, ctx + ": unsupported dtype '" + dt + "'");
  StTensor t;
  t.name = name;
  t.dtype = di->dtype;
  t.file = source;
  uint64_t n = 1;
  for (const auto& d : e["shape"]) {
    if (!d.is_number_unsigned()) bad(source, ctx + ": shape entries must be non-negative integers");
    const uint64_t v = d.get<uint64_t>();
    if (v != 0 && n > (std::numeric_limits<uint64_t>::max() / 16) / v) bad(source, ctx + ": element count overflows");
    n *= v;
    t.shape.push_back(static_cast<int64_t>(v));
  }
  const auto& off = e["data_offsets"];
  if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    bad(source, ctx + ": data_offsets must be non-negative integers");
  const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
  if (begin > end || end > buffer_size)
    bad(source, ctx + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                    ") outside the " + std::to_string(buffer_size) + "-byte buffer (truncated file?)");
  if (end - begin != n * di->size)
    bad(source, ctx + ": " + std::to_string(end - begin) + " bytes but dtype " + dt + " x shape " +
                    t.shape_string() + " needs " + std::to_string(n * di->size));
  t.n_bytes = end - begin;
  t.data = reinterpret_cast<const uint8_t*>(begin);  // rebased by the caller
  return t;
}

}  // namespace

const char* st_dtype_name(StDtype d) {
  for (const auto& x : kDtypes)
    if (x.dtype == d) return x.name;
  return "?";
}

size_t st_dtype_size(StDtype d) {
  for (const auto& x : kDtypes)
    if (x.dtype == d) return x.size;
  return 0;
}

int64_t StTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string StTensor::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafetensorsFile SafetensorsFile::parse(std::span<const uint8_t> bytes, const std::string& source) {
  if (bytes.size() < 8) bad(source, "file is shorter than the 8-byte header length");
  uint64_t header_len = load_le<uint64_t>(bytes.data());
  if (header_len > kMaxHeaderBytes) bad(source, "header length " + std::to_string(header_len) + " exceeds 100 MB");
  if (header_len > bytes.size() - 8)
    bad(source, "header length " + std::to_string(header_len) + " exceeds the file size " + std::to_string(bytes.size()));
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  if (text.empty() || text[0] != '{') bad(source, "header JSON does not start with '{'");
  nlohmann::json header = nlohmann::json::parse(text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) bad(source, "header is not valid JSON");
  const uint64_t buffer_begin = 8 + header_len;
  const uint64_t buffer_size = bytes.size() - buffer_begin;
  SafetensorsFile f;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) bad(source, "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) bad(source, "__metadata__ values must be strings");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    StTensor t = parse_tensor_entry(source, it.key(), it.value(), buffer_size);
    t.data = bytes.data() + buffer_begin + reinterpret_cast<uint64_t>(t.data);
    f.tensors_.push_back(std::move(t));
  }
  // Buffers of distinct tensors must not overlap.
  std::vector<const StTensor*> by_offset;
  for (const auto& t : f.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->data < b->data; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const StTensor* p = by_offset[k - 1];
    if (p->n_bytes > 0 && by_offset[k]->data < p->data + p->n_bytes)
      bad(source, "tensors '" + p->name + "' and '" + by_offset[k]->name + "' overlap");
  }
  return f;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto mapped = std::make_shared<MappedFile>(path);
  SafetensorsFile f = parse(mapped->bytes(), path);
  f.file_ = std::move(mapped);
  return f;
}

namespace {

std::vector<std::string> shard_files(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  const fs::path index = dir / "model.safetensors.index.json";
  std::vector<std::string> files;
  if (fs::exists(index)) {
    nlohmann::json j = nlohmann::json::parse(read_text_file(index.string()), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(index.string() + ": not a valid index (expected an object with 'weight_map')");
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw Error(index.string() + ": weight_map['" + it.key() + "'] is not a file name");
      const std::string name = it.value().get<std::string>();
      if (name.find('/') != std::string::npos || name.find("..") != std::string::npos)
        throw Error(index.string() + ": shard name '" + name + "' must be a plain file name");
      if (std::find(files.begin(), files.end(), name) == files.end()) files.push_back(name);
    }
  } else {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") files.push_back(e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error(dir.string() + ": no .safetensors files found");
  for (auto& f : files) f = (dir / f).string();
  return files;
}

}  // namespace

SafetensorsModel SafetensorsModel::open(const std::string& path) {
  namespace fs = std::filesystem;
  SafetensorsModel m;
  std::vector<std::string> files;
  if (fs::is_directory(path)) files = shard_files(path);
  else files.push_back(path);
  m.files_.reserve(files.size());
  for (const auto& f : files) m.files_.push_back(SafetensorsFile::open(f));
  for (const auto& f : m.files_) {
    for (const auto& t : f.tensors()) {
      if (!m.by_name_.emplace(t.name, &t).second)
        throw Error(t.file + ": tensor '" + t.name + "' also appears in another shard");
      m.order_.push_back(&t);
    }
  }
  return m;
}

const StTensor* SafetensorsModel::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

const StTensor& SafetensorsModel::get(std::string_view name) const {
  const StTensor* t = find(name);
  if (t == nullptr) throw Error("safetensors model: missing tensor '" + std::string(name) + "'");
  return *t;
}

uint64_t SafetensorsModel::total_bytes() const {
  uint64_t n = 0;
  for (const auto* t : order_) n += t->n_bytes;
  return n;
}

}  // namespace frugal
