#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "core/error.h"

namespace frugal {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

float log_sum_exp(std::span<const float> x) {
  float m = kNegInf;
  for (float v : x) m = std::max(m, v);
  if (m == kNegInf) return m;
  double s = 0;
  for (float v : x) s += std::exp(static_cast<double>(v - m));
  return m + static_cast<float>(std::log(s));
}
}  // namespace

Sampler::Sampler(SamplingParams params) : params_(std::move(params)), rng_(params_.seed) {
  if (!(params_.temperature >= 0)) throw Error("temperature must be >= 0");
  if (!(params_.top_p > 0 && params_.top_p <= 1)) throw Error("top_p must be in (0, 1]");
  if (!(params_.min_p >= 0 && params_.min_p <= 1)) throw Error("min_p must be in [0, 1]");
  if (!(params_.repetition_penalty > 0)) throw Error("repetition_penalty must be > 0");
}

int32_t argmax(std::span<const float> logits) {
  FRUGAL_CHECK(!logits.empty(), "argmax of no logits");
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Repetition penalty (HF/CTRL): l > 0 ? l / r : l * r, once per distinct id of prompt+generated.
// Presence/frequency (OpenAI): l -= presence * [count > 0] + frequency * count, over generated.
void Sampler::apply_penalties(std::span<float> logits, std::span<const int32_t> prompt,
                              std::span<const int32_t> generated) const {
  const auto vocab = static_cast<int32_t>(logits.size());
  for (const auto& [id, bias] : params_.logit_bias)
    if (id >= 0 && id < vocab) logits[id] += bias;
  if (params_.repetition_penalty != 1.0f) {
    std::vector<bool> seen(logits.size(), false);
    for (auto part : {prompt, generated}) {
      for (int32_t id : part) {
        if (id < 0 || id >= vocab || seen[id]) continue;
        seen[id] = true;
        float& l = logits[id];
        l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
      }
    }
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t id : generated)
      if (id >= 0 && id < vocab) ++counts[id];
    for (const auto& [id, c] : counts)
      logits[id] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(c);
  }
}

int32_t constrained_argmax(std::span<const float> logits, const TokenConstraint& constraint) {
  int32_t best = -1;
  float best_logit = kNegInf;
  for (size_t v = 0; v < logits.size(); ++v) {
    if (!(logits[v] > best_logit) && best >= 0) continue;
    if (constraint.allows(static_cast<int32_t>(v))) {
      best = static_cast<int32_t>(v);
      best_logit = logits[v];
    }
  }
  return best;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> prompt,
                        std::span<const int32_t> generated, const TokenConstraint* constraint) {
  apply_penalties(logits, prompt, generated);
  if (params_.is_greedy() && !constraint) return argmax(logits);
  if (params_.is_greedy()) {
    const int32_t id = constrained_argmax(logits, *constraint);
    if (id < 0) throw Error("the output constraint allows no token");
    return id;
  }
  for (float& l : logits) l /= params_.temperature;
  return constraint ? draw_constrained(logits, *constraint) : draw(logits);
}

int32_t Sampler::draw(std::span<const float> logits) {
  const int32_t n = truncate(logits);
  return candidates_[pick(n)];
}

int32_t Sampler::draw_constrained(std::span<float> logits, const TokenConstraint& constraint) {
  const int32_t n = truncate(logits);
  for (int i = 0; i < kMaxRejections; ++i) {
    const int32_t k = pick(n);
    if (k < 0) break;
    if (constraint.allows(candidates_[k])) return candidates_[k];
    probs_[k] = 0;  // redraw without it: the rest renormalised
  }
  // Many rejections: drop every disallowed candidate at once.
  for (int32_t i = 0; i < n; ++i)
    if (probs_[i] > 0 && !constraint.allows(candidates_[i])) probs_[i] = 0;
  if (const int32_t k = pick(n); k >= 0) return candidates_[k];
  // No truncated candidate is allowed: mask the vocabulary, then truncate what is left.
  bool any = false;
  for (size_t v = 0; v < logits.size(); ++v) {
    if (constraint.allows(static_cast<int32_t>(v)))
      any = true;
    else
      logits[v] = kNegInf;
  }
  if (!any) throw Error("the output constraint allows no token");
  const int32_t m = truncate(logits);
  return candidates_[pick(m)];
}

// top-k -> top-p -> min-p over the tempered logits.
int32_t Sampler::truncate(std::span<const float> logits) {
  const auto vocab = static_cast<int32_t>(logits.size());
  candidates_.resize(vocab);
  std::iota(candidates_.begin(), candidates_.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  int32_t n = vocab;
  if (params_.top_k > 0 && params_.top_k < vocab) {
    n = params_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + n, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // Probabilities of the kept candidates (sorted descending).
  probs_.resize(n);
  const float max_logit = logits[candidates_[0]];
  if (max_logit == kNegInf) throw Error("every token is masked: nothing to sample");
  double total = 0;
  for (int32_t i = 0; i < n; ++i) total += probs_[i] = std::exp(logits[candidates_[i]] - max_logit);
  if (params_.top_p < 1.0f) {
    double cum = 0;
    int32_t keep = n;
    for (int32_t i = 0; i < n; ++i) {
      cum += probs_[i] / total;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (params_.min_p > 0.0f) {
    const float threshold = params_.min_p * probs_[0];  // probs_[0] is the max (unnormalised)
    int32_t keep = 1;
    while (keep < n && probs_[keep] >= threshold) ++keep;
    n = keep;
  }
  return n;
}

// A draw from the renormalised probs_[0, n).
int32_t Sampler::pick(int32_t n) {
  double kept = 0;
  int32_t last = -1;
  for (int32_t i = 0; i < n; ++i) {
    kept += probs_[i];
    if (probs_[i] > 0) last = i;
  }
  if (last < 0) return -1;
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) * kept;
  double cum = 0;
  for (int32_t i = 0; i < last; ++i) {
    cum += probs_[i];
    if (u < cum && probs_[i] > 0) return i;
  }
  return last;
}

float token_logprob(std::span<const float> logits, int32_t token) {
  FRUGAL_CHECK(token >= 0 && static_cast<size_t>(token) < logits.size(), "token out of range");
  return logits[token] - log_sum_exp(logits);
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int n) {
  const float lse = log_sum_exp(logits);
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  n = std::clamp(n, 0, static_cast<int>(ids.size()));
  std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::vector<TokenLogprob> out;
  for (int i = 0; i < n; ++i) out.push_back({ids[i], logits[ids[i]] - lse});
  return out;
}

}  // namespace frugal
