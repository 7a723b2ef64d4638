// The deepseek2 tensor table: GGUF name, HF name, PyTorch shape and destination of every tensor.
#include <string>

#include "model/deepseek2_weights.h"

namespace frugal {
namespace {

TensorEntry entry(std::string gguf, std::string hf, std::vector<int64_t> shape, TensorRole role) {
  TensorEntry e;
  e.gguf_name = std::move(gguf);
  e.hf_name = std::move(hf);
  e.shape = std::move(shape);
  e.role = role;
  return e;
}

struct TableBuilder {
  std::vector<TensorEntry>& out;

  void vec(std::string g, std::string h, int64_t n, const float** dst) {
    TensorEntry& e = out.emplace_back(entry(std::move(g), std::move(h), {n}, TensorRole::Vector));
    e.keep_f32 = true;
    e.vector = dst;
  }
  void mat(std::string g, std::string h, int64_t rows, int64_t cols, WeightMatrix* dst,
           bool keep_f32 = false) {
    TensorEntry& e =
        out.emplace_back(entry(std::move(g), std::move(h), {rows, cols}, TensorRole::Matrix));
    e.keep_f32 = keep_f32;
    e.matrix = dst;
  }
  void experts(std::string g, std::string h, int64_t n, int64_t rows, int64_t cols,
               std::vector<WeightMatrix>* dst) {
    out.emplace_back(entry(std::move(g), std::move(h), {n, rows, cols}, TensorRole::Experts))
        .experts = dst;
  }
  void kv_b(std::string g, std::string h, int64_t rows, int64_t cols, AttentionWeights* dst) {
    out.emplace_back(entry(std::move(g), std::move(h), {rows, cols}, TensorRole::KvB)).attn = dst;
  }
};

void attention_entries(const Deepseek2Config& c, int64_t l, AttentionWeights& a, TableBuilder& b) {
  const std::string g = "blk." + std::to_string(l) + ".",
                    h = "model.layers." + std::to_string(l) + ".";
  const std::string sa = h + "self_attn.";
  const int64_t q_rows = c.n_heads * c.qk_head_dim();
  b.vec(g + "attn_norm.weight", h + "input_layernorm.weight", c.dim, &a.attn_norm);
  if (c.has_q_lora()) {
    b.mat(g + "attn_q_a.weight", sa + "q_a_proj.weight", c.q_lora_rank, c.dim, &a.wq_a);
    b.vec(g + "attn_q_a_norm.weight", sa + "q_a_layernorm.weight", c.q_lora_rank, &a.q_norm);
    b.mat(g + "attn_q_b.weight", sa + "q_b_proj.weight", q_rows, c.q_lora_rank, &a.wq_b);
  } else {
    b.mat(g + "attn_q.weight", sa + "q_proj.weight", q_rows, c.dim, &a.wq);
  }
  b.mat(g + "attn_kv_a_mqa.weight", sa + "kv_a_proj_with_mqa.weight", c.kv_values_per_token(),
        c.dim, &a.wkv_a);
  b.vec(g + "attn_kv_a_norm.weight", sa + "kv_a_layernorm.weight", c.kv_lora_rank, &a.kv_norm);
  b.kv_b(g + "attn_kv_b.weight", sa + "kv_b_proj.weight",
         c.n_heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank, &a);
  b.mat(g + "attn_output.weight", sa + "o_proj.weight", c.dim, c.n_heads * c.v_head_dim, &a.wo);
}

void ffn_entries(const Deepseek2Config& c, int64_t l, LayerWeights& w, TableBuilder& b) {
  const std::string g = "blk." + std::to_string(l) + ".",
                    h = "model.layers." + std::to_string(l) + ".";
  const std::string m = h + "mlp.";
  b.vec(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", c.dim, &w.ffn_norm);
  if (!c.is_moe_layer(l)) {
    b.mat(g + "ffn_gate.weight", m + "gate_proj.weight", c.dense_ffn_dim, c.dim, &w.mlp.gate);
    b.mat(g + "ffn_up.weight", m + "up_proj.weight", c.dense_ffn_dim, c.dim, &w.mlp.up);
    b.mat(g + "ffn_down.weight", m + "down_proj.weight", c.dim, c.dense_ffn_dim, &w.mlp.down);
    return;
  }
  MoeWeights& e = w.moe;
  const int64_t n = c.n_routed_experts, ff = c.moe_ffn_dim;
  b.mat(g + "ffn_gate_inp.weight", m + "gate.weight", n, c.dim, &e.router, /*keep_f32=*/true);
  if (c.topk_method == TopkMethod::NoauxTc)
    b.vec(g + "exp_probs_b.bias", m + "gate.e_score_correction_bias", n, &e.score_bias);
  b.experts(g + "ffn_gate_exps.weight", m + "experts.{e}.gate_proj.weight", n, ff, c.dim, &e.gate);
  b.experts(g + "ffn_up_exps.weight", m + "experts.{e}.up_proj.weight", n, ff, c.dim, &e.up);
  b.experts(g + "ffn_down_exps.weight", m + "experts.{e}.down_proj.weight", n, c.dim, ff, &e.down);
  if (c.n_shared_experts == 0) return;
  const int64_t sff = c.n_shared_experts * ff;
  b.mat(g + "ffn_gate_shexp.weight", m + "shared_experts.gate_proj.weight", sff, c.dim,
        &e.shared.gate);
  b.mat(g + "ffn_up_shexp.weight", m + "shared_experts.up_proj.weight", sff, c.dim, &e.shared.up);
  b.mat(g + "ffn_down_shexp.weight", m + "shared_experts.down_proj.weight", c.dim, sff,
        &e.shared.down);
}

// MTP module k: a whole block at layer l = n_layers + k, then its nextn.* tensors (GGUF names
// from llama.cpp's LLM_TENSOR_NEXTN_*, HF names from DeepSeek-V3's model.layers.61.*).
void mtp_entries(const Deepseek2Config& c, int64_t l, MtpWeights& m, TableBuilder& b) {
  attention_entries(c, l, m.block.attn, b);
  ffn_entries(c, l, m.block, b);
  const std::string g = "blk." + std::to_string(l) + ".nextn.",
                    h = "model.layers." + std::to_string(l) + ".";
  b.mat(g + "eh_proj.weight", h + "eh_proj.weight", c.dim, 2 * c.dim, &m.eh_proj);
  b.vec(g + "enorm.weight", h + "enorm.weight", c.dim, &m.enorm);
  b.vec(g + "hnorm.weight", h + "hnorm.weight", c.dim, &m.hnorm);
  b.vec(g + "shared_head_norm.weight", h + "shared_head.norm.weight", c.dim, &m.shared_head_norm);
}

}  // namespace

std::vector<TensorEntry> deepseek2_tensor_table(const Deepseek2Config& c, Deepseek2Weights& w) {
  std::vector<TensorEntry> out;
  TableBuilder b{out};
  w.layers.resize(static_cast<size_t>(c.n_layers));
  b.mat("token_embd.weight", "model.embed_tokens.weight", c.n_vocab, c.dim, &w.token_embd);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    attention_entries(c, l, w.layers[l].attn, b);
    ffn_entries(c, l, w.layers[l], b);
  }
  b.vec("output_norm.weight", "model.norm.weight", c.dim, &w.output_norm);
  b.mat("output.weight", "lm_head.weight", c.n_vocab, c.dim, &w.output);
  w.mtp.resize(static_cast<size_t>(c.n_mtp_layers));
  for (int64_t k = 0; k < c.n_mtp_layers; ++k) mtp_entries(c, c.n_layers + k, w.mtp[k], b);
  return out;
}

namespace {
void add_layer_matrices(LayerWeights& l, std::vector<WeightMatrix*>& out) {
  for (WeightMatrix* m : {&l.attn.wq, &l.attn.wq_a, &l.attn.wq_b, &l.attn.wkv_a, &l.attn.wo,
                          &l.mlp.gate, &l.mlp.up, &l.mlp.down, &l.moe.shared.gate,
                          &l.moe.shared.up, &l.moe.shared.down})
    out.push_back(m);
  for (auto* experts : {&l.moe.gate, &l.moe.up, &l.moe.down})
    for (WeightMatrix& m : *experts) out.push_back(&m);
  for (auto* heads : {&l.attn.k_b, &l.attn.v_b})  // per-head W_UK / W_UV (Q8_0 ones pack)
    for (WeightMatrix& m : *heads) out.push_back(&m);
}
}  // namespace

std::vector<WeightMatrix*> streamed_matrices(Deepseek2Weights& w) {
  std::vector<WeightMatrix*> out;
  for (LayerWeights& l : w.layers) add_layer_matrices(l, out);
  for (MtpWeights& m : w.mtp) {
    out.push_back(&m.eh_proj);
    add_layer_matrices(m.block, out);
  }
  out.push_back(&w.output);
  return out;
}

}  // namespace frugal
