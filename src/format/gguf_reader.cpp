// GGUF parsing and validation. Every count, length and offset is checked against the bytes that
// remain before anything is allocated or read, so a corrupt file gives an error, never a crash.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/byte_cursor.h"
#include "core/error.h"
#include "format/gguf.h"

namespace frugal {

namespace {
constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF"
constexpr int kMaxArrayDepth = 4;            // nested arrays deeper than this are rejected
constexpr uint64_t kMaxKeyLength = 65535;
constexpr uint64_t kMaxTensorNameLength = 4096;

// Smallest encoded size of one value of type t (used to bound counts before allocating).
uint64_t min_encoded_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

bool is_valid_value_type(uint32_t t) { return t <= 12; }
}  // namespace

class GgufParser {
 public:
  GgufParser(std::span<const uint8_t> bytes, const std::string& source)
      : cur_(bytes, source), bytes_(bytes) {}

  void parse_into(GgufFile& f) {
    f.source_ = cur_.source();
    f.size_ = bytes_.size();
    parse_header(f);
    const uint64_t n_tensors = cur_.read<uint64_t>("tensor count");
    const uint64_t n_kv = cur_.read<uint64_t>("metadata count");
    // Each metadata record takes >= 13 bytes, each tensor info >= 32: reject absurd counts.
    if (n_kv > cur_.remaining() / 13) cur_.fail("metadata count " + std::to_string(n_kv) + " is larger than the file can hold");
    if (n_tensors > cur_.remaining() / 32) cur_.fail("tensor count " + std::to_string(n_tensors) + " is larger than the file can hold");
    parse_metadata(f, n_kv);
    read_alignment(f);
    parse_tensor_infos(f, n_tensors);
    const uint64_t end_of_infos = cur_.offset();
    f.data_offset_ = round_up(end_of_infos, f.alignment_);
    validate_tensor_data(f);
  }

 private:
  static uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

  std::string where() const { return " at offset " + std::to_string(cur_.offset()); }

  void parse_header(GgufFile& f) {
    const uint32_t magic = cur_.read<uint32_t>("magic");
    if (magic != kGgufMagic) cur_.fail("not a GGUF file (bad magic)");
    f.version_ = cur_.read<uint32_t>("version");
    if (f.version_ == 1) cur_.fail("GGUF version 1 is not supported (need 2 or 3)");
    if (f.version_ != 2 && f.version_ != 3)
      cur_.fail("unsupported GGUF version " + std::to_string(f.version_) + " (need 2 or 3)");
  }

  std::string read_string(std::string_view what, uint64_t max_len) {
    const uint64_t len = cur_.read<uint64_t>(std::string(what) + " length");
    if (len > max_len) cur_.fail(std::string(what) + " length " + std::to_string(len) + " is too large");
    return std::string(cur_.read_bytes(len, what));
  }

  GgufValue read_value(GgufValueType t, const std::string& key, int depth) {
    GgufValue v;
    v.type = t;
    switch (t) {
      case GgufValueType::UINT8: v.data = uint64_t{cur_.read<uint8_t>(key)}; break;
      case GgufValueType::INT8: v.data = int64_t{cur_.read<int8_t>(key)}; break;
      case GgufValueType::UINT16: v.data = uint64_t{cur_.read<uint16_t>(key)}; break;
      case GgufValueType::INT16: v.data = int64_t{cur_.read<int16_t>(key)}; break;
      case GgufValueType::UINT32: v.data = uint64_t{cur_.read<uint32_t>(key)}; break;
      case GgufValueType::INT32: v.data = int64_t{cur_.read<int32_t>(key)}; break;
      case GgufValueType::UINT64: v.data = cur_.read<uint64_t>(key); break;
      case GgufValueType::INT64: v.data = cur_.read<int64_t>(key); break;
      case GgufValueType::FLOAT32: v.data = double{cur_.read<float>(key)}; break;
      case GgufValueType::FLOAT64: v.data = cur_.read<double>(key); break;
      case GgufValueType::BOOL: {
        const uint8_t b = cur_.read<uint8_t>(key);
        if (b > 1) cur_.fail("metadata '" + key + "': bool value " + std::to_string(b) + " is not 0 or 1");
        v.data = b == 1;
        break;
      }
      case GgufValueType::STRING:
        v.data = read_string("string value of '" + key + "'", cur_.remaining());
        break;
      case GgufValueType::ARRAY: v.data = read_array(key, depth); break;
    }
    return v;
  }

  GgufArray read_array(const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth) cur_.fail("metadata '" + key + "': arrays nested too deeply");
    const uint32_t et = cur_.read<uint32_t>("array element type of '" + key + "'");
    if (!is_valid_value_type(et))
      cur_.fail("metadata '" + key + "': unknown array element type " + std::to_string(et));
    const uint64_t n = cur_.read<uint64_t>("array length of '" + key + "'");
    const auto elem = static_cast<GgufValueType>(et);
    if (n > cur_.remaining() / min_encoded_size(elem))
      cur_.fail("metadata '" + key + "': array length " + std::to_string(n) + " exceeds the file");
    GgufArray a;
    a.elem_type = elem;
    a.items.reserve(n);
    for (uint64_t i = 0; i < n; ++i) a.items.push_back(read_value(elem, key, depth + 1));
    return a;
  }

  void parse_metadata(GgufFile& f, uint64_t n_kv) {
    f.kv_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key = read_string("metadata key", kMaxKeyLength);
      const uint32_t t = cur_.read<uint32_t>("value type of '" + key + "'");
      if (!is_valid_value_type(t))
        cur_.fail("metadata '" + key + "': unknown value type " + std::to_string(t));
      if (f.kv_index_.count(key)) cur_.fail("duplicate metadata key '" + key + "'");
      GgufValue v = read_value(static_cast<GgufValueType>(t), key, 0);
      f.kv_index_.emplace(key, f.kv_.size());
      f.kv_.emplace_back(std::move(key), std::move(v));
    }
  }

  void read_alignment(GgufFile& f) {
    const GgufValue* a = f.find("general.alignment");
    if (a == nullptr) return;
    const auto* u = std::get_if<uint64_t>(&a->data);
    if (u == nullptr || *u == 0 || (*u & (*u - 1)) != 0 || *u > (1u << 20))
      throw Error(f.source_ + ": general.alignment must be a power of two, found " + a->to_display_string());
    f.alignment_ = *u;
  }

  void parse_tensor_infos(GgufFile& f, uint64_t n_tensors) {
    f.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensorInfo t;
      t.name = read_string("tensor name", kMaxTensorNameLength);
      const std::string ctx = "tensor '" + t.name + "'";
      const uint32_t n_dims = cur_.read<uint32_t>(ctx + " n_dims");
      if (n_dims < 1 || n_dims > 4) cur_.fail(ctx + ": n_dims " + std::to_string(n_dims) + " not in 1..4");
      t.n_dims = static_cast<int>(n_dims);
      for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t ne = cur_.read<uint64_t>(ctx + " dimension");
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          cur_.fail(ctx + ": dimension " + std::to_string(ne) + " too large");
        t.ne[d] = static_cast<int64_t>(ne);
      }
      const uint32_t type_id = cur_.read<uint32_t>(ctx + " type");
      const TypeTraits* tt = find_type_traits(type_id);
      if (tt == nullptr) cur_.fail(ctx + ": unknown tensor type id " + std::to_string(type_id));
      t.type = tt->type;
      t.offset = cur_.read<uint64_t>(ctx + " offset");
      compute_tensor_size(t, *tt, ctx);
      if (f.tensor_index_.count(t.name)) cur_.fail("duplicate " + ctx);
      f.tensor_index_.emplace(t.name, f.tensors_.size());
      f.tensors_.push_back(std::move(t));
    }
  }

  // n_elements and n_bytes with overflow checks; ne[0] must be a whole number of blocks.
  void compute_tensor_size(GgufTensorInfo& t, const TypeTraits& tt, const std::string& ctx) {
    uint64_t n = 1;
    for (int d = 0; d < t.n_dims; ++d) {
      const uint64_t ne = static_cast<uint64_t>(t.ne[d]);
      if (ne != 0 && n > std::numeric_limits<uint64_t>::max() / 2 / ne)
        cur_.fail(ctx + ": element count overflows");
      n *= ne;
    }
    if (n > bytes_.size() * 32ull) cur_.fail(ctx + ": " + std::to_string(n) + " elements cannot fit in the file");
    if (t.ne[0] % tt.block_elems != 0)
      cur_.fail(ctx + ": row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                tt.name + " block size " + std::to_string(tt.block_elems));
    t.n_elements = static_cast<int64_t>(n);
    t.n_bytes = n / tt.block_elems * tt.block_bytes;
  }

  void validate_tensor_data(GgufFile& f) {
    if (f.tensors_.empty()) return;
    if (f.data_offset_ > bytes_.size())
      throw Error(f.source_ + ": data section starts at " + std::to_string(f.data_offset_) + " beyond the end of the file (" + std::to_string(bytes_.size()) + " bytes)");
    const uint64_t data_size = bytes_.size() - f.data_offset_;
    std::vector<size_t> order(f.tensors_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (auto& t : f.tensors_) {
      if (t.offset % f.alignment_ != 0)
        throw Error(f.source_ + ": tensor '" + t.name + "' data offset " + std::to_string(t.offset) + " is not aligned to " + std::to_string(f.alignment_));
      if (t.offset > data_size || t.n_bytes > data_size - t.offset)
        throw Error(f.source_ + ": tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", +" + std::to_string(t.n_bytes) + ") lies outside the file's data section of " + std::to_string(data_size) + " bytes (truncated file?)");
      t.data = bytes_.data() + f.data_offset_ + t.offset;
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
      const auto& prev = f.tensors_[order[k - 1]];
      const auto& cur = f.tensors_[order[k]];
      if (prev.n_bytes > 0 && cur.offset < prev.offset + prev.n_bytes)
        throw Error(f.source_ + ": tensors '" + prev.name + "' and '" + cur.name + "' overlap in the data section");
    }
  }

  ByteCursor cur_;
  std::span<const uint8_t> bytes_;
};

GgufFile GgufFile::open(const std::string& path) {
  auto mapped = std::make_shared<MappedFile>(path);
  GgufFile f = parse(mapped->bytes(), path);
  f.file_ = std::move(mapped);
  return f;
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, const std::string& source) {
  GgufFile f;
  GgufParser(bytes, source).parse_into(f);
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::span<const uint8_t> GgufFile::mapped_bytes() const {
  return file_ ? file_->bytes() : std::span<const uint8_t>();
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (t == nullptr) throw Error(source_ + ": missing tensor '" + std::string(name) + "'");
  return *t;
}

}  // namespace frugal
