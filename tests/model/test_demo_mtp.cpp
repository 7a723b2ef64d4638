// The demo model's MTP module (models/demo-v3-tiny.gguf, blk.4 + blk.4.nextn.*) against the MTP
// logits its own PyTorch model wrote (tests/model/data/demo_mtp_logits.npy: row i =
// model.mtp_logits(h[:, :-1], x[:, 1:]), from h_i and token i+1, predicting token i+2), and the
// errors for files whose MTP layer is missing, misshapen or miscounted.
//
// Tolerance: as for the main-model logits (test_demo_model.cpp): F16 matrices and F32 norms used
// exactly as PyTorch used them, float32 math, so only summation order differs: max |Δlogit| <= 1e-3
// and the argmax must agree at every position.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "expect_error.h"
#include "core/error.h"
#include "format/gguf.h"
#include "gguf_edit.h"
#include "model/deepseek2_mtp.h"
#include "oracle_util.h"
#include "demo_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

constexpr double kLogitTolerance = 1e-3;
const std::string& kModel = kDemoModel;
const std::string& kData = kDemoData;

nlohmann::json golden() {
  return demo_golden();
}

// h [n, dim] of the main model over `tokens` (one chunk).
std::vector<float> final_hidden(Deepseek2Model& m, const std::vector<int32_t>& tokens) {
  LatentKvCache cache = m.new_cache();
  std::vector<float> logits(static_cast<size_t>(m.config().n_vocab));
  const auto pos = iota_positions(tokens.size());
  m.forward({tokens, pos, LogitsMode::Last}, cache, logits);
  const auto h = m.last_hidden(static_cast<int64_t>(tokens.size()));
  return {h.begin(), h.end()};
}

std::string edited_demo(const std::string& name, const GgufEdit& edit) {
  const std::string out = temp_dir() + "/" + name + ".gguf";
  copy_gguf(GgufFile::open(kModel), out, edit);
  return out;
}

TEST(DemoMtp, BlockCountCountsTheMtpLayerAsLlamaCppDoes) {
  FRUGAL_REQUIRE_DEMO();
  const GgufFile f = GgufFile::open(kModel);
  EXPECT_EQ(f.get<int64_t>("deepseek2.block_count"), 5);
  EXPECT_EQ(f.get<int64_t>("deepseek2.nextn_predict_layers"), 1);
  const Deepseek2Model& m = demo_model();
  EXPECT_EQ(m.config().n_layers, 4);
  EXPECT_EQ(m.config().n_mtp_layers, 1);
  EXPECT_EQ(m.weights().layers.size(), 4u);
  ASSERT_EQ(m.weights().mtp.size(), 1u);
  EXPECT_NE(m.weights().mtp[0].eh_proj.data, nullptr);
  EXPECT_NE(m.weights().mtp[0].shared_head_norm, nullptr);
}

TEST(DemoMtp, LogitsMatchPyTorch) {
  FRUGAL_REQUIRE_DEMO();
  const auto g = golden();
  const auto tokens = g["logits_ids"].get<std::vector<int32_t>>();
  const auto want = read_npy(kData + g["mtp_logits_file"].get<std::string>()).to_float();
  Deepseek2Model& m = demo_model();
  const int64_t V = m.config().n_vocab, n = static_cast<int64_t>(tokens.size()) - 1;
  ASSERT_EQ(static_cast<int64_t>(want.size()), n * V);
  Deepseek2Mtp mtp(m);
  for (AttentionImpl impl : {AttentionImpl::Absorbed, AttentionImpl::Naive}) {
    m.set_attention(impl);
    const std::vector<float> h = final_hidden(m, tokens);
    LatentKvCache cache = mtp.new_cache();
    std::vector<float> logits(static_cast<size_t>(n * V));
    const auto pos = iota_positions(static_cast<size_t>(n));
    mtp.forward({std::span(h).first(static_cast<size_t>(n * m.config().dim)),
                 std::span(tokens).subspan(1), pos, LogitsMode::All},
                cache, logits);
    const double d = max_abs_diff(logits, want);
    std::printf("[demo] MTP, %s MLA: max |dlogit| = %.3g over %lld positions\n",
                impl == AttentionImpl::Absorbed ? "absorbed" : "naive", d,
                static_cast<long long>(n));
    EXPECT_LE(d, kLogitTolerance);
    for (int64_t t = 0; t < n; ++t)
      EXPECT_EQ(argmax_row(&logits[t * V], V), argmax_row(&want[t * V], V)) << "position " << t;
  }
  m.set_attention(AttentionImpl::Absorbed);
}

// One entry at a time through the MTP cache, as speculative decoding feeds it.
TEST(DemoMtp, IncrementalLogitsMatchPyTorch) {
  FRUGAL_REQUIRE_DEMO();
  const auto g = golden();
  const auto tokens = g["logits_ids"].get<std::vector<int32_t>>();
  const auto want = read_npy(kData + g["mtp_logits_file"].get<std::string>()).to_float();
  Deepseek2Model& m = demo_model();
  const int64_t V = m.config().n_vocab, dim = m.config().dim;
  const int64_t n = static_cast<int64_t>(tokens.size()) - 1;
  const std::vector<float> h = final_hidden(m, tokens);
  Deepseek2Mtp mtp(m);
  LatentKvCache cache = mtp.new_cache();
  std::vector<float> row(static_cast<size_t>(V));
  double d = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto p = static_cast<int32_t>(i);
    mtp.forward({std::span(h).subspan(static_cast<size_t>(i * dim), static_cast<size_t>(dim)),
                 std::span(&tokens[i + 1], 1), std::span(&p, 1), LogitsMode::Last},
                cache, row);
    for (int64_t v = 0; v < V; ++v)
      d = std::max(d, std::abs(static_cast<double>(row[v]) - want[i * V + v]));
    EXPECT_EQ(argmax_row(row.data(), V), argmax_row(&want[i * V], V)) << "position " << i;
  }
  std::printf("[demo] MTP one entry at a time: max |dlogit| = %.3g\n", d);
  EXPECT_LE(d, kLogitTolerance);
  EXPECT_EQ(cache.n_past(), n);
}

// Through CausalLm (ModelOptions::mtp): the sequence feeds the MTP layer as the prompt goes in,
// in chunks of 4 tokens here, and draft() gives row k of the golden after tokens 0..k.
TEST(DemoMtp, DraftHeadOfASequenceMatchesPyTorch) {
  FRUGAL_REQUIRE_DEMO();
  const auto g = golden();
  const auto tokens = g["logits_ids"].get<std::vector<int32_t>>();
  const auto want = read_npy(kData + g["mtp_logits_file"].get<std::string>()).to_float();
  ModelOptions opt;
  opt.mtp = true;
  opt.max_batch = 4;
  auto lm = load_causal_lm(kModel, opt);
  const int64_t V = lm->n_vocab(), n = static_cast<int64_t>(tokens.size()) - 1;
  std::vector<float> logits(static_cast<size_t>(V)), draft(static_cast<size_t>(V));
  double d = 0;
  for (int64_t k : {int64_t{0}, int64_t{3}, int64_t{4}, int64_t{9}, n - 1}) {
    auto seq = lm->new_sequence();
    const std::vector<int32_t> prefix(tokens.begin(), tokens.begin() + k + 1);
    const auto pos = iota_positions(prefix.size());
    lm->forward({prefix, pos, LogitsMode::Last}, *seq, logits);
    ASSERT_TRUE(lm->can_draft(*seq)) << k;
    lm->draft(*seq, tokens[k + 1], draft);
    for (int64_t v = 0; v < V; ++v)
      d = std::max(d, std::abs(static_cast<double>(draft[v]) - want[k * V + v]));
    EXPECT_EQ(argmax_row(draft.data(), V), argmax_row(&want[k * V], V)) << k;
  }
  std::printf("[demo] MTP draft head through the sequence: max |dlogit| = %.3g\n", d);
  EXPECT_LE(d, kLogitTolerance);
}

TEST(DemoMtp, MissingNextnTensorIsNamed) {
  FRUGAL_REQUIRE_DEMO();
  GgufEdit e;
  e.tensor = [](const GgufTensorInfo& t, GgufWriter&) {
    return t.name != "blk.4.nextn.eh_proj.weight";
  };
  const std::string path = edited_demo("mtp_missing", e);
  expect_error([&] { Deepseek2Model::load(path); },
               {"missing tensor", "blk.4.nextn.eh_proj.weight", "[256, 512]"});
}

TEST(DemoMtp, MissingMtpBlockTensorIsNamed) {
  FRUGAL_REQUIRE_DEMO();
  GgufEdit e;
  e.tensor = [](const GgufTensorInfo& t, GgufWriter&) {
    return t.name != "blk.4.ffn_gate_exps.weight";
  };
  const std::string path = edited_demo("mtp_block_missing", e);
  expect_error([&] { Deepseek2Model::load(path); }, {"missing tensor", "blk.4.ffn_gate_exps"});
}

TEST(DemoMtp, WrongNextnShapeIsNamed) {
  FRUGAL_REQUIRE_DEMO();
  GgufEdit e;
  e.tensor = [](const GgufTensorInfo& t, GgufWriter& w) {
    if (t.name != "blk.4.nextn.hnorm.weight") return true;
    w.add_tensor(t.name, GgmlType::F32, {128}, std::vector<uint8_t>(128 * 4));
    return false;
  };
  const std::string path = edited_demo("mtp_shape", e);
  expect_error([&] { Deepseek2Model::load(path); },
               {"blk.4.nextn.hnorm.weight", "expected shape [256]", "found [128]"});
}

TEST(DemoMtp, NextnLayersMustBeFewerThanBlockCount) {
  FRUGAL_REQUIRE_DEMO();
  GgufEdit e;
  e.meta = [](GgufWriter& w) { w.set("deepseek2.nextn_predict_layers", GgufValue::u32(5)); };
  const std::string path = edited_demo("mtp_count", e);
  expect_error([&] { Deepseek2Model::load(path); },
               {"deepseek2.nextn_predict_layers 5", "0..4", "block_count 5"});
}

// The layout Frugal's demo exporter wrote before following llama.cpp: block_count 4 (main layers
// only) with blk.4.nextn.* present.
TEST(DemoMtp, MtpLayerPastBlockCountIsRefusedByName) {
  FRUGAL_REQUIRE_DEMO();
  GgufEdit e;
  e.meta = [](GgufWriter& w) { w.set("deepseek2.block_count", GgufValue::u32(4)); };
  const std::string path = edited_demo("mtp_old_count", e);
  expect_error([&] { Deepseek2Model::load(path); },
               {"blk.4.nextn.eh_proj.weight", "block_count 4", "rewrite it with block_count 5"});
}

// nextn_predict_layers 0: all five blocks are main layers and there is no MTP module to run.
TEST(DemoMtp, ModelWithoutMtpRefusesAnMtpHead) {
  FRUGAL_REQUIRE_DEMO();
  GgufEdit e;
  e.meta = [](GgufWriter& w) { w.set("deepseek2.nextn_predict_layers", GgufValue::u32(0)); };
  const std::string path = edited_demo("mtp_none", e);
  const Deepseek2Model m = Deepseek2Model::load(path);
  EXPECT_EQ(m.config().n_layers, 5);
  EXPECT_TRUE(m.weights().mtp.empty());
  expect_error([&] { Deepseek2Mtp mtp(m); }, {"no MTP module"});
}

TEST(DemoMtp, BadMtpBatchIsRefused) {
  FRUGAL_REQUIRE_DEMO();
  Deepseek2Model& m = demo_model();
  Deepseek2Mtp mtp(m);
  LatentKvCache cache = mtp.new_cache();
  const std::vector<float> h(static_cast<size_t>(m.config().dim));
  const int32_t tok = 5, pos = 0;
  std::vector<float> logits(static_cast<size_t>(m.config().n_vocab));
  expect_error(
      [&] {
        mtp.forward(
            {std::span(h).first(10), std::span(&tok, 1), std::span(&pos, 1), LogitsMode::Last},
            cache, logits);
      },
      {"hidden holds 10 floats"});
  LatentKvCache main_cache = m.new_cache();
  expect_error(
      [&] {
        mtp.forward({h, std::span(&tok, 1), std::span(&pos, 1), LogitsMode::Last}, main_cache,
                    logits);
      },
      {"not made for this MTP module"});
}

}  // namespace
}  // namespace frugal::test
