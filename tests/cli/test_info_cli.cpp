// `frugal info` end to end, as a user runs it.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "test_util.h"

namespace frugal {
namespace {

std::string run(const std::string& args, int* rc) {
  std::string out;
  *rc = test::run_command(test::frugal_binary() + " " + args, &out);
  return out;
}

TEST(InfoCli, DescribesGgufAndHfForms) {
  FRUGAL_REQUIRE_SHARED_DATA(data);
  int rc = 0;
  std::string out = run("info " + data + "/oracle/pub-v3/model-f32.gguf", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("architecture:    deepseek2"), std::string::npos) << out;
  EXPECT_NE(out.find("(1651584)"), std::string::npos) << out;
  out = run("info " + data + "/oracle/pub-v3/hf", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("architecture:    deepseek_v3"), std::string::npos) << out;
  EXPECT_NE(out.find("(1651584)"), std::string::npos) << out;  // same parameters as the GGUF
  out = run("info --tensors " + data + "/oracle/pub-v2lite/model-q8_0.gguf", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("blk.2.ffn_down_exps.weight"), std::string::npos);
  EXPECT_NE(out.find("Q8_0"), std::string::npos);
}

// The demo model's MTP layer (blk.4, counted in block_count 5) goes through the loader.
TEST(InfoCli, ShowsTheDemoModelsMtpLayerLoaded) {
  const std::string model = std::string(FRUGAL_SOURCE_DIR) + "/models/demo-v3-tiny.gguf";
  int rc = 0;
  const std::string out = run("info " + model, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("layers:          4 main + 1 MTP"), std::string::npos) << out;
  EXPECT_NE(out.find("MTP:             loaded: blk.4 (21 tensors: attention + MoE"),
            std::string::npos)
      << out;
}

TEST(InfoCli, BadInputGivesOneLineErrorAndExitCode1) {
  int rc = 0;
  std::string out = run("info /nonexistent/model.gguf", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("/nonexistent/model.gguf: cannot open"), std::string::npos) << out;
  const std::string path = test::temp_dir() + "/garbage.gguf";
  std::ofstream(path) << "GGUF but not really a gguf file at all";
  out = run("info " + path, &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find(path), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  out = run("info --bogus x", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("unknown flag --bogus"), std::string::npos) << out;
  out = run("info --help", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("usage: frugal info"), std::string::npos);
  out = run("nosuchcommand", &rc);
  EXPECT_EQ(rc, 1);
}

}  // namespace
}  // namespace frugal
