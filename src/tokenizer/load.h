// Loaders producing VocabData: Hugging Face tokenizer.json (+ tokenizer_config.json) and GGUF
// tokenizer.ggml.* metadata; and the writer of the same GGUF keys.
#pragma once

#include <string>

#include "tokenizer/vocab.h"

namespace frugal {

class GgufFile;
class GgufWriter;

// `path`: a tokenizer.json, or a directory holding tokenizer.json. tokenizer_config.json in the
// same directory supplies bos/eos tokens, add_bos_token/add_eos_token and chat_template.
VocabData load_hf_vocab(const std::string& path);
// Parses tokenizer.json text (config_json may be empty). `source` names the input in errors.
VocabData parse_hf_vocab(const std::string& tokenizer_json, const std::string& config_json,
                         const std::string& source);

// Reads tokenizer.ggml.model (must be "gpt2"), .pre, .tokens, .token_type, .merges,
// .bos_token_id, .eos_token_id, .add_bos_token, .add_eos_token and tokenizer.chat_template.
VocabData load_gguf_vocab(const GgufFile& gguf);
// Sets the keys load_gguf_vocab reads. Throws when data.pre has no GGUF name.
void write_gguf_vocab(const VocabData& data, GgufWriter& writer);

}  // namespace frugal
