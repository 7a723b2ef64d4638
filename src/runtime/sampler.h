// Token sampling: the chain of ../shared/docs/reference/sampling-and-api.md §1, in vLLM/HF
// order: logit bias -> repetition penalty -> presence/frequency penalties -> temperature
// (0 = greedy) -> top-k -> top-p -> min-p -> seeded draw.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <vector>

namespace frugal {

struct SamplingParams {
  float temperature = 1.0f;         // <= 1e-5 means greedy argmax
  int32_t top_k = 0;                // <= 0 or >= vocab: off
  float top_p = 1.0f;               // >= 1: off
  float min_p = 0.0f;               // 0: off
  float repetition_penalty = 1.0f;  // 1: off; over distinct ids of the history
  float presence_penalty = 0.0f;    // OpenAI semantics, over generated tokens
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
  std::map<int32_t, float> logit_bias;  // id -> added to the logit

  bool is_greedy() const { return temperature <= 1e-5f; }
};

// Which tokens may come next (constrained decoding, e.g. JSON mode). allows() must be cheap: the
// sampler calls it on candidates in order of likelihood, and on the whole vocabulary at worst.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  virtual bool allows(int32_t token) const = 0;
};

// One (token, log-probability) pair.
struct TokenLogprob {
  int32_t token;
  float logprob;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // Picks the next token. `logits` is modified in place (it is scratch); `prompt` and
  // `generated` are the token history the penalties look at. With a constraint, only a token it
  // allows is returned: greedy takes the allowed token with the largest logit; sampling draws
  // from the truncated (top-k/top-p/min-p) distribution and redraws without each rejected
  // token, which is a draw from that distribution restricted to allowed tokens and renormalised;
  // after kMaxRejections redraws, one pass drops every disallowed candidate, and when no
  // candidate is allowed the whole vocabulary is masked and truncated again. Throws
  // frugal::Error when the constraint allows no token at all.
  int32_t sample(std::span<float> logits, std::span<const int32_t> prompt,
                 std::span<const int32_t> generated, const TokenConstraint* constraint = nullptr);

  static constexpr int kMaxRejections = 16;

  const SamplingParams& params() const { return params_; }

 private:
  void apply_penalties(std::span<float> logits, std::span<const int32_t> prompt,
                       std::span<const int32_t> generated) const;
  int32_t draw(std::span<const float> logits);
  int32_t draw_constrained(std::span<float> logits, const TokenConstraint& constraint);
  // Sorts the candidates and keeps the top-k/top-p/min-p ones: candidates_[0, n), with
  // unnormalised probabilities probs_[0, n). Returns n.
  int32_t truncate(std::span<const float> logits);
  // Index in [0, n) drawn in proportion to probs_ (zeros are never drawn); -1 when all are 0.
  int32_t pick(int32_t n);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> candidates_;  // scratch, reused between calls
  std::vector<float> probs_;
};

// Index of the largest logit (lowest index wins ties).
int32_t argmax(std::span<const float> logits);
// The same among the tokens `constraint` allows; -1 when it allows none. Tests only tokens whose
// logit beats the best allowed one so far.
int32_t constrained_argmax(std::span<const float> logits, const TokenConstraint& constraint);

// log_softmax(logits)[token] and the n most likely tokens, from raw model logits (before any
// penalty or temperature), as OpenAI's logprobs report them.
float token_logprob(std::span<const float> logits, int32_t token);
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int n);

}  // namespace frugal
