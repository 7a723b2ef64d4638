#include "model/deepseek2_loader.h"

#include <string>
#include <vector>

#include "format/quant.h"
#include "model/weight_views.h"

namespace frugal {
namespace {

// The generic work (presence, shape, block alignment, F32 norms, FP8 -> BF16) is WeightViews';
// the Experts and KvB roles are deepseek2's own.
struct Loader {
  const Deepseek2Config& c;
  const WeightSource& src;
  Deepseek2Weights& w;
  WeightViews views{src, w.owned};

  // A [rows, cols] view of the tensor `name`, which must have PyTorch shape `shape`.
  WeightMatrix matrix(const std::string& name, const std::vector<int64_t>& shape, int64_t rows,
                      int64_t cols) {
    return views.matrix(name, views.require(name, shape), rows, cols);
  }

  void load_experts(const TensorEntry& e) {
    const int64_t n = e.shape[0], rows = e.shape[1], cols = e.shape[2];
    e.experts->resize(static_cast<size_t>(n));
    if (!src.is_hf()) {
      const WeightMatrix all = matrix(e.gguf_name, e.shape, n * rows, cols);
      for (int64_t x = 0; x < n; ++x) (*e.experts)[x] = all.slice_rows(x * rows, rows);
      return;
    }
    for (int64_t x = 0; x < n; ++x) {
      std::string name = e.hf_name;
      name.replace(name.find("{e}"), 3, std::to_string(x));
      (*e.experts)[x] = matrix(name, {rows, cols}, rows, cols);
    }
  }

  void load_kv_b(const TensorEntry& e) {
    AttentionWeights& a = *e.attn;
    const int64_t H = c.n_heads, dn = c.qk_nope_head_dim, dv = c.v_head_dim, r = c.kv_lora_rank;
    a.k_b.resize(static_cast<size_t>(H));
    a.v_b.resize(static_cast<size_t>(H));
    if (!src.is_hf() && !src.find(e.gguf_name)) {  // newer GGUF: attn_k_b + attn_v_b
      std::string kn = e.gguf_name, vn = e.gguf_name;
      kn.replace(kn.find("attn_kv_b"), 9, "attn_k_b");
      vn.replace(vn.find("attn_kv_b"), 9, "attn_v_b");
      if (src.find(kn)) {
        const WeightMatrix k = matrix(kn, {H, r, dn}, H * r, dn);
        const WeightMatrix v = matrix(vn, {H, dv, r}, H * dv, r);
        for (int64_t h = 0; h < H; ++h) {
          a.k_b[h] = k.slice_rows(h * r, r);
          a.v_b[h] = v.slice_rows(h * dv, dv);
        }
        return;
      }
    }
    const std::string& name = src.is_hf() ? e.hf_name : e.gguf_name;
    split_kv_b(a, matrix(name, e.shape, H * (dn + dv), r));
  }

  // wkv_b rows are per head: [d_n rows of W_UK[h]; d_v rows of W_UV[h]], each of kv_lora_rank.
  // v_b[h] views W_UV[h] in place; k_b[h] = W_UK[h]^T [kv_lora_rank, d_n] is built as F32 from
  // a float wkv_b, and as Q8_0 from a quantized one (what the newer split-form GGUFs store: a
  // quarter of the bytes read per token, and the repacked integer kernels on prefill).
  void split_kv_b(AttentionWeights& a, const WeightMatrix& kv_b) {
    const int64_t H = c.n_heads, dn = c.qk_nope_head_dim, dv = c.v_head_dim, r = c.kv_lora_rank;
    const bool quantized = kv_b.type != GgmlType::F32 && kv_b.type != GgmlType::F16 &&
                           kv_b.type != GgmlType::BF16 && dn % 32 == 0;
    std::vector<float> row(static_cast<size_t>(r)), k(static_cast<size_t>(r * dn));  // k [r, dn]
    for (int64_t h = 0; h < H; ++h) {
      a.v_b[h] = kv_b.slice_rows(h * (dn + dv) + dn, dv);
      for (int64_t d = 0; d < dn; ++d) {
        weight_row(kv_b, h * (dn + dv) + d, row.data());
        for (int64_t j = 0; j < r; ++j) k[j * dn + d] = row[j];
      }
      const GgmlType type = quantized ? GgmlType::Q8_0 : GgmlType::F32;
      const size_t rb = row_bytes(type, dn);
      std::vector<uint8_t>& buf = w.owned.emplace_back(rb * static_cast<size_t>(r));
      for (int64_t j = 0; j < r; ++j) quantize_row(type, &k[j * dn], buf.data() + rb * j, dn);
      a.k_b[h] = make_weight_matrix(type, r, dn, buf.data());
    }
  }

  void load(const TensorEntry& e) {
    switch (e.role) {
      case TensorRole::Vector:
        views.load(TensorSpec::vec(e.gguf_name, e.hf_name, e.shape[0], e.vector));
        break;
      case TensorRole::Matrix:
        views.load(TensorSpec::mat(e.gguf_name, e.hf_name, e.shape[0], e.shape[1], e.matrix));
        break;
      case TensorRole::Experts:
        load_experts(e);
        break;
      case TensorRole::KvB:
        load_kv_b(e);
        break;
    }
  }
};

// The index of the first entry of the MTP modules (they come last in the table).
int64_t first_mtp_entry(const Deepseek2Config& c, const std::vector<TensorEntry>& table) {
  const std::string prefix = "blk." + std::to_string(c.n_layers) + ".";
  for (size_t i = 0; i < table.size(); ++i)
    if (table[i].gguf_name.starts_with(prefix)) return static_cast<int64_t>(i);
  return static_cast<int64_t>(table.size());
}

}  // namespace

void load_deepseek2_weights(const Deepseek2Config& c, const WeightSource& src,
                            Deepseek2Weights& w) {
  Loader loader{c, src, w};
  std::vector<TensorEntry> table = deepseek2_tensor_table(c, w);
  // HF checkpoints published without their MTP layers (config still naming them) load without
  // MTP; in GGUF, block_count counts the MTP layers, so their tensors are required like any other.
  const std::string mtp_eh_proj = "model.layers." + std::to_string(c.n_layers) + ".eh_proj.weight";
  if (c.n_mtp_layers > 0 && src.is_hf() && !src.find(mtp_eh_proj)) {
    table.resize(static_cast<size_t>(first_mtp_entry(c, table)));
    w.mtp.clear();
  }
  for (const TensorEntry& e : table) loader.load(e);
}

int64_t load_deepseek2_mtp_weights(const Deepseek2Config& c, const WeightSource& src,
                                   Deepseek2Weights& w) {
  Loader loader{c, src, w};
  const std::vector<TensorEntry> table = deepseek2_tensor_table(c, w);
  const int64_t first = first_mtp_entry(c, table);
  for (size_t i = static_cast<size_t>(first); i < table.size(); ++i) loader.load(table[i]);
  return static_cast<int64_t>(table.size()) - first;
}

}  // namespace frugal
