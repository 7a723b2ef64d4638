// `frugal synth --arch qwen2 | llama`, `run` and `chat` end to end on a dense model carrying the
// DeepSeek-V3 tokenizer (a stand-in for the R1-Distill tokenizers): the greedy text of `run`
// (runtime + KV-cache decoding) must equal a continuation computed here by repeated full forward
// passes (no cache, argmax); `chat` with the R1-Distill template shows the thinking apart.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "dense_test_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

std::string sh(const std::string& cmd, int* rc) {
  std::string out;
  *rc = run_command(cmd, &out);
  return out;
}

std::string chomp(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

class DenseCli : public ::testing::TestWithParam<std::string> {};

TEST_P(DenseCli, GreedyRunEqualsFullForwardArgmaxAndChatRuns) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  const std::string bin = frugal_binary(), model = temp_dir() + "/cli-tok-" + GetParam() + ".gguf";
  int rc = 0;
  std::string out =
      sh(bin + " synth --arch " + GetParam() + " --preset tiny --type Q8_0 --seed 9 --tokenizer " +
             data + "/tokenizer/deepseek-v3/tokenizer.json --out " + model,
         &rc);
  ASSERT_EQ(rc, 0) << out;
  const std::string prompt = "The quick brown fox";
  out = sh("printf '%s' '" + prompt + "' | " + bin + " tokenize " + model + " 2>/dev/null", &rc);
  ASSERT_EQ(rc, 0) << out;
  std::vector<int32_t> ids = test::parse_id_array(out);
  ASSERT_GE(ids.size(), 2u);
  const size_t n_prompt = ids.size();
  const int n_gen = 8;
  DenseModel m = DenseModel::load(model);
  const int64_t V = m.config().n_vocab;
  for (int step = 0; step < n_gen; ++step) {
    const auto logits = dense_logits(m, ids);
    const float* last = logits.data() + (ids.size() - 1) * V;
    ids.push_back(static_cast<int32_t>(std::max_element(last, last + V) - last));
  }
  std::string gen = "[";
  for (size_t i = n_prompt; i < ids.size(); ++i)
    gen += (i > n_prompt ? "," : "") + std::to_string(ids[i]);
  const std::string expected = chomp(
      sh("echo '" + gen + "]' | " + bin + " tokenize --decode " + model + " 2>/dev/null", &rc));
  ASSERT_EQ(rc, 0);
  const std::string got = chomp(sh(bin + " run " + model + " -p '" + prompt + "' -n " +
                                       std::to_string(n_gen) + " --temp 0 --ignore-eos 2>/dev/null",
                                   &rc));
  ASSERT_EQ(rc, 0) << got;
  EXPECT_EQ(got, expected);
  out = sh("printf 'hello\\n/exit\\n' | " + bin + " chat " + model +
               " --chat-template deepseek-r1-distill -n 6 --temp 0",
           &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("chat template: deepseek-r1-distill"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Dense, DenseCli, ::testing::Values("qwen2", "llama"));

}  // namespace
}  // namespace frugal::test
