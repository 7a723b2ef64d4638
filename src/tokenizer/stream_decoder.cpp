#include "tokenizer/stream_decoder.h"

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace frugal {

std::string Utf8StreamDecoder::push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  out.reserve(pending_.size());
  const auto* p = reinterpret_cast<const uint8_t*>(pending_.data());
  const size_t n = pending_.size();
  size_t i = 0;
  while (i < n) {
    const Utf8Step st = utf8_step(p + i, n - i);
    if (st.status == Utf8Step::Status::Truncated) break;  // hold the tail back
    if (st.status == Utf8Step::Status::Ok) {
      out.append(pending_, i, st.n_bytes);
    } else {
      append_utf8(out, kReplacementChar);
    }
    i += st.n_bytes;
  }
  pending_.erase(0, i);
  return out;
}

std::string Utf8StreamDecoder::flush() {
  std::string out;
  if (!pending_.empty()) append_utf8(out, kReplacementChar);
  pending_.clear();
  return out;
}

std::string TokenStreamDecoder::push(int32_t id) {
  const std::string& bytes = tok_.token_bytes(id);
  if (skip_control_ && tok_.token_type(id) == TokenType::Control) return "";
  return utf8_.push(bytes);
}

}  // namespace frugal
