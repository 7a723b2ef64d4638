// The JSON-object automaton: valid and invalid documents, every split of each valid document
// into two feeds, escapes, UTF-8, nesting, numbers, the bounds, and a differential check against
// nlohmann::json on random mutations of valid documents.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "runtime/json_grammar.h"

namespace frugal {
namespace {

// Whole document accepted and the object closed.
bool complete(std::string_view doc) {
  JsonGrammar g;
  return g.feed_all(doc) && g.done();
}

const std::vector<std::string> kValid = {
    "{}",
    "{ }",
    "{\"a\":1}",
    " {\"a\" : [1, 2.5, -0.5e+10, 0, -0, 1E5, 3e-2, 10.25E+3]}",
    "{\"t\":true,\"f\":false,\"n\":null}",
    "{\"nested\":{\"a\":[{\"b\":[[],{}]},[[[\"x\"]]]]},\"e\":{}}",
    "{\"esc\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 \\uABCD\"}",
    "{\"utf8\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xED\x9F\xBF \xF4\x8F\xBF\xBF\"}",
    "{\"\":\"\",\"k\":\"\x7F\"}",
    "{\n  \"pretty\": [\n    1,\n    2\n  ]\n}",
    "{\"a\":[true,false,null,\"s\",1,{\"b\":-12.0e3}]}",
};

const std::vector<std::string> kInvalid = {
    "",                              // nothing
    "[]",                            // not an object at the top
    "\"s\"",                         // not an object
    "{",                             // unclosed
    "{\"a\":1",                      // unclosed
    "{\"a\"}",                       // no value
    "{\"a\":}",                      // no value
    "{a:1}",                         // unquoted key
    "{1:1}",                         // number key
    "{\"a\":1,}",                    // trailing comma
    "{,\"a\":1}",                    // leading comma
    "{\"a\":[1,]}",                  // trailing comma in array
    "{\"a\":[1 2]}",                 // missing comma
    "{\"a\":1 \"b\":2}",             // missing comma
    "{\"a\":01}",                    // leading zero
    "{\"a\":-}",                     // lone minus
    "{\"a\":1.}",                    // no fraction digits
    "{\"a\":.5}",                    // no integer part
    "{\"a\":1e}",                    // no exponent digits
    "{\"a\":1e+}",                   // no exponent digits
    "{\"a\":+1}",                    // plus sign
    "{\"a\":1.5.2}",                 // two dots
    "{\"a\":tru}",                   // truncated literal
    "{\"a\":True}",                  // wrong case
    "{\"a\":nul1}",                  // bad literal
    "{\"a\":\"\\x\"}",               // bad escape
    "{\"a\":\"\\u12G4\"}",           // bad hex
    "{\"a\":\"\\u12\"}",             // short \u
    "{\"a\":\"line\nbreak\"}",       // raw control character
    "{\"a\":\"tab\there\"}",         // raw tab
    "{\"a\":[}",                     // mismatched
    "{\"a\":{]}",                    // mismatched
    "{\"a\":1]}",                    // mismatched
    "{}}",                           // trailing garbage
    "{} ",                           // anything after the object, even whitespace
    "{}{}",                          // a second object
    "{\"a\":'s'}",                   // single quotes
    "{\"a\":\"\xC3\"}",              // truncated UTF-8
    "{\"a\":\"\xC0\xAF\"}",          // overlong
    "{\"a\":\"\xE0\x80\xAF\"}",      // overlong
    "{\"a\":\"\xED\xA0\x80\"}",      // surrogate
    "{\"a\":\"\xF4\x90\x80\x80\"}",  // above U+10FFFF
    "{\"a\":\"\x80\"}",              // lone continuation byte
    "{\"a\":\"\xFF\"}",              // never valid
    "{\"a\":NaN}",                   // not JSON
    "{\"a\":1,\"b\"}",               // key without value
};

TEST(JsonGrammar, AcceptsValidObjects) {
  for (const std::string& doc : kValid) {
    EXPECT_TRUE(complete(doc)) << doc;
    EXPECT_TRUE(nlohmann::json::accept(doc)) << "test data is not JSON: " << doc;
  }
}

TEST(JsonGrammar, RejectsInvalidDocuments) {
  for (const std::string& doc : kInvalid) EXPECT_FALSE(complete(doc)) << doc;
}

// Token boundaries fall anywhere, including inside escapes, numbers, literals and UTF-8
// characters: every split of a valid document is accepted piece by piece, and the object is
// closed only after its last byte.
TEST(JsonGrammar, EverySplitIsAccepted) {
  for (const std::string& doc : kValid) {
    for (size_t cut = 0; cut <= doc.size(); ++cut) {
      const std::string_view head = std::string_view(doc).substr(0, cut);
      const std::string_view tail = std::string_view(doc).substr(cut);
      JsonGrammar g;
      ASSERT_TRUE(g.accepts(head)) << doc << " cut at " << cut;
      ASSERT_TRUE(g.feed_all(head)) << doc << " cut at " << cut;
      EXPECT_EQ(g.done(), cut == doc.size()) << doc << " cut at " << cut;
      ASSERT_TRUE(g.accepts(tail)) << doc << " cut at " << cut;
      ASSERT_TRUE(g.feed_all(tail));
      EXPECT_TRUE(g.done());
    }
  }
}

// accepts() tests on a copy: a rejected token leaves the state as it was.
TEST(JsonGrammar, AcceptsDoesNotChangeTheState) {
  JsonGrammar g;
  ASSERT_TRUE(g.feed_all("{\"a\":"));
  EXPECT_FALSE(g.accepts("}"));
  EXPECT_FALSE(g.accepts("1x"));
  EXPECT_TRUE(g.accepts("12"));
  EXPECT_TRUE(g.feed_all("[1"));
  EXPECT_EQ(g.depth(), 2);
  EXPECT_FALSE(g.accepts("}"));
  EXPECT_TRUE(g.accepts("]}"));
  EXPECT_TRUE(g.feed_all("]}"));
  EXPECT_TRUE(g.done());
  EXPECT_FALSE(g.accepts(" "));
  EXPECT_FALSE(g.accepts("x"));
  EXPECT_TRUE(g.accepts(""));
}

TEST(JsonGrammar, WhitespaceRunsAreBounded) {
  const std::string run(JsonGrammar::kMaxWhitespaceRun, ' ');
  EXPECT_TRUE(complete("{" + run + "\"a\"" + run + ":" + run + "1" + run + "}"));
  EXPECT_FALSE(complete("{" + run + " \"a\":1}"));
  EXPECT_FALSE(complete("{\"a\":1" + run + "\t}"));
  EXPECT_FALSE(complete(run + "\n{}"));
  // Runs inside strings are text, not whitespace between tokens.
  EXPECT_TRUE(complete("{\"a\":\"" + run + run + "\"}"));
}

TEST(JsonGrammar, NestingIsBounded) {
  const int max = JsonGrammar::kMaxDepth;
  auto nested = [](int depth) {  // depth containers: one object around arrays
    return "{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  EXPECT_TRUE(complete(nested(max)));
  EXPECT_FALSE(complete(nested(max + 1)));
}

TEST(JsonGrammar, NumbersAreBounded) {
  const std::string digits(JsonGrammar::kMaxNumberBytes, '7');
  EXPECT_TRUE(complete("{\"a\":" + digits + "}"));
  EXPECT_FALSE(complete("{\"a\":" + digits + "7}"));
  EXPECT_TRUE(complete("{\"a\":-0.5e+10}"));
}

// Random edits of valid documents: the automaton agrees with nlohmann::json on whether the
// result is one JSON object (within the bounds, which these short documents never reach).
TEST(JsonGrammar, AgreesWithNlohmannOnMutations) {
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]:,\"\\ 0123456789.eE+-tfnrulasb\n\t\xC3\xA9\x80";
  int n_valid = 0, n_checked = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string doc = kValid[rng() % kValid.size()];
    const int n_edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < n_edits && !doc.empty(); ++e) {
      const size_t at = rng() % doc.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          doc.erase(at, 1);
          break;
        case 1:
          doc.insert(doc.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          doc[at] = c;
          break;
      }
    }
    if (doc.find("\\u") != std::string::npos) continue;  // lone surrogates: RFC ok, nlohmann not
    // Nothing may follow the object (not even whitespace); short runs may precede it.
    const bool ends_closed = !doc.empty() && doc.back() == '}';
    bool reference = false;
    try {
      reference = ends_closed && nlohmann::json::parse(doc).is_object();
    } catch (const nlohmann::json::out_of_range&) {
      continue;  // a number beyond double's range: valid JSON text, refused by nlohmann
    } catch (const nlohmann::json::parse_error&) {
    }
    EXPECT_EQ(complete(doc), reference) << doc;
    n_valid += reference;
    ++n_checked;
  }
  EXPECT_GT(n_valid, 100);  // the mutations reach both answers
  EXPECT_GT(n_checked - n_valid, 1000);
}

}  // namespace
}  // namespace frugal
