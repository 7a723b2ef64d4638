#include "cli/args.h"

#include <cerrno>
#include <cctype>
#include <cstdlib>

#include "core/error.h"

namespace frugal::cli {

Args::Args(int argc, char** argv, const std::set<std::string>& value_flags,
           const std::set<std::string>& bool_flags)
    : command_(argc > 0 ? argv[0] : "") {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
      std::string value;
      bool has_inline = false;
      if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_inline = true;
      }
      if (a == "--help" || a == "-h" || bool_flags.count(a)) {
        if (has_inline) throw Error("flag " + a + " takes no value");
        bools_.insert(a);
      } else if (value_flags.count(a)) {
        if (!has_inline) {
          if (i + 1 >= argc) throw Error("flag " + a + " needs a value");
          value = argv[++i];
        }
        values_[a] = value;
      } else {
        throw Error("unknown flag " + a + " (see 'frugal " + command_ + " --help')");
      }
    } else {
      positional_.push_back(a);
    }
  }
}

bool Args::has(const std::string& flag) const { return bools_.count(flag) || values_.count(flag); }

std::optional<std::string> Args::get(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::get_or(const std::string& flag, const std::string& fallback) const {
  auto v = get(flag);
  return v ? *v : fallback;
}

int64_t Args::get_int_or(const std::string& flag, int64_t fallback) const {
  auto v = get(flag);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0)
    throw Error(flag + " expects an integer, got '" + *v + "'");
  return x;
}

double Args::get_float_or(const std::string& flag, double fallback) const {
  auto v = get(flag);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno != 0)
    throw Error(flag + " expects a number, got '" + *v + "'");
  return x;
}

const std::string& Args::require_positional(size_t i, const std::string& what) const {
  if (i >= positional_.size()) throw Error("missing " + what + " (see 'frugal " + command_ + " --help')");
  return positional_[i];
}

}  // namespace frugal::cli
