// Pre-tokenizer regex sets by GGUF name. The patterns are the ones in the models' tokenizer.json
// files (see ../shared/docs/reference/tokenizer.md §2.2, §3, §5); tokenizer.json loading reads them
// from the file itself, these serve GGUF files, which only store the name.
#include <array>

#include "core/error.h"
#include "tokenizer/vocab.h"

namespace frugal {
namespace {

constexpr SplitBehavior kIso = SplitBehavior::Isolated;

// DeepSeek-V3 / R1 / V3.1: digits in runs of <= 3, CJK/kana runs, then a GPT-4-like splitter.
const char* const kDeepSeekV3[] = {
    R"(\p{N}{1,3})",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
    "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};

// DeepSeek-LLM / V2: line breaks, letter runs of listed scripts, ASCII/fullwidth punctuation,
// trailing whitespace, CJK/Hangul runs, digit runs.
const char* const kDeepSeekLlm[] = {
    "[\r\n]",
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-"
    "\u02af"
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-"
    "\u03f5"
    "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
    "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
    "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
    "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
    "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134"
    "\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee"
    "\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf"
    "\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
    "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
    "\U0001e900-\U0001e943]+",
    "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
    "\\s+$",
    "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+",
    "\\p{N}+",
};

// DeepSeek-Coder (V1).
const char* const kDeepSeekCoder[] = {
    "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+", "\\p{N}",
};

// Qwen2 / R1-Distill-Qwen: single digits. (Qwen's and Llama-3's files write \r\n as regex escapes.)
const char* const kQwen2[] = {
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*)"
    R"(|\s*[\r\n]+|\s+(?!\S)|\s+)",
};

// Llama-3 / R1-Distill-Llama: digit runs of <= 3.
const char* const kLlama3[] = {
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+)"
    R"([\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
};

// GPT-2 (ByteLevel with use_regex=true).
const char* const kGpt2[] = {
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
};

struct Kind {
  const char* name;
  const char* const* regexes;
  size_t n_regexes;
};

template <size_t N>
constexpr Kind kind(const char* name, const char* const (&r)[N]) {
  return {name, r, N};
}

// The first entry of a name group is what pre_tokenizer_name_of reports.
const std::array<Kind, 9> kKinds = {
    kind("deepseek-v3", kDeepSeekV3),
    kind("deepseek-llm", kDeepSeekLlm),
    kind("deepseek-coder", kDeepSeekCoder),
    kind("qwen2", kQwen2),
    kind("deepseek-r1-qwen", kQwen2),
    kind("llama-bpe", kLlama3),
    kind("llama3", kLlama3),
    kind("gpt2", kGpt2),
    kind("default", kGpt2),
};

PreTokenizerSpec spec_of(const Kind& k) {
  PreTokenizerSpec spec;
  spec.name = k.name;
  for (size_t i = 0; i < k.n_regexes; ++i) spec.splits.push_back({k.regexes[i], kIso, false});
  return spec;
}

}  // namespace

PreTokenizerSpec pre_tokenizer_by_name(std::string_view name) {
  for (const Kind& k : kKinds) {
    if (name == k.name) return spec_of(k);
  }
  std::string known;
  for (const Kind& k : kKinds) known += std::string(known.empty() ? "" : ", ") + k.name;
  throw Error("tokenizer: unsupported pre-tokenizer '" + std::string(name) + "' (known: " + known +
              ")");
}

std::string pre_tokenizer_name_of(const std::vector<PreTokenizerSplit>& splits) {
  for (const Kind& k : kKinds) {
    if (spec_of(k).splits == splits) return k.name;
  }
  return "";
}

}  // namespace frugal
