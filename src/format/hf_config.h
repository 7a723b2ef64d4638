// config.json of a Hugging Face model directory, parsed once into a flat, typed view.
// Model families turn it into their own config struct (model/*_config); JSON stays here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frugal {

class HfConfig {
 public:
  // Reads DIR/config.json (or a path to a .json file). Throws frugal::Error naming the file.
  static HfConfig load(const std::string& path);
  static HfConfig parse(std::string_view json_text, const std::string& source);

  const std::string& source() const { return source_; }
  bool has(std::string_view key) const;  // dotted path, e.g. "rope_scaling.factor"
  bool is_null(std::string_view key) const;
  // Typed getters; throw frugal::Error naming the key and the expected type.
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;  // accepts integers too
  bool get_bool(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  // Missing (or null) -> fallback.
  int64_t get_int_or(std::string_view key, int64_t fallback) const;
  double get_float_or(std::string_view key, double fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;
  std::string get_string_or(std::string_view key, std::string fallback) const;

  // Top-level fields rendered as text (objects/arrays as compact JSON), in file order.
  std::vector<std::pair<std::string, std::string>> top_level_fields() const;

  ~HfConfig();
  HfConfig(HfConfig&&) noexcept;
  HfConfig& operator=(HfConfig&&) noexcept;

 private:
  HfConfig();
  struct Impl;  // holds the nlohmann::json so the header stays light
  std::string source_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace frugal
