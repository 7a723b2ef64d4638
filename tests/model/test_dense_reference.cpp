// Dense qwen2 / llama logits against tools/reference/dense_reference.py, a float64 NumPy
// reference written from the published architectures (Hugging Face form: half-split RoPE,
// llama q/k rows un-permuted from the GGUF, llama3 scaling computed from its parameters).
// Small random configs with GQA, q/k/v biases, llama3 scaling, tied output, MQA, chunked prefill.
// Needs Debian's /usr/bin/python3 with numpy (skips with a message otherwise).
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "dense_test_util.h"
#include "format/npy.h"
#include "test_util.h"

namespace frugal::test {
namespace {

struct RefCase {
  std::string name;
  DenseConfig c;
  GgmlType type = GgmlType::F32;
  size_t n_tokens = 24;
  int64_t max_batch = 64;
  double tol = 1e-4;  // max |Δlogit|
};

std::vector<RefCase> cases() {
  std::vector<RefCase> out;
  DenseConfig q = tiny_dense("qwen2");
  out.push_back({"qwen2-gqa-bias-untied", q});
  DenseConfig qt = q;
  qt.tied_output = true;
  out.push_back({"qwen2-tied", qt});
  DenseConfig qm = q;
  qm.n_kv_heads = 1;
  out.push_back({"qwen2-mqa-chunked", qm, GgmlType::F32, 40, 7});
  DenseConfig l = tiny_dense("llama");
  out.push_back({"llama-gqa-llama3", l, GgmlType::F32, 300});  // positions past the original 256
  DenseConfig ln = l;
  ln.llama3.on = false;
  ln.tied_output = true;
  out.push_back({"llama-no-scaling-tied", ln});
  out.push_back({"llama-bf16", l, GgmlType::BF16, 24});  // the dtype R1-Distill checkpoints ship
  // Q8_0 weights: the fast kernels also quantize activations (Q8_0 per block of 32), which the
  // float64 reference does not; the bound covers that rounding.
  out.push_back({"qwen2-q8_0", q, GgmlType::Q8_0, 24, 64, 0.1});
  out.push_back({"llama-q8_0", l, GgmlType::Q8_0, 24, 64, 0.1});
  return out;
}

std::string join(const std::vector<int32_t>& v) {
  std::ostringstream o;
  for (size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
  return o.str();
}

TEST(DenseReference, LogitsMatchNumpyReference) {
  std::string out;
  if (run_command("/usr/bin/python3 -c 'import numpy'", &out) != 0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy not available: " << out;
  const std::string script = std::string(FRUGAL_SOURCE_DIR) + "/tools/reference/dense_reference.py";
  for (const RefCase& rc : cases()) {
    SCOPED_TRACE(rc.name);
    const std::string dir = temp_dir(), gguf = dir + "/" + rc.name + ".gguf",
                      ref = dir + "/" + rc.name + ".npy";
    synth_dense(rc.c, gguf, rc.type);
    ModelOptions opt;
    opt.max_batch = rc.max_batch;
    DenseModel m = DenseModel::load(gguf, opt);
    const auto tokens = test_tokens(rc.n_tokens, static_cast<int32_t>(rc.c.n_vocab));
    const auto mine = dense_logits(m, tokens);
    std::string cmd =
        "/usr/bin/python3 " + script + " " + gguf + " --tokens " + join(tokens) + " --out " + ref;
    if (rc.c.llama3.on) {
      const Llama3RopeScaling& s = rc.c.llama3;
      std::ostringstream o;
      o << " --llama3 " << s.factor << "," << s.low_freq_factor << "," << s.high_freq_factor << ","
        << s.original_ctx;
      cmd += o.str();
    }
    ASSERT_EQ(run_command(cmd, &out), 0) << out;
    const NpyArray a = read_npy(ref);
    ASSERT_EQ(a.shape, (std::vector<int64_t>{static_cast<int64_t>(rc.n_tokens), rc.c.n_vocab}));
    const double d = max_abs_delta(mine, a.to_float());
    std::printf("[dense-ref] %-24s %-5s %3zu tokens: max |dlogit| = %.3g (tolerance %.3g)\n",
                rc.name.c_str(), type_name(rc.type), rc.n_tokens, d, rc.tol);
    EXPECT_LE(d, rc.tol);
    // Same greedy choice at every position (F32 only: with Q8_0 near-ties may flip).
    if (rc.type == GgmlType::F32) {
      const auto ref_logits = a.to_float();
      const int64_t V = rc.c.n_vocab;
      for (size_t t = 0; t < rc.n_tokens; ++t) {
        const auto* x = &mine[t * V];
        const auto* y = &ref_logits[t * V];
        EXPECT_EQ(std::max_element(x, x + V) - x, std::max_element(y, y + V) - y)
            << "position " << t;
      }
    }
  }
}

}  // namespace
}  // namespace frugal::test
