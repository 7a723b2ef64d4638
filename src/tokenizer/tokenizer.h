// Byte-level BPE tokenizer (DeepSeek-V3/R1/V2, Qwen2 and Llama-3 distills), built from VocabData.
// encode(): repair invalid UTF-8 -> match added tokens -> pre-tokenize (PCRE2) -> BPE per piece.
// Thread-safe for concurrent encode/decode (the piece cache is locked).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/token_index.h"
#include "tokenizer/vocab.h"

namespace frugal {

class GgufFile;

struct EncodeOptions {
  bool add_bos = true;        // prepend BOS when the vocabulary's add_bos says so
  bool parse_special = true;  // match added tokens in text; false for untrusted text, whose
                              // "<｜User｜>" is then tokenized as plain characters
};

// A piece of a longer text for Tokenizer::encode_parts: added tokens are matched only inside
// parts with parse_special (trusted markup), never in the others (untrusted content).
struct TextPart {
  std::string_view text;
  bool parse_special = false;
};

class Tokenizer {
 public:
  explicit Tokenizer(VocabData data);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // `path` is a tokenizer.json or a directory holding one (tokenizer_config.json beside it is
  // read when present).
  static Tokenizer from_hf(const std::string& path);
  static Tokenizer from_gguf(const GgufFile& gguf);
  // A .gguf file, a tokenizer.json, or a model directory.
  static Tokenizer from_path(const std::string& path);

  // Invalid UTF-8 in `text` is replaced by U+FFFD first.
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opts = {}) const;
  // Encodes the concatenation of `parts` (no BOS). Added tokens are matched only where they lie
  // wholly inside one parse_special part (adjacent ones count as one); the plain text between
  // matches is pre-tokenized and merged as one run across part boundaries, exactly as encode()
  // does for the whole text. So the ids equal encode(concatenation, {.add_bos = false}) whenever
  // the other parts hold no added-token text. Invalid UTF-8 is repaired part by part.
  std::vector<int32_t> encode_parts(std::span<const TextPart> parts) const;
  // Appends the ids of plain text (no added-token matching, no BOS).
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;

  // Concatenated bytes of the tokens (may be invalid UTF-8 when cut mid-character). Control
  // tokens are left out when skip_control. Throws frugal::Error for ids out of range.
  std::string decode(std::span<const int32_t> ids, bool skip_control = false) const;
  // The bytes one token decodes to.
  const std::string& token_bytes(int32_t id) const;
  // The token as stored (byte-level-mapped for normal tokens).
  const std::string& token_text(int32_t id) const { return data_.tokens.at(size_t(id)); }
  std::optional<int32_t> find_token(std::string_view stored_text) const;

  int32_t n_tokens() const { return data_.n_tokens(); }
  int32_t bos_id() const { return data_.bos_id; }
  int32_t eos_id() const { return data_.eos_id; }
  bool add_bos() const { return data_.add_bos; }
  TokenType token_type(int32_t id) const { return data_.types.at(size_t(id)); }
  // Tokens that end generation: EOS plus end-of-turn markers present in the vocabulary
  // (<｜end▁of▁sentence｜>, <|EOT|>, <|endoftext|>, <|eot_id|>, <|im_end|>).
  const std::vector<int32_t>& end_of_generation_ids() const { return eog_ids_; }
  bool is_end_of_generation(int32_t id) const;
  const VocabData& data() const { return data_; }

  // The per-piece cache speeds up repeated words; benchmarks turn it off to measure BPE itself.
  void set_cache_enabled(bool enabled) { cache_enabled_ = enabled; }

 private:
  struct PieceCache;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

  VocabData data_;
  TokenIndex token_to_id_;                // views into data_.tokens
  std::vector<std::string> token_bytes_;  // by id
  std::vector<int32_t> eog_ids_;          // sorted
  PreTokenizer pre_;
  std::unique_ptr<BpeModel> bpe_;
  AddedTokenMatcher added_;
  std::unique_ptr<PieceCache> cache_;
  bool cache_enabled_ = true;
};

}  // namespace frugal
