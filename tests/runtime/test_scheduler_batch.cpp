// The scheduler's batched step: each step is one forward_multi over every active sequence
// (prefill chunks beside decodes), concurrent greedy outputs equal sequential ones, and a forward
// failure of one sequence fails only that sequence. The model is wrapped to watch its calls.
// (The tiny model is built here as in test_scheduler.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "core/error.h"
#include "model/causal_lm.h"
#include "model/deepseek2_synth.h"
#include "runtime/scheduler.h"
#include "test_util.h"
#include "stream_util.h"
#include "tiny_model.h"
#include "tokenizer/tokenizer.h"

namespace frugal {
namespace {

using test::TinyModel;

// Built once per process; null members when ../shared/data is absent.
TinyModel& tiny() {
  static TinyModel m = [] {
    ModelOptions opt;
    opt.max_context = 512;
    opt.max_batch = 16;  // a step's rows span several chunks
    return test::make_tiny_model("tiny-scheduler-batch", opt);
  }();
  return m;
}

#define REQUIRE_TINY()                                               \
  if (!tiny().model)                                                 \
  GTEST_SKIP() << "../shared/data/tokenizer/deepseek-v3 is absent: " \
                  "no tokenizer for the test model"

// The tiny model, counting the calls the scheduler makes; a batch holding `poison` fails.
class WatchedLm final : public CausalLm {
 public:
  explicit WatchedLm(CausalLm& m, int32_t poison = -1) : m_(m), poison_(poison) {}
  std::string architecture() const override { return m_.architecture(); }
  int64_t n_vocab() const override { return m_.n_vocab(); }
  int64_t context_length() const override { return m_.context_length(); }
  std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx) const override {
    return m_.new_sequence(n_ctx);
  }
  std::shared_ptr<KvBlockPool> new_kv_pool(int64_t n_blocks) const override {
    return m_.new_kv_pool(n_blocks);
  }
  std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx,
                                              std::shared_ptr<KvBlockPool> pool) const override {
    return m_.new_sequence(n_ctx, std::move(pool));
  }
  void forward(const Batch& b, SequenceState& s, std::span<float> logits) override {
    ++n_single;
    check_poison(b);
    m_.forward(b, s, logits);
  }
  void forward_multi(std::span<const SequenceBatch> seqs, std::span<float> logits) override {
    ++n_multi;
    size_t prefilling = 0;
    for (const SequenceBatch& s : seqs) {
      check_poison(s.batch);
      if (s.batch.tokens.size() > 1) ++prefilling;
    }
    max_seqs = std::max<size_t>(max_seqs, seqs.size());
    size_t prompt_rows = 0;  // rows of sequences feeding more than one token (prompt chunks)
    for (const SequenceBatch& s : seqs)
      if (s.batch.tokens.size() > 1) prompt_rows += s.batch.tokens.size();
    max_prompt_rows = std::max<size_t>(max_prompt_rows, prompt_rows);
    if (prefilling > 0 && prefilling < seqs.size()) ++n_mixed;
    m_.forward_multi(seqs, logits);
  }

  std::atomic<size_t> max_seqs{0};  // most sequences in one forward_multi
  std::atomic<size_t> max_prompt_rows{0};  // most prompt-chunk rows in one forward_multi
  std::atomic<int> n_multi{0}, n_single{0};
  std::atomic<int> n_mixed{0};  // forward_multi calls with prefill chunks beside decodes

 private:
  void check_poison(const Batch& b) const {
    if (std::find(b.tokens.begin(), b.tokens.end(), poison_) != b.tokens.end())
      throw Error("poisoned token");
  }
  CausalLm& m_;
  int32_t poison_;
};

std::vector<int32_t> prompt_of(int n_words, int seed) {
  std::string text = "Words:";
  for (int i = 0; i < n_words; ++i) text += " w" + std::to_string(i * 5 + seed);
  return tiny().tok->encode(text);
}

SequenceRequest greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  SequenceRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  r.ignore_eos = true;  // every request generates max_tokens: long overlaps
  return r;
}

using test::collect;
using test::Outcome;

SchedulerOptions options(int n_slots) {
  SchedulerOptions o;
  o.n_slots = n_slots;
  o.prefill_chunk = 16;  // long prompts prefill over several steps beside the decodes
  return o;
}

// Prompts of different lengths: one decoding almost at once, others prefilling for a while.
std::vector<SequenceRequest> requests() {
  return {greedy(prompt_of(3, 1), 24), greedy(prompt_of(40, 2), 12), greedy(prompt_of(12, 3), 20),
          greedy(prompt_of(25, 4), 16)};
}

TEST(SchedulerBatch, ConcurrentGreedyEqualsSequentialWithOneForwardPerStep) {
  REQUIRE_TINY();
  std::vector<std::vector<int32_t>> sequential;
  {
    WatchedLm lm(*tiny().model);
    Scheduler s(lm, *tiny().tok, options(1));
    for (SequenceRequest& r : requests()) sequential.push_back(collect(*s.submit(r)).tokens);
    EXPECT_EQ(lm.max_seqs.load(), 1u);
  }
  WatchedLm lm(*tiny().model);
  Scheduler s(lm, *tiny().tok, options(4));
  std::vector<std::shared_ptr<SequenceStream>> streams;
  for (SequenceRequest& r : requests()) streams.push_back(s.submit(r));
  for (size_t i = 0; i < streams.size(); ++i) {
    const Outcome o = collect(*streams[i]);
    EXPECT_EQ(o.done.end, SequenceEnd::Length);
    EXPECT_EQ(o.tokens, sequential[i]) << "request " << i;
  }
  // One forward_multi per step, all four sequences in one call, prefill chunks beside decodes,
  // and no per-sequence forward.
  EXPECT_EQ(lm.max_seqs.load(), 4u);
  EXPECT_GT(lm.n_mixed.load(), 0);
  EXPECT_EQ(lm.n_single.load(), 0);
  // The engine counts a step just after it; give it a moment past the last Finished event.
  for (int i = 0; i < 200 && s.stats().n_steps < lm.n_multi.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(static_cast<int64_t>(lm.n_multi.load()), s.stats().n_steps);
}

TEST(SchedulerBatch, PrefillBudgetSpreadsPromptsOverSteps) {
  REQUIRE_TINY();
  std::vector<std::vector<int32_t>> sequential;
  {
    Scheduler s(*tiny().model, *tiny().tok, options(1));
    for (SequenceRequest& r : requests()) sequential.push_back(collect(*s.submit(r)).tokens);
  }
  WatchedLm lm(*tiny().model);
  SchedulerOptions o = options(4);
  o.prefill_budget = 20;  // less than two chunks of 16: prompts take turns
  Scheduler s(lm, *tiny().tok, o);
  std::vector<std::shared_ptr<SequenceStream>> streams;
  for (SequenceRequest& r : requests()) streams.push_back(s.submit(r));
  for (size_t i = 0; i < streams.size(); ++i)
    EXPECT_EQ(collect(*streams[i]).tokens, sequential[i]) << "request " << i;
  EXPECT_LE(lm.max_prompt_rows.load(), 20u);
  EXPECT_GT(lm.max_prompt_rows.load(), 16u);  // the budget was shared by two prompts at once
  o.prefill_budget = 0;
  EXPECT_THROW(Scheduler(lm, *tiny().tok, o), Error);
}

TEST(SchedulerBatch, AForwardFailureFailsOnlyItsSequence) {
  REQUIRE_TINY();
  std::vector<SequenceRequest> reqs = requests();
  const int32_t poison = 7777;  // in request 2's prompt only
  for (const SequenceRequest& r : reqs)
    ASSERT_EQ(std::count(r.prompt.begin(), r.prompt.end(), poison), 0);
  reqs[2].prompt.push_back(poison);
  std::vector<std::vector<int32_t>> sequential;
  {
    Scheduler s(*tiny().model, *tiny().tok, options(1));
    for (SequenceRequest r : reqs) sequential.push_back(collect(*s.submit(r)).tokens);
  }
  for (size_t i = 0; i < sequential.size(); ++i)  // the others never run the poisoned token
    if (i != 2) {
      ASSERT_EQ(std::count(sequential[i].begin(), sequential[i].end(), poison), 0);
    }
  WatchedLm lm(*tiny().model, poison);
  Scheduler s(lm, *tiny().tok, options(4));
  std::vector<std::shared_ptr<SequenceStream>> streams;
  for (SequenceRequest& r : reqs) streams.push_back(s.submit(r));
  for (size_t i = 0; i < streams.size(); ++i) {
    const Outcome o = collect(*streams[i]);
    if (i == 2) {
      EXPECT_EQ(o.done.end, SequenceEnd::Failed);
      EXPECT_NE(o.done.error.find("poisoned"), std::string::npos) << o.done.error;
    } else {
      EXPECT_EQ(o.done.end, SequenceEnd::Length) << "request " << i;
      EXPECT_EQ(o.tokens, sequential[i]) << "request " << i;
    }
  }
  EXPECT_GT(lm.n_single.load(), 0);  // the failed step ran each sequence alone
}

}  // namespace
}  // namespace frugal
