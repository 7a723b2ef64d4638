#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <utility>

#include "core/error.h"
#include "format/gguf.h"
#include "tokenizer/load.h"
#include "tokenizer/utf8.h"

namespace frugal {

// Piece bytes -> ids. Bounded: cleared when full, so memory stays small on adversarial input.
struct Tokenizer::PieceCache {
  static constexpr size_t kMaxBytes = 64u << 20;  // cleared when its contents pass this
  static constexpr size_t kMaxPieceBytes = 64u << 10;
  std::mutex mu;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
  size_t n_bytes = 0;  // keys + ids + per-entry overhead
};

namespace {

void validate(const VocabData& d) {
  if (d.tokens.empty()) throw Error("tokenizer: vocabulary is empty");
  if (d.types.size() != d.tokens.size()) {
    throw Error("tokenizer: " + std::to_string(d.types.size()) + " token types for " +
                std::to_string(d.tokens.size()) + " tokens");
  }
  auto check_id = [&](int32_t id, const char* what) {
    if (id < -1 || id >= d.n_tokens()) {
      throw Error(std::string("tokenizer: ") + what + " id " + std::to_string(id) +
                  " is outside the vocabulary of " + std::to_string(d.n_tokens()));
    }
  };
  check_id(d.bos_id, "BOS");
  check_id(d.eos_id, "EOS");
  if (d.add_bos && d.bos_id < 0) throw Error("tokenizer: add_bos is set but there is no BOS id");
}

}  // namespace

Tokenizer::Tokenizer(VocabData data) : data_(std::move(data)), pre_((validate(data_), data_.pre)) {
  token_to_id_.reserve(data_.tokens.size());
  token_bytes_.resize(data_.tokens.size());
  for (int32_t id = 0; id < data_.n_tokens(); ++id) {
    const std::string& text = data_.tokens[id];
    const TokenType type = data_.types[id];
    // The first id of a duplicated string wins, except that added tokens override.
    if (!token_to_id_.insert(text, id) && is_added_token_type(type)) token_to_id_.assign(text, id);
    if (is_added_token_type(type)) {
      added_.add(text, id);
      token_bytes_[id] = text;
    } else if (!byte_level_to_bytes(text, token_bytes_[id])) {
      token_bytes_[id] = text;  // not byte-level form ([PAD..] fillers): decodes literally
    }
  }
  bpe_ = std::make_unique<BpeModel>(data_, token_to_id_);
  if (data_.eos_id >= 0) eog_ids_.push_back(data_.eos_id);
  for (const char* marker :
       {"<｜end▁of▁sentence｜>", "<|EOT|>", "<|endoftext|>", "<|eot_id|>", "<|im_end|>"}) {
    const int32_t id = token_to_id_.find(marker);
    if (id >= 0 && is_added_token_type(data_.types[size_t(id)])) eog_ids_.push_back(id);
  }
  std::sort(eog_ids_.begin(), eog_ids_.end());
  eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());
  cache_ = std::make_unique<PieceCache>();
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_hf(const std::string& path) {
  return Tokenizer(load_hf_vocab(path));
}

Tokenizer Tokenizer::from_gguf(const GgufFile& gguf) {
  return Tokenizer(load_gguf_vocab(gguf));
}

Tokenizer Tokenizer::from_path(const std::string& path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) {
    return from_gguf(GgufFile::open(path));
  }
  return from_hf(path);
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

std::optional<int32_t> Tokenizer::find_token(std::string_view stored_text) const {
  const int32_t id = token_to_id_.find(stored_text);
  if (id < 0) return std::nullopt;
  return id;
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (data_.ignore_merges) {
    if (const int32_t id = token_to_id_.find(bytes_to_byte_level(piece)); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (!cache_enabled_ || piece.size() <= 2 || piece.size() > PieceCache::kMaxPieceBytes) {
    bpe_->encode_piece(piece, out);
    return;
  }
  {
    std::lock_guard lock(cache_->mu);
    if (auto it = cache_->map.find(piece); it != cache_->map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  bpe_->encode_piece(piece, out);
  const size_t n_ids = out.size() - start;
  std::lock_guard lock(cache_->mu);
  if (cache_->n_bytes > PieceCache::kMaxBytes) cache_->map.clear(), cache_->n_bytes = 0;
  if (cache_->map.emplace(std::string(piece), std::vector<int32_t>(out.begin() + start, out.end()))
          .second) {
    cache_->n_bytes += piece.size() + n_ids * sizeof(int32_t) + 96;
  }
}

void Tokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  thread_local std::vector<Piece> pieces;
  pre_.split(text, pieces);
  for (const Piece& p : pieces) encode_piece(text.substr(p.offset, p.size), out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& opts) const {
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = repair_utf8(text);
    text = repaired;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (opts.add_bos && data_.add_bos) out.push_back(data_.bos_id);
  if (!opts.parse_special) {
    encode_plain(text, out);
    return out;
  }
  size_t pos = 0;
  AddedTokenMatcher::Match m;
  while (added_.find(text, pos, m)) {
    encode_plain(text.substr(pos, m.begin - pos), out);
    out.push_back(m.id);
    pos = m.end;
  }
  encode_plain(text.substr(pos), out);
  return out;
}

std::vector<int32_t> Tokenizer::encode_parts(std::span<const TextPart> parts) const {
  std::string text;                                // the concatenation, repaired
  std::vector<std::pair<size_t, size_t>> special;  // [begin, end) byte ranges of special parts
  for (const TextPart& part : parts) {
    const size_t begin = text.size();
    if (is_valid_utf8(part.text)) {
      text += part.text;
    } else {
      text += repair_utf8(part.text);
    }
    if (!part.parse_special || text.size() == begin) continue;
    if (!special.empty() && special.back().second == begin) {
      special.back().second = text.size();
    } else {
      special.emplace_back(begin, text.size());
    }
  }
  const std::string_view all = text;
  std::vector<int32_t> out;
  out.reserve(all.size() / 3 + 2);
  size_t plain_begin = 0;  // start of the plain text not yet encoded
  AddedTokenMatcher::Match m;
  for (const auto& [begin, end] : special) {
    for (size_t pos = begin; added_.find(all.substr(0, end), pos, m); pos = m.end) {
      encode_plain(all.substr(plain_begin, m.begin - plain_begin), out);
      out.push_back(m.id);
      plain_begin = m.end;
    }
  }
  encode_plain(all.substr(plain_begin), out);
  return out;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= n_tokens()) {
    throw Error("tokenizer: token id " + std::to_string(id) + " is outside the vocabulary of " +
                std::to_string(n_tokens()));
  }
  return token_bytes_[size_t(id)];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_control) const {
  std::string out;
  for (int32_t id : ids) {
    const std::string& bytes = token_bytes(id);
    if (skip_control && data_.types[size_t(id)] == TokenType::Control) continue;
    out += bytes;
  }
  return out;
}

}  // namespace frugal
