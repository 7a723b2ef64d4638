// Hugging Face tokenizer.json (+ tokenizer_config.json) -> VocabData.
// Structure: ../shared/docs/reference/tokenizer.md §1; only byte-level BPE models are accepted.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "tokenizer/json_scan.h"
#include "tokenizer/load.h"

namespace frugal {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error("tokenizer: cannot open '" + p.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Escapes a literal string for use as a regex (Split with {"String": ...}).
std::string regex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

SplitBehavior behavior_of(const std::string& b, const std::string& where) {
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  throw Error(where + ": unknown Split behavior '" + b + "'");
}

// Appends the splits of one pre-tokenizer node (Sequence, Split, Digits, ByteLevel).
void add_pre_tokenizer(const json& node, std::vector<PreTokenizerSplit>& splits,
                       const std::string& where) {
  if (node.is_null()) return;
  const std::string type = node.value("type", "");
  if (type == "Sequence") {
    for (const json& p : node.at("pretokenizers")) add_pre_tokenizer(p, splits, where);
  } else if (type == "Split") {
    const json& pat = node.at("pattern");
    PreTokenizerSplit s;
    if (pat.contains("Regex")) {
      s.regex = pat.at("Regex").get<std::string>();
    } else {
      s.regex = regex_escape(pat.at("String").get<std::string>());
    }
    s.behavior = behavior_of(node.value("behavior", "Isolated"), where);
    s.invert = node.value("invert", false);
    splits.push_back(std::move(s));
  } else if (type == "Digits") {
    // Digits splits on Unicode numeric characters: each alone, or runs joined.
    const bool individual = node.value("individual_digits", false);
    splits.push_back(
        {R"(\p{N})", individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false});
  } else if (type == "ByteLevel") {
    if (node.value("add_prefix_space", false)) {
      throw Error(where + ": ByteLevel add_prefix_space=true is not supported");
    }
    if (node.value("use_regex", true)) {
      for (const PreTokenizerSplit& s : pre_tokenizer_by_name("gpt2").splits) splits.push_back(s);
    }
  } else {
    throw Error(where + ": unsupported pre_tokenizer type '" + type + "'");
  }
}

// An added-token reference in tokenizer_config.json: a string or {"content": ...}.
std::string token_content(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content")) return v.at("content").get<std::string>();
  return "";
}

void split_merge(const std::string& m, VocabData& d, const std::string& where) {
  const size_t sp = m.find(' ', 1);
  if (sp == std::string::npos) throw Error(where + ": merge '" + m + "' is not 'left right'");
  d.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
}

// Reads "model" with the scanner: vocab and merges straight into `d`, the other (small) fields
// into `rest` for nlohmann.
void scan_model(JsonScanner& js, VocabData& d, json& rest, const std::string& where) {
  std::string key, token, right;
  bool first = true;
  js.begin_object();
  while (js.next_key(first, key)) {
    if (key == "vocab") {
      bool first_entry = true;
      js.begin_object();
      while (js.next_key(first_entry, token)) {
        const int64_t id = js.read_int();
        if (id < 0 || id > (1 << 24)) {
          throw Error(where + ": token '" + token + "' has id " + std::to_string(id));
        }
        if (size_t(id) >= d.tokens.size()) {
          d.tokens.resize(size_t(id) + 1);
          d.types.resize(size_t(id) + 1, TokenType::Unused);
        }
        d.tokens[size_t(id)].swap(token);
        d.types[size_t(id)] = TokenType::Normal;
      }
    } else if (key == "merges") {
      bool first_merge = true;
      js.begin_array();
      while (js.next_element(first_merge)) {
        if (js.peek() == '"') {  // legacy "left right"
          js.read_string(token);
          split_merge(token, d, where);
        } else {  // ["left", "right"]
          js.begin_array();
          js.read_string(token);
          js.expect(',');
          js.read_string(right);
          js.expect(']');
          d.merges.emplace_back(token, right);
        }
      }
    } else {
      rest[key] = json::parse(js.skip_value());
    }
  }
}

void check_model(const json& model, VocabData& d, const std::string& where) {
  if (model.value("type", "BPE") != "BPE") {
    throw Error(where + ": model type '" + model.value("type", "") + "' is not BPE");
  }
  if (model.value("byte_fallback", false)) {
    throw Error(where + ": BPE with byte_fallback (SentencePiece style) is not supported");
  }
  d.ignore_merges = model.value("ignore_merges", false);
}

void read_added_tokens(const json& added, VocabData& d, const std::string& where) {
  for (const json& t : added) {
    const int64_t id = t.at("id").get<int64_t>();
    if (id < 0 || id > (1 << 24)) throw Error(where + ": added token id " + std::to_string(id));
    if (size_t(id) >= d.tokens.size()) {
      d.tokens.resize(size_t(id + 1));
      d.types.resize(size_t(id + 1), TokenType::Unused);
    }
    d.tokens[size_t(id)] = t.at("content").get<std::string>();
    d.types[size_t(id)] = t.value("special", false) ? TokenType::Control : TokenType::UserDefined;
  }
}

// Ids that neither the vocab nor the added tokens define get GGUF-style "[PAD<id>]" fillers.
void fill_unused(VocabData& d) {
  for (size_t id = 0; id < d.tokens.size(); ++id) {
    if (d.types[id] == TokenType::Unused) d.tokens[id] = "[PAD" + std::to_string(id) + "]";
  }
}

int32_t id_of_content(const VocabData& d, const std::string& content) {
  if (content.empty()) return -1;
  for (size_t id = 0; id < d.tokens.size(); ++id) {
    if (is_added_token_type(d.types[id]) && d.tokens[id] == content) return int32_t(id);
  }
  for (size_t id = 0; id < d.tokens.size(); ++id) {
    if (d.tokens[id] == content) return int32_t(id);
  }
  return -1;
}

void read_config(const json& cfg, VocabData& d, const std::string& where) {
  if (cfg.contains("bos_token")) d.bos_id = id_of_content(d, token_content(cfg["bos_token"]));
  if (cfg.contains("eos_token")) d.eos_id = id_of_content(d, token_content(cfg["eos_token"]));
  d.add_bos = cfg.value("add_bos_token", false) && d.bos_id >= 0;
  d.add_eos = cfg.value("add_eos_token", false) && d.eos_id >= 0;
  if (cfg.contains("chat_template")) {
    const json& t = cfg["chat_template"];
    if (t.is_string()) {
      d.chat_template = t.get<std::string>();
    } else if (t.is_array()) {  // [{"name": "default", "template": ...}, ...]
      for (const json& e : t) {
        if (e.value("name", "") == "default") d.chat_template = e.value("template", "");
      }
    }
  }
}

}  // namespace

VocabData parse_hf_vocab(const std::string& tokenizer_json, const std::string& config_json,
                         const std::string& source) {
  VocabData d;
  try {
    // Everything but model.vocab / model.merges goes through nlohmann as small values.
    json tok = json::object(), model = json::object();
    JsonScanner js(tokenizer_json, source);
    std::string key;
    bool first = true;
    js.begin_object();
    while (js.next_key(first, key)) {
      if (key == "model") {
        scan_model(js, d, model, source);
      } else {
        tok[key] = json::parse(js.skip_value());
      }
    }
    if (js.peek() != '\0') js.fail("trailing text after the top-level object");
    if (d.tokens.empty()) throw Error(source + ": model.vocab is missing or empty");
    check_model(model, d, source);
    if (tok.contains("added_tokens")) read_added_tokens(tok["added_tokens"], d, source);
    fill_unused(d);
    add_pre_tokenizer(tok.value("pre_tokenizer", json()), d.pre.splits, source);
    d.pre.name = pre_tokenizer_name_of(d.pre.splits);
    const json& norm = tok.value("normalizer", json());
    if (!norm.is_null()) {
      const std::string type = norm.value("type", "");
      if (type == "NFC") {
        d.normalizer = "NFC";
      } else if (!(type == "Sequence" && norm.value("normalizers", json::array()).empty())) {
        throw Error(source + ": unsupported normalizer '" + type + "'");
      }
    }
    if (!config_json.empty()) read_config(json::parse(config_json), d, source);
  } catch (const json::exception& e) {
    throw Error(source + ": malformed tokenizer JSON: " + e.what());
  }
  return d;
}

VocabData load_hf_vocab(const std::string& path) {
  fs::path tok = path;
  if (fs::is_directory(tok)) tok /= "tokenizer.json";
  if (!fs::exists(tok)) throw Error("tokenizer: '" + tok.string() + "' does not exist");
  const fs::path cfg = tok.parent_path() / "tokenizer_config.json";
  return parse_hf_vocab(read_file(tok), fs::exists(cfg) ? read_file(cfg) : "", tok.string());
}

}  // namespace frugal
