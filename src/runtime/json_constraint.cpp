#include "runtime/json_constraint.h"

#include <string>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

bool JsonConstraint::allows(int32_t token) const {
  if (token < 0 || token >= tokenizer_->n_tokens()) return false;  // padding of the model vocab
  if (grammar_.done()) return tokenizer_->is_end_of_generation(token);
  const TokenType type = tokenizer_->token_type(token);
  if (type != TokenType::Normal && type != TokenType::Byte) return false;
  const std::string& bytes = tokenizer_->token_bytes(token);
  return !bytes.empty() && grammar_.accepts(bytes);
}

void JsonConstraint::accept(int32_t token) {
  if (!allows(token))
    throw Error("JSON constraint: token " + std::to_string(token) +
                " does not continue the JSON object generated so far");
  if (!grammar_.done()) grammar_.feed_all(tokenizer_->token_bytes(token));
}

}  // namespace frugal
