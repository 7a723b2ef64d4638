// Paged KV caches (model/kv_pool.h) through CausalLm, for every family (qwen2, llama: GQA rows;
// deepseek2: MLA latent rows): sequences sharing one pool, one adopting another's first blocks
// (kv_blocks / adopt_kv_blocks) and continuing, give logits bit-identical to a sequence computed
// from scratch; writing after adopting copies the shared block and never changes the donor's
// logits (copy on write); truncate gives blocks back; a pool too small or made for another
// model is a frugal::Error, not a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"
#include "expect_error.h"
#include "model/causal_lm.h"
#include "model/deepseek2_synth.h"
#include "model/dense_synth.h"
#include "model/kv_pool.h"
#include "test_util.h"

namespace frugal::test {
namespace {

constexpr int64_t kCtx = 128;

std::unique_ptr<CausalLm> tiny_model(const std::string& arch) {
  const std::string path = temp_dir() + "/paged-" + arch + ".gguf";
  if (arch == "deepseek2") {
    Deepseek2Config c = deepseek2_preset("tiny");
    c.n_vocab = 512;
    write_deepseek2_synth(c, SynthOptions{}, path);
  } else {
    write_dense_synth(dense_preset(arch, "tiny"), DenseSynthOptions{}, path);
  }
  ModelOptions opt;
  opt.max_context = kCtx;
  opt.max_batch = 24;  // longer prompts run in several chunks
  auto m = load_causal_lm(path, opt);
  std::filesystem::remove(path);
  return m;
}

std::vector<int32_t> tokens(int n, int salt) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = (i * 37 + 11 + salt * 101) % 500;
  return t;
}

// Runs toks at positions [pos0, pos0 + size) on s; logits of every row, [size, n_vocab].
std::vector<float> run(CausalLm& m, SequenceState& s, std::span<const int32_t> toks, int32_t pos0) {
  std::vector<int32_t> pos(toks.size());
  std::iota(pos.begin(), pos.end(), pos0);
  std::vector<float> logits(toks.size() * static_cast<size_t>(m.n_vocab()));
  m.forward({toks, pos, LogitsMode::All}, s, logits);
  return logits;
}

// The logits rows [first, end) of a sequence computed from scratch on its own cache.
std::vector<float> from_scratch(CausalLm& m, const std::vector<int32_t>& toks, size_t first) {
  auto s = m.new_sequence(kCtx);
  const std::vector<float> all = run(m, *s, toks, 0);
  return {all.begin() + static_cast<std::ptrdiff_t>(first * m.n_vocab()), all.end()};
}

std::vector<int32_t> concat(std::span<const int32_t> a, std::span<const int32_t> b) {
  std::vector<int32_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

class PagedKv : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { m_ = tiny_model(GetParam()); }
  std::unique_ptr<CausalLm> m_;
};

TEST_P(PagedKv, EveryFamilyIsPaged) {
  auto pool = m_->new_kv_pool(4);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->block_tokens(), kKvBlockTokens);
  auto s = m_->new_sequence(kCtx, pool);
  EXPECT_TRUE(s->kv_blocks().empty());
  run(*m_, *s, tokens(20, 0), 0);
  EXPECT_EQ(s->kv_blocks().size(), 2u);
  EXPECT_EQ(pool->n_free(), 2);
}

TEST_P(PagedKv, AdoptedPrefixEqualsFromScratch) {
  auto pool = m_->new_kv_pool(32);
  const std::vector<int32_t> toks = tokens(50, 1);
  auto donor = m_->new_sequence(kCtx, pool);
  run(*m_, *donor, std::span(toks).first(40), 0);  // 2.5 blocks
  ASSERT_EQ(donor->kv_blocks().size(), 3u);

  auto s = m_->new_sequence(kCtx, pool);
  s->adopt_kv_blocks(donor->kv_blocks().first(2), 32);  // positions [0, 32)
  EXPECT_EQ(s->n_past(), 32);
  EXPECT_EQ(pool->refs(donor->kv_blocks()[0]), 2);
  const std::vector<float> got = run(*m_, *s, std::span(toks).subspan(32), 32);
  EXPECT_EQ(got, from_scratch(*m_, toks, 32));
  EXPECT_EQ(s->kv_blocks().first(2)[1], donor->kv_blocks()[1]);  // still shared: never written
}

TEST_P(PagedKv, WritingAfterAdoptingNeverChangesTheDonor) {
  auto pool = m_->new_kv_pool(32);
  const std::vector<int32_t> toks = tokens(41, 2), other = tokens(15, 3);
  auto donor = m_->new_sequence(kCtx, pool);
  run(*m_, *donor, std::span(toks).first(40), 0);

  // Adopt [0, 32), keep [0, 20) and write different tokens at 20..34: block 1 is shared, so
  // it is copied before the write.
  auto s = m_->new_sequence(kCtx, pool);
  s->adopt_kv_blocks(donor->kv_blocks().first(2), 32);
  s->truncate(20);
  EXPECT_EQ(s->n_past(), 20);
  const std::vector<float> got = run(*m_, *s, other, 20);
  EXPECT_EQ(got, from_scratch(*m_, concat(std::span(toks).first(20), other), 20));
  EXPECT_EQ(s->kv_blocks()[0], donor->kv_blocks()[0]);
  EXPECT_NE(s->kv_blocks()[1], donor->kv_blocks()[1]);
  EXPECT_EQ(pool->refs(donor->kv_blocks()[1]), 1);

  // The donor's next token sees its own block 1.
  EXPECT_EQ(run(*m_, *donor, std::span(toks).subspan(40), 40), from_scratch(*m_, toks, 40));
}

TEST_P(PagedKv, TwoSequencesWriteIntoOneSharedBlockInOneStep) {
  auto pool = m_->new_kv_pool(32);
  const std::vector<int32_t> prefix = tokens(24, 4), a_next = tokens(5, 5), b_next = tokens(1, 6);
  auto donor = m_->new_sequence(kCtx, pool);
  run(*m_, *donor, prefix, 0);  // blocks 0 and 1 (8 of its 16 positions)
  auto a = m_->new_sequence(kCtx, pool), b = m_->new_sequence(kCtx, pool);
  for (SequenceState* s : {a.get(), b.get()}) {
    s->adopt_kv_blocks(donor->kv_blocks(), donor->n_past());
    s->truncate(24);
  }
  const int64_t V = m_->n_vocab();
  const std::vector<int32_t> pos_a{24, 25, 26, 27, 28}, pos_b{24};
  const SequenceBatch step[2] = {{{a_next, pos_a, LogitsMode::All}, a.get()},
                                 {{b_next, pos_b, LogitsMode::All}, b.get()}};
  std::vector<float> logits(static_cast<size_t>(6 * V));
  m_->forward_multi(step, logits);
  const std::vector<float> want_a = from_scratch(*m_, concat(prefix, a_next), 24);
  const std::vector<float> want_b = from_scratch(*m_, concat(prefix, b_next), 24);
  EXPECT_EQ(std::vector<float>(logits.begin(), logits.begin() + 5 * V), want_a);
  EXPECT_EQ(std::vector<float>(logits.begin() + 5 * V, logits.end()), want_b);
  EXPECT_EQ(pool->refs(donor->kv_blocks()[1]), 1);  // a and b each copied it
  const std::vector<int32_t> again{prefix.back()};
  EXPECT_EQ(run(*m_, *donor, again, 23), from_scratch(*m_, prefix, 23));
}

TEST_P(PagedKv, TruncateGivesBlocksBack) {
  auto pool = m_->new_kv_pool(8);
  auto s = m_->new_sequence(kCtx, pool);
  run(*m_, *s, tokens(40, 7), 0);
  EXPECT_EQ(pool->n_free(), 5);
  s->truncate(17);  // blocks 0 and 1 hold [0, 17)
  EXPECT_EQ(s->kv_blocks().size(), 2u);
  EXPECT_EQ(pool->n_free(), 6);
  s.reset();
  EXPECT_EQ(pool->n_free(), 8);
}

TEST_P(PagedKv, FullPoolIsAnErrorNotACrash) {
  auto pool = m_->new_kv_pool(2);
  auto s = m_->new_sequence(kCtx, pool);
  const std::vector<int32_t> toks = tokens(40, 8);
  expect_error([&] { run(*m_, *s, toks, 0); }, {"KV cache is full", "2 blocks"});
  EXPECT_EQ(s->n_past(), 0);
  // The blocks it got stay with it; a prompt that fits still runs, and equals from scratch.
  EXPECT_EQ(run(*m_, *s, std::span(toks).first(30), 0),
            from_scratch(*m_, {toks.begin(), toks.begin() + 30}, 0));
}

TEST_P(PagedKv, PoolOfAnotherLayoutIsRejected) {
  auto other = tiny_model(GetParam() == "deepseek2" ? "qwen2" : "deepseek2");
  expect_error([&] { m_->new_sequence(kCtx, other->new_kv_pool(4)); },
               {"block pool", "not this model's cache layout"});
}

TEST_P(PagedKv, OwnPoolStateHasItsBlocksToo) {
  auto s = m_->new_sequence(kCtx);
  EXPECT_TRUE(s->kv_blocks().empty());
  run(*m_, *s, tokens(20, 9), 0);
  EXPECT_EQ(s->kv_blocks().size(), 2u);
  s->truncate(5);
  EXPECT_EQ(s->kv_blocks().size(), 1u);
  EXPECT_EQ(run(*m_, *s, tokens(20, 9), 0), from_scratch(*m_, tokens(20, 9), 0));
}

INSTANTIATE_TEST_SUITE_P(Families, PagedKv, ::testing::Values("qwen2", "llama", "deepseek2"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace frugal::test
