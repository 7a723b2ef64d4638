// A Hugging Face deepseek2 directory as GGUF tensor jobs, driven by the deepseek2 tensor table:
// HF names become GGUF names, the per-expert tensors of a layer are stacked into one
// ffn_*_exps tensor [n_experts, rows, cols], kv_b_proj is kept whole as attn_kv_b (the older GGUF
// form, which the loader splits), and FP8 e4m3 weights are dequantized with their
// weight_scale_inv. The MTP layers are converted as llama.cpp's DeepseekV32 converter writes them
// (block_count counts them; blk.{i}.nextn.*), except their copies of the embedding and output head
// (embed_tokens, shared_head.head), which Frugal never reads. Tensors the table does not name
// (those copies, rotary caches) are skipped.
#include <filesystem>
#include <set>

#include "core/error.h"
#include "format/gguf.h"
#include "format/hf_config.h"
#include "format/quant.h"
#include "format/safetensors.h"
#include "model/deepseek2_synth.h"
#include "model/deepseek2_weights.h"
#include "model/quantize_jobs.h"
#include "model/weight_source.h"
#include "model/weight_views.h"
#include "tokenizer/load.h"

namespace frugal {
namespace {

namespace fs = std::filesystem;

struct HfModel {
  SafetensorsModel st;
  HfWeightSource src;
  HfModel(SafetensorsModel m, const std::string& dir) : st(std::move(m)), src(st, dir) {}
};

// Dequantizes rows [begin, begin + n) of one HF tensor [rows, cols] into out [n, cols].
void read_hf_rows(const SourceTensor& t, int64_t rows, int64_t cols, int64_t begin, int64_t n,
                  float* out) {
  if (t.is_fp8()) {
    dequantize_fp8_block_scaled(t.data, t.fp8_scale_inv, rows, cols, begin, n, out);
    return;
  }
  const size_t rb = row_bytes(t.type, cols);
  dequantize_row(t.type, t.data + static_cast<size_t>(begin) * rb, out, n * cols);
}

class JobBuilder {
 public:
  JobBuilder(const HfModel& m, const std::string& dir, ModelJobs& jobs)
      : m_(m), dir_(dir), jobs_(jobs) {}

  void add(const TensorEntry& e) {
    if (e.role == TensorRole::Experts) return add_experts(e);
    const SourceTensor t = require(e.hf_name, e.shape);
    const int64_t cols = e.shape.back(), rows = e.shape.size() == 2 ? e.shape[0] : 1;
    TensorJob& j = new_job(e.gguf_name, e.shape, t);
    j.source_bytes = m_.st.get(e.hf_name).n_bytes;
    if (!t.is_fp8()) {
      j.raw = t.data;
      j.stored_type = t.type;
    }
    j.read_rows = [t, rows, cols](int64_t begin, int64_t n, float* out) {
      read_hf_rows(t, rows, cols, begin, n, out);
    };
  }

  // HF tensors the table did not use (their FP8 scales aside).
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const StTensor* t : m_.st.tensors()) {
      const std::string& n = t->name;
      const std::string scale = "_scale_inv";
      const bool is_scale = n.size() > scale.size() &&
                            n.compare(n.size() - scale.size(), scale.size(), scale) == 0 &&
                            used_.count(n.substr(0, n.size() - scale.size()));
      if (!used_.count(n) && !is_scale) out.push_back(n);
    }
    return out;
  }

 private:
  SourceTensor require(const std::string& name, const std::vector<int64_t>& shape) {
    auto t = m_.src.find(name);
    if (!t)
      throw Error(dir_ + ": missing tensor '" + name + "' (expected shape " + shape_text(shape) +
                  ")");
    if (t->shape != shape)
      throw Error(dir_ + ": tensor '" + name + "': expected shape " + shape_text(shape) +
                  " (PyTorch order), found " + shape_text(t->shape));
    used_.insert(name);
    return *t;
  }

  TensorJob& new_job(const std::string& gguf_name, const std::vector<int64_t>& shape,
                     const SourceTensor& first) {
    TensorJob& j = jobs_.tensors.emplace_back();
    j.name = gguf_name;
    j.ne.assign(shape.rbegin(), shape.rend());
    j.source_type = first.is_fp8() ? "F8_E4M3" : type_name(first.type);
    return j;
  }

  void add_experts(const TensorEntry& e) {
    const int64_t n = e.shape[0], rows = e.shape[1], cols = e.shape[2];
    std::vector<SourceTensor> experts;  // [n]
    uint64_t bytes = 0;
    for (int64_t x = 0; x < n; ++x) {
      std::string name = e.hf_name;
      name.replace(name.find("{e}"), 3, std::to_string(x));
      experts.push_back(require(name, {rows, cols}));
      bytes += m_.st.get(name).n_bytes;
    }
    TensorJob& j = new_job(e.gguf_name, e.shape, experts[0]);
    j.source_bytes = bytes;
    j.read_rows = [experts = std::move(experts), rows, cols](int64_t begin, int64_t count,
                                                             float* out) {
      for (int64_t r = begin; r < begin + count; ++r)
        read_hf_rows(experts[static_cast<size_t>(r / rows)], rows, cols, r % rows, 1,
                     out + (r - begin) * cols);
    };
  }

  const HfModel& m_;
  const std::string& dir_;
  ModelJobs& jobs_;
  std::set<std::string> used_;
};

std::string dir_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

}  // namespace

ModelJobs deepseek2_hf_jobs(const std::string& dir) {
  const HfConfig h = HfConfig::load(dir);
  const std::string model_type = h.get_string_or("model_type", "");
  if (model_type != "deepseek_v2" && model_type != "deepseek_v3")
    throw Error(dir + ": config.json model_type is '" + model_type +
                "'; converting a Hugging Face directory supports the deepseek2 family only "
                "(expected deepseek_v2 or deepseek_v3)");
  Deepseek2Config c = Deepseek2Config::from_hf(h);
  c.validate();
  auto model = std::make_shared<HfModel>(SafetensorsModel::open(dir), dir);
  ModelJobs jobs;
  const std::string mtp_eh_proj = "model.layers." + std::to_string(c.n_layers) + ".eh_proj.weight";
  if (c.n_mtp_layers > 0 && !model->src.find(mtp_eh_proj)) {
    jobs.notes.push_back("config.json names " + std::to_string(c.n_mtp_layers) +
                         " MTP layer(s) but '" + mtp_eh_proj +
                         "' is absent: written without MTP layers");
    c.n_mtp_layers = 0;
  }
  jobs.keep_alive = model;
  JobBuilder b(*model, dir, jobs);
  Deepseek2Weights unused_weights;
  for (const TensorEntry& e : deepseek2_tensor_table(c, unused_weights)) b.add(e);

  const std::vector<std::string> skipped = b.unused();
  if (!skipped.empty())
    jobs.notes.push_back("skipped " + std::to_string(skipped.size()) +
                         " tensors the deepseek2 GGUF layout has no place for (e.g. '" +
                         skipped.front() + "')");
  std::shared_ptr<VocabData> vocab;
  if (fs::exists(fs::path(dir) / "tokenizer.json")) {
    vocab = std::make_shared<VocabData>(load_hf_vocab(dir));
  } else {
    jobs.notes.push_back("no tokenizer.json in " + dir +
                         ": the GGUF carries no tokenizer (pass --tokenizer when running it)");
  }
  const std::string name = dir_name(dir);
  jobs.write_metadata = [c, vocab, name](GgufWriter& w) {
    write_deepseek2_metadata(c, /*split_kv_b=*/false, w);
    w.set("general.name", GgufValue::str(name));
    if (vocab)
      write_gguf_vocab(*vocab, w);
    else
      w.set("tokenizer.ggml.model", GgufValue::str("none"));
  };
  return jobs;
}

}  // namespace frugal
