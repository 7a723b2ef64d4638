// libFuzzer target: the tokenizer on arbitrary bytes. Checks, beyond not crashing:
// decode(encode(x)) equals x with invalid UTF-8 repaired; the streaming decoder emits only valid
// UTF-8 and, flushed, the same text. Inputs whose first byte has bit 7 set go to the tokenizer.json
// parser instead. Vocabulary: DeepSeek-V3 from ../shared/data (or $FRUGAL_TOKENIZER_DIR), else a
// synthetic one.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tokenizer/load.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

namespace fs = std::filesystem;

// 256 byte tokens, a few merges, BOS/EOS and two added tokens.
frugal::VocabData synthetic_vocab() {
  frugal::VocabData d;
  for (int b = 0; b < 256; ++b) {
    std::string t;
    frugal::append_utf8(t, frugal::byte_to_unicode(uint8_t(b)));
    d.tokens.push_back(t);
    d.types.push_back(frugal::TokenType::Normal);
  }
  const std::pair<const char*, const char*> merges[] = {
      {"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"1", "2"}, {"12", "3"}, {"a", "a"}, {"aa", "aa"}};
  for (const auto& [l, r] : merges) {
    d.merges.emplace_back(l, r);
    d.tokens.push_back(std::string(l) + r);
    d.types.push_back(frugal::TokenType::Normal);
  }
  for (const char* added :
       {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<think>"}) {
    d.tokens.push_back(added);
    d.types.push_back(d.tokens.size() < 266 ? frugal::TokenType::Control
                                            : frugal::TokenType::UserDefined);
  }
  d.bos_id = 263;
  d.eos_id = 264;
  d.add_bos = true;
  d.pre = frugal::pre_tokenizer_by_name("deepseek-v3");
  return d;
}

const frugal::Tokenizer& tokenizer() {
  static const std::unique_ptr<frugal::Tokenizer> tok = [] {
    fs::path dir = fs::path(__FILE__).parent_path().parent_path().parent_path() /
                   "shared/data/tokenizer/deepseek-v3";
    if (const char* env = std::getenv("FRUGAL_TOKENIZER_DIR")) dir = env;
    if (fs::exists(dir / "tokenizer.json")) {
      return std::make_unique<frugal::Tokenizer>(frugal::Tokenizer::from_hf(dir.string()));
    }
    return std::make_unique<frugal::Tokenizer>(synthetic_vocab());
  }();
  return *tok;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (flags & 0x80) {
    try {
      frugal::Tokenizer t(frugal::parse_hf_vocab(std::string(text), "", "fuzz"));
      (void)t.encode("hello world 123");
    } catch (const frugal::Error&) {
    }
    return 0;
  }
  const frugal::Tokenizer& tok = tokenizer();
  frugal::EncodeOptions opts;
  opts.parse_special = flags & 1;
  opts.add_bos = flags & 2;
  const std::vector<int32_t> ids = tok.encode(text, opts);
  const std::string repaired = frugal::repair_utf8(text);
  std::string decoded = tok.decode(ids);
  if (opts.add_bos && tok.add_bos()) {
    decoded.erase(0, tok.token_bytes(tok.bos_id()).size());
  }
  check(decoded == repaired, "decode(encode(x)) != repair_utf8(x)");

  frugal::TokenStreamDecoder stream(tok, /*skip_control=*/false);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string piece = stream.push(id);
    check(frugal::is_valid_utf8(piece), "stream decoder emitted invalid UTF-8");
    streamed += piece;
  }
  streamed += stream.flush();
  check(streamed == tok.decode(ids), "streamed text differs from decode()");
  return 0;
}
