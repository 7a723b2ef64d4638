// A small command-line parser shared by the subcommands: --flag VALUE, --flag=VALUE, booleans,
// positionals; unknown flags and bad numbers are errors naming the flag.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace frugal::cli {

class Args {
 public:
  // value_flags take a value; bool_flags do not. Throws frugal::Error on unknown flags.
  Args(int argc, char** argv, const std::set<std::string>& value_flags,
       const std::set<std::string>& bool_flags);

  bool help() const { return has("--help") || has("-h"); }
  bool has(const std::string& flag) const;
  std::optional<std::string> get(const std::string& flag) const;
  std::string get_or(const std::string& flag, const std::string& fallback) const;
  int64_t get_int_or(const std::string& flag, int64_t fallback) const;
  double get_float_or(const std::string& flag, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // The i-th positional, or an error naming `what` when missing.
  const std::string& require_positional(size_t i, const std::string& what) const;

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::set<std::string> bools_;
  std::vector<std::string> positional_;
};

}  // namespace frugal::cli
