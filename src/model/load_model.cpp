// load_causal_lm: picks the model family from the file's own declaration, never from sizes.
#include <filesystem>

#include "core/error.h"
#include "format/gguf.h"
#include "format/hf_config.h"
#include "model/causal_lm.h"
#include "model/deepseek2_lm.h"
#include "model/dense_lm.h"

namespace frugal {
namespace {

// GGUF general.architecture, or config.json model_type mapped to the GGUF family name.
std::string architecture_of(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    const std::string type = HfConfig::load(path).get_string_or("model_type", "");
    if (type == "deepseek_v2" || type == "deepseek_v3") return "deepseek2";
    return type.empty() ? "(no model_type in config.json)" : type;
  }
  return GgufFile::open(path).get_or<std::string>("general.architecture", "(none)");
}

}  // namespace

void CausalLm::draft(SequenceState&, int32_t, std::span<float>) {
  throw Error(architecture() + ": this model has no draft head loaded (MTP needs a model with "
              "MTP layers, loaded with ModelOptions::mtp)");
}

std::string SequenceState::export_entries(int64_t, int64_t, uint64_t) const {
  throw Error("this model's cache cannot be exported");
}

void SequenceState::import_entries(std::string_view, uint64_t) {
  throw Error("this model's cache cannot be imported");
}

void SequenceState::adopt_kv_blocks(std::span<const int32_t>, int64_t) {
  throw Error("this sequence's cache is not paged (made without a KV block pool)");
}

std::unique_ptr<SequenceState> CausalLm::new_sequence(int64_t,
                                                      std::shared_ptr<KvBlockPool>) const {
  throw Error(architecture() + ": this model has no paged KV cache");
}

std::unique_ptr<CausalLm> load_causal_lm(const std::string& path, const ModelOptions& opt) {
  const std::string arch = architecture_of(path);
  if (arch == "deepseek2") return std::make_unique<Deepseek2Lm>(Deepseek2Model::load(path, opt));
  if (arch == "qwen2" || arch == "llama") return std::make_unique<DenseLm>(DenseModel::load(path, opt));
  throw Error(path + ": unsupported architecture '" + arch + "' (supported: deepseek2, qwen2, llama)");
}

}  // namespace frugal
