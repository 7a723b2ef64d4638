// The qwen2 / llama tensor table (formats-and-names.md §3.3–3.4) and its loader.
#include <string>

#include "model/dense_weights.h"

namespace frugal {
namespace {

void layer_entries(const DenseConfig& c, int64_t l, DenseLayerWeights& w,
                   std::vector<TensorSpec>& out) {
  const std::string g = "blk." + std::to_string(l) + ".",
                    h = "model.layers." + std::to_string(l) + ".";
  const std::string sa = h + "self_attn.", m = h + "mlp.";
  out.push_back(
      TensorSpec::vec(g + "attn_norm.weight", h + "input_layernorm.weight", c.dim, &w.attn_norm));
  out.push_back(
      TensorSpec::mat(g + "attn_q.weight", sa + "q_proj.weight", c.q_dim(), c.dim, &w.wq));
  if (c.qkv_bias)
    out.push_back(TensorSpec::vec(g + "attn_q.bias", sa + "q_proj.bias", c.q_dim(), &w.bq));
  out.push_back(
      TensorSpec::mat(g + "attn_k.weight", sa + "k_proj.weight", c.kv_dim(), c.dim, &w.wk));
  if (c.qkv_bias)
    out.push_back(TensorSpec::vec(g + "attn_k.bias", sa + "k_proj.bias", c.kv_dim(), &w.bk));
  out.push_back(
      TensorSpec::mat(g + "attn_v.weight", sa + "v_proj.weight", c.kv_dim(), c.dim, &w.wv));
  if (c.qkv_bias)
    out.push_back(TensorSpec::vec(g + "attn_v.bias", sa + "v_proj.bias", c.kv_dim(), &w.bv));
  out.push_back(
      TensorSpec::mat(g + "attn_output.weight", sa + "o_proj.weight", c.dim, c.q_dim(), &w.wo));
  out.push_back(TensorSpec::vec(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", c.dim,
                                &w.ffn_norm));
  out.push_back(TensorSpec::mat(g + "ffn_gate.weight", m + "gate_proj.weight", c.ffn_dim, c.dim,
                                &w.mlp.gate));
  out.push_back(
      TensorSpec::mat(g + "ffn_up.weight", m + "up_proj.weight", c.ffn_dim, c.dim, &w.mlp.up));
  out.push_back(TensorSpec::mat(g + "ffn_down.weight", m + "down_proj.weight", c.dim, c.ffn_dim,
                                &w.mlp.down));
}

}  // namespace

std::vector<TensorSpec> dense_tensor_table(const DenseConfig& c, DenseWeights& w) {
  std::vector<TensorSpec> out;
  w.layers.resize(static_cast<size_t>(c.n_layers));
  out.push_back(TensorSpec::mat("token_embd.weight", "model.embed_tokens.weight", c.n_vocab, c.dim,
                                &w.token_embd));
  for (int64_t l = 0; l < c.n_layers; ++l) layer_entries(c, l, w.layers[l], out);
  out.push_back(TensorSpec::vec("output_norm.weight", "model.norm.weight", c.dim, &w.output_norm));
  if (!c.tied_output)
    out.push_back(TensorSpec::mat("output.weight", "lm_head.weight", c.n_vocab, c.dim, &w.output));
  return out;
}

void load_dense_weights(const DenseConfig& c, const WeightSource& src, DenseWeights& w) {
  WeightViews views(src, w.owned);
  for (const TensorSpec& e : dense_tensor_table(c, w)) views.load(e);
  if (c.tied_output) w.output = w.token_embd;
}

std::vector<WeightMatrix*> streamed_matrices(DenseWeights& w) {
  std::vector<WeightMatrix*> out;
  for (DenseLayerWeights& l : w.layers)
    for (WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.mlp.gate, &l.mlp.up, &l.mlp.down})
      out.push_back(m);
  out.push_back(&w.output);
  return out;
}

}  // namespace frugal
