// Helpers shared by the test programs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frugal::test {

// ../shared/data beside the checkout, or "" when it is absent (tests then GTEST_SKIP).
std::string shared_data_dir();
// A fresh temporary directory for this test process.
std::string temp_dir();
// Runs a shell command, returns its exit code; stdout+stderr are captured into *output.
int run_command(const std::string& cmd, std::string* output);
// The integers of the first JSON array in `json` (e.g. `frugal tokenize` output).
std::vector<int32_t> parse_id_array(const std::string& json);
// Path to the built `frugal` program.
std::string frugal_binary();

}  // namespace frugal::test

#define FRUGAL_REQUIRE_SHARED_DATA(dir)                                                 \
  const std::string dir = ::frugal::test::shared_data_dir();                           \
  if (dir.empty()) GTEST_SKIP() << "../shared/data is absent: reference files not available " \
                                   "(see README, 'Reference data')"
