// The byte format of exported KV-cache entries (SequenceState::export_entries): a fixed header
// naming the layout ("mla-latent-f32", "gqa-kv-rows-f32"), its sizes, the caller's model tag and
// the positions held, a checksum of the payload, then the payload (float32 entries). Readers check
// every field against what they expect before touching the payload, so a file from another
// model or layout, or a truncated or corrupt one, is rejected with an error naming the mismatch.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace frugal {

struct CacheBlobLayout {
  std::string name;               // e.g. "mla-latent-f32" (at most 23 bytes)
  std::array<int64_t, 4> dims{};  // layout sizes, e.g. {n_layers, kv_lora_rank, rope_dim, 0}
  int64_t bytes_per_token = 0;    // payload bytes one position takes
};

// What a blob holds: positions [begin, begin + n) and their entries.
struct CacheBlobView {
  int64_t begin = 0, n = 0;
  std::string_view payload;  // n * bytes_per_token bytes, inside the blob
};

// Header + payload. payload.size() must be n * layout.bytes_per_token.
std::string write_cache_blob(const CacheBlobLayout& layout, uint64_t model_tag, int64_t begin,
                             int64_t n, std::string_view payload);
// Checks the header against `layout` and `model_tag`, the sizes and the checksum; throws
// frugal::Error saying what differs. The view points into `blob`.
CacheBlobView read_cache_blob(std::string_view blob, const CacheBlobLayout& layout,
                              uint64_t model_tag);

// FNV-1a 64-bit, continuing from `h`.
uint64_t fnv1a64(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ull);

}  // namespace frugal
