// The plain description of a byte-level BPE tokenizer. Both loaders (tokenizer.json and GGUF
// metadata) produce a VocabData; Tokenizer is built only from it, so equal data means equal ids.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace frugal {

// Per-token kind, numbered as GGUF's tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,  // byte-level-mapped BPE token
  Unknown = 2,
  Control = 3,      // added token with special=true (BOS, EOS, ...)
  UserDefined = 4,  // added token with special=false (<｜User｜>, <think>, ...)
  Unused = 5,       // filler for ids the tokenizer does not define
  Byte = 6,
};

// Added tokens (Control, UserDefined) are matched literally in text and decode to their text.
inline bool is_added_token_type(TokenType t) {
  return t == TokenType::Control || t == TokenType::UserDefined;
}

// How one Split step treats regex matches (Hugging Face SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreTokenizerSplit {
  std::string regex;  // Oniguruma-style pattern as written in tokenizer.json
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;

  bool operator==(const PreTokenizerSplit&) const = default;
};

// A Sequence of Split steps, each applied to every piece the previous step produced, followed by
// the ByteLevel byte mapping (no prefix space).
struct PreTokenizerSpec {
  std::string name;  // GGUF tokenizer.ggml.pre ("deepseek-v3", "qwen2", ...); "" if unknown
  std::vector<PreTokenizerSplit> splits;

  bool same_splits(const PreTokenizerSpec& o) const { return splits == o.splits; }
};

// Known pre-tokenizers by GGUF name: deepseek-v3, deepseek-llm, deepseek-coder, qwen2,
// deepseek-r1-qwen, llama-bpe (alias llama3), gpt2. Throws frugal::Error for other names.
PreTokenizerSpec pre_tokenizer_by_name(std::string_view name);
// The GGUF name of the known pre-tokenizer with exactly these splits, or "" when none matches.
std::string pre_tokenizer_name_of(const std::vector<PreTokenizerSplit>& splits);

// Hash for string-keyed maps searchable by string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct VocabData {
  std::vector<std::string> tokens;  // by id; Normal tokens byte-level-mapped, added tokens literal
  std::vector<TokenType> types;     // by id, same length as tokens
  std::vector<std::pair<std::string, std::string>> merges;  // rank = index
  PreTokenizerSpec pre;
  bool ignore_merges = false;  // a piece that is itself a vocab entry is emitted whole
  int32_t bos_id = -1;         // -1 when the tokenizer has none
  int32_t eos_id = -1;
  bool add_bos = false;  // prepend BOS in encode() by default
  bool add_eos = false;
  std::string chat_template;  // Jinja source, "" when absent
  // tokenizer.json normalizer: "" (none) or "NFC" (Qwen). NFC is recorded, not applied: input is
  // expected to be NFC already (llama.cpp does the same).
  std::string normalizer;

  int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
};

}  // namespace frugal
