// Splits text into pieces by a PreTokenizerSpec: each Split step runs its regex (PCRE2, UTF+UCP,
// JIT) over every piece of the previous step, as Hugging Face's Sequence pre-tokenizer does.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace frugal {

// A piece is a byte range [offset, offset + size) of the text given to split().
struct Piece {
  uint32_t offset = 0;
  uint32_t size = 0;
};

class PreTokenizer {
 public:
  // Compiles every regex; throws frugal::Error naming the pattern on a compile failure.
  explicit PreTokenizer(const PreTokenizerSpec& spec);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // `text` must be valid UTF-8 (Tokenizer repairs input first). Replaces `out` with the non-empty
  // pieces in text order.
  void split(std::string_view text, std::vector<Piece>& out) const;

 private:
  struct Step;
  std::vector<std::unique_ptr<Step>> steps_;
};

// Rewrites an Oniguruma-style pattern for PCRE2: \s and \S become the Unicode White_Space set
// (PCRE2 10.42's \s also matches U+180E, Oniguruma's does not). Exposed for tests.
std::string to_pcre2_pattern(std::string_view onig_pattern);

}  // namespace frugal
