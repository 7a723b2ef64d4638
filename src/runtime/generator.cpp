#include "runtime/generator.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "tokenizer/stream_decoder.h"

namespace frugal {

const char* finish_reason_name(FinishReason r) { return r == FinishReason::Stop ? "stop" : "length"; }

StopStringFilter::StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopStringFilter::push(std::string_view text) {
  if (stopped_) return {};
  held_.append(text);
  size_t first_stop = std::string::npos;
  for (const auto& s : stops_) first_stop = std::min(first_stop, held_.find(s));
  if (first_stop != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, first_stop);
    held_.clear();
    return out;
  }
  // Keep the longest suffix of held_ that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_)
    for (size_t k = std::min(s.size() - 1, held_.size()); k > keep; --k)
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStringFilter::flush() {
  std::string out;
  if (!stopped_) out.swap(held_);
  return out;
}

Generator::Generator(CausalLm& model, const Tokenizer& tokenizer)
    : model_(model), tokenizer_(tokenizer), state_(model.new_sequence()),
      logits_(static_cast<size_t>(model.n_vocab())),
      verify_logits_(2 * logits_.size()), draft_logits_(logits_.size()) {}

bool Generator::is_end_of_generation(int32_t id) const {
  return id == tokenizer_.eos_id();
}

GenerationResult Generator::generate(const GenerationRequest& req, const TextCallback& on_text) {
  using Clock = std::chrono::steady_clock;
  if (req.prompt.empty()) throw Error("the prompt is empty");
  const int64_t n_ctx = state_->n_ctx();
  if (static_cast<int64_t>(req.prompt.size()) >= n_ctx)
    throw Error("the prompt has " + std::to_string(req.prompt.size()) +
                " tokens, more than the context of " + std::to_string(n_ctx) + " allows");
  GenerationResult result;
  Sampler sampler(req.sampling);
  TokenStreamDecoder detok(tokenizer_);
  StopStringFilter stops(req.stop);

  // Reuse the cached prefix; at least the last prompt token is run again to get its logits.
  size_t reuse = 0;
  while (reuse < cached_tokens_.size() && reuse + 1 < req.prompt.size() &&
         cached_tokens_[reuse] == req.prompt[reuse])
    ++reuse;
  result.n_prompt_reused = static_cast<int64_t>(reuse);
  cached_tokens_.assign(req.prompt.begin(), req.prompt.end());
  std::span<const int32_t> todo(req.prompt.data() + reuse, req.prompt.size() - reuse);
  std::vector<int32_t> positions(todo.size());
  for (size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<int32_t>(reuse + i);
  auto t0 = Clock::now();
  cached_tokens_.resize(reuse);  // if forward throws, only the reused part is known good
  model_.forward({todo, positions, LogitsMode::Last}, *state_, logits_);
  cached_tokens_.assign(req.prompt.begin(), req.prompt.end());
  result.prefill_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  auto emit = [&](const std::string& piece) {
    if (piece.empty()) return true;
    result.text += piece;
    return on_text ? on_text(piece) : true;
  };
  auto accept = [&](int32_t id, int32_t pos) {
    if (!req.ignore_eos && is_end_of_generation(id)) {
      result.finish = FinishReason::Stop;
      return false;
    }
    result.tokens.push_back(id);
    const bool keep_going = emit(stops.push(detok.push(id)));
    if (stops.stopped()) {
      result.finish = FinishReason::Stop;
      return false;
    }
    if (static_cast<int64_t>(result.tokens.size()) >= req.max_tokens || pos >= n_ctx) {
      result.finish = FinishReason::Length;
      return false;
    }
    return keep_going;
  };
  auto t1 = Clock::now();
  if (req.speculative && sampler.params().is_greedy() && model_.can_draft(*state_))
    decode_speculative(req, sampler, result, accept);
  else
    decode_plain(req, sampler, result, accept);
  if (!stops.stopped()) emit(stops.push(detok.flush()) + stops.flush());
  result.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return result;
}

void Generator::decode_plain(const GenerationRequest& req, Sampler& sampler,
                             GenerationResult& result, const Accept& accept) {
  auto pos = static_cast<int32_t>(cached_tokens_.size());
  while (true) {
    const int32_t id = sampler.sample(logits_, req.prompt, result.tokens);
    if (!accept(id, pos)) break;
    model_.forward({std::span(&id, 1), std::span(&pos, 1), LogitsMode::Last}, *state_, logits_);
    cached_tokens_.push_back(id);
    ++pos;
  }
}

// deepseek-arch.md §5: with `next` chosen for position pos, the draft head proposes d for pos + 1;
// one forward of [next, d] gives the logits at pos (the true choice for pos + 1) and pos + 1. If
// the true choice is d, both it and the token after it come from this one pass; if not, the
// entry written for d is dropped and the true choice goes on as `next`.
void Generator::decode_speculative(const GenerationRequest& req, Sampler& sampler,
                                   GenerationResult& result, const Accept& accept) {
  const size_t V = logits_.size();
  auto pos = static_cast<int32_t>(cached_tokens_.size());
  int32_t next = sampler.sample(logits_, req.prompt, result.tokens);
  if (!accept(next, pos)) return;
  while (true) {
    if (pos + 1 >= state_->n_ctx() || !model_.can_draft(*state_)) {  // one plain step
      model_.forward({std::span(&next, 1), std::span(&pos, 1), LogitsMode::Last}, *state_,
                     logits_);
      cached_tokens_.push_back(next);
      ++pos;
      next = sampler.sample(logits_, req.prompt, result.tokens);
      if (!accept(next, pos)) return;
      continue;
    }
    model_.draft(*state_, next, draft_logits_);
    const int32_t d = argmax(draft_logits_);
    ++result.n_drafted;
    const int32_t tokens[2] = {next, d}, positions[2] = {pos, pos + 1};
    model_.forward({tokens, positions, LogitsMode::All}, *state_, verify_logits_);
    cached_tokens_.push_back(next);
    const std::span<float> at_pos(verify_logits_.data(), V), at_d(verify_logits_.data() + V, V);
    const int32_t truth = sampler.sample(at_pos, req.prompt, result.tokens);
    if (truth != d) {
      state_->truncate(pos + 1);
      ++pos;
      next = truth;
      if (!accept(next, pos)) return;
      continue;
    }
    ++result.n_accepted;
    cached_tokens_.push_back(d);
    pos += 2;
    if (!accept(d, pos - 1)) return;
    next = sampler.sample(at_d, req.prompt, result.tokens);
    if (!accept(next, pos)) return;
  }
}

}  // namespace frugal
