// `frugal quantize`, `convert` and `perplexity` as a user runs them: errors name the problem and
// exit 1; a quantized model's perplexity run against the F32 run's saved logits reports KL > 0.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace frugal {
namespace {

std::string sh(const std::string& cmd, int* rc) {
  std::string out;
  *rc = test::run_command(cmd, &out);
  return out;
}

// Runs `frugal ARGS`, expects exit code `want_rc` and `part` in the output.
void expect_run(const std::string& args, int want_rc, const std::string& part) {
  int rc = 0;
  const std::string out = sh(test::frugal_binary() + " " + args, &rc);
  EXPECT_EQ(rc, want_rc) << args << "\n" << out;
  EXPECT_NE(out.find(part), std::string::npos) << args << "\n" << out;
}

TEST(QualityCli, QuantizeErrors) {
  const std::string dir = test::temp_dir();
  expect_run("quantize --help", 0, "Q4_K_M");
  expect_run("quantize " + dir + "/absent.gguf " + dir + "/o.gguf Q8_0", 1,
             "absent.gguf: no such file");
  expect_run("quantize a.gguf b.gguf Q9_K", 1, "unknown quantization type 'Q9_K'");
  expect_run("quantize a.gguf", 1, "OUT.gguf");
  expect_run("convert " + dir + "/absent.gguf o.gguf", 1, "not a directory");
  expect_run("convert --help", 0, "ffn_*_exps");
}

TEST(QualityCli, PerplexityErrors) {
  const std::string dir = test::temp_dir();
  std::ofstream(dir + "/empty.txt").close();
  expect_run("perplexity --help", 0, "--kl-divergence");
  expect_run("perplexity model.gguf " + dir + "/absent.txt", 1, "absent.txt: no such file");
  expect_run("perplexity model.gguf " + dir + "/empty.txt", 1, "empty");
  expect_run("perplexity model.gguf " + dir + "/empty.txt --ctx 1", 1, "--ctx must be at least 3");
  expect_run("perplexity model.gguf " + dir + "/empty.txt --kl-divergence " + dir + "/absent.bin",
             1, "absent.bin: cannot open");
}

TEST(QualityCli, QuantizedModelAgainstSavedF32Run) {
  const std::string data = test::shared_data_dir();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: the DeepSeek-V3 tokenizer is needed";
  const std::string dir = test::temp_dir(), bin = test::frugal_binary();
  const std::string f32 = dir + "/quality-f32.gguf", q = dir + "/quality-q4_k_m.gguf";
  const std::string text = dir + "/quality.txt", base = dir + "/quality-base.bin";
  std::ofstream t(text);
  for (int i = 0; i < 40; ++i)
    t << "The quick brown fox jumps over the lazy dog, number " << i << ". ";
  t.close();
  int rc = 0;
  std::string out = sh(bin + " synth --preset tiny --seed 2 --tokenizer " + data +
                           "/tokenizer/deepseek-v3/tokenizer.json --out " + f32,
                       &rc);
  ASSERT_EQ(rc, 0) << out;
  out = sh(bin + " quantize " + f32 + " " + q + " Q4_K_M", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("wrote"), std::string::npos) << out;
  EXPECT_NE(out.find("note: "), std::string::npos) << "tiny's 128-wide rows fall back: " << out;
  out = sh(bin + " perplexity " + f32 + " " + text + " --ctx 48 --chunks 3 --save-logits " + base,
           &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Final estimate: PPL = "), std::string::npos) << out;
  out = sh(bin + " perplexity " + q + " " + text + " --kl-divergence " + base, &rc);
  ASSERT_EQ(rc, 0) << out;
  const size_t at = out.find("mean KL           = ");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_GT(std::atof(out.c_str() + at + 20), 0.0) << out;
  EXPECT_NE(out.find("top-1 agreement"), std::string::npos) << out;
  // A different --ctx than the saved run's is refused.
  out = sh(bin + " perplexity " + q + " " + text + " --ctx 32 --kl-divergence " + base, &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("--ctx 48"), std::string::npos) << out;
}

}  // namespace
}  // namespace frugal
