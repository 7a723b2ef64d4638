// Perplexity of a token stream, and the KL divergence of a model's predictions against a saved
// full-precision run (runtime/logit_file.h), to measure what quantization costs.
//
// Scoring rule (llama.cpp's `perplexity`): the tokens are cut into non-overlapping chunks of
// n_ctx (a trailing partial chunk is dropped); when `bos` is set it replaces the first token of
// every chunk; each chunk is evaluated from position 0 with a fresh cache; with
// first = n_ctx / 2, the logits at positions first .. n_ctx - 2 score the tokens at
// first + 1 .. n_ctx - 1 (the second half, each predicted from at least n_ctx / 2 tokens of
// context). So a chunk scores n_ctx - 1 - n_ctx / 2 tokens, and n_ctx must be at least 3.
// PPL = exp(mean NLL); its standard error is PPL * s / sqrt(N) (s: the NLLs' sample standard
// deviation, N: tokens scored; first-order propagation).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "runtime/logit_file.h"

namespace frugal {

class CausalLm;

struct PerplexityOptions {
  int64_t n_ctx = 512;         // tokens per chunk
  int64_t n_batch = 512;       // tokens per forward call
  int64_t max_chunks = 0;      // 0 = every whole chunk
  std::optional<int32_t> bos;  // replaces each chunk's first token when set
};

// Mean and standard error of a sample, accumulated one value at a time.
struct RunningMean {
  int64_t n = 0;
  double sum = 0, sum_sq = 0;
  void add(double x) {
    ++n;
    sum += x;
    sum_sq += x * x;
  }
  double mean() const { return n ? sum / n : 0.0; }
  double std_error() const;  // 0 when n < 2
};

struct KlStats {
  RunningMean kl;                // KL(base || model) per position, nats
  RunningMean top1_same;         // 1 when the model's argmax equals the base's
  RunningMean base_nll;          // the base run's NLL at the same positions
  RunningMean nll_diff;          // model NLL - base NLL: ln(PPL / PPL_base) with a paired error
  std::vector<float> kl_values;  // every position's KL, for quantiles

  double base_ppl() const;
  double kl_quantile(double q) const;  // 0 <= q <= 1
};

struct PerplexityResult {
  int64_t n_chunks = 0;        // chunks evaluated (so far)
  int64_t n_chunks_total = 0;  // chunks that will be evaluated
  int64_t n_ctx = 0;
  int64_t first = 0;          // first scored logits position of a chunk
  RunningMean nll;            // per scored token, nats
  std::optional<KlStats> kl;  // with a base run

  double ppl() const;
  double ppl_error() const;
};

// Chunks of n_ctx from `tokens` (BOS-replaced as the options say): [n_chunks * n_ctx].
// Throws frugal::Error when n_ctx < 3, n_batch < 1, or the text has fewer than n_ctx tokens.
std::vector<int32_t> perplexity_chunks(std::span<const int32_t> tokens,
                                       const PerplexityOptions& opt);

// The header of a --save-logits file for these chunks.
LogitFileHeader perplexity_log_header(int64_t n_vocab, int64_t n_chunks,
                                      const PerplexityOptions& opt);

// Evaluates `model` over `chunks` (from perplexity_chunks: [n_chunks * opt.n_ctx]). `save`
// (optional; its header from perplexity_log_header) receives every scored position's
// log-probabilities; `base` (optional) is a saved run to compare against: same n_ctx and
// vocabulary, at least as many chunks, the same tokens (throws frugal::Error otherwise).
// on_chunk (optional) is called after each chunk with the running result.
PerplexityResult run_perplexity(CausalLm& model, std::span<const int32_t> chunks,
                                const PerplexityOptions& opt, LogitFileWriter* save = nullptr,
                                LogitFileReader* base = nullptr,
                                const std::function<void(const PerplexityResult&)>& on_chunk = {});

}  // namespace frugal
