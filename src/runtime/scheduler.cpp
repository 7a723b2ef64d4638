#include "runtime/scheduler.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "model/causal_lm.h"
#include "model/kv_pool.h"
#include "runtime/disk_cache.h"
#include "runtime/generator.h"
#include "runtime/json_constraint.h"
#include "runtime/prefix_tree.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

bool SequenceStream::wait(std::vector<SequenceEvent>& out, std::chrono::milliseconds timeout) {
  out.clear();
  std::unique_lock lk(mu_);
  if (!cv_.wait_for(lk, timeout, [&] { return !events_.empty(); })) return false;
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return true;
}

void SequenceStream::push(SequenceEvent ev) {
  {
    std::lock_guard lk(mu_);
    events_.push_back(std::move(ev));
  }
  cv_.notify_all();
}

// The state of the sequence a slot is serving.
struct Scheduler::Active {
  Active(SequenceRequest r, std::shared_ptr<SequenceStream> s, const Tokenizer& tok)
      : req(std::move(r)),
        stream(std::move(s)),
        sampler(req.sampling),
        detok(tok),
        stops(req.stop) {
    if (req.json_object) json.emplace(tok);
  }
  SequenceRequest req;
  std::shared_ptr<SequenceStream> stream;
  Sampler sampler;
  TokenStreamDecoder detok;
  StopStringFilter stops;
  std::optional<JsonConstraint> json;  // when req.json_object
  size_t n_prefilled = 0;          // prompt tokens whose cache entries exist
  int64_t n_cached = 0;            // of those, reused from an earlier sequence
  int64_t n_reserved = 0;          // pool blocks it may write at most (admission)
  std::vector<int32_t> generated;  // sampled ids (EOS excluded)
  bool has_pending = false;        // generated.back() is sampled but not yet run forward
};

static SequenceEvent finished_event(SequenceEnd end) {
  SequenceEvent ev;
  ev.kind = SequenceEvent::Kind::Finished;
  ev.end = end;
  return ev;
}

struct Scheduler::Slot {
  std::unique_ptr<SequenceState> cache;  // the running sequence's state; null until it starts
  std::vector<int32_t> cached_tokens;    // the tokens whose entries `cache` holds, in order
  std::unique_ptr<Active> active;        // null when free
};

Scheduler::Scheduler(CausalLm& model, const Tokenizer& tokenizer, SchedulerOptions opt)
    : model_(model), tokenizer_(tokenizer), opt_(opt) {
  if (opt_.n_slots < 1)
    throw Error("--parallel must be at least 1, found " + std::to_string(opt_.n_slots));
  if (opt_.prefill_chunk < 1) throw Error("the prefill chunk must be at least 1 token");
  if (opt_.prefill_budget < 1) throw Error("the per-step prefill budget must be at least 1 token");
  for (int i = 0; i < opt_.n_slots; ++i) slots_.push_back(std::make_unique<Slot>());
  // A one-block probe pool tells the block size, and a sequence on it (which holds no block
  // yet) the model's clamp of n_ctx; then the pool: every slot at full context (or
  // kv_cache_bytes), plus the prefix cache's RAM share.
  const std::shared_ptr<KvBlockPool> probe = model_.new_kv_pool(1);
  if (!probe) throw Error(model_.architecture() + ": the server needs a paged KV cache");
  n_ctx_ = model_.new_sequence(opt_.n_ctx, probe)->n_ctx();
  const int64_t bt = probe->block_tokens();
  const auto block_bytes = static_cast<int64_t>(probe->block_bytes());
  const int64_t per_context = (n_ctx_ + bt - 1) / bt;
  if (opt_.kv_cache_bytes < 0 || opt_.cache_ram_bytes < 0)
    throw Error("KV cache sizes must not be negative");
  const int64_t n_running = opt_.kv_cache_bytes == 0 ? opt_.n_slots * per_context
                                                     : opt_.kv_cache_bytes / block_bytes;
  if (n_running < per_context)
    throw Error("the KV cache of " + std::to_string(opt_.kv_cache_bytes >> 20) +
                " MiB does not hold one context of " + std::to_string(n_ctx_) +
                " positions (" + std::to_string((per_context * block_bytes + (1 << 20) - 1) >> 20) +
                " MiB)");
  n_running_blocks_ = n_running;
  pool_ = model_.new_kv_pool(n_running + opt_.cache_ram_bytes / block_bytes);
  tree_ = std::make_unique<PrefixTree>(*pool_);
  n_kv_free_.store(pool_->n_free());
  if (!opt_.cache_dir.empty())
    disk_ = std::make_unique<DiskPrefixCache>(
        DiskCacheOptions{opt_.cache_dir, opt_.cache_disk_bytes, opt_.model_tag});
  const size_t V = static_cast<size_t>(model_.n_vocab());
  logits_.resize(V);
  step_logits_.resize(static_cast<size_t>(opt_.n_slots) * V);
  step_pos_.resize(static_cast<size_t>(opt_.n_slots * std::min(opt_.prefill_chunk, n_ctx_)));
  step_in_.reserve(static_cast<size_t>(opt_.n_slots));
  step_seqs_.reserve(static_cast<size_t>(opt_.n_slots));
  engine_ = std::thread([this] { engine_loop(); });
}

Scheduler::~Scheduler() {
  cancel_all();
  {
    std::lock_guard lk(mu_);
    closed_ = quit_ = true;
  }
  cv_.notify_all();
  engine_.join();
}

void Scheduler::flush_disk_cache() {
  if (disk_) disk_->flush();
}

std::shared_ptr<SequenceStream> Scheduler::submit(SequenceRequest req) {
  if (req.prompt.empty()) throw Error("the prompt is empty");
  if (static_cast<int64_t>(req.prompt.size()) >= n_ctx_)
    throw Error("the prompt has " + std::to_string(req.prompt.size()) +
                " tokens; the context holds " + std::to_string(n_ctx_) +
                " (prompt and generated tokens together)");
  for (int32_t id : req.prompt)
    if (id < 0 || id >= model_.n_vocab())
      throw Error("token id " + std::to_string(id) + " is out of range");
  auto stream = std::make_shared<SequenceStream>();
  {
    std::lock_guard lk(mu_);
    if (closed_) throw Error("the server is shutting down");
    // Requests cancelled while queued leave now: they hold no capacity, and their owners get
    // their Finished event without waiting for the queue to move.
    drop_cancelled_waiting_locked();
    const int64_t capacity = opt_.n_slots + opt_.max_waiting;
    const int64_t n_waiting = static_cast<int64_t>(waiting_.size());
    if (n_active_ + n_waiting >= capacity)
      throw QueueFullError("too many requests: " + std::to_string(n_active_) + " running and " +
                           std::to_string(n_waiting) + " queued; try again later");
    waiting_.push_back({std::move(req), stream});
    // A free slot is taken now, not when the engine thread next wakes: once submit() returns,
    // the request counts as running (stats(), the next admission check) whenever a slot was free.
    admit_locked();
  }
  cv_.notify_all();
  return stream;
}

void Scheduler::close() {
  std::lock_guard lk(mu_);
  closed_ = true;
}

void Scheduler::cancel_all() {
  std::lock_guard lk(mu_);
  for (auto& w : waiting_) w.stream->cancel();
  for (auto& s : slots_)
    if (s->active) s->active->stream->cancel();
}

bool Scheduler::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_for(lk, timeout, [&] { return waiting_.empty() && n_active_ == 0; });
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats st;
  std::lock_guard lk(mu_);
  // The same counts submit() checks capacity against: cancelled requests still queued are not
  // waiting for anything (submit and the engine drop them).
  st.n_waiting = 0;
  for (const Waiting& w : waiting_)
    if (!w.stream->cancelled()) ++st.n_waiting;
  st.n_active = n_active_;
  st.n_slots = opt_.n_slots;
  st.n_ctx = n_ctx_;
  st.kv_blocks = pool_->n_blocks();
  st.kv_block_tokens = pool_->block_tokens();
  st.kv_blocks_free = n_kv_free_.load();
  st.prefix_cache_blocks = n_tree_blocks_.load();
  st.kv_blocks_reserved = n_reserved_;
  st.kv_blocks_running = n_running_blocks_;
  st.prompt_cache_hit_tokens = n_hit_total_.load();
  st.prompt_tokens = n_prompt_total_.load();
  st.n_steps = n_steps_.load();
  if (disk_) {
    const DiskCacheStats d = disk_->stats();
    st.disk_cache = true;
    st.disk_hit_tokens = d.hit_tokens;
    st.disk_blocks_written = d.blocks_written;
    st.disk_errors = d.errors;
    st.disk_bytes = d.bytes;
  }
  return st;
}

void Scheduler::engine_loop() {
  std::vector<Slot*> active;
  while (true) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return quit_ || !waiting_.empty() || n_active_ > 0; });
      if (quit_ && n_active_ == 0) {
        for (auto& w : waiting_) w.stream->push(finished_event(SequenceEnd::Cancelled));
        waiting_.clear();
        break;
      }
      admit_locked();
      active.clear();
      for (auto& s : slots_)
        if (s->active) active.push_back(s.get());
    }
    start_sequences(active);
    step(active);
    n_steps_.fetch_add(1);
    publish_stats();
  }
  idle_cv_.notify_all();
}

// Figures stats() reads from other threads (the pool and the tree are the engine thread's).
void Scheduler::publish_stats() {
  n_kv_free_.store(pool_->n_free());
  n_tree_blocks_.store(tree_->stats().n_blocks);
}

// Pool blocks a request may write at most: its prompt and max_tokens, within the context.
int64_t Scheduler::blocks_needed(const SequenceRequest& req) const {
  const int64_t bt = pool_->block_tokens();
  const int64_t n = std::min(static_cast<int64_t>(req.prompt.size()) + std::max<int64_t>(req.max_tokens, 0), n_ctx_);
  return (n + bt - 1) / bt;
}

void Scheduler::drop_cancelled_waiting_locked() {
  std::erase_if(waiting_, [](const Waiting& w) {
    if (!w.stream->cancelled()) return false;
    w.stream->push(finished_event(SequenceEnd::Cancelled));
    return true;
  });
}

// Called by the engine between steps and by submit(): a slot whose `active` is null is not
// touched by the engine, so it may be filled here under the lock while a step runs. Requests are
// taken in order; the first that does not fit (no free slot, or not enough unreserved blocks)
// waits, and so do those behind it.
void Scheduler::admit_locked() {
  drop_cancelled_waiting_locked();
  while (!waiting_.empty()) {
    Waiting& w = waiting_.front();
    Slot* s = nullptr;
    for (auto& slot : slots_)
      if (!slot->active) {
        s = slot.get();
        break;
      }
    if (!s) return;
    // Every block a running sequence holds is within its reservation, and blocks held by the
    // prefix cache alone are reclaimable, so the reserved ones never run out. Reservations stay
    // within the running share: the prefix cache keeps at least its own.
    const int64_t need = blocks_needed(w.req);
    if (n_reserved_ + need > n_running_blocks_) return;
    s->active = std::make_unique<Active>(std::move(w.req), std::move(w.stream), tokenizer_);
    s->active->n_reserved = need;
    n_reserved_ += need;
    n_prompt_total_.fetch_add(static_cast<int64_t>(s->active->req.prompt.size()));
    ++n_active_;
    waiting_.pop_front();
  }
}

// Sequences admitted since the last step get their state, with the blocks of their longest
// cached prefix (engine thread: the pool and the tree are its own).
void Scheduler::start_sequences(const std::vector<Slot*>& active) {
  for (Slot* s : active) {
    if (s->cache) continue;
    try {
      start_sequence(*s);
    } catch (const std::exception& e) {
      finish(*s, SequenceEnd::Failed, e.what());
    }
  }
}

void Scheduler::start_sequence(Slot& s) {
  Active& a = *s.active;
  const std::vector<int32_t>& prompt = a.req.prompt;
  s.cache = model_.new_sequence(n_ctx_, pool_);
  // At least the last prompt token runs again, to get the logits of the first new token.
  const PrefixTree::Match hit = tree_->match(prompt, static_cast<int64_t>(prompt.size()) - 1);
  if (hit.n_tokens > 0) s.cache->adopt_kv_blocks(hit.blocks, hit.n_tokens);
  const auto n = static_cast<size_t>(hit.n_tokens);
  s.cached_tokens.assign(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(n));
  a.n_prefilled = n;
  a.n_cached = static_cast<int64_t>(n);
  n_hit_total_.fetch_add(a.n_cached);
  if (disk_) load_from_disk(s);
}

// The saved blocks that continue the sequence's cached prefix, from the disk tier.
void Scheduler::load_from_disk(Slot& s) {
  Active& a = *s.active;
  const std::vector<int32_t>& prompt = a.req.prompt;
  // At least the last prompt token runs, to give the logits of the first new token.
  const int64_t limit = static_cast<int64_t>(prompt.size()) - 1;
  const auto n_have = static_cast<int64_t>(a.n_prefilled);
  int64_t n = n_have;
  try {
    n = disk_->load(prompt, n_have, limit, *s.cache);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "frugal: warning: prompt cache: %s\n", e.what());
    s.cache->truncate(n_have);
  }
  if (n == n_have) return;
  s.cached_tokens.assign(prompt.begin(), prompt.begin() + n);
  a.n_prefilled = static_cast<size_t>(n);
  n_hit_total_.fetch_add(n - a.n_cached);
  a.n_cached = n;
}

void Scheduler::step(std::vector<Slot*>& active) {
  collect_inputs(active);
  if (step_in_.empty()) return;
  run_forward();
  const size_t V = static_cast<size_t>(model_.n_vocab());
  for (size_t k = 0; k < step_in_.size(); ++k) {
    Slot& s = *step_in_[k].slot;
    if (!step_in_[k].error.empty()) {
      finish(s, SequenceEnd::Failed, step_in_[k].error);
      continue;
    }
    try {
      commit(step_in_[k], std::span<const float>(step_logits_).subspan(k * V, V));
    } catch (const std::exception& e) {
      finish(s, SequenceEnd::Failed, e.what());
    }
  }
}

// Each active slot's input for this step (prompt chunks within the step's prefill budget, the
// slot served first rotating); cancelled sequences end here instead.
void Scheduler::collect_inputs(const std::vector<Slot*>& active) {
  step_in_.clear();
  step_seqs_.clear();
  size_t n_pos = 0;  // positions used in step_pos_ (the spans point into it: never resized here)
  int64_t budget = opt_.prefill_budget;
  const size_t first = active.empty() ? 0 : prefill_turn_++ % active.size();
  for (size_t k = 0; k < active.size(); ++k) {
    Slot* s = active[(first + k) % active.size()];
    if (s->active->stream->cancelled()) {
      finish(*s, SequenceEnd::Cancelled);
      continue;
    }
    try {
      add_input(*s, n_pos, budget);
    } catch (const std::exception& e) {
      finish(*s, SequenceEnd::Failed, e.what());
    }
  }
}

// Appends slot s's input (its next prompt chunk of at most prefill_chunk tokens and what is left
// of the step's prefill budget, or its pending sampled token) to step_in_ / step_seqs_, with its
// positions at step_pos_[n_pos ...). A prefilling slot finding no budget left sits this step out.
void Scheduler::add_input(Slot& s, size_t& n_pos, int64_t& budget) {
  Active& a = *s.active;
  const std::vector<int32_t>& prompt = a.req.prompt;
  StepInput in{&s, 0, {}};
  std::span<const int32_t> tokens;
  if (a.n_prefilled < prompt.size()) {
    if (budget <= 0) return;
    in.n_prompt = std::min({prompt.size() - a.n_prefilled, static_cast<size_t>(opt_.prefill_chunk),
                            static_cast<size_t>(budget)});
    budget -= static_cast<int64_t>(in.n_prompt);
    tokens = std::span<const int32_t>(prompt).subspan(a.n_prefilled, in.n_prompt);
  } else {
    FRUGAL_CHECK(a.has_pending, "a decoding sequence has no token to run");
    tokens = std::span<const int32_t>(&a.generated.back(), 1);
  }
  FRUGAL_CHECK(n_pos + tokens.size() <= step_pos_.size(), "step positions overflow");
  const std::span<int32_t> pos(step_pos_.data() + n_pos, tokens.size());
  const int32_t first = static_cast<int32_t>(s.cached_tokens.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = first + static_cast<int32_t>(i);
  n_pos += pos.size();
  step_in_.push_back(std::move(in));
  step_seqs_.push_back({{tokens, pos, LogitsMode::Last}, s.cache.get()});
}

// One forward over every slot's input. Should it fail, each runs alone so that one bad sequence
// fails only itself (positions are explicit: running again rewrites the same cache entries).
void Scheduler::run_forward() {
  const size_t V = static_cast<size_t>(model_.n_vocab());
  const std::span<float> logits(step_logits_.data(), step_seqs_.size() * V);
  try {
    model_.forward_multi(step_seqs_, logits);
    return;
  } catch (const std::exception&) {
  }
  for (size_t k = 0; k < step_seqs_.size(); ++k) {
    try {
      model_.forward(step_seqs_[k].batch, *step_seqs_[k].state, logits.subspan(k * V, V));
    } catch (const std::exception& e) {
      step_in_[k].error = e.what();
    }
  }
}

// After the forward: the slot's cache holds its input's tokens; a sequence whose prompt is done
// samples its next token from `logits` [n_vocab].
void Scheduler::commit(const StepInput& in, std::span<const float> logits) {
  Slot& s = *in.slot;
  Active& a = *s.active;
  if (in.n_prompt > 0) {
    const auto chunk = a.req.prompt.begin() + static_cast<std::ptrdiff_t>(a.n_prefilled);
    s.cached_tokens.insert(s.cached_tokens.end(), chunk,
                           chunk + static_cast<std::ptrdiff_t>(in.n_prompt));
    a.n_prefilled += in.n_prompt;
    if (a.n_prefilled < a.req.prompt.size()) return;  // more prompt next step
    // The prompt's full blocks are cached now: requests sharing the prefix that start while
    // this one still runs skip it too.
    tree_->insert(s.cached_tokens, s.cache->kv_blocks(), /*partial_tail=*/false);
  } else {
    s.cached_tokens.push_back(a.generated.back());
  }
  a.has_pending = false;
  std::copy(logits.begin(), logits.end(), logits_.begin());  // what sample_and_emit reads
  sample_and_emit(s);
}

// EOS and the end-of-turn markers of the vocabulary.
bool Scheduler::is_end_of_generation(int32_t id) const {
  return tokenizer_.is_end_of_generation(id);
}

void Scheduler::sample_and_emit(Slot& s) {
  Active& a = *s.active;
  const bool want_logprobs = a.req.n_top_logprobs >= 0;
  if (want_logprobs) raw_logits_.assign(logits_.begin(), logits_.end());
  const TokenConstraint* constraint = a.json ? &*a.json : nullptr;
  const int32_t id = a.sampler.sample(logits_, a.req.prompt, a.generated, constraint);
  if (a.json) a.json->accept(id);  // never an end-of-generation token: the object is open
  if (!a.req.ignore_eos && is_end_of_generation(id)) return finish(s, SequenceEnd::Stop);
  a.generated.push_back(id);
  a.has_pending = true;
  SequenceEvent ev;
  ev.token = id;
  ev.text = a.stops.push(a.detok.push(id));
  if (want_logprobs) {
    ev.logprob = token_logprob(raw_logits_, id);
    if (a.req.n_top_logprobs > 0) ev.top = top_logprobs(raw_logits_, a.req.n_top_logprobs);
  }
  a.stream->push(std::move(ev));
  if (a.stops.stopped()) return finish(s, SequenceEnd::Stop);
  // The object is closed: end-of-generation is all the constraint allows, so stop without
  // another forward pass to sample it.
  if (a.json && a.json->done()) return finish(s, SequenceEnd::Stop);
  const bool context_full = static_cast<int64_t>(s.cached_tokens.size()) + 1 >= n_ctx_;
  if (static_cast<int64_t>(a.generated.size()) >= a.req.max_tokens || context_full)
    finish(s, SequenceEnd::Length);
}

void Scheduler::finish(Slot& s, SequenceEnd end, const std::string& error) {
  Active& a = *s.active;
  if (end == SequenceEnd::Stop || end == SequenceEnd::Length) {
    std::string tail = a.stops.stopped() ? std::string() : a.stops.push(a.detok.flush());
    if (!a.stops.stopped()) tail += a.stops.flush();
    if (!tail.empty()) {
      SequenceEvent ev;  // token -1: held-back text only
      ev.text = std::move(tail);
      a.stream->push(std::move(ev));
    }
  }
  if (s.cache && end != SequenceEnd::Failed) {  // a failed one's cache may be half written
    tree_->insert(s.cached_tokens, s.cache->kv_blocks());
    if (disk_) {
      try {
        disk_->save(s.cached_tokens, *s.cache);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "frugal: warning: prompt cache: not saved: %s\n", e.what());
      }
    }
  }
  s.cache.reset();  // its blocks go back to the pool, or stay with the prefix cache
  s.cached_tokens.clear();
  SequenceEvent done = finished_event(end);
  done.error = error;
  done.n_prompt = static_cast<int64_t>(a.req.prompt.size());
  done.n_cached = a.n_cached;
  done.n_generated = static_cast<int64_t>(a.generated.size());
  const std::shared_ptr<SequenceStream> stream = a.stream;
  {
    // The slot is free (under the lock: submit() and cancel_all() look at `active` from other
    // threads) before the owner hears of the end: a client that has its answer and sends the
    // next request at once finds the slot, its cached prefix and the capacity free.
    std::lock_guard lk(mu_);
    n_reserved_ -= a.n_reserved;
    s.active.reset();
    --n_active_;
    admit_locked();  // the blocks and the slot may let a waiting request in
  }
  stream->push(std::move(done));
  idle_cv_.notify_all();
}

}  // namespace frugal
