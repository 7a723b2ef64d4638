// `frugal synth`, `run` and `chat` end to end on a generated model carrying the real DeepSeek-V3
// tokenizer. The greedy text of `run` (KV-cache decoding) must equal a continuation computed
// independently by repeated full forward passes through `frugal logits` (no cache, argmax here).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "format/npy.h"
#include "test_util.h"

namespace frugal {
namespace {

std::string sh(const std::string& cmd, int* rc) {
  std::string out;
  *rc = test::run_command(cmd, &out);
  return out;
}

class GenerateCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string data = test::shared_data_dir();
    if (data.empty()) return;
    model_ = test::temp_dir() + "/gen-cli-tiny.gguf";
    int rc = 0;
    std::string out = sh(test::frugal_binary() + " synth --arch deepseek2 --preset tiny --type Q8_0 --seed 5 --tokenizer " +
                             data + "/tokenizer/deepseek-v3/tokenizer.json --out " + model_, &rc);
    ASSERT_EQ(rc, 0) << out;
  }
  void SetUp() override {
    if (model_.empty()) GTEST_SKIP() << "../shared/data is absent: the DeepSeek-V3 tokenizer is needed (see README)";
  }
  static std::string model_;
};
std::string GenerateCli::model_;

TEST_F(GenerateCli, GreedyRunEqualsFullForwardArgmax) {
  const std::string bin = test::frugal_binary();
  int rc = 0;
  const std::string prompt = "The quick brown fox";
  std::string ids_json = sh("printf '%s' '" + prompt + "' | " + bin + " tokenize " + model_ + " 2>/dev/null", &rc);
  ASSERT_EQ(rc, 0) << ids_json;
  std::vector<int32_t> ids = test::parse_id_array(ids_json);
  ASSERT_GE(ids.size(), 2u);
  const size_t n_prompt = ids.size();
  const int n_gen = 8;
  const std::string npy = test::temp_dir() + "/gen-cli-logits.npy";
  for (int step = 0; step < n_gen; ++step) {
    std::string list;
    for (size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
    std::string out = sh(bin + " logits " + model_ + " --tokens " + list + " --out " + npy, &rc);
    ASSERT_EQ(rc, 0) << out;
    NpyArray a = read_npy(npy);
    ASSERT_EQ(a.shape.size(), 2u);
    std::vector<float> l = a.to_float();
    const int64_t vocab = a.shape[1];
    const float* last = l.data() + (a.shape[0] - 1) * vocab;
    ids.push_back(static_cast<int32_t>(std::max_element(last, last + vocab) - last));
  }
  std::string gen_list = "[";
  for (size_t i = n_prompt; i < ids.size(); ++i) gen_list += (i > n_prompt ? "," : "") + std::to_string(ids[i]);
  gen_list += "]";
  std::string expected = sh("echo '" + gen_list + "' | " + bin + " tokenize --decode " + model_ + " 2>/dev/null", &rc);
  ASSERT_EQ(rc, 0);
  while (!expected.empty() && expected.back() == '\n') expected.pop_back();
  std::string got = sh(bin + " run " + model_ + " -p '" + prompt + "' -n " + std::to_string(n_gen) +
                           " --temp 0 --ignore-eos --cache-type f32 2>/dev/null", &rc);
  ASSERT_EQ(rc, 0) << got;
  while (!got.empty() && got.back() == '\n') got.pop_back();
  EXPECT_EQ(got, expected);
}

TEST_F(GenerateCli, SeededSamplingIsReproducible) {
  const std::string cmd = test::frugal_binary() + " run " + model_ + " -p 'Once upon a time' -n 12 --temp 1.0 --seed 42 --ignore-eos 2>/dev/null";
  int rc1 = 0, rc2 = 0;
  std::string a = sh(cmd, &rc1), b = sh(cmd, &rc2);
  EXPECT_EQ(rc1, 0);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 1u);
}

TEST_F(GenerateCli, ChatResetsAndExits) {
  int rc = 0;
  std::string out = sh("printf 'hello\\n/reset\\nagain\\n/exit\\n' | " + test::frugal_binary() + " chat " + model_ + " -n 6", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("(conversation cleared)"), std::string::npos) << out;
  EXPECT_NE(out.find("chat template: deepseek-v3"), std::string::npos) << out;
}

// `--cache-type q8` selects the int8 latent cache: it runs end to end and gives text; the
// internal type name is not an option.
TEST_F(GenerateCli, Int8CacheRuns) {
  int rc = 0;
  const std::string out = sh(test::frugal_binary() + " run " + model_ +
                                 " -p 'Once upon a time' -n 8 --temp 0 --ignore-eos --cache-type q8 2>/dev/null",
                             &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_GT(out.size(), 1u);
  const std::string bad = sh(test::frugal_binary() + " run " + model_ + " -p hi --cache-type i8", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(bad.find("expected f16, bf16, f32 or q8"), std::string::npos) << bad;
  // `bench` names the cache it decoded with.
  const std::string json = sh(test::frugal_binary() + " bench " + model_ +
                                  " -p 8 -n 4 --ctx-depth 40 -t 1 --runs 1 --cache-type q8 --json 2>/dev/null",
                              &rc);
  ASSERT_EQ(rc, 0) << json;
  EXPECT_NE(json.find("\"cache_type\": \"q8\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"ctx_depth\": 40"), std::string::npos) << json;
}

// `--no-repack` runs from the mapped file (plain-layout kernels): the same greedy text, since
// only the order of float additions differs from the interleaved copies.
TEST_F(GenerateCli, NoRepackGivesTheSameGreedyText) {
  int rc1 = 0, rc2 = 0;
  const std::string cmd = test::frugal_binary() + " run " + model_ + " -p 'Once upon a time' -n 8 --temp 0 --ignore-eos";
  const std::string a = sh(cmd + " 2>/dev/null", &rc1);
  const std::string b = sh(cmd + " --no-repack 2>/dev/null", &rc2);
  ASSERT_EQ(rc1, 0) << a;
  ASSERT_EQ(rc2, 0) << b;
  EXPECT_GT(a.size(), 1u);
  EXPECT_EQ(a, b);
}

TEST_F(GenerateCli, BadInputIsAClearError) {
  int rc = 0;
  std::string out = sh(test::frugal_binary() + " run " + model_ + " -p hi --temp -1", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("temperature"), std::string::npos) << out;
  std::string long_prompt(3000, 'x');
  for (size_t i = 1; i < long_prompt.size(); i += 2) long_prompt[i] = ' ';
  out = sh(test::frugal_binary() + " run " + model_ + " --ctx 64 -p '" + long_prompt + "'", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("more than the context"), std::string::npos) << out;
  out = sh(test::frugal_binary() + " run " + model_, &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("missing -p"), std::string::npos) << out;
  out = sh(test::frugal_binary() + " run " + model_ + " -p hi --cache-type q4_0", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("--cache-type"), std::string::npos) << out;
  out = sh(test::frugal_binary() + " run /nonexistent.gguf -p hi", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("/nonexistent.gguf"), std::string::npos) << out;
}

}  // namespace
}  // namespace frugal
