// Single-sequence generation: prefill the prompt, then sample one token at a time until EOS, a
// stop string, max_tokens or the context end. Text is streamed as valid UTF-8 pieces; text that
// could still become a stop string is held back until it is known not to be one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/causal_lm.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

enum class FinishReason { Stop, Length };
const char* finish_reason_name(FinishReason r);

struct GenerationRequest {
  std::vector<int32_t> prompt;     // token ids, BOS included if wanted
  int64_t max_tokens = 256;        // generated tokens at most
  SamplingParams sampling;
  std::vector<std::string> stop;   // stop strings (not returned)
  bool ignore_eos = false;
  // Greedy only: self-speculative decoding with the model's draft head (CausalLm::draft, MTP).
  // Each step drafts the token after next and verifies it in one 2-token forward; the output is
  // the same as plain greedy decoding. Ignored when sampling or when the model cannot draft.
  bool speculative = false;
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids (EOS excluded)
  std::string text;             // their text, cut before a stop string
  FinishReason finish = FinishReason::Length;
  int64_t n_prompt_reused = 0;  // prompt tokens whose cache entries were kept from the last call
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t n_drafted = 0, n_accepted = 0;  // speculative decoding: drafts made / confirmed
};

// Called with each new piece of text; return false to stop early (e.g. Ctrl-C, client gone).
using TextCallback = std::function<bool(std::string_view piece)>;

class Generator {
 public:
  Generator(CausalLm& model, const Tokenizer& tokenizer);

  // Throws frugal::Error when the prompt is empty or does not fit the context. The cache entries
  // of the longest common prefix with the previous call's tokens are reused (multi-turn chat).
  GenerationResult generate(const GenerationRequest& req, const TextCallback& on_text = {});

 private:
  bool is_end_of_generation(int32_t id) const;
  // Decodes from logits_ (those of the last prompt token) until accept() says to stop.
  // accept(id, pos): records token id, to be fed at position pos; false ends the generation.
  using Accept = std::function<bool(int32_t id, int32_t pos)>;
  void decode_plain(const GenerationRequest& req, Sampler& sampler, GenerationResult& result,
                    const Accept& accept);
  void decode_speculative(const GenerationRequest& req, Sampler& sampler, GenerationResult& result,
                          const Accept& accept);

  CausalLm& model_;
  const Tokenizer& tokenizer_;
  std::unique_ptr<SequenceState> state_;
  std::vector<int32_t> cached_tokens_;  // the tokens whose entries state_ holds, in order
  std::vector<float> logits_;           // [n_vocab]
  std::vector<float> verify_logits_;    // [2, n_vocab] (speculative decoding)
  std::vector<float> draft_logits_;     // [n_vocab] (speculative decoding)
};

// Holds back the tail of streamed text that may be the start of a stop string.
class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops);
  // Returns text safe to emit; sets stopped() when a stop string completed.
  std::string push(std::string_view text);
  std::string flush();  // end of generation: everything held back
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace frugal
