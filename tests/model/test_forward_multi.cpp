// CausalLm::forward_multi: one step over several sequences (one prefilling a chunk, others
// decoding, at different lengths and positions) gives each sequence bit-identical logits to
// running it alone with forward(), for deepseek2 (MLA + MoE; absorbed and naive attention) and
// the dense qwen2 / llama family, with max_batch small enough that sequences straddle chunks.
// Every input is checked before any cache changes.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "dense_test_util.h"
#include "model/causal_lm.h"
#include "model/deepseek2.h"
#include "model/deepseek2_synth.h"
#include "test_util.h"

namespace frugal::test {
namespace {

// One sequence of the test: a prefix run beforehand, then the rows of two steps.
struct SeqCase {
  int64_t n_prefix;  // tokens already in the cache before step 1
  int64_t n_step1;   // tokens in step 1 (1 = a decode)
  LogitsMode mode;   // logits wanted in step 1 (step 2 is one decode token, Last)
  uint32_t seed;
};

// The prefill first, then two decodes, then a fresh prompt (no prefix) wanting its last logits.
const std::vector<SeqCase> kCases = {{5, 11, LogitsMode::All, 11},
                                     {9, 1, LogitsMode::Last, 12},
                                     {3, 1, LogitsMode::Last, 13},
                                     {0, 6, LogitsMode::Last, 14}};

struct Inputs {
  std::vector<int32_t> tokens;  // [n_prefix + n_step1 + 1]
  std::vector<int32_t> pos;     // [n_prefix + n_step1 + 1]
};

std::vector<Inputs> make_inputs(const std::vector<SeqCase>& cases, int32_t vocab) {
  std::vector<Inputs> in;
  for (const SeqCase& c : cases) {
    const size_t n = static_cast<size_t>(c.n_prefix + c.n_step1 + 1);
    in.push_back({test_tokens(n, vocab, c.seed), positions_from(n)});
  }
  return in;
}

Batch slice(const Inputs& in, int64_t first, int64_t n, LogitsMode mode) {
  return {std::span(in.tokens).subspan(first, n), std::span(in.pos).subspan(first, n), mode};
}

int64_t rows(const SeqCase& c) {
  return c.mode == LogitsMode::All ? c.n_step1 : 1;
}

// Runs the prefixes, then step 1 and step 2, either all sequences together (forward_multi) or
// each alone (forward). Returns the logits of both steps, [sequence][step] -> floats.
std::vector<std::vector<std::vector<float>>> run(CausalLm& lm, const std::vector<SeqCase>& cases,
                                                 const std::vector<size_t>& order, bool together) {
  const int64_t V = lm.n_vocab();
  const auto in = make_inputs(cases, static_cast<int32_t>(V));
  std::vector<std::unique_ptr<SequenceState>> states;
  std::vector<std::vector<std::vector<float>>> out(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    states.push_back(lm.new_sequence());
    if (cases[i].n_prefix > 0) {
      std::vector<float> ignored(static_cast<size_t>(V));
      lm.forward(slice(in[i], 0, cases[i].n_prefix, LogitsMode::Last), *states[i], ignored);
    }
  }
  for (int step = 0; step < 2; ++step) {
    std::vector<SequenceBatch> seqs;
    std::vector<int64_t> n_rows;
    for (size_t i : order) {
      const SeqCase& c = cases[i];
      const Batch b = step == 0 ? slice(in[i], c.n_prefix, c.n_step1, c.mode)
                                : slice(in[i], c.n_prefix + c.n_step1, 1, LogitsMode::Last);
      seqs.push_back({b, states[i].get()});
      n_rows.push_back(step == 0 ? rows(c) : 1);
    }
    int64_t total = 0;
    for (int64_t r : n_rows) total += r;
    std::vector<float> logits(static_cast<size_t>(total * V));
    if (together) {
      lm.forward_multi(seqs, logits);
    } else {
      size_t off = 0;
      for (size_t k = 0; k < seqs.size(); ++k) {
        lm.forward(seqs[k].batch, *seqs[k].state, std::span(logits).subspan(off, n_rows[k] * V));
        off += static_cast<size_t>(n_rows[k] * V);
      }
    }
    size_t off = 0;
    for (size_t k = 0; k < order.size(); ++k) {
      const size_t n = static_cast<size_t>(n_rows[k] * V);
      out[order[k]].emplace_back(logits.begin() + off, logits.begin() + off + n);
      off += n;
    }
  }
  for (size_t i = 0; i < cases.size(); ++i)  // every cache advanced to the end of step 2
    EXPECT_EQ(states[i]->n_past(), cases[i].n_prefix + cases[i].n_step1 + 1);
  return out;
}

// forward_multi equals forward per sequence, bit for bit, whatever the order of the sequences.
void expect_multi_equals_alone(CausalLm& lm, const std::string& what) {
  const std::vector<std::vector<size_t>> orders = {{0, 1, 2, 3}, {2, 1, 0, 3}, {3, 2, 1, 0}};
  for (const auto& order : orders) {
    const auto alone = run(lm, kCases, order, false);
    const auto together = run(lm, kCases, order, true);
    for (size_t i = 0; i < kCases.size(); ++i)
      for (int step = 0; step < 2; ++step) {
        ASSERT_EQ(alone[i][step].size(), together[i][step].size());
        EXPECT_EQ(std::memcmp(alone[i][step].data(), together[i][step].data(),
                              alone[i][step].size() * sizeof(float)),
                  0)
            << what << ": sequence " << i << " step " << step << " (order starting with "
            << order[0] << "), max |d| " << max_abs_delta(alone[i][step], together[i][step]);
      }
  }
}

ModelOptions small_chunks() {
  ModelOptions o;
  o.max_batch = 8;  // 19 rows in step 1: the prefill straddles chunks beside the decodes
  o.max_context = 64;
  return o;
}

std::string synth_deepseek2(GgmlType type, const std::string& name) {
  SynthOptions opt;
  opt.type = type;
  const std::string path = temp_dir() + "/" + name + ".gguf";
  write_deepseek2_synth(deepseek2_preset("tiny"), opt, path);
  return path;
}

TEST(ForwardMulti, Deepseek2EqualsEachSequenceAlone) {
  for (GgmlType type : {GgmlType::F32, GgmlType::Q8_0}) {  // tiny: dim 128, no K-quants
    const std::string name = std::string("multi-ds2-") + type_name(type);
    auto lm = load_causal_lm(synth_deepseek2(type, name), small_chunks());
    expect_multi_equals_alone(*lm, name);
  }
}

TEST(ForwardMulti, Deepseek2NaiveAttentionEqualsEachSequenceAlone) {
  // The model-level API (LatentSequenceBatch) with the expanded-attention reference path.
  Deepseek2Model m =
      Deepseek2Model::load(synth_deepseek2(GgmlType::F32, "multi-naive"), small_chunks());
  m.set_attention(AttentionImpl::Naive);
  const int64_t V = m.config().n_vocab;
  const auto a = test_tokens(12, static_cast<int32_t>(V), 1);
  const auto b = test_tokens(4, static_cast<int32_t>(V), 2);
  const auto pa = positions_from(12), pb = positions_from(4);
  std::vector<float> alone(13 * V), together(13 * V);
  {
    LatentKvCache ca = m.new_cache(), cb = m.new_cache();
    m.forward({a, pa, LogitsMode::All}, ca, std::span(alone).first(12 * V));
    m.forward({b, pb, LogitsMode::Last}, cb, std::span(alone).subspan(12 * V));
  }
  LatentKvCache ca = m.new_cache(), cb = m.new_cache();
  const LatentSequenceBatch seqs[] = {{{a, pa, LogitsMode::All}, &ca},
                                      {{b, pb, LogitsMode::Last}, &cb}};
  m.forward_multi(seqs, together);
  EXPECT_EQ(alone, together);
}

class DenseMulti : public ::testing::TestWithParam<const char*> {};

TEST_P(DenseMulti, EqualsEachSequenceAlone) {
  for (GgmlType type : {GgmlType::F32, GgmlType::Q8_0}) {
    const std::string name = std::string("multi-") + GetParam() + "-" + type_name(type);
    const std::string path =
        synth_dense(tiny_dense(GetParam()), temp_dir() + "/" + name + ".gguf", type);
    auto lm = load_causal_lm(path, small_chunks());
    expect_multi_equals_alone(*lm, name);
  }
}

INSTANTIATE_TEST_SUITE_P(Dense, DenseMulti, ::testing::Values("qwen2", "llama"));

// Bad input in any sequence is refused before any cache changes, naming the sequence.
void expect_checked(CausalLm& lm, CausalLm& other) {
  const int64_t V = lm.n_vocab();
  auto s0 = lm.new_sequence(), s1 = lm.new_sequence(), foreign = other.new_sequence();
  const auto t0 = test_tokens(3, static_cast<int32_t>(V), 1);
  const auto p0 = positions_from(3);
  const std::vector<int32_t> bad_token = {static_cast<int32_t>(V)}, pos1 = {0};
  std::vector<float> logits(2 * V);
  auto expect_error = [&](std::vector<SequenceBatch> seqs, size_t n_logits, const char* want) {
    try {
      lm.forward_multi(seqs, std::span(logits).first(n_logits));
      ADD_FAILURE() << "no error; expected one containing '" << want << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
    EXPECT_EQ(s0->n_past(), 0) << want;  // nothing ran
  };
  const Batch ok{t0, p0, LogitsMode::Last};
  expect_error({}, 0, "no sequences");
  expect_error({{ok, s0.get()}, {{bad_token, pos1, LogitsMode::Last}, s1.get()}}, 2 * V,
               "sequence 1 of 2: token id");
  expect_error({{ok, s0.get()}, {{t0, p0, LogitsMode::Last}, s0.get()}}, 2 * V, "share one");
  expect_error({{ok, s0.get()}, {ok, nullptr}}, 2 * V, "sequence 1 has no state");
  expect_error({{ok, s0.get()}, {ok, foreign.get()}}, 2 * V, "another model");
  expect_error({{ok, s0.get()}, {{t0, p0, LogitsMode::All}, s1.get()}}, 2 * V,
               "logits buffer holds");
  const std::vector<int32_t> one = {1}, far = {5};
  expect_error({{ok, s0.get()}, {{one, far, LogitsMode::Last}, s1.get()}}, 2 * V,
               "sequence 1 of 2: first position 5");
}

TEST(ForwardMulti, RefusesBadInputBeforeRunningAnything) {
  auto ds = load_causal_lm(synth_deepseek2(GgmlType::F32, "multi-errors"), small_chunks());
  auto qwen = load_causal_lm(
      synth_dense(tiny_dense("qwen2"), temp_dir() + "/multi-errors-qwen2.gguf"), small_chunks());
  expect_checked(*ds, *qwen);
  expect_checked(*qwen, *ds);
}

}  // namespace
}  // namespace frugal::test
