#include "model/cache_blob.h"

#include <cstring>

#include "core/error.h"

namespace frugal {

namespace {

constexpr char kMagic[8] = {'F', 'R', 'U', 'G', 'A', 'L', 'K', 'V'};
constexpr uint32_t kVersion = 1;

// Little-endian on every supported host (x86-64); written and read with memcpy.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  char layout[24];
  int64_t dims[4];
  int64_t bytes_per_token;
  uint64_t model_tag;
  int64_t begin;
  int64_t n;
  uint64_t payload_bytes;
  uint64_t checksum;  // fnv1a64 of the payload
};

}  // namespace

uint64_t fnv1a64(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string write_cache_blob(const CacheBlobLayout& layout, uint64_t model_tag, int64_t begin,
                             int64_t n, std::string_view payload) {
  FRUGAL_CHECK(layout.name.size() < sizeof(Header::layout), "cache layout name too long");
  FRUGAL_CHECK(static_cast<int64_t>(payload.size()) == n * layout.bytes_per_token,
               "cache blob payload size does not match its positions");
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.header_bytes = sizeof(Header);
  std::memcpy(h.layout, layout.name.data(), layout.name.size());
  for (int i = 0; i < 4; ++i) h.dims[i] = layout.dims[i];
  h.bytes_per_token = layout.bytes_per_token;
  h.model_tag = model_tag;
  h.begin = begin;
  h.n = n;
  h.payload_bytes = payload.size();
  h.checksum = fnv1a64(payload);
  std::string out(sizeof(Header), '\0');
  std::memcpy(out.data(), &h, sizeof h);
  out.append(payload);
  return out;
}

CacheBlobView read_cache_blob(std::string_view blob, const CacheBlobLayout& layout,
                              uint64_t model_tag) {
  Header h{};
  if (blob.size() < sizeof(Header))
    throw Error("KV cache data: " + std::to_string(blob.size()) +
                " bytes, shorter than its header (" + std::to_string(sizeof(Header)) + ")");
  std::memcpy(&h, blob.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
    throw Error("KV cache data: not a frugal KV cache (bad magic)");
  if (h.version != kVersion || h.header_bytes != sizeof(Header))
    throw Error("KV cache data: version " + std::to_string(h.version) + ", expected " +
                std::to_string(kVersion));
  const std::string name(h.layout, strnlen(h.layout, sizeof h.layout));
  if (name != layout.name)
    throw Error("KV cache data: layout '" + name + "', this model's is '" + layout.name + "'");
  for (int i = 0; i < 4; ++i)
    if (h.dims[i] != layout.dims[i] || h.bytes_per_token != layout.bytes_per_token)
      throw Error("KV cache data: layout sizes differ from this model's (dimension " +
                  std::to_string(i) + ": " + std::to_string(h.dims[i]) + " vs " +
                  std::to_string(layout.dims[i]) + ")");
  if (h.model_tag != model_tag) throw Error("KV cache data: written for another model");
  if (h.begin < 0 || h.n < 0 || h.n > (int64_t{1} << 32) ||
      h.payload_bytes != static_cast<uint64_t>(h.n * layout.bytes_per_token))
    throw Error("KV cache data: inconsistent positions or payload size");
  if (blob.size() - sizeof(Header) != h.payload_bytes)
    throw Error("KV cache data: payload of " + std::to_string(blob.size() - sizeof(Header)) +
                " bytes, the header says " + std::to_string(h.payload_bytes) + " (truncated?)");
  const std::string_view payload = blob.substr(sizeof(Header));
  if (fnv1a64(payload) != h.checksum) throw Error("KV cache data: checksum mismatch (corrupt)");
  return {h.begin, h.n, payload};
}

}  // namespace frugal
