// Errors in three tiers (STYLE.md §8):
//   - bad user input  -> throw frugal::Error with a message naming the thing, what was expected
//     and what was found; caught at the boundary (CLI prints it, server returns 4xx);
//   - broken invariant -> FRUGAL_CHECK (always on);
//   - costly hot-loop checks -> FRUGAL_DCHECK (debug builds only).
#pragma once

#include <stdexcept>
#include <string>

namespace frugal {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown for invariants the code itself broke (a bug, not bad input).
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

[[noreturn]] void fail_check(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace frugal

#define FRUGAL_CHECK(cond, msg)                                              \
  do {                                                                       \
    if (!(cond)) ::frugal::fail_check(#cond, __FILE__, __LINE__, (msg));     \
  } while (0)

#ifdef NDEBUG
#define FRUGAL_DCHECK(cond, msg) \
  do {                           \
  } while (0)
#else
#define FRUGAL_DCHECK(cond, msg) FRUGAL_CHECK(cond, msg)
#endif
