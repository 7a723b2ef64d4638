// Properties of the forward pass that need no reference numbers: incremental decode equals one
// full forward, chunked prefill equals one batch, naive MLA equals absorbed MLA, the split
// attn_k_b/attn_v_b GGUF form equals the attn_kv_b form, and logits of the last position only.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "gguf_edit.h"
#include "oracle_util.h"
#include "test_util.h"

namespace frugal::test {
namespace {

const char* kModels[] = {"pub-v2lite", "pub-v3"};

std::string f32_gguf(const std::string& model) {
  return oracle_dir(model) + "/model-f32.gguf";
}

std::vector<int32_t> prompt_b(const std::string& model) {
  return load_tokens(oracle_dir(model) + "/B/tokens.npy");
}

TEST(Deepseek2Forward, IncrementalDecodeEqualsFullForward) {
  for (const char* name : kModels) {
    FRUGAL_REQUIRE_ORACLE(name);
    Deepseek2Model m = Deepseek2Model::load(f32_gguf(name));
    const auto tokens = prompt_b(name);
    const auto full = run_logits(m, tokens);
    const int64_t V = m.config().n_vocab;
    // Prefill 5 tokens, then one token at a time.
    LatentKvCache cache = m.new_cache();
    std::vector<float> step(tokens.size() * V);
    const auto pos = iota_positions(tokens.size());
    m.forward({std::span(tokens).first(5), std::span(pos).first(5)}, cache,
              std::span(step).first(5 * V));
    for (size_t t = 5; t < tokens.size(); ++t)
      m.forward({std::span(tokens).subspan(t, 1), std::span(pos).subspan(t, 1)}, cache,
                std::span(step).subspan(t * V, V));
    EXPECT_LE(max_abs_diff(full, step), 2e-5) << name;
    EXPECT_EQ(cache.n_past(), static_cast<int64_t>(tokens.size()));
  }
}

// F16/BF16 latent caches round each cached value once (relative 2^-11 / 2^-8), so logits move a
// little; the same rounding happens whether rows are written in one batch or one at a time.
TEST(Deepseek2Forward, HalfPrecisionCachesStayCloseToF32) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  const auto tokens = prompt_b("pub-v3");
  Deepseek2Model exact = Deepseek2Model::load(f32_gguf("pub-v3"));
  const auto want = run_logits(exact, tokens);
  const struct {
    GgmlType type;
    double tol;
  } kCases[] = {{GgmlType::F16, 4e-5}, {GgmlType::BF16, 4e-4}};
  for (const auto& c : kCases) {
    ModelOptions opt;
    opt.kv_cache_type = c.type;
    Deepseek2Model m = Deepseek2Model::load(f32_gguf("pub-v3"), opt);
    const auto full = run_logits(m, tokens);
    const double d = max_abs_diff(full, want);
    EXPECT_LE(d, c.tol) << type_name(c.type);
    EXPECT_GT(d, 0.0) << type_name(c.type) << ": the cache type had no effect";
    LatentKvCache cache = m.new_cache();
    EXPECT_EQ(cache.type(), c.type);
    EXPECT_EQ(cache.bytes_per_token(), static_cast<size_t>(m.config().n_layers *
                                                           m.config().kv_values_per_token() * 2));
    const int64_t V = m.config().n_vocab;
    std::vector<float> step(tokens.size() * V);
    const auto pos = iota_positions(tokens.size());
    for (size_t t = 0; t < tokens.size(); ++t)
      m.forward({std::span(tokens).subspan(t, 1), std::span(pos).subspan(t, 1)}, cache,
                std::span(step).subspan(t * V, V));
    EXPECT_LE(max_abs_diff(full, step), 2e-5) << type_name(c.type);
  }
  ModelOptions bad;
  bad.kv_cache_type = GgmlType::Q4_K;
  Deepseek2Model m = Deepseek2Model::load(f32_gguf("pub-v3"), bad);
  EXPECT_THROW(m.new_cache(), Error);
}

TEST(Deepseek2Forward, ChunkedPrefillEqualsOneBatch) {
  FRUGAL_REQUIRE_ORACLE("pub-v3");
  ModelOptions small;
  small.max_batch = 7;  // 64 tokens -> 10 chunks
  Deepseek2Model m = Deepseek2Model::load(f32_gguf("pub-v3"));
  Deepseek2Model c = Deepseek2Model::load(f32_gguf("pub-v3"), small);
  const auto tokens = prompt_b("pub-v3");
  EXPECT_LE(max_abs_diff(run_logits(m, tokens), run_logits(c, tokens)), 2e-5);
}

TEST(Deepseek2Forward, LastLogitsModeMatchesLastRow) {
  FRUGAL_REQUIRE_ORACLE("pub-v2lite");
  ModelOptions small;
  small.max_batch = 16;
  Deepseek2Model m = Deepseek2Model::load(f32_gguf("pub-v2lite"), small);
  const auto tokens = prompt_b("pub-v2lite");
  const auto full = run_logits(m, tokens);
  const int64_t V = m.config().n_vocab;
  LatentKvCache cache = m.new_cache();
  std::vector<float> last(V);
  const auto pos = iota_positions(tokens.size());
  m.forward({tokens, pos, LogitsMode::Last}, cache, last);
  EXPECT_LE(max_abs_diff(std::vector<float>(full.end() - V, full.end()), last), 1e-6);
}

TEST(Deepseek2Forward, NaiveMlaEqualsAbsorbed) {
  for (const char* name : kModels) {
    FRUGAL_REQUIRE_ORACLE(name);
    Deepseek2Model m = Deepseek2Model::load(f32_gguf(name));
    const auto tokens = prompt_b(name);
    const auto absorbed = run_logits(m, tokens);
    m.set_attention(AttentionImpl::Naive);
    const auto naive = run_logits(m, tokens);
    const double d = max_abs_diff(absorbed, naive);
    std::printf("[mla] %s naive vs absorbed: max |dlogit| = %.3g\n", name, d);
    EXPECT_LE(d, 2e-5) << name;
    // And the naive path agrees with DeepSeek's reference on its own.
    EXPECT_LE(max_abs_diff(naive, read_npy(oracle_dir(name) + "/B/logits.npy").to_float()), 1e-4);
  }
}

// Rewrites attn_kv_b [H*(d_n+d_v), r] as attn_k_b [H, r, d_n] + attn_v_b [H, d_v, r] (F32) with
// the newer GGUF keys, as llama.cpp's converter does since 2025.
void write_split_kv_b(const std::string& in_path, const std::string& out_path) {
  const GgufFile in = GgufFile::open(in_path);
  const Deepseek2Config c = Deepseek2Config::from_gguf(in);
  const int64_t H = c.n_heads, dn = c.qk_nope_head_dim, dv = c.v_head_dim, r = c.kv_lora_rank;
  GgufEdit edit;
  edit.meta = [&](GgufWriter& w) {
    w.set("deepseek2.attention.key_length",
          GgufValue::u32(static_cast<uint32_t>(r + c.qk_rope_head_dim)));
    w.set("deepseek2.attention.value_length", GgufValue::u32(static_cast<uint32_t>(r)));
    w.set("deepseek2.attention.key_length_mla",
          GgufValue::u32(static_cast<uint32_t>(dn + c.qk_rope_head_dim)));
    w.set("deepseek2.attention.value_length_mla", GgufValue::u32(static_cast<uint32_t>(dv)));
    w.set("deepseek2.attention.head_count_kv", GgufValue::u32(1));
  };
  edit.tensor = [&](const GgufTensorInfo& t, GgufWriter& w) {
    const std::string suffix = "attn_kv_b.weight";
    if (t.name.size() < suffix.size() ||
        t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      return true;
    EXPECT_EQ(t.type, GgmlType::F32);
    const auto* kv_b = reinterpret_cast<const float*>(t.data);  // [H*(dn+dv), r]
    std::vector<float> k(H * r * dn), v(H * dv * r);
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t d = 0; d < dn; ++d)
        for (int64_t j = 0; j < r; ++j) k[(h * r + j) * dn + d] = kv_b[(h * (dn + dv) + d) * r + j];
      for (int64_t d = 0; d < dv; ++d)
        for (int64_t j = 0; j < r; ++j)
          v[(h * dv + d) * r + j] = kv_b[(h * (dn + dv) + dn + d) * r + j];
    }
    const std::string base = t.name.substr(0, t.name.size() - suffix.size());
    auto bytes = [](const std::vector<float>& f) {
      const auto* p = reinterpret_cast<const uint8_t*>(f.data());
      return std::vector<uint8_t>(p, p + f.size() * sizeof(float));
    };
    w.add_tensor(base + "attn_k_b.weight", GgmlType::F32, {dn, r, H}, bytes(k));
    w.add_tensor(base + "attn_v_b.weight", GgmlType::F32, {r, dv, H}, bytes(v));
    return false;
  };
  copy_gguf(in, out_path, edit);
}

TEST(Deepseek2Forward, SplitKbVbGgufEqualsKvbForm) {
  for (const char* name : kModels) {
    FRUGAL_REQUIRE_ORACLE(name);
    const std::string split = temp_dir() + "/" + name + "-split.gguf";
    write_split_kv_b(f32_gguf(name), split);
    {
      const GgufFile f = GgufFile::open(split);
      ASSERT_EQ(f.find_tensor("blk.0.attn_kv_b.weight"), nullptr);
      ASSERT_NE(f.find_tensor("blk.0.attn_k_b.weight"), nullptr);
    }
    Deepseek2Model a = Deepseek2Model::load(f32_gguf(name));
    Deepseek2Model b = Deepseek2Model::load(split);
    EXPECT_EQ(b.config().qk_nope_head_dim, a.config().qk_nope_head_dim);
    EXPECT_EQ(b.config().v_head_dim, a.config().v_head_dim);
    const auto tokens = prompt_b(name);
    EXPECT_LE(max_abs_diff(run_logits(a, tokens), run_logits(b, tokens)), 1e-5) << name;
  }
}

}  // namespace
}  // namespace frugal::test
