// Helpers for tests against ../shared/data/oracle (DeepSeek's reference logits).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "format/npy.h"
#include "model/deepseek2.h"

namespace frugal::test {

inline std::string oracle_dir(const std::string& model) {
  return std::string(FRUGAL_SHARED_DIR) + "/data/oracle/" + model;
}

// GTEST_SKIP()s the calling test (via the return value) when the oracle data is absent.
inline bool have_oracle(const std::string& model) {
  return std::filesystem::exists(oracle_dir(model) + "/A/tokens.npy");
}

#define FRUGAL_REQUIRE_ORACLE(model)                                                   \
  do {                                                                                 \
    if (!::frugal::test::have_oracle(model))                                           \
      GTEST_SKIP() << "oracle data not found at " << ::frugal::test::oracle_dir(model) \
                   << " (needs ../shared/data/oracle)";                                \
  } while (0)

inline std::vector<int32_t> load_tokens(const std::string& path) {
  std::vector<int32_t> out;
  for (int64_t t : read_npy(path).to_int64()) out.push_back(static_cast<int32_t>(t));
  return out;
}

inline std::vector<int32_t> iota_positions(size_t n, int32_t start = 0) {
  std::vector<int32_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = start + static_cast<int32_t>(i);
  return p;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  return d;
}

inline int64_t argmax_row(const float* x, int64_t n) {
  return std::max_element(x, x + n) - x;
}

// Full forward over `tokens` from position 0; returns logits [n, vocab].
inline std::vector<float> run_logits(Deepseek2Model& m, const std::vector<int32_t>& tokens,
                                     ForwardTrace* trace = nullptr) {
  LatentKvCache cache = m.new_cache();
  std::vector<float> logits(tokens.size() * m.config().n_vocab);
  const auto pos = iota_positions(tokens.size());
  m.forward({tokens, pos}, cache, logits, trace);
  return logits;
}

}  // namespace frugal::test
