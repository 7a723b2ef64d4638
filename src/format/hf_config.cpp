#include "format/hf_config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mmap_file.h"

namespace frugal {

struct HfConfig::Impl {
  nlohmann::json root;

  // Follows a dotted path; nullptr when any part is missing.
  const nlohmann::json* lookup(std::string_view key) const {
    const nlohmann::json* cur = &root;
    size_t start = 0;
    while (true) {
      const size_t dot = key.find('.', start);
      const std::string part(key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(part);
      if (it == cur->end()) return nullptr;
      cur = &*it;
      if (dot == std::string_view::npos) return cur;
      start = dot + 1;
    }
  }
};

HfConfig::HfConfig() : impl_(std::make_unique<Impl>()) {}
HfConfig::~HfConfig() = default;
HfConfig::HfConfig(HfConfig&&) noexcept = default;
HfConfig& HfConfig::operator=(HfConfig&&) noexcept = default;

HfConfig HfConfig::load(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = (std::filesystem::path(path) / "config.json").string();
  return parse(read_text_file(file), file);
}

HfConfig HfConfig::parse(std::string_view json_text, const std::string& source) {
  HfConfig c;
  c.source_ = source;
  c.impl_->root = nlohmann::json::parse(json_text, nullptr, false);
  if (c.impl_->root.is_discarded()) throw Error(source + ": not valid JSON");
  if (!c.impl_->root.is_object()) throw Error(source + ": expected a JSON object at the top level");
  return c;
}

bool HfConfig::has(std::string_view key) const {
  const auto* j = impl_->lookup(key);
  return j != nullptr && !j->is_null();
}

bool HfConfig::is_null(std::string_view key) const {
  const auto* j = impl_->lookup(key);
  return j == nullptr || j->is_null();
}

namespace {
[[noreturn]] void wrong_type(const std::string& source, std::string_view key, const char* want,
                             const nlohmann::json* j) {
  if (j == nullptr || j->is_null()) throw Error(source + ": missing field '" + std::string(key) + "'");
  throw Error(source + ": field '" + std::string(key) + "' should be " + want + ", found " + j->dump());
}
}  // namespace

int64_t HfConfig::get_int(std::string_view key) const {
  const auto* j = impl_->lookup(key);
  if (j && j->is_number_integer()) return j->get<int64_t>();
  if (j && j->is_number_float() && j->get<double>() == static_cast<double>(static_cast<int64_t>(j->get<double>())))
    return static_cast<int64_t>(j->get<double>());
  wrong_type(source_, key, "an integer", j);
}

double HfConfig::get_float(std::string_view key) const {
  const auto* j = impl_->lookup(key);
  if (j && j->is_number()) return j->get<double>();
  wrong_type(source_, key, "a number", j);
}

bool HfConfig::get_bool(std::string_view key) const {
  const auto* j = impl_->lookup(key);
  if (j && j->is_boolean()) return j->get<bool>();
  wrong_type(source_, key, "true or false", j);
}

std::string HfConfig::get_string(std::string_view key) const {
  const auto* j = impl_->lookup(key);
  if (j && j->is_string()) return j->get<std::string>();
  wrong_type(source_, key, "a string", j);
}

std::vector<std::string> HfConfig::get_string_array(std::string_view key) const {
  const auto* j = impl_->lookup(key);
  if (!j || !j->is_array()) wrong_type(source_, key, "an array of strings", j);
  std::vector<std::string> out;
  for (const auto& e : *j) {
    if (!e.is_string()) wrong_type(source_, key, "an array of strings", j);
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> HfConfig::top_level_fields() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = impl_->root.begin(); it != impl_->root.end(); ++it)
    out.emplace_back(it.key(), it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  return out;
}

int64_t HfConfig::get_int_or(std::string_view key, int64_t fallback) const {
  return is_null(key) ? fallback : get_int(key);
}
double HfConfig::get_float_or(std::string_view key, double fallback) const {
  return is_null(key) ? fallback : get_float(key);
}
bool HfConfig::get_bool_or(std::string_view key, bool fallback) const {
  return is_null(key) ? fallback : get_bool(key);
}
std::string HfConfig::get_string_or(std::string_view key, std::string fallback) const {
  return is_null(key) ? fallback : get_string(key);
}

}  // namespace frugal
