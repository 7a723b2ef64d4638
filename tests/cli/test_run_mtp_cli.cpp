// `frugal run --mtp` end to end on the demo model (models/demo-v3-tiny.gguf, one MTP layer): the
// greedy text equals plain `frugal run --temp 0`, the acceptance line is printed, and a model
// without MTP layers is refused with a one-line error.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "test_util.h"

namespace frugal {
namespace {

const std::string kModel = std::string(FRUGAL_SOURCE_DIR) + "/models/demo-v3-tiny.gguf";

// stdout only (stderr to /dev/null) or both.
std::string run(const std::string& args, bool with_stderr, int* rc) {
  std::string out;
  *rc = test::run_command(test::frugal_binary() + " run " + kModel + " " + args +
                              (with_stderr ? " 2>&1" : " 2>/dev/null"),
                          &out);
  return out;
}

TEST(RunMtpCli, SameTextAsPlainGreedyWithAcceptanceReported) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  const std::string prompt = "-p 'The LORD is my shepherd;' -n 64 --temp 0 --ignore-eos";
  int rc = 0;
  const std::string plain = run(prompt, false, &rc);
  ASSERT_EQ(rc, 0) << plain;
  const std::string spec = run(prompt + " --mtp", false, &rc);
  ASSERT_EQ(rc, 0) << spec;
  EXPECT_GT(plain.size(), 100u);
  EXPECT_EQ(spec, plain);
  const std::string both = run(prompt + " --mtp", true, &rc);
  EXPECT_NE(both.find("[MTP drafts: "), std::string::npos) << both;
  EXPECT_NE(run("--help", false, &rc).find("--mtp"), std::string::npos);
}

TEST(RunMtpCli, ModelWithoutMtpLayersIsRefused) {
  const std::string data = test::shared_data_dir();
  const std::string model = data + "/oracle/pub-v3/model-f32.gguf";
  if (data.empty() || !std::filesystem::exists(model)) GTEST_SKIP() << model << " is absent";
  std::string out;
  const int rc = test::run_command(test::frugal_binary() + " run " + model + " -p hi --tokenizer " +
                                       data + "/tokenizer/deepseek-v3/tokenizer.json --mtp 2>&1",
                                   &out);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no MTP module"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

}  // namespace
}  // namespace frugal
