#include "model/deepseek2_loader.h"

#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "format/quant.h"

namespace frugal {
namespace {

struct Loader {
  const Deepseek2Config& c;
  const WeightSource& src;
  Deepseek2Weights& w;

  const std::string& name_of(const TensorEntry& e) const {
    return src.is_hf() ? e.hf_name : e.gguf_name;
  }

  uint8_t* own(size_t n_bytes) {
    w.owned.emplace_back(n_bytes);
    return w.owned.back().data();
  }

  SourceTensor require(const std::string& name, const std::vector<int64_t>& shape) const {
    auto t = src.find(name);
    if (!t)
      throw Error(src.source() + ": missing tensor '" + name + "' (expected shape " +
                  shape_string(shape) + ")");
    if (t->shape != shape)
      throw Error(src.source() + ": tensor '" + name + "': expected shape " + shape_string(shape) +
                  " (PyTorch order), found " + shape_string(t->shape));
    return *t;
  }

  // A 2-D view [rows, cols] of t starting at `data`; FP8 is dequantized to BF16 here.
  WeightMatrix matrix(const std::string& name, const SourceTensor& t, int64_t rows, int64_t cols) {
    if (cols % type_traits(t.type).block_elems != 0)
      throw Error(src.source() + ": tensor '" + name + "': row length " + std::to_string(cols) +
                  " is not a whole number of " + type_name(t.type) + " blocks");
    if (!t.is_fp8()) return make_weight_matrix(t.type, rows, cols, t.data);
    auto* out = reinterpret_cast<uint16_t*>(own(static_cast<size_t>(rows * cols) * 2));
    std::vector<float> buf(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_fp8_block_scaled(t.data, t.fp8_scale_inv, rows, cols, r, 1, buf.data());
      for (int64_t j = 0; j < cols; ++j) out[r * cols + j] = f32_to_bf16(buf[j]);
    }
    return make_weight_matrix(GgmlType::BF16, rows, cols, out);
  }

  const float* vector(const std::string& name, const SourceTensor& t, int64_t n) {
    if (t.type == GgmlType::F32) return reinterpret_cast<const float*>(t.data);
    WeightMatrix m = matrix(name, t, 1, n);
    auto* out = reinterpret_cast<float*>(own(static_cast<size_t>(n) * sizeof(float)));
    weight_row(m, 0, out);
    return out;
  }

  void load_experts(const TensorEntry& e) {
    const int64_t n = e.shape[0], rows = e.shape[1], cols = e.shape[2];
    e.experts->resize(static_cast<size_t>(n));
    if (!src.is_hf()) {
      const SourceTensor t = require(e.gguf_name, e.shape);
      const WeightMatrix all = matrix(e.gguf_name, t, n * rows, cols);
      for (int64_t x = 0; x < n; ++x) (*e.experts)[x] = all.slice_rows(x * rows, rows);
      return;
    }
    for (int64_t x = 0; x < n; ++x) {
      std::string name = e.hf_name;
      name.replace(name.find("{e}"), 3, std::to_string(x));
      (*e.experts)[x] = matrix(name, require(name, {rows, cols}), rows, cols);
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
        const WeightMatrix k = matrix(kn, require(kn, {H, r, dn}), H * r, dn);
        const WeightMatrix v = matrix(vn, require(vn, {H, dv, r}), H * dv, r);
        for (int64_t h = 0; h < H; ++h) {
          a.k_b[h] = k.slice_rows(h * r, r);
          a.v_b[h] = v.slice_rows(h * dv, dv);
        }
        return;
      }
    }
    const std::string& name = name_of(e);
    split_kv_b(a, matrix(name, require(name, e.shape), H * (dn + dv), r));
  }

  // wkv_b rows are per head: [d_n rows of W_UK[h]; d_v rows of W_UV[h]], each of kv_lora_rank.
  // v_b[h] views W_UV[h] in place; k_b[h] = W_UK[h]^T is built as F32 [kv_lora_rank, d_n].
  void split_kv_b(AttentionWeights& a, const WeightMatrix& kv_b) {
    const int64_t H = c.n_heads, dn = c.qk_nope_head_dim, dv = c.v_head_dim, r = c.kv_lora_rank;
    std::vector<float> row(static_cast<size_t>(r));
    for (int64_t h = 0; h < H; ++h) {
      a.v_b[h] = kv_b.slice_rows(h * (dn + dv) + dn, dv);
      auto* k =
          reinterpret_cast<float*>(own(static_cast<size_t>(r * dn) * sizeof(float)));  // [r, dn]
      for (int64_t d = 0; d < dn; ++d) {
        weight_row(kv_b, h * (dn + dv) + d, row.data());
        for (int64_t j = 0; j < r; ++j) k[j * dn + d] = row[j];
      }
      a.k_b[h] = make_weight_matrix(GgmlType::F32, r, dn, k);
    }
  }

  void load(const TensorEntry& e) {
    switch (e.role) {
      case TensorRole::Vector:
        *e.vector = vector(name_of(e), require(name_of(e), e.shape), e.shape[0]);
        break;
      case TensorRole::Matrix:
        *e.matrix = matrix(name_of(e), require(name_of(e), e.shape), e.shape[0], e.shape[1]);
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

}  // namespace

void load_deepseek2_weights(const Deepseek2Config& c, const WeightSource& src,
                            Deepseek2Weights& w) {
  Loader loader{c, src, w};
  for (const TensorEntry& e : deepseek2_tensor_table(c, w)) loader.load(e);
}

}  // namespace frugal
