#include "core/error.h"
#include "format/gguf.h"
#include "tokenizer/load.h"

namespace frugal {

VocabData load_gguf_vocab(const GgufFile& gguf) {
  const std::string where = gguf.source() + ": ";
  const auto model = gguf.get<std::string>("tokenizer.ggml.model");
  if (model != "gpt2") {
    throw Error(where + "tokenizer.ggml.model is '" + model +
                "'; only byte-level BPE ('gpt2') is supported");
  }
  VocabData d;
  const std::string pre = gguf.get_or<std::string>("tokenizer.ggml.pre", "default");
  d.pre = pre_tokenizer_by_name(pre);
  // llama.cpp treats Llama-3 vocabularies as ignore_merges (tokenizer.json says so too).
  d.ignore_merges = pre == "llama-bpe" || pre == "llama3";
  d.tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  if (gguf.has("tokenizer.ggml.token_type")) {
    const auto types = gguf.get_array<int32_t>("tokenizer.ggml.token_type");
    if (types.size() != d.tokens.size()) {
      throw Error(where + "tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                  " entries, expected one per token (" + std::to_string(d.tokens.size()) + ")");
    }
    d.types.reserve(types.size());
    for (int32_t t : types) {
      if (t < 0 || t > 6) throw Error(where + "token type " + std::to_string(t) + " is unknown");
      d.types.push_back(static_cast<TokenType>(t));
    }
  } else {
    d.types.assign(d.tokens.size(), TokenType::Normal);
  }
  const auto merges = gguf.get_string_array("tokenizer.ggml.merges");
  d.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const size_t sp = merges[i].find(' ', 1);
    if (sp == std::string::npos) {
      throw Error(where + "tokenizer.ggml.merges[" + std::to_string(i) + "] '" + merges[i] +
                  "' is not 'left right'");
    }
    d.merges.emplace_back(merges[i].substr(0, sp), merges[i].substr(sp + 1));
  }
  if (auto v = gguf.get_optional<int64_t>("tokenizer.ggml.bos_token_id")) d.bos_id = int32_t(*v);
  if (auto v = gguf.get_optional<int64_t>("tokenizer.ggml.eos_token_id")) d.eos_id = int32_t(*v);
  d.add_bos = gguf.get_or<bool>("tokenizer.ggml.add_bos_token", d.bos_id >= 0);
  d.add_eos = gguf.get_or<bool>("tokenizer.ggml.add_eos_token", false);
  d.chat_template = gguf.get_or<std::string>("tokenizer.chat_template", "");
  return d;
}

void write_gguf_vocab(const VocabData& d, GgufWriter& w) {
  if (d.pre.name.empty()) {
    throw Error("tokenizer: the pre-tokenizer matches no known GGUF tokenizer.ggml.pre name");
  }
  w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::str(d.pre.name));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(d.tokens));
  std::vector<int32_t> types;
  types.reserve(d.types.size());
  for (TokenType t : d.types) types.push_back(static_cast<int32_t>(t));
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  std::vector<std::string> merges;
  merges.reserve(d.merges.size());
  for (const auto& [l, r] : d.merges) merges.push_back(l + " " + r);
  w.set("tokenizer.ggml.merges", GgufValue::string_array(merges));
  if (d.bos_id >= 0) w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(uint32_t(d.bos_id)));
  if (d.eos_id >= 0) w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(uint32_t(d.eos_id)));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(d.add_bos));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(d.add_eos));
  if (!d.chat_template.empty()) w.set("tokenizer.chat_template", GgufValue::str(d.chat_template));
}

}  // namespace frugal
