// .npy / .npz: round trips, hand-built headers of every supported dtype and version, zip
// archives built here (stored and deflated), the real reference .npz files, and malformed input
// (which must throw frugal::Error, never crash).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/npy.h"
#include "test_util.h"

namespace frugal {
namespace {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::span<const uint8_t> as_span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A version-1.0 (or 2.0) .npy image with the given header dict and raw payload.
std::string make_npy(const std::string& dict, const std::string& payload, int major = 1) {
  std::string header = dict;
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const uint32_t len = static_cast<uint32_t>(header.size());
  out.append(reinterpret_cast<const char*>(&len), major == 1 ? 2 : 4);
  return out + header + payload;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

void put16(std::string& s, uint16_t v) {
  s.append(reinterpret_cast<const char*>(&v), 2);
}
void put32(std::string& s, uint32_t v) {
  s.append(reinterpret_cast<const char*>(&v), 4);
}

std::string deflate_raw(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A minimal zip (PKWARE APPNOTE §4.3) holding the members, stored (method 0) or deflated (8).
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& members,
                     uint16_t method) {
  std::string body, central;
  for (const auto& [name, data] : members) {
    const std::string packed = method == 8 ? deflate_raw(data) : data;
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    const uint32_t offset = static_cast<uint32_t>(body.size());
    put32(body, 0x04034b50);
    put16(body, 20);
    put16(body, 0);
    put16(body, method);
    put32(body, 0);  // time, date
    put32(body, crc);
    put32(body, static_cast<uint32_t>(packed.size()));
    put32(body, static_cast<uint32_t>(data.size()));
    put16(body, static_cast<uint16_t>(name.size()));
    put16(body, 0);
    body += name + packed;

    put32(central, 0x02014b50);
    put16(central, 20);
    put16(central, 20);
    put16(central, 0);
    put16(central, method);
    put32(central, 0);
    put32(central, crc);
    put32(central, static_cast<uint32_t>(packed.size()));
    put32(central, static_cast<uint32_t>(data.size()));
    put16(central, static_cast<uint16_t>(name.size()));
    put16(central, 0);  // extra
    put16(central, 0);  // comment
    put16(central, 0);  // disk
    put16(central, 0);  // internal attributes
    put32(central, 0);  // external attributes
    put32(central, offset);
    central += name;
  }
  std::string eocd;
  put32(eocd, 0x06054b50);
  put32(eocd, 0);
  put16(eocd, static_cast<uint16_t>(members.size()));
  put16(eocd, static_cast<uint16_t>(members.size()));
  put32(eocd, static_cast<uint32_t>(central.size()));
  put32(eocd, static_cast<uint32_t>(body.size()));
  put16(eocd, 0);
  return body + central + eocd;
}

TEST(Npy, WriteReadRoundTrip) {
  const std::string dir = test::temp_dir();
  const std::vector<std::vector<int64_t>> shapes = {{2, 3}, {5}, {}, {0, 4}, {1, 1, 3}};
  for (const auto& shape : shapes) {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    std::vector<float> data(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) data[i] = 0.5f * static_cast<float>(i) - 1.0f;
    const std::string path = dir + "/rt.npy";
    write_npy_f32(path, data.data(), shape);
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    const uint16_t header_len = static_cast<uint16_t>(bytes[8] | (bytes[9] << 8));
    EXPECT_EQ((10 + header_len) % 64, 0u) << "data must start 64-byte aligned";
    EXPECT_EQ(bytes[10 + header_len - 1], '\n');
    const NpyArray a = read_npy(path);
    EXPECT_EQ(a.dtype, "f4");
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.size(), n);
    EXPECT_EQ(a.to_float(), data);
  }
}

TEST(Npy, WriterTupleSyntax) {
  const std::string path = test::temp_dir() + "/tuple.npy";
  const float v[3] = {1, 2, 3};
  write_npy_f32(path, v, std::vector<int64_t>{3});
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const std::string header(bytes.begin() + 10, bytes.end() - 12);
  EXPECT_NE(header.find("'shape': (3,)"), std::string::npos) << header;
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
}

TEST(Npy, ParsesEveryDtypeAndVersion) {
  const std::vector<double> f8 = {1.5, -2.25, 1e300};
  const NpyArray a = parse_npy(
      as_span(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", raw(f8))),
      "f8");
  EXPECT_EQ(a.dtype, "f8");
  EXPECT_EQ(a.to_float()[1], -2.25f);

  const std::vector<int64_t> i8 = {-1, 1LL << 40, 7, 8};
  const NpyArray b = parse_npy(
      as_span(make_npy("{'descr':'<i8','fortran_order':False,'shape':(2,2)}", raw(i8), 2)), "i8");
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(b.to_int64(), i8);

  const std::vector<int32_t> i4 = {3, -4};
  const NpyArray c =
      parse_npy(as_span(make_npy("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i4\"}",
                                 raw(i4), 3)),
                "i4");
  EXPECT_EQ(c.to_int64(), (std::vector<int64_t>{3, -4}));
  EXPECT_EQ(c.to_float(), (std::vector<float>{3.0f, -4.0f}));
  EXPECT_THROW(a.to_int64(), Error);

  // A 1-D array may say fortran_order True (it is the same layout).
  const std::vector<float> f4 = {1, 2};
  EXPECT_NO_THROW(parse_npy(
      as_span(make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", raw(f4))),
      "1d"));
}

TEST(Npy, MalformedInputsThrow) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string payload = raw(std::vector<float>{1, 2});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"bad magic", "\x93NUMPX" + make_npy(ok_dict, payload).substr(6)},
      {"version 9", make_npy(ok_dict, payload).replace(6, 1, "\x09")},
      {"truncated header", make_npy(ok_dict, payload).substr(0, 20)},
      {"short data", make_npy(ok_dict, payload.substr(0, 7))},
      {"long data", make_npy(ok_dict, payload + "x")},
      {"big endian",
       make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", payload)},
      {"float16", make_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", payload)},
      {"object", make_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", payload)},
      {"fortran", make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", payload)},
      {"missing shape", make_npy("{'descr': '<f4', 'fortran_order': False, }", payload)},
      {"unknown key",
       make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", payload)},
      {"negative dim",
       make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", payload)},
      {"huge dims",
       make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
                payload)},
      {"overflowing dim",
       make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                payload)},
      {"unterminated string", make_npy("{'descr: '<f4", payload)},
      {"bad bool", make_npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", payload)},
      {"not a dict", make_npy("[1, 2]", payload)},
      {"header len past end", std::string("\x93NUMPY\x01\x00\xff\xff{}", 12)},
  };
  for (const auto& [name, bytes] : cases) {
    EXPECT_THROW(parse_npy(as_span(bytes), name), Error) << name;
  }
  EXPECT_THROW(read_npy(test::temp_dir() + "/does-not-exist.npy"), Error);
}

TEST(Npy, RandomCorruptionNeverCrashes) {
  const std::vector<float> data(10, 1.0f);
  const std::string good =
      make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5), }", raw(data));
  std::mt19937 rng(11);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string bytes = good;
    const int n_flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n_flips; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 3 == 0) bytes.resize(rng() % bytes.size());
    try {
      parse_npy(as_span(bytes), "fuzz");
    } catch (const Error&) {
    }
  }
}

TEST(Npz, StoredAndDeflatedArchives) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<int64_t> ids = {10, 20};
  const std::string a =
      make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", raw(x));
  const std::string b =
      make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", raw(ids));
  for (const uint16_t method : {uint16_t{0}, uint16_t{8}}) {
    const std::string zip = make_zip({{"logits.npy", a}, {"tokens.npy", b}}, method);
    const auto arrays = parse_npz(as_span(zip), "test.npz");
    ASSERT_EQ(arrays.size(), 2u);
    EXPECT_EQ(arrays.at("logits").shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(arrays.at("logits").to_float(), x);
    EXPECT_EQ(arrays.at("tokens").to_int64(), ids);
  }
}

TEST(Npz, MalformedArchivesThrow) {
  const std::vector<float> x = {1, 2};
  const std::string member =
      make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", raw(x));
  const std::string good = make_zip({{"a.npy", member}}, 8);
  std::string bad_crc = make_zip({{"a.npy", member}}, 0);
  bad_crc[30 + 5 + 20] ^= 1;  // flip a payload bit of the stored member
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"not a zip", member},
      {"truncated", good.substr(0, good.size() - 30)},
      {"crc mismatch", bad_crc},
      {"member not npy", make_zip({{"a.npy", "hello"}}, 0)},
      {"method 12",
       [&] {
         std::string z = make_zip({{"a.npy", member}}, 0);
         z[30 + 5 + member.size() + 10] = 12;  // central directory compression method
         return z;
       }()},
  };
  for (const auto& [name, bytes] : cases) {
    EXPECT_THROW(parse_npz(as_span(bytes), name), Error) << name;
  }
  std::mt19937 rng(3);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string bytes = good;
    for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    try {
      parse_npz(as_span(bytes), "fuzz");
    } catch (const Error&) {
    }
  }
}

TEST(Npz, ReadsNumpyWrittenReferenceFile) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  // Written by numpy.savez_compressed: deflated members with zip64 extra fields.
  const auto arrays = read_npz(data + "/quant/q-Q8_0.dequant.npz");
  ASSERT_TRUE(arrays.count("output_weight"));
  EXPECT_EQ(arrays.at("output_weight").shape, (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(arrays.at("output_weight").dtype, "f4");
  ASSERT_TRUE(arrays.count("blk_0_ffn_down_weight"));
  EXPECT_EQ(arrays.at("blk_0_ffn_down_weight").shape, (std::vector<int64_t>{256, 512}));
}

}  // namespace
}  // namespace frugal
