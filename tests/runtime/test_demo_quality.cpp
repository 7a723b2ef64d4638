// Quantization quality on the trained demo model (models/demo-v3-tiny.gguf, F16) and its held-out
// text: Q8_0 perplexity within 1% of the F16 model's, Q4_K_M within 5%, and Q8_0 closer in KL.
// Skipped while the demo model is absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "model/causal_lm.h"
#include "model/quantize.h"
#include "runtime/perplexity.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace frugal::test {
namespace {

const std::string kModel = std::string(FRUGAL_SOURCE_DIR) + "/models/demo-v3-tiny.gguf";
const std::string kText = std::string(FRUGAL_SOURCE_DIR) + "/tests/model/data/demo_heldout.txt";

TEST(DemoQuality, QuantizedPerplexityStaysCloseToF16) {
  if (!std::filesystem::exists(kModel) || !std::filesystem::exists(kText))
    GTEST_SKIP() << "demo model or held-out text absent (" << kModel << ")";
  std::ifstream f(kText);
  std::stringstream ss;
  ss << f.rdbuf();
  const Tokenizer tok = Tokenizer::from_path(kModel);
  EncodeOptions enc;
  enc.parse_special = false;
  PerplexityOptions opt;
  opt.n_ctx = 128;  // the model's training window
  if (tok.add_bos()) opt.bos = tok.bos_id();
  const std::vector<int32_t> chunks = perplexity_chunks(tok.encode(ss.str(), enc), opt);
  const int64_t n_chunks = static_cast<int64_t>(chunks.size()) / opt.n_ctx;
  ModelOptions mo;
  mo.max_context = opt.n_ctx;

  const std::string base = temp_dir() + "/demo-base.bin";
  double base_ppl = 0;
  {
    auto lm = load_causal_lm(kModel, mo);
    LogitFileWriter w(base, perplexity_log_header(lm->n_vocab(), n_chunks, opt), chunks);
    base_ppl = run_perplexity(*lm, chunks, opt, &w).ppl();
    w.close();
  }
  std::map<std::string, double> kl;
  for (const auto& [type, max_rel] : {std::pair{"Q8_0", 0.01}, std::pair{"Q4_K_M", 0.05}}) {
    const std::string q = temp_dir() + "/demo-" + type + ".gguf";
    quantize_model(kModel, q, QuantMix::parse(type));
    auto lm = load_causal_lm(q, mo);
    LogitFileReader r(base);
    const PerplexityResult res = run_perplexity(*lm, chunks, opt, nullptr, &r);
    std::printf("[demo] %-6s %6.2f MB  PPL %.3f (F16 %.3f, %+.3f%%)  mean KL %.6f  top-1 %.2f%%\n",
                type, std::filesystem::file_size(q) / 1e6, res.ppl(), base_ppl,
                100 * (res.ppl() / base_ppl - 1), res.kl->kl.mean(),
                100 * res.kl->top1_same.mean());
    EXPECT_LE(std::abs(res.ppl() / base_ppl - 1), max_rel) << type;
    EXPECT_GT(res.kl->kl.mean(), 0.0) << type;
    kl[type] = res.kl->kl.mean();
  }
  EXPECT_LT(kl["Q8_0"], kl["Q4_K_M"]);
}

}  // namespace
}  // namespace frugal::test
