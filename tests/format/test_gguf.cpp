// GGUF reader/writer: round trips of every metadata type, validation of every malformed-input
// class the foundation issue names, and the real llama.cpp-written files in ../shared/data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "core/mmap_file.h"
#include "format/gguf.h"
#include "test_util.h"

namespace frugal {
namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string write_sample(const std::string& name, uint32_t alignment = 32) {
  GgufWriter w(alignment);
  w.set("general.architecture", GgufValue::str("deepseek2"));
  w.set("deepseek2.block_count", GgufValue::u32(27));
  w.set("deepseek2.rope.freq_base", GgufValue::f32(10000.0f));
  w.set("deepseek2.expert_weights_norm", GgufValue::boolean(true));
  w.set("x.i8", {GgufValueType::INT8, int64_t{-5}});
  w.set("x.u16", {GgufValueType::UINT16, uint64_t{65535}});
  w.set("x.i64", {GgufValueType::INT64, int64_t{-1234567890123}});
  w.set("x.f64", {GgufValueType::FLOAT64, 0.125});
  w.set("x.strings", GgufValue::string_array({"a", "", "héllo"}));
  w.set("x.nested", GgufValue::array(GgufValueType::ARRAY,
                                     {GgufValue::i32_array({1, 2}), GgufValue::i32_array({3})}));
  std::vector<uint8_t> a(4 * 8 * 3);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i);
  w.add_tensor("a.weight", GgmlType::F32, {8, 3}, a);
  std::vector<uint8_t> q(34 * 2, 7);
  w.add_tensor("b.weight", GgmlType::Q8_0, {32, 2}, q);
  const std::string path = test::temp_dir() + "/" + name;
  w.write(path);
  return path;
}

TEST(Gguf, RoundTripsEveryMetadataType) {
  GgufFile f = GgufFile::open(write_sample("rt.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get<std::string>("general.architecture"), "deepseek2");
  EXPECT_EQ(f.get<uint32_t>("deepseek2.block_count"), 27u);
  EXPECT_EQ(f.get<int64_t>("deepseek2.block_count"), 27);  // widening
  EXPECT_FLOAT_EQ(f.get<float>("deepseek2.rope.freq_base"), 10000.0f);
  EXPECT_TRUE(f.get<bool>("deepseek2.expert_weights_norm"));
  EXPECT_EQ(f.get<int32_t>("x.i8"), -5);
  EXPECT_EQ(f.get<uint16_t>("x.u16"), 65535);
  EXPECT_EQ(f.get<int64_t>("x.i64"), -1234567890123);
  EXPECT_DOUBLE_EQ(f.get<double>("x.f64"), 0.125);
  EXPECT_EQ(f.get_string_array("x.strings"), (std::vector<std::string>{"a", "", "héllo"}));
  const auto& nested = std::get<GgufArray>(f.find("x.nested")->data);
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(std::get<GgufArray>(nested.items[0].data).items.size(), 2u);
  ASSERT_EQ(f.tensors().size(), 2u);
  const auto& a = f.tensor("a.weight");
  EXPECT_EQ(a.ne[0], 8);
  EXPECT_EQ(a.ne[1], 3);
  EXPECT_EQ(a.n_bytes, 96u);
  EXPECT_EQ(a.data[5], 5);
  EXPECT_EQ(f.tensor("b.weight").n_bytes, 68u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
}

TEST(Gguf, HonoursCustomAlignment) {
  GgufFile f = GgufFile::open(write_sample("align.gguf", 64));
  EXPECT_EQ(f.alignment(), 64u);
  for (const auto& t : f.tensors()) EXPECT_EQ((t.data - f.tensors()[0].data) % 64, 0);
  EXPECT_EQ(f.data_offset() % 64, 0u);
}

TEST(Gguf, TypedAccessErrorsNameTheKey) {
  GgufFile f = GgufFile::open(write_sample("typed.gguf"));
  try {
    f.get<uint32_t>("deepseek2.missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deepseek2.missing"), std::string::npos);
  }
  EXPECT_THROW(f.get<uint32_t>("general.architecture"), Error);  // string, not integer
  EXPECT_THROW(f.get<uint8_t>("x.u16"), Error);                  // out of range
  EXPECT_THROW(f.get<uint32_t>("x.i8"), Error);                  // negative into unsigned
  EXPECT_FALSE(f.get_optional<uint32_t>("nope").has_value());
  EXPECT_EQ(f.get_or<uint32_t>("nope", 9u), 9u);
  EXPECT_THROW(f.tensor("nope"), Error);
}

TEST(Gguf, EveryTruncationIsACleanError) {
  const std::string path = write_sample("trunc.gguf");
  const auto bytes = read_bytes(path);
  // Padding after the last tensor's data may be cut without losing anything; anything shorter
  // than the end of the last tensor must fail.
  GgufFile whole = GgufFile::open(path);
  size_t end_of_data = 0;
  for (const auto& t : whole.tensors())
    end_of_data = std::max<size_t>(end_of_data, whole.data_offset() + t.offset + t.n_bytes);
  ASSERT_LT(end_of_data, bytes.size() + 1);
  for (size_t n = 0; n < end_of_data; ++n) {
    std::span<const uint8_t> part(bytes.data(), n);
    EXPECT_THROW(GgufFile::parse(part, "trunc"), Error) << "prefix of " << n << " bytes";
  }
}

TEST(Gguf, RandomCorruptionNeverCrashes) {
  const auto good = read_bytes(write_sample("corrupt.gguf"));
  std::mt19937 rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    auto bytes = good;
    const int n_flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n_flips; ++k) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    try {
      GgufFile f = GgufFile::parse(bytes, "corrupt");
      for (const auto& t : f.tensors()) ASSERT_LE(t.data + t.n_bytes, bytes.data() + bytes.size());
    } catch (const Error&) {
    }
  }
}

// Builds a header by hand for the malformed cases.
struct RawGguf {
  std::vector<uint8_t> b;
  template <typename T>
  RawGguf& pod(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
    return *this;
  }
  RawGguf& str(const std::string& s) {
    pod<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return pod<uint32_t>(0x46554747).pod<uint32_t>(version).pod<uint64_t>(n_tensors).pod<uint64_t>(n_kv);
  }
  RawGguf& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).pod<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (auto n : ne) pod<uint64_t>(n);
    return pod<uint32_t>(type).pod<uint64_t>(offset);
  }
  RawGguf& pad_data(size_t data_bytes) {
    while (b.size() % 32) b.push_back(0);
    b.resize(b.size() + data_bytes, 0);
    return *this;
  }
};

std::string parse_error(const RawGguf& g) {
  try {
    GgufFile::parse(g.b, "bad.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Gguf, RejectsMalformedHeadersWithClearMessages) {
  EXPECT_NE(parse_error(RawGguf().pod<uint32_t>(0x12345678).pod<uint32_t>(3).pad_data(64)).find("bad magic"), std::string::npos);
  EXPECT_NE(parse_error(RawGguf().header(0, 0, 1).pad_data(0)).find("version 1"), std::string::npos);
  EXPECT_NE(parse_error(RawGguf().header(0, 0, 7).pad_data(0)).find("version 7"), std::string::npos);
  EXPECT_NE(parse_error(RawGguf().header(1ull << 60, 0).pad_data(64)).find("tensor count"), std::string::npos);
  EXPECT_NE(parse_error(RawGguf().header(0, 1ull << 60).pad_data(64)).find("metadata count"), std::string::npos);
  // String length far beyond the file.
  EXPECT_NE(parse_error(RawGguf().header(0, 1).pod<uint64_t>(1ull << 62).pad_data(64)).find("length"), std::string::npos);
  // Array claiming 2^40 elements.
  RawGguf arr;
  arr.header(0, 1).str("k").pod<uint32_t>(9).pod<uint32_t>(4).pod<uint64_t>(1ull << 40).pad_data(64);
  EXPECT_NE(parse_error(arr).find("array length"), std::string::npos);
  // Unknown value type.
  RawGguf vt;
  vt.header(0, 1).str("k").pod<uint32_t>(99).pad_data(64);
  EXPECT_NE(parse_error(vt).find("unknown value type"), std::string::npos);
  // Duplicate keys.
  RawGguf dup;
  dup.header(0, 2).str("k").pod<uint32_t>(4).pod<uint32_t>(1).str("k").pod<uint32_t>(4).pod<uint32_t>(2).pad_data(0);
  EXPECT_NE(parse_error(dup).find("duplicate metadata key 'k'"), std::string::npos);
  // Bad alignment.
  RawGguf al;
  al.header(0, 1).str("general.alignment").pod<uint32_t>(4).pod<uint32_t>(48).pad_data(0);
  EXPECT_NE(parse_error(al).find("power of two"), std::string::npos);
  // Bool that is neither 0 nor 1.
  RawGguf bl;
  bl.header(0, 1).str("b").pod<uint32_t>(7).pod<uint8_t>(2).pad_data(0);
  EXPECT_NE(parse_error(bl).find("bool"), std::string::npos);
}

TEST(Gguf, RejectsMalformedTensorInfos) {
  auto one = [](const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t off, size_t data) {
    RawGguf g;
    g.header(1, 0).tensor(name, std::move(ne), type, off).pad_data(data);
    return parse_error(g);
  };
  EXPECT_NE(one("t", {4, 1, 1, 1, 1}, 0, 0, 64).find("n_dims 5"), std::string::npos);
  EXPECT_NE(one("t", {}, 0, 0, 64).find("n_dims 0"), std::string::npos);
  EXPECT_NE(one("t", {4}, 4, 0, 64).find("unknown tensor type id 4"), std::string::npos);
  EXPECT_NE(one("t", {4}, 77, 0, 64).find("unknown tensor type id 77"), std::string::npos);
  EXPECT_NE(one("t", {33}, 8, 0, 64).find("not a multiple"), std::string::npos);
  EXPECT_NE(one("t", {4}, 0, 8, 64).find("not aligned"), std::string::npos);
  EXPECT_NE(one("t", {64}, 0, 0, 64).find("outside"), std::string::npos);  // 256 bytes needed
  EXPECT_NE(one("t", {1ull << 40, 1ull << 10}, 0, 0, 64).find("elements"), std::string::npos);
  EXPECT_NE(one("t", {1ull << 62, 1ull << 62}, 0, 0, 64).find("overflow"), std::string::npos);
  RawGguf overlap;
  overlap.header(2, 0).tensor("x", {16}, 0, 0).tensor("y", {16}, 0, 32).pad_data(128);
  EXPECT_NE(parse_error(overlap).find("overlap"), std::string::npos);
  RawGguf dup;
  dup.header(2, 0).tensor("x", {8}, 0, 0).tensor("x", {8}, 0, 32).pad_data(128);
  EXPECT_NE(parse_error(dup).find("duplicate tensor 'x'"), std::string::npos);
}

TEST(Gguf, ReadsLlamaCppWrittenFiles) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  for (const char* name : {"quant/q-Q4_K_S.gguf", "quant/base-f32.gguf", "oracle/pub-v3/model-q8_0.gguf"}) {
    GgufFile f = GgufFile::open(data + "/" + name);
    EXPECT_GT(f.tensors().size(), 0u) << name;
    EXPECT_TRUE(f.has("general.architecture")) << name;
  }
  GgufFile v3 = GgufFile::open(data + "/oracle/pub-v3/model-f32.gguf");
  EXPECT_EQ(v3.get<std::string>("general.architecture"), "deepseek2");
  EXPECT_EQ(v3.get<uint32_t>("deepseek2.block_count"), 3u);
  EXPECT_EQ(v3.get<uint32_t>("deepseek2.attention.q_lora_rank"), 48u);
  EXPECT_EQ(v3.tensor("token_embd.weight").ne[1], 4096);
  int64_t n_params = 0;
  for (const auto& t : v3.tensors()) n_params += t.n_elements;
  EXPECT_EQ(n_params, 1651584);  // = the HF directory's parameter count
}

TEST(Gguf, SparseTensorsMakeLargeFilesCheaply) {
  GgufWriter w;
  w.add_tensor("big", GgmlType::Q8_0, {4096, 4096 * 16}, GgufWriter::Filler{});
  const std::string path = test::temp_dir() + "/sparse.gguf";
  w.write(path);
  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.tensor("big").n_bytes, 4096ull * 4096 * 16 / 32 * 34);
  EXPECT_EQ(f.tensor("big").data[12345], 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace frugal
