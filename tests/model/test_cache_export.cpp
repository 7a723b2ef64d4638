// KV-cache export/import (SequenceState::export_entries / import_entries) on tiny random-weight
// deepseek2 (latent MLA cache) and qwen2 (GQA cache) models: entries exported in blocks and
// imported into a fresh state give bit-identical logits to computing them; bytes from another
// layout, another model tag, truncated or corrupted are rejected and leave the state as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <numeric>

#include "core/error.h"
#include "model/causal_lm.h"
#include "model/deepseek2_synth.h"
#include "model/dense_synth.h"
#include "test_util.h"

namespace frugal {
namespace {

// The families and cache layouts: deepseek2 with an F32 or an int8 (I8) latent cache, qwen2.
enum class Family { Deepseek2, Deepseek2Int8, Dense };

std::unique_ptr<CausalLm> tiny_model(Family f) {
  const bool dense = f == Family::Dense;
  const std::string path = test::temp_dir() + (dense ? "/export-dense.gguf" : "/export-ds2.gguf");
  if (dense) {
    DenseConfig c = dense_preset("qwen2", "tiny");
    c.n_vocab = 512;
    write_dense_synth(c, DenseSynthOptions{}, path);
  } else {
    Deepseek2Config c = deepseek2_preset("tiny");
    c.n_vocab = 512;
    write_deepseek2_synth(c, SynthOptions{}, path);
  }
  ModelOptions opt;
  opt.max_context = 256;
  if (f == Family::Deepseek2Int8) opt.kv_cache_type = GgmlType::I8;
  auto m = load_causal_lm(path, opt);
  std::filesystem::remove(path);
  return m;
}

std::vector<int32_t> tokens(int n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = (i * 37 + 11) % 500;
  return t;
}

void prefill(CausalLm& m, SequenceState& s, std::span<const int32_t> toks, int32_t pos0,
             std::vector<float>& logits) {
  std::vector<int32_t> pos(toks.size());
  std::iota(pos.begin(), pos.end(), pos0);
  m.forward({toks, pos, LogitsMode::Last}, s, logits);
}

std::vector<float>& logits_scratch(const CausalLm& m) {
  thread_local std::vector<float> v;
  v.resize(static_cast<size_t>(m.n_vocab()));
  return v;
}

class CacheExport : public ::testing::TestWithParam<Family> {};

TEST_P(CacheExport, RoundTripGivesIdenticalLogits) {
  auto m = tiny_model(GetParam());
  const auto toks = tokens(100);
  std::vector<float> expected(static_cast<size_t>(m->n_vocab())), got(expected.size());
  auto a = m->new_sequence();
  prefill(*m, *a, toks, 0, expected);
  // Export [0, 64) and [64, 99) separately; import both into a fresh state, run token 99.
  const std::string b0 = a->export_entries(0, 64, 42), b1 = a->export_entries(64, 99, 42);
  auto b = m->new_sequence();
  EXPECT_THROW(b->import_entries(b1, 42), Error);  // would leave a gap: [0, 64) missing
  EXPECT_EQ(b->n_past(), 0);
  b->import_entries(b0, 42);
  EXPECT_EQ(b->n_past(), 64);
  b->import_entries(b1, 42);
  EXPECT_EQ(b->n_past(), 99);
  prefill(*m, *b, std::span(toks).subspan(99), 99, got);
  EXPECT_EQ(got, expected);
}

TEST_P(CacheExport, RejectsForeignTruncatedAndCorruptBytes) {
  auto m = tiny_model(GetParam());
  // Another layout: the other cache type of the same deepseek2 model, or the other family.
  auto other = tiny_model(GetParam() == Family::Deepseek2 ? Family::Deepseek2Int8 : Family::Deepseek2);
  if (GetParam() == Family::Deepseek2) {
    auto dense = tiny_model(Family::Dense);
    auto d = dense->new_sequence();
    prefill(*dense, *d, tokens(40), 0, logits_scratch(*dense));
    auto b = m->new_sequence();
    EXPECT_THROW(b->import_entries(d->export_entries(0, 32, 7), 7), Error) << "another family";
  }
  const auto toks = tokens(40);
  std::vector<float> logits(static_cast<size_t>(m->n_vocab()));
  auto a = m->new_sequence();
  prefill(*m, *a, toks, 0, logits);
  auto o = other->new_sequence();
  prefill(*other, *o, toks, 0, logits);
  const std::string good = a->export_entries(0, 32, 7);
  auto b = m->new_sequence();
  b->import_entries(a->export_entries(0, 8, 7), 7);
  auto expect_rejected = [&](const std::string& bytes, const char* what) {
    EXPECT_THROW(b->import_entries(bytes, 7), Error) << what;
    EXPECT_EQ(b->n_past(), 8) << what;  // unchanged
  };
  expect_rejected(o->export_entries(0, 32, 7), "another layout");
  EXPECT_THROW(b->import_entries(good, 8), Error);  // another model tag
  expect_rejected(good.substr(0, good.size() - 1), "truncated payload");
  expect_rejected(good.substr(0, 20), "truncated header");
  expect_rejected(good + "x", "trailing bytes");
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  expect_rejected(flipped, "corrupt payload");
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  expect_rejected(bad_magic, "bad magic");
  expect_rejected("", "empty");
  EXPECT_THROW(a->export_entries(0, 41, 7), Error);  // beyond n_past
  b->import_entries(good, 7);
  EXPECT_EQ(b->n_past(), 32);
}

INSTANTIATE_TEST_SUITE_P(Families, CacheExport,
                         ::testing::Values(Family::Deepseek2, Family::Deepseek2Int8, Family::Dense),
                         [](const auto& info) {
                           switch (info.param) {
                             case Family::Deepseek2: return "Deepseek2";
                             case Family::Deepseek2Int8: return "Deepseek2Int8";
                             default: return "Dense";
                           }
                         });

}  // namespace
}  // namespace frugal
