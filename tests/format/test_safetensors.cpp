// safetensors and config.json: valid files, sharded directories, and malformed headers.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "format/hf_config.h"
#include "format/safetensors.h"
#include "test_util.h"

namespace frugal {
namespace {

std::vector<uint8_t> make_st(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> b(8);
  const uint64_t n = header.size();
  std::memcpy(b.data(), &n, 8);
  b.insert(b.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<uint8_t>(i));
  return b;
}

std::string st_error(const std::string& header, size_t data_bytes) {
  auto b = make_st(header, data_bytes);
  try {
    SafetensorsFile::parse(b, "x.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, ParsesTensorsAndMetadata) {
  auto b = make_st(R"({"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},"s":{"dtype":"F32","shape":[],"data_offsets":[12,16]}})", 16);
  SafetensorsFile f = SafetensorsFile::parse(b, "x");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (const auto& t : f.tensors()) {
    if (t.name == "w") {
      EXPECT_EQ(t.dtype, StDtype::BF16);
      EXPECT_EQ(t.n_elements(), 6);
      EXPECT_EQ(t.data, b.data() + 8 + (b.size() - 8 - 16));
    } else {
      EXPECT_EQ(t.n_elements(), 1);  // shape [] is a scalar
      EXPECT_EQ(t.data[0], 12);
    }
  }
}

TEST(Safetensors, RejectsMalformedHeaders) {
  EXPECT_NE(st_error("", 0).find("'{'"), std::string::npos);
  EXPECT_NE(st_error("{not json", 0).find("not valid JSON"), std::string::npos);
  EXPECT_NE(st_error(R"({"w":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}})", 1).find("unsupported dtype 'Q9'"), std::string::npos);
  EXPECT_NE(st_error(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8).find("needs 8"), std::string::npos);
  EXPECT_NE(st_error(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4).find("outside"), std::string::npos);
  EXPECT_NE(st_error(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8).find("outside"), std::string::npos);
  EXPECT_NE(st_error(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8).find("non-negative"), std::string::npos);
  EXPECT_NE(st_error(R"({"w":{"dtype":"F32","shape":[2]}})", 8).find("data_offsets"), std::string::npos);
  EXPECT_NE(st_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12).find("overlap"), std::string::npos);
  EXPECT_NE(st_error(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8).find("overflow"), std::string::npos);
  std::vector<uint8_t> tiny = {1, 2, 3};
  EXPECT_THROW(SafetensorsFile::parse(tiny, "tiny"), Error);
  std::vector<uint8_t> huge_len(16, 0xFF);
  EXPECT_THROW(SafetensorsFile::parse(huge_len, "huge"), Error);
}

TEST(Safetensors, EveryTruncationIsACleanError) {
  auto b = make_st(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16);
  for (size_t n = 0; n < b.size(); ++n)
    EXPECT_THROW(SafetensorsFile::parse(std::span<const uint8_t>(b.data(), n), "t"), Error) << n;
}

TEST(Safetensors, MergesShardsThroughTheIndex) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(test::temp_dir()) / "sharded";
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& b) {
    std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
  };
  write("model-00001-of-00002.safetensors", make_st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4));
  write("model-00002-of-00002.safetensors", make_st(R"({"b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4));
  std::ofstream(dir / "model.safetensors.index.json") << R"({"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})";
  SafetensorsModel m = SafetensorsModel::open(dir.string());
  EXPECT_EQ(m.tensors().size(), 2u);
  EXPECT_EQ(m.get("b").dtype, StDtype::F16);
  EXPECT_EQ(m.total_bytes(), 8u);
  EXPECT_THROW(m.get("c"), Error);
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map":{"a":"../../etc/passwd"}})";
  EXPECT_THROW(SafetensorsModel::open(dir.string()), Error);
}

TEST(Safetensors, ReadsTheOracleDirectory) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  SafetensorsModel m = SafetensorsModel::open(data + "/oracle/pub-v3/hf");
  EXPECT_EQ(m.get("model.embed_tokens.weight").shape, (std::vector<int64_t>{4096, 128}));
  EXPECT_EQ(m.get("model.embed_tokens.weight").dtype, StDtype::BF16);
  EXPECT_EQ(m.get("model.layers.1.mlp.gate.e_score_correction_bias").dtype, StDtype::F32);
}

TEST(HfConfig, TypedFieldsAndErrors) {
  HfConfig c = HfConfig::parse(R"({"hidden_size":128,"rope_theta":10000.0,"q_lora_rank":null,
      "norm_topk_prob":true,"model_type":"deepseek_v3","rope_scaling":{"factor":4,"type":"yarn"}})", "config.json");
  EXPECT_EQ(c.get_int("hidden_size"), 128);
  EXPECT_DOUBLE_EQ(c.get_float("rope_theta"), 10000.0);
  EXPECT_DOUBLE_EQ(c.get_float("rope_scaling.factor"), 4.0);
  EXPECT_EQ(c.get_string("rope_scaling.type"), "yarn");
  EXPECT_FALSE(c.has("q_lora_rank"));
  EXPECT_EQ(c.get_int_or("q_lora_rank", 0), 0);
  EXPECT_TRUE(c.get_bool("norm_topk_prob"));
  try {
    c.get_int("model_type");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model_type' should be an integer"), std::string::npos);
  }
  EXPECT_THROW(c.get_int("missing"), Error);
  EXPECT_THROW(HfConfig::parse("[1,2]", "c.json"), Error);
  EXPECT_THROW(HfConfig::parse("{\"a\":", "c.json"), Error);
}

TEST(HfConfig, ReadsOracleConfig) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  HfConfig c = HfConfig::load(data + "/oracle/pub-v3/hf");
  EXPECT_EQ(c.get_int("q_lora_rank"), 48);
  EXPECT_EQ(c.get_string("scoring_func"), "sigmoid");
  EXPECT_EQ(c.get_int("rope_scaling.original_max_position_embeddings"), 256);
}

}  // namespace
}  // namespace frugal
