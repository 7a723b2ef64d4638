// Continuous batching: an engine thread serves up to n_slots sequences at once. Requests join
// and leave at step boundaries; each step advances every active sequence by one token, or by
// one prefill chunk of at most prefill_chunk tokens, so a long prompt never stalls running
// decodes.
//
// Paged KV cache: all sequences draw their cache blocks from one pool (model/kv_pool.h) sized
// for every slot at full context (or kv_cache_bytes: the running share) plus cache_ram_bytes for
// the prefix cache. Admission control: a request is admitted when a slot is free and the running
// share can hold all it may write (prompt + max_tokens, within the context) beside what the
// running sequences may write; otherwise it waits in the queue. Context caching: the full blocks of prompts (once
// prefilled) and of finished sequences stay in a radix tree over token blocks (PrefixTree); a
// new request adopts the blocks of its longest cached prefix and computes only the rest. Blocks
// nobody holds are reclaimed least recently used first when the pool runs out. With a cache
// directory, finished sequences' entries are also saved on disk (DiskPrefixCache) and a new
// sequence loads the saved blocks that continue its prefix before its first step.
//
// One step is one CausalLm::forward_multi call over every active slot's input (collect ->
// forward -> sample), so each weight matrix, and each MoE expert for all the tokens routed to it,
// is read once per step rather than once per sequence.
//
// Batch invariance: attention runs over each sequence's own cache, and every other operation
// gives a row the same result whatever rows are beside it, so a request's logits, and its
// greedy output, are the same whether it runs alone or among others.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "model/causal_lm.h"
#include "runtime/sampler.h"

namespace frugal {

class DiskPrefixCache;
class KvBlockPool;
class PrefixTree;
class Tokenizer;

struct SequenceRequest {
  std::vector<int32_t> prompt;  // token ids, BOS included if wanted
  int64_t max_tokens = 256;     // generated tokens at most (the context end also stops)
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings (not returned)
  int n_top_logprobs = -1;        // < 0: no logprobs; else the chosen token's + n alternatives
  bool ignore_eos = false;
  // response_format json_object: the output is constrained to one JSON object and the sequence
  // ends (Stop) when it closes; max_tokens may cut it first (Length).
  bool json_object = false;
};

enum class SequenceEnd { Stop, Length, Cancelled, Failed };

// What the engine reports to the request's owner, in order.
struct SequenceEvent {
  enum class Kind { Token, Finished } kind = Kind::Token;
  // Token: one generated token and the text it released (may be empty while a UTF-8 character
  // or a possible stop string is held back). token < 0: the final flush of held-back text.
  int32_t token = -1;
  std::string text;
  float logprob = 0;              // log_softmax of the raw logits (when requested)
  std::vector<TokenLogprob> top;  // the n_top_logprobs most likely (when requested)
  // Finished:
  SequenceEnd end = SequenceEnd::Stop;
  std::string error;  // Failed: why
  int64_t n_prompt = 0, n_cached = 0, n_generated = 0;
};

// The owner's end of one sequence: events arrive from the engine thread.
class SequenceStream {
 public:
  // Moves pending events into `out` (cleared first), waiting up to `timeout` for at least one.
  // Returns false when none arrived.
  bool wait(std::vector<SequenceEvent>& out, std::chrono::milliseconds timeout);
  // Asks the engine to stop this sequence; its slot is freed at the next step.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

  void push(SequenceEvent ev);  // engine side

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SequenceEvent> events_;
  std::atomic<bool> cancelled_{false};
};

// Thrown by submit() when the queue is full (the server answers 429).
class QueueFullError : public Error {
 public:
  using Error::Error;
};

struct SchedulerOptions {
  int n_slots = 1;       // sequences served at once (--parallel)
  int64_t n_ctx = 0;     // context per slot; 0 = the model's max_context
  int max_waiting = 16;  // requests queued beyond the busy slots; more -> QueueFullError
  int64_t prefill_chunk = 256;  // prompt tokens one sequence takes per step, at most
  // Prompt tokens one step takes over all sequences (decodes always run): a burst of new prompts
  // is spread over several steps instead of stalling every running decode for one long step.
  // The prefilling slot served first rotates from step to step. At least 1.
  int64_t prefill_budget = 512;
  // KV block pool for running sequences; 0 = every slot at full context. At least one context.
  int64_t kv_cache_bytes = 0;
  // The prefix cache's RAM tier: pool blocks beyond the running sequences' share (--cache-ram-mib).
  int64_t cache_ram_bytes = int64_t{2} << 30;
  // The prefix cache's disk tier (DiskPrefixCache): off when cache_dir is empty.
  std::string cache_dir;
  int64_t cache_disk_bytes = int64_t{4} << 30;
  uint64_t model_tag = 0;  // model_file_tag() of the model
};

struct SchedulerStats {
  int64_t n_waiting = 0, n_active = 0, n_slots = 0;
  int64_t n_ctx = 0;  // per slot
  // The paged KV cache: blocks of kv_block_tokens positions; free ones hold nothing; the prefix
  // cache's blocks may also be held by running sequences.
  int64_t kv_blocks = 0, kv_blocks_free = 0, kv_block_tokens = 0, prefix_cache_blocks = 0;
  int64_t kv_blocks_reserved = 0;  // what admitted sequences may write at most
  int64_t kv_blocks_running = 0;   // the share reservations may take (the rest: prefix cache)
  int64_t prompt_cache_hit_tokens = 0, prompt_tokens = 0;  // totals since start
  int64_t n_steps = 0;
  bool disk_cache = false;  // the disk tier's figures (when enabled):
  int64_t disk_hit_tokens = 0, disk_blocks_written = 0, disk_errors = 0, disk_bytes = 0;
};

class Scheduler {
 public:
  Scheduler(CausalLm& model, const Tokenizer& tokenizer, SchedulerOptions opt);
  ~Scheduler();  // cancels everything and joins the engine thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request; when a slot and the KV blocks it may need are free it takes them before
  // returning (it runs from the next step), so stats() counts it as active at once. Throws frugal::Error for an empty prompt or
  // one that does not fit the context, QueueFullError when the slots are busy and the queue is
  // full (requests cancelled while queued hold no place), Error when shutting down.
  std::shared_ptr<SequenceStream> submit(SequenceRequest req);

  // Stops accepting; queued and running sequences still finish. cancel_all() ends them now.
  void close();
  void cancel_all();
  // Waits until nothing is queued or running, at most `timeout`; true when idle.
  bool wait_idle(std::chrono::milliseconds timeout);

  int64_t n_ctx() const { return n_ctx_; }
  SchedulerStats stats() const;
  // Waits until the disk tier has written what finished sequences queued (tests, shutdown).
  void flush_disk_cache();

 private:
  struct Active;
  struct Slot;
  struct Waiting {
    SequenceRequest req;
    std::shared_ptr<SequenceStream> stream;
  };

  void engine_loop();
  void admit_locked();
  void drop_cancelled_waiting_locked();
  int64_t blocks_needed(const SequenceRequest& req) const;
  void start_sequences(const std::vector<Slot*>& active);
  void start_sequence(Slot& s);
  void load_from_disk(Slot& s);
  void publish_stats();
  // One slot's part of the current step.
  struct StepInput {
    Slot* slot;
    size_t n_prompt = 0;  // prompt tokens in it (a prefill chunk), 0 for a decode
    std::string error;    // why its forward failed, if it did
  };

  void step(std::vector<Slot*>& active);
  void collect_inputs(const std::vector<Slot*>& active);
  void add_input(Slot& s, size_t& n_pos, int64_t& budget);
  void run_forward();
  void commit(const StepInput& in, std::span<const float> logits);
  void sample_and_emit(Slot& s);
  void finish(Slot& s, SequenceEnd end, const std::string& error = {});
  bool is_end_of_generation(int32_t id) const;

  CausalLm& model_;
  const Tokenizer& tokenizer_;
  SchedulerOptions opt_;
  int64_t n_ctx_ = 0;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<StepInput> step_in_;        // the slots running in this step, in slot order
  std::vector<SequenceBatch> step_seqs_;  // their forward inputs, in the same order
  std::vector<int32_t> step_pos_;         // [n_slots * min(prefill_chunk, n_ctx)] their positions
  std::vector<float> step_logits_;        // [n_slots, n_vocab] each one's last-token logits
  std::vector<float> logits_;             // [n_vocab] the logits of the slot being sampled
  std::vector<float> raw_logits_;  // [n_vocab], copy before sampling when logprobs are wanted
  std::shared_ptr<KvBlockPool> pool_;       // every sequence's cache blocks
  std::unique_ptr<PrefixTree> tree_;         // after pool_: releases its blocks first
  std::unique_ptr<DiskPrefixCache> disk_;  // null without --cache-dir

  mutable std::mutex mu_;
  std::condition_variable cv_;       // engine wakes: new work or shutdown
  std::condition_variable idle_cv_;  // wait_idle wakes
  std::deque<Waiting> waiting_;
  int64_t n_active_ = 0;
  bool closed_ = false, quit_ = false;
  int64_t n_running_blocks_ = 0;  // the pool's share for running sequences
  int64_t n_reserved_ = 0;        // pool blocks admitted sequences may write at most
  std::atomic<int64_t> n_hit_total_{0}, n_prompt_total_{0}, n_steps_{0};
  std::atomic<int64_t> n_kv_free_{0}, n_tree_blocks_{0};
  size_t prefill_turn_ = 0;  // engine thread: which active slot collect_inputs starts from
  std::thread engine_;
};

}  // namespace frugal
