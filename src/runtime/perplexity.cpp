#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "model/causal_lm.h"
#include "runtime/logit_file.h"

namespace frugal {
namespace {

// lp [V] = ln softmax(logits); returns ln sum_v exp(logits[v]) (in double, so NLLs are exact to
// double precision) and sets *top to the argmax.
double log_softmax(const float* logits, int64_t n_vocab, std::vector<float>& lp, int32_t* top) {
  const float* max = std::max_element(logits, logits + n_vocab);
  double sum = 0;
  for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(logits[v]) - *max);
  const double lse = *max + std::log(sum);
  lp.resize(static_cast<size_t>(n_vocab));
  for (int64_t v = 0; v < n_vocab; ++v) lp[v] = static_cast<float>(logits[v] - lse);
  *top = static_cast<int32_t>(max - logits);
  return lse;
}

// KL(base || model) = sum_v p(v) (ln p(v) - ln q(v)), with the saved base renormalized.
double kl_divergence(std::span<const float> base_lp, std::span<const float> model_lp) {
  double sum = 0;
  for (float lp : base_lp) sum += std::exp(static_cast<double>(lp));
  const double log_sum = std::log(sum);
  double kl = 0;
  for (size_t v = 0; v < base_lp.size(); ++v) {
    const double lp = base_lp[v] - log_sum;
    kl += std::exp(lp) * (lp - model_lp[v]);
  }
  return kl;
}

void check_base(const LogitFileReader& base, int64_t n_vocab, int64_t n_chunks,
                std::span<const int32_t> chunks, const PerplexityOptions& opt) {
  const LogitFileHeader& h = base.header();
  if (h.n_ctx != opt.n_ctx)
    throw Error("the saved run used --ctx " + std::to_string(h.n_ctx) + ", this one " +
                std::to_string(opt.n_ctx) + " (they must be equal)");
  if (h.n_vocab != n_vocab)
    throw Error("the saved run has a vocabulary of " + std::to_string(h.n_vocab) +
                " tokens, this model " + std::to_string(n_vocab));
  if (h.n_chunks < n_chunks)
    throw Error("the saved run has " + std::to_string(h.n_chunks) + " chunks, this run needs " +
                std::to_string(n_chunks) + " (use --chunks)");
  if (!std::equal(chunks.begin(), chunks.end(), base.tokens().begin()))
    throw Error("the saved run evaluated different tokens (another text or tokenizer?)");
}

struct Scorer {
  int64_t n_vocab;
  LogitFileWriter* save;
  LogitFileReader* base;
  PerplexityResult& r;
  std::vector<float> lp;  // [n_vocab]
  SavedLogProbs saved;

  void score(const float* logits, int32_t next) {
    int32_t top = 0;
    const double nll = log_softmax(logits, n_vocab, lp, &top) - logits[next];
    r.nll.add(nll);
    if (save) save->add(lp, static_cast<float>(nll), top);
    if (!base) return;
    base->next(saved);
    const double kl = kl_divergence(saved.log_probs, lp);
    r.kl->kl.add(kl);
    r.kl->kl_values.push_back(static_cast<float>(kl));
    r.kl->top1_same.add(top == saved.top ? 1.0 : 0.0);
    r.kl->base_nll.add(saved.nll);
    r.kl->nll_diff.add(nll - saved.nll);
  }
};

}  // namespace

double RunningMean::std_error() const {
  if (n < 2) return 0.0;
  const double m = mean();
  const double var = std::max(0.0, (sum_sq / n - m * m) * n / (n - 1));
  return std::sqrt(var / n);
}

double KlStats::base_ppl() const {
  return std::exp(base_nll.mean());
}

double KlStats::kl_quantile(double q) const {
  if (kl_values.empty()) return 0.0;
  std::vector<float> v = kl_values;
  const size_t k =
      std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

double PerplexityResult::ppl() const {
  return std::exp(nll.mean());
}

double PerplexityResult::ppl_error() const {
  return ppl() * nll.std_error();
}

std::vector<int32_t> perplexity_chunks(std::span<const int32_t> tokens,
                                       const PerplexityOptions& opt) {
  if (opt.n_ctx < 3)
    throw Error("--ctx must be at least 3 (a chunk scores the tokens of its second half), found " +
                std::to_string(opt.n_ctx));
  if (opt.n_batch < 1)
    throw Error("--batch must be at least 1, found " + std::to_string(opt.n_batch));
  if (tokens.empty()) throw Error("the text is empty: no tokens to score");
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / opt.n_ctx;
  if (n_chunks == 0)
    throw Error("the text has " + std::to_string(tokens.size()) +
                " tokens, fewer than one chunk of " + std::to_string(opt.n_ctx) +
                " (use a longer text or a smaller --ctx)");
  if (opt.max_chunks > 0) n_chunks = std::min(n_chunks, opt.max_chunks);
  std::vector<int32_t> out(tokens.begin(), tokens.begin() + n_chunks * opt.n_ctx);
  if (opt.bos)
    for (int64_t c = 0; c < n_chunks; ++c) out[static_cast<size_t>(c * opt.n_ctx)] = *opt.bos;
  return out;
}

LogitFileHeader perplexity_log_header(int64_t n_vocab, int64_t n_chunks,
                                      const PerplexityOptions& opt) {
  LogitFileHeader h;
  h.n_vocab = static_cast<uint32_t>(n_vocab);
  h.n_ctx = static_cast<uint32_t>(opt.n_ctx);
  h.n_chunks = static_cast<uint32_t>(n_chunks);
  h.first = static_cast<uint32_t>(opt.n_ctx / 2);
  h.n_scored = static_cast<uint32_t>(opt.n_ctx - 1 - opt.n_ctx / 2);
  return h;
}

PerplexityResult run_perplexity(CausalLm& model, std::span<const int32_t> chunks,
                                const PerplexityOptions& opt, LogitFileWriter* save,
                                LogitFileReader* base,
                                const std::function<void(const PerplexityResult&)>& on_chunk) {
  const int64_t n_ctx = opt.n_ctx, V = model.n_vocab(), first = n_ctx / 2;
  FRUGAL_CHECK(n_ctx >= 3 && opt.n_batch >= 1 && !chunks.empty() && chunks.size() % n_ctx == 0,
               "run_perplexity: chunks must come from perplexity_chunks");
  if (n_ctx > model.context_length())
    throw Error("--ctx " + std::to_string(n_ctx) + " exceeds the model's context length " +
                std::to_string(model.context_length()));
  PerplexityResult r;
  r.n_ctx = n_ctx;
  r.first = first;
  r.n_chunks_total = static_cast<int64_t>(chunks.size()) / n_ctx;
  if (base) {
    check_base(*base, V, r.n_chunks_total, chunks, opt);
    r.kl.emplace();
  }
  const int64_t n_batch = std::min(opt.n_batch, n_ctx);
  std::vector<int32_t> positions(static_cast<size_t>(n_ctx));  // [n_ctx]
  for (int64_t i = 0; i < n_ctx; ++i) positions[i] = static_cast<int32_t>(i);
  std::vector<float> logits(static_cast<size_t>(n_batch * V));  // [n_batch, n_vocab]
  auto seq = model.new_sequence(n_ctx);
  Scorer scorer{V, save, base, r, {}, {}};
  for (int64_t c = 0; c < r.n_chunks_total; ++c) {
    const std::span<const int32_t> chunk = chunks.subspan(static_cast<size_t>(c * n_ctx), n_ctx);
    seq->truncate(0);
    for (int64_t start = 0; start < n_ctx; start += n_batch) {
      const int64_t n = std::min(n_batch, n_ctx - start);
      // Logits positions scored in this piece: [lo, hi).
      const int64_t lo = std::max(start, first), hi = std::min(start + n, n_ctx - 1);
      const bool scores = lo < hi;
      Batch b{chunk.subspan(start, n), std::span<const int32_t>(positions).subspan(start, n),
              scores ? LogitsMode::All : LogitsMode::Last};
      model.forward(b, *seq,
                    std::span<float>(logits.data(), static_cast<size_t>((scores ? n : 1) * V)));
      for (int64_t j = lo; j < hi; ++j) scorer.score(&logits[(j - start) * V], chunk[j + 1]);
    }
    r.n_chunks = c + 1;
    if (on_chunk) on_chunk(r);
  }
  return r;
}

}  // namespace frugal
