// The scheduler on a tiny random-weight model: greedy output independent of prefill chunking
// and of other sequences running beside it (checked against the single-sequence Generator),
// prompt-cache reuse, the queue bound and cancellation.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "model/causal_lm.h"
#include "model/deepseek2_synth.h"
#include "model/kv_pool.h"
#include "runtime/generator.h"
#include "runtime/scheduler.h"
#include "test_util.h"
#include "stream_util.h"
#include "tiny_model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

using test::TinyModel;

// Built once per process; null members when ../shared/data is absent.
TinyModel& tiny() {
  static TinyModel m = [] {
    ModelOptions opt;
    opt.max_context = 1024;
    return test::make_tiny_model("tiny-scheduler", opt);
  }();
  return m;
}

#define REQUIRE_TINY()                                               \
  if (!tiny().model)                                                 \
  GTEST_SKIP() << "../shared/data/tokenizer/deepseek-v3 is absent: " \
                  "no tokenizer for the test model"

std::vector<int32_t> prompt_of(int n_words, int seed) {
  std::string text = "Words:";
  for (int i = 0; i < n_words; ++i) text += " w" + std::to_string(i * 7 + seed);
  return tiny().tok->encode(text);
}

SchedulerOptions options(int n_slots, int max_waiting = 16, int64_t prefill_chunk = 256) {
  SchedulerOptions o;
  o.n_slots = n_slots;
  o.max_waiting = max_waiting;
  o.prefill_chunk = prefill_chunk;
  return o;
}

SequenceRequest greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  SequenceRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

using test::collect;
using test::Outcome;

std::vector<int32_t> generator_tokens(const std::vector<int32_t>& prompt, int64_t max_tokens) {
  Generator g(*tiny().model, *tiny().tok);
  GenerationRequest r;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return g.generate(r).tokens;
}

TEST(Scheduler, GreedyOutputIndependentOfChunkingAndNeighbours) {
  REQUIRE_TINY();
  const auto long_prompt = prompt_of(150, 1);  // several prefill chunks of 64
  ASSERT_GT(long_prompt.size(), 256u);
  const auto expected = generator_tokens(long_prompt, 10);
  for (int64_t chunk : {7, 64, 256}) {
    Scheduler s(*tiny().model, *tiny().tok, options(3, 4, chunk));
    auto a =
        s.submit(greedy(prompt_of(5, 2), 20));  // neighbours decoding while the long one prefills
    auto b = s.submit(greedy(long_prompt, 10));
    auto c = s.submit(greedy(prompt_of(40, 3), 15));
    EXPECT_EQ(collect(*b).tokens, expected) << "prefill chunk " << chunk;
    collect(*a);
    collect(*c);
  }
}

TEST(Scheduler, ReusesTheLongestCachedPrefix) {
  REQUIRE_TINY();
  Scheduler s(*tiny().model, *tiny().tok, options(2));
  const auto first = prompt_of(30, 4);
  Outcome o1 = collect(*s.submit(greedy(first, 3)));
  EXPECT_EQ(o1.done.n_cached, 0);
  EXPECT_EQ(o1.done.end, SequenceEnd::Length);
  auto longer = first;
  for (int32_t id : prompt_of(5, 9)) longer.push_back(id);
  Outcome o2 = collect(*s.submit(greedy(longer, 3)));
  EXPECT_GE(o2.done.n_cached, static_cast<int64_t>(first.size()));
  ASSERT_TRUE(s.wait_idle(std::chrono::seconds(5)));  // the model serves one thread at a time
  EXPECT_EQ(o2.tokens, generator_tokens(longer, 3));  // cached or not, the same answer
  EXPECT_EQ(s.stats().prompt_cache_hit_tokens, o2.done.n_cached);
}

TEST(Scheduler, QueueBoundAndCancellation) {
  REQUIRE_TINY();
  Scheduler s(*tiny().model, *tiny().tok, options(1, 0));
  SequenceRequest forever = greedy(prompt_of(3, 5), 100000);
  forever.ignore_eos = true;
  auto a = s.submit(forever);
  EXPECT_THROW(s.submit(greedy(prompt_of(3, 6), 2)), QueueFullError);
  std::vector<SequenceEvent> ev;
  ASSERT_TRUE(a->wait(ev, std::chrono::seconds(30)));  // generating
  a->cancel();
  const Outcome o = collect(*a);
  EXPECT_EQ(o.done.end, SequenceEnd::Cancelled);
  ASSERT_TRUE(s.wait_idle(std::chrono::seconds(5)));
  EXPECT_EQ(s.stats().n_active, 0);
  EXPECT_EQ(collect(*s.submit(greedy(prompt_of(3, 6), 2))).done.end, SequenceEnd::Length);
}

// A free slot is taken inside submit(), so stats() and the next admission check see the request
// running at once (not queued until the engine thread wakes); a request cancelled while queued
// leaves the queue and frees its capacity at once, wherever it stands in the queue.
TEST(Scheduler, ImmediateAdmissionAndCancelledQueuedRequestsFreeCapacity) {
  REQUIRE_TINY();
  Scheduler s(*tiny().model, *tiny().tok, options(1, 2));
  SequenceRequest forever = greedy(prompt_of(3, 5), 100000);
  forever.ignore_eos = true;
  auto a = s.submit(forever);
  SchedulerStats st = s.stats();
  EXPECT_EQ(st.n_active, 1);
  EXPECT_EQ(st.n_waiting, 0);
  auto b = s.submit(greedy(prompt_of(3, 6), 2));
  auto c = s.submit(greedy(prompt_of(3, 7), 2));
  st = s.stats();
  EXPECT_EQ(st.n_active, 1);
  EXPECT_EQ(st.n_waiting, 2);
  EXPECT_THROW(s.submit(greedy(prompt_of(3, 8), 2)), QueueFullError);
  c->cancel();  // behind b, which waits for a
  EXPECT_EQ(s.stats().n_waiting, 1);
  std::shared_ptr<SequenceStream> d;
  EXPECT_NO_THROW(d = s.submit(greedy(prompt_of(3, 8), 2)));
  std::vector<SequenceEvent> ev;
  ASSERT_TRUE(c->wait(ev, std::chrono::seconds(5)));  // c's end, without a moving
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, SequenceEvent::Kind::Finished);
  EXPECT_EQ(ev[0].end, SequenceEnd::Cancelled);
  a->cancel();
  EXPECT_EQ(collect(*a).done.end, SequenceEnd::Cancelled);
  EXPECT_EQ(collect(*b).done.end, SequenceEnd::Length);
  if (d) {
    EXPECT_EQ(collect(*d).done.end, SequenceEnd::Length);
  }
  ASSERT_TRUE(s.wait_idle(std::chrono::seconds(5)));
  st = s.stats();
  EXPECT_EQ(st.n_active, 0);
  EXPECT_EQ(st.n_waiting, 0);
}

// The slot is free before the owner hears that its sequence ended: with one slot and no queue,
// the next request submitted right after the Finished event is accepted and reuses the cached
// prefix (all but the last prompt token, which runs again for the logits).
TEST(Scheduler, SlotIsFreeWhenTheFinishedEventArrives) {
  REQUIRE_TINY();
  Scheduler s(*tiny().model, *tiny().tok, options(1, 0));
  const auto prompt = prompt_of(8, 3);
  for (int i = 0; i < 20; ++i) {
    const Outcome o = collect(*s.submit(greedy(prompt, 1)));
    ASSERT_EQ(o.done.end, SequenceEnd::Length);
    if (i > 0) {
      EXPECT_EQ(o.done.n_cached, static_cast<int64_t>(prompt.size()) - 1);
    }
    const SchedulerStats st = s.stats();
    ASSERT_EQ(st.n_active, 0) << "round " << i;
    ASSERT_EQ(st.n_waiting, 0) << "round " << i;
  }
}

TEST(Scheduler, RejectsBadPrompts) {
  REQUIRE_TINY();
  Scheduler s(*tiny().model, *tiny().tok, options(1));
  EXPECT_THROW(s.submit(greedy({}, 2)), Error);
  EXPECT_THROW(s.submit(greedy(std::vector<int32_t>(2000, 5), 2)), Error);  // context is 1024
  EXPECT_THROW(s.submit(greedy({-1}, 2)), Error);
  s.close();
  EXPECT_THROW(s.submit(greedy({5}, 2)), Error);
}

TEST(Scheduler, StopStringEndsTheSequence) {
  REQUIRE_TINY();
  Scheduler s(*tiny().model, *tiny().tok, options(1));
  const auto prompt = prompt_of(8, 7);
  const Outcome full = collect(*s.submit(greedy(prompt, 12)));
  ASSERT_GE(full.tokens.size(), 6u);
  std::string stop;  // a generated token whose bytes are whole UTF-8 characters
  for (size_t i = 3; i < full.tokens.size() && stop.empty(); ++i) {
    const std::string& bytes = tiny().tok->token_bytes(full.tokens[i]);
    if (is_valid_utf8(bytes)) stop = bytes;
  }
  ASSERT_FALSE(stop.empty());
  SequenceRequest r = greedy(prompt, 12);
  r.stop = {stop};
  const Outcome cut = collect(*s.submit(r));
  EXPECT_EQ(cut.done.end, SequenceEnd::Stop);
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(stop)));
}

}  // namespace
}  // namespace frugal

namespace frugal {
namespace {

// Bytes of one KV block of the tiny model.
int64_t block_bytes() { return static_cast<int64_t>(tiny().model->new_kv_pool(1)->block_bytes()); }

// Admission control: with a KV cache of one context, a request whose prompt + max_tokens may
// fill it leaves no room; the next waits in the queue (not refused) and runs once blocks free.
TEST(SchedulerPaged, AdmissionWaitsForKvBlocks) {
  REQUIRE_TINY();
  SchedulerOptions o = options(2);
  const int64_t n_ctx = 1024, bt = tiny().model->new_kv_pool(1)->block_tokens();
  o.kv_cache_bytes = n_ctx / bt * block_bytes();
  o.cache_ram_bytes = 0;
  Scheduler s(*tiny().model, *tiny().tok, o);
  EXPECT_EQ(s.stats().kv_blocks, n_ctx / bt);
  auto big = s.submit(greedy(prompt_of(20, 1), n_ctx));  // may write the whole context
  EXPECT_EQ(s.stats().kv_blocks_reserved, n_ctx / bt);
  const auto small_prompt = prompt_of(6, 2);
  auto small = s.submit(greedy(small_prompt, 3));
  SchedulerStats st = s.stats();
  EXPECT_EQ(st.n_active, 1);  // a slot is free, the blocks are not
  EXPECT_EQ(st.n_waiting, 1);
  big->cancel();
  EXPECT_EQ(collect(*big).done.end, SequenceEnd::Cancelled);
  const Outcome out = collect(*small);
  EXPECT_EQ(out.done.end, SequenceEnd::Length);
  ASSERT_TRUE(s.wait_idle(std::chrono::seconds(5)));
  EXPECT_EQ(out.tokens, generator_tokens(small_prompt, 3));
  EXPECT_EQ(s.stats().kv_blocks_reserved, 0);
}

// A pool with no room beyond one context: cached prefixes are evicted (least recently used
// first) as new prompts need blocks, answers stay those of the plain generator, and the most
// recent prompt is still cached.
TEST(SchedulerPaged, EvictionUnderPressureKeepsAnswersRight) {
  REQUIRE_TINY();
  SchedulerOptions o = options(1);
  const int64_t bt = tiny().model->new_kv_pool(1)->block_tokens();
  o.kv_cache_bytes = 1024 / bt * block_bytes();
  o.cache_ram_bytes = 0;
  Scheduler s(*tiny().model, *tiny().tok, o);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) prompts.push_back(prompt_of(120, 10 + i));  // ~250 tokens each
  for (int round = 0; round < 2; ++round)
    for (const auto& p : prompts) {
      const Outcome out = collect(*s.submit(greedy(p, 4)));
      ASSERT_EQ(out.done.end, SequenceEnd::Length);
      ASSERT_TRUE(s.wait_idle(std::chrono::seconds(5)));  // the model serves one thread at a time
      EXPECT_EQ(out.tokens, generator_tokens(p, 4));
    }
  const SchedulerStats st = s.stats();
  EXPECT_LE(st.prefix_cache_blocks, st.kv_blocks);
  EXPECT_LT(st.prompt_cache_hit_tokens, 6 * static_cast<int64_t>(prompts[0].size()))
      << "six prompts of 250 tokens cannot all stay in 1024 positions";
  const Outcome again = collect(*s.submit(greedy(prompts.back(), 4)));
  EXPECT_EQ(again.done.n_cached, static_cast<int64_t>(prompts.back().size()) - 1);
}

// Requests sharing a cached prefix run at once over the same blocks (each copies only the block
// it writes into), with the answers each gives alone.
TEST(SchedulerPaged, ConcurrentRequestsShareCachedBlocks) {
  REQUIRE_TINY();
  Scheduler s(*tiny().model, *tiny().tok, options(3));
  const auto shared = prompt_of(60, 5);
  collect(*s.submit(greedy(shared, 2)));  // caches the prefix
  // The answers alone first: the Generator shares the model, which serves one thread at a time.
  ASSERT_TRUE(s.wait_idle(std::chrono::seconds(5)));
  std::vector<std::vector<int32_t>> prompts, alone;
  for (int i = 0; i < 3; ++i) {
    auto p = shared;
    for (int32_t id : prompt_of(3 + i, 40 + i)) p.push_back(id);
    prompts.push_back(p);
    alone.push_back(generator_tokens(p, 6));
  }
  std::vector<std::shared_ptr<SequenceStream>> streams;
  for (const auto& p : prompts) streams.push_back(s.submit(greedy(p, 6)));
  for (size_t i = 0; i < streams.size(); ++i) {
    const Outcome out = collect(*streams[i]);
    EXPECT_GE(out.done.n_cached, static_cast<int64_t>(shared.size()) - 1);
    EXPECT_EQ(out.tokens, alone[i]) << "request " << i;
  }
}

}  // namespace
}  // namespace frugal
