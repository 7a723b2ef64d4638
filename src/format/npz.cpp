// .npz = zip archive of .npy members. Reads the central directory (zip64 aware, as numpy writes
// members with force_zip64), then each member's local header, then the stored or deflated data,
// checking sizes and CRC-32. Zip layout: PKWARE APPNOTE.TXT §4.3.
#include <zlib.h>

#include <algorithm>
#include <string_view>

#include "core/byte_cursor.h"
#include "core/error.h"
#include "core/half.h"
#include "core/mmap_file.h"
#include "format/npy.h"

namespace frugal {
namespace {

constexpr uint32_t kEocdSig = 0x06054b50;  // end of central directory
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kMax32 = 0xFFFFFFFF;

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 = stored, 8 = deflate
  uint16_t flags = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_offset = 0;
};

struct CentralDirectory {
  uint64_t n_entries = 0;
  uint64_t offset = 0;
};

ByteCursor cursor_at(std::span<const uint8_t> bytes, uint64_t offset, const std::string& source,
                     std::string_view what) {
  if (offset > bytes.size())
    throw Error(source + ": zip " + std::string(what) + " offset " + std::to_string(offset) +
                " is past the end of the file (" + std::to_string(bytes.size()) + " bytes)");
  ByteCursor cur(bytes, source);
  cur.skip(offset, what);
  return cur;
}

// Scans back from the end for the end-of-central-directory record (it may be followed by a
// comment of up to 65535 bytes).
uint64_t find_eocd(std::span<const uint8_t> bytes, const std::string& source) {
  if (bytes.size() >= 22) {
    const uint64_t last = bytes.size() - 22;
    const uint64_t first = last > 65535 ? last - 65535 : 0;
    for (uint64_t pos = last + 1; pos-- > first;) {
      if (load_le<uint32_t>(bytes.data() + pos) == kEocdSig) return pos;
    }
  }
  throw Error(source + ": not a zip/.npz archive (no end-of-central-directory record)");
}

CentralDirectory read_central_directory_location(std::span<const uint8_t> bytes,
                                                 const std::string& source) {
  const uint64_t eocd = find_eocd(bytes, source);
  ByteCursor cur = cursor_at(bytes, eocd + 10, source, "end of central directory");
  CentralDirectory cd;
  cd.n_entries = cur.read<uint16_t>("zip entry count");
  cur.read<uint32_t>("zip central directory size");
  cd.offset = cur.read<uint32_t>("zip central directory offset");
  if (cd.n_entries != 0xFFFF && cd.offset != kMax32) return cd;

  // Zip64: a locator just before the EOCD points at the zip64 end-of-central-directory record.
  if (eocd < 20) throw Error(source + ": zip64 archive without a zip64 locator");
  ByteCursor loc = cursor_at(bytes, eocd - 20, source, "zip64 locator");
  if (loc.read<uint32_t>("zip64 locator signature") != kZip64LocatorSig)
    throw Error(source + ": zip64 archive without a zip64 locator");
  loc.read<uint32_t>("zip64 disk");
  ByteCursor rec =
      cursor_at(bytes, loc.read<uint64_t>("zip64 record offset"), source, "zip64 record");
  if (rec.read<uint32_t>("zip64 record signature") != kZip64EocdSig)
    throw Error(source + ": bad zip64 end-of-central-directory signature");
  rec.skip(20, "zip64 record header");
  rec.read<uint64_t>("zip64 entries on disk");
  cd.n_entries = rec.read<uint64_t>("zip64 entry count");
  rec.read<uint64_t>("zip64 central directory size");
  cd.offset = rec.read<uint64_t>("zip64 central directory offset");
  return cd;
}

// Replaces 0xFFFFFFFF sizes/offset with the 64-bit values of the zip64 extra field (id 1),
// which lists only the saturated fields, in the order uncompressed, compressed, offset.
void apply_zip64_extra(std::string_view extra, ZipEntry* e, const std::string& source) {
  ByteCursor cur({reinterpret_cast<const uint8_t*>(extra.data()), extra.size()}, source);
  while (cur.remaining() >= 4) {
    const uint16_t id = cur.read<uint16_t>("zip extra id");
    const uint16_t size = cur.read<uint16_t>("zip extra size");
    if (id != 0x0001) {
      cur.skip(size, "zip extra field");
      continue;
    }
    if (e->uncompressed_size == kMax32) e->uncompressed_size = cur.read<uint64_t>("zip64 size");
    if (e->compressed_size == kMax32)
      e->compressed_size = cur.read<uint64_t>("zip64 compressed size");
    if (e->local_offset == kMax32) e->local_offset = cur.read<uint64_t>("zip64 local offset");
    return;
  }
}

ZipEntry read_central_entry(ByteCursor& cur, const std::string& source) {
  if (cur.read<uint32_t>("zip central header signature") != kCentralSig)
    cur.fail("bad zip central directory header signature");
  ZipEntry e;
  cur.skip(4, "zip versions");
  e.flags = cur.read<uint16_t>("zip flags");
  e.method = cur.read<uint16_t>("zip compression method");
  cur.skip(4, "zip time and date");
  e.crc = cur.read<uint32_t>("zip crc32");
  e.compressed_size = cur.read<uint32_t>("zip compressed size");
  e.uncompressed_size = cur.read<uint32_t>("zip uncompressed size");
  const uint16_t name_len = cur.read<uint16_t>("zip name length");
  const uint16_t extra_len = cur.read<uint16_t>("zip extra length");
  const uint16_t comment_len = cur.read<uint16_t>("zip comment length");
  cur.skip(8, "zip disk and attributes");
  e.local_offset = cur.read<uint32_t>("zip local header offset");
  e.name = std::string(cur.read_bytes(name_len, "zip member name"));
  apply_zip64_extra(cur.read_bytes(extra_len, "zip extra field"), &e, source);
  cur.skip(comment_len, "zip member comment");
  return e;
}

// Raw DEFLATE (no zlib header) of exactly `in` into `out`, whose size is already known.
void inflate_raw(std::span<const uint8_t> in, std::vector<uint8_t>& out, const std::string& what) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw Error(what + ": cannot initialise zlib");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.next_out = out.data();
  int rc = Z_OK;
  size_t in_left = in.size(), out_left = out.size();
  while (rc == Z_OK) {  // feed in chunks that fit zlib's 32-bit counters
    const uInt in_chunk = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    const uInt out_chunk = static_cast<uInt>(std::min<size_t>(out_left, 1u << 30));
    zs.avail_in = in_chunk;
    zs.avail_out = out_chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_chunk - zs.avail_in;
    out_left -= out_chunk - zs.avail_out;
    if (rc == Z_OK && zs.avail_in == in_chunk && zs.avail_out == out_chunk) break;  // no progress
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || out_left != 0)
    throw Error(what + ": corrupt deflate data (zlib status " + std::to_string(rc) + ")");
}

std::vector<uint8_t> extract(std::span<const uint8_t> bytes, const ZipEntry& e,
                             const std::string& source) {
  const std::string what = source + ": member '" + e.name + "'";
  if (e.flags & 1) throw Error(what + " is encrypted");
  ByteCursor cur = cursor_at(bytes, e.local_offset, source, "local header");
  if (cur.read<uint32_t>("zip local header signature") != kLocalSig)
    cur.fail("bad zip local header signature for '" + e.name + "'");
  cur.skip(22, "zip local header");
  const uint16_t name_len = cur.read<uint16_t>("zip local name length");
  const uint16_t extra_len = cur.read<uint16_t>("zip local extra length");
  cur.skip(uint64_t{name_len} + extra_len, "zip local name and extra");
  const std::string_view data = cur.read_bytes(e.compressed_size, "zip member data");
  const std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(data.data()), data.size());

  // DEFLATE expands at most ~1032:1; refuse larger claims before allocating.
  if (e.uncompressed_size > e.compressed_size * 1032 + 1024)
    throw Error(what + ": uncompressed size " + std::to_string(e.uncompressed_size) +
                " is implausible for " + std::to_string(e.compressed_size) + " compressed bytes");
  std::vector<uint8_t> out(e.uncompressed_size);
  if (e.method == 0) {
    if (e.compressed_size != e.uncompressed_size) throw Error(what + ": stored sizes differ");
    out.assign(in.begin(), in.end());
  } else if (e.method == 8) {
    inflate_raw(in, out, what);
  } else {
    throw Error(what + ": unsupported zip compression method " + std::to_string(e.method) +
                " (expected 0 = stored or 8 = deflate)");
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t off = 0; off < out.size(); off += 1u << 30)
    crc = crc32(crc, out.data() + off,
                static_cast<uInt>(std::min<size_t>(out.size() - off, 1u << 30)));
  if (crc != e.crc) throw Error(what + ": CRC-32 mismatch");
  return out;
}

}  // namespace

std::map<std::string, NpyArray> parse_npz(std::span<const uint8_t> bytes,
                                          const std::string& source) {
  const CentralDirectory cd = read_central_directory_location(bytes, source);
  ByteCursor cur = cursor_at(bytes, cd.offset, source, "central directory");
  std::map<std::string, NpyArray> arrays;
  for (uint64_t i = 0; i < cd.n_entries; ++i) {
    const ZipEntry e = read_central_entry(cur, source);
    std::string key = e.name;
    if (key.size() >= 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    const std::vector<uint8_t> member = extract(bytes, e, source);
    arrays[key] = parse_npy(member, source + ":" + e.name);
  }
  return arrays;
}

std::map<std::string, NpyArray> read_npz(const std::string& path) {
  MappedFile file(path);
  return parse_npz(file.bytes(), path);
}

}  // namespace frugal
