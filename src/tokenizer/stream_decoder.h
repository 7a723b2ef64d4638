// Streaming detokenization: token bytes arrive one token at a time and may cut a UTF-8 character
// in two. push() returns only complete, valid UTF-8: an incomplete tail is held back until the
// next token completes it, and ill-formed bytes become U+FFFD (one per maximal ill-formed subpart,
// as the Unicode standard recommends).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace frugal {

class Tokenizer;

class Utf8StreamDecoder {
 public:
  // Returns the valid UTF-8 that `bytes` completes.
  std::string push(std::string_view bytes);
  // End of stream: a held-back incomplete tail becomes U+FFFD.
  std::string flush();
  size_t n_pending() const { return pending_.size(); }

 private:
  std::string pending_;  // at most 3 bytes: a well-formed prefix of one character
};

// Token ids -> text pieces, for streaming generated tokens to a client.
class TokenStreamDecoder {
 public:
  explicit TokenStreamDecoder(const Tokenizer& tok, bool skip_control = true)
      : tok_(tok), skip_control_(skip_control) {}
  std::string push(int32_t id);
  std::string flush() { return utf8_.flush(); }

 private:
  const Tokenizer& tok_;
  bool skip_control_;
  Utf8StreamDecoder utf8_;
};

}  // namespace frugal
