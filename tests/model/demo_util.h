// The committed demo model and its PyTorch goldens (tools/train-demo/export_gguf.py), shared by
// the demo tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "model/deepseek2.h"

namespace frugal::test {

inline const std::string kDemoModel = std::string(FRUGAL_SOURCE_DIR) + "/models/demo-v3-tiny.gguf";
inline const std::string kDemoData = std::string(FRUGAL_SOURCE_DIR) + "/tests/model/data/";

#define FRUGAL_REQUIRE_DEMO()                                                            \
  do {                                                                                   \
    if (!std::filesystem::exists(::frugal::test::kDemoModel))                            \
      GTEST_SKIP() << ::frugal::test::kDemoModel << " is absent (make it with tools/train-demo/)"; \
  } while (0)

inline nlohmann::json demo_golden() {
  std::ifstream f(kDemoData + "demo_golden.json");
  return nlohmann::json::parse(f);
}

// Loaded once per process.
inline Deepseek2Model& demo_model() {
  static Deepseek2Model m = Deepseek2Model::load(kDemoModel);
  return m;
}

}  // namespace frugal::test
