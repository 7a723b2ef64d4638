// Shared by the tokenizer tests: the DeepSeek-V3 tokenizer from ../shared/data, loaded once.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace frugal::test {

inline std::string v3_tokenizer_dir() {
  const std::string data = shared_data_dir();
  if (data.empty()) return "";
  const std::string dir = data + "/tokenizer/deepseek-v3";
  return std::filesystem::exists(dir + "/tokenizer.json") ? dir : "";
}

// Null when the shared data is absent.
inline const Tokenizer* v3_tokenizer() {
  static const std::unique_ptr<Tokenizer> tok = []() -> std::unique_ptr<Tokenizer> {
    const std::string dir = v3_tokenizer_dir();
    if (dir.empty()) return nullptr;
    return std::make_unique<Tokenizer>(Tokenizer::from_hf(dir));
  }();
  return tok.get();
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace frugal::test

#define FRUGAL_REQUIRE_V3_TOKENIZER(tok)                                 \
  const ::frugal::Tokenizer* tok = ::frugal::test::v3_tokenizer();       \
  if (tok == nullptr)                                                    \
  GTEST_SKIP() << "../shared/data/tokenizer/deepseek-v3/tokenizer.json " \
                  "is absent: DeepSeek-V3 tokenizer not available"
