// Constrained decoding for response_format {"type": "json_object"}: a token is allowed when its
// bytes continue one JSON object (JsonGrammar) from what was generated so far. Tokens are byte
// strings, so a UTF-8 character split across tokens is accepted piece by piece. Added tokens
// (control and user-defined: BOS, EOS, <｜User｜>, <think>, ...), unused ids and tokens with no
// bytes are never allowed inside the object; once it is closed, only end-of-generation tokens are.
#pragma once

#include <cstdint>

#include "runtime/json_grammar.h"
#include "runtime/sampler.h"

namespace frugal {

class Tokenizer;

class JsonConstraint final : public TokenConstraint {
 public:
  explicit JsonConstraint(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  bool allows(int32_t token) const override;
  // Advances past a chosen token; throws frugal::Error when allows(token) is false.
  void accept(int32_t token);
  // The object is closed: the sequence should end now.
  bool done() const { return grammar_.done(); }

 private:
  const Tokenizer* tokenizer_;
  JsonGrammar grammar_;
};

}  // namespace frugal
