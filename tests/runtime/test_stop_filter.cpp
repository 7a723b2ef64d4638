#include <gtest/gtest.h>

#include "runtime/generator.h"

namespace frugal {
namespace {

std::string feed(StopStringFilter& f, const std::vector<std::string>& pieces, std::string* emitted_before_stop = nullptr) {
  std::string out;
  for (const auto& p : pieces) {
    out += f.push(p);
    if (f.stopped()) break;
  }
  return out + f.flush();
}

TEST(StopStringFilter, CutsBeforeAStopSplitAcrossPieces) {
  StopStringFilter f({"\n\nUser:"});
  EXPECT_EQ(feed(f, {"Hello", " world\n", "\nUs", "er: more"}), "Hello world");
  EXPECT_TRUE(f.stopped());
}

TEST(StopStringFilter, HoldsBackOnlyPossiblePrefixes) {
  StopStringFilter f({"END"});
  EXPECT_EQ(f.push("abcE"), "abc");  // "E" may start "END"
  EXPECT_EQ(f.push("x"), "Ex");      // it did not
  EXPECT_EQ(f.push("EN"), "");
  EXPECT_EQ(f.flush(), "EN");        // generation ended first: nothing is lost
  EXPECT_FALSE(f.stopped());
}

TEST(StopStringFilter, EarliestOfSeveralStopsWins) {
  StopStringFilter f({"bb", "a"});
  EXPECT_EQ(feed(f, {"xxbba"}), "xx");
  StopStringFilter none({});
  EXPECT_EQ(feed(none, {"a", "b"}), "ab");
}

}  // namespace
}  // namespace frugal
