// Runs tools/reference/check_synth.py: `frugal synth` models covering q_lora on/off, YaRN on/off,
// softmax/sigmoid, groups, the split k_b/v_b form, Q8_0 and prompts of 320 and 600 tokens, with
// `frugal logits` compared against the float64 NumPy reference. Needs Debian's python3 + numpy.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "test_util.h"

namespace frugal::test {
namespace {

TEST(ReferenceScript, SynthModelsMatchNumpyReference) {
  std::string out;
  if (run_command("/usr/bin/python3 -c 'import numpy'", &out) != 0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy not available: " << out;
  const std::string cmd = std::string("/usr/bin/python3 ") + FRUGAL_SOURCE_DIR +
                          "/tools/reference/check_synth.py " + frugal_binary() + " " + temp_dir() +
                          "/synth-check";
  const int rc = run_command(cmd, &out);
  std::printf("%s", out.c_str());
  EXPECT_EQ(rc, 0) << out;
}

}  // namespace
}  // namespace frugal::test
