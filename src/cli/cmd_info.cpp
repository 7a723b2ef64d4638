// frugal info FILE|DIR: what a model file holds — architecture, hyper-parameters, parameter count,
// bytes by tensor type, tokenizer summary and (--tensors) the tensor table.
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "format/gguf.h"
#include "format/hf_config.h"
#include "format/safetensors.h"
#include "model/deepseek2_config.h"
#include "model/deepseek2_loader.h"
#include "model/weight_source.h"

namespace frugal::cli {
namespace {

constexpr const char* kHelp =
    "usage: frugal info MODEL [--tensors]\n\n"
    "Describes a GGUF file or a Hugging Face model directory (config.json + safetensors):\n"
    "architecture, hyper-parameters, parameter count, bytes by tensor type and the tokenizer.\n\n"
    "  --tensors   also list every tensor with its type, shape and size\n";

std::string human_count(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.2f K", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

std::string human_bytes(double n) {
  char buf[32];
  if (n >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", n / (1024.0 * 1024 * 1024));
  else if (n >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.2f MiB", n / (1024.0 * 1024));
  else if (n >= 1024.0) std::snprintf(buf, sizeof buf, "%.2f KiB", n / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.0f B", n);
  return buf;
}

struct TypeTally {
  int n_tensors = 0;
  int64_t n_params = 0;
  uint64_t n_bytes = 0;
};

void print_tally(const std::map<std::string, TypeTally>& by_type, int64_t total_params, uint64_t total_bytes) {
  std::printf("parameters:      %s (%lld)\n", human_count(static_cast<double>(total_params)).c_str(),
              static_cast<long long>(total_params));
  std::printf("tensor data:     %s (%.2f bits per parameter)\n", human_bytes(static_cast<double>(total_bytes)).c_str(),
              total_params ? 8.0 * total_bytes / total_params : 0.0);
  std::printf("by type:\n");
  for (const auto& [name, t] : by_type)
    std::printf("  %-8s %5d tensors  %12s params  %12s\n", name.c_str(), t.n_tensors,
                human_count(static_cast<double>(t.n_params)).c_str(), human_bytes(static_cast<double>(t.n_bytes)).c_str());
}

void print_gguf_tokenizer(const GgufFile& f) {
  if (!f.has("tokenizer.ggml.model")) {
    std::printf("tokenizer:       none\n");
    return;
  }
  std::printf("tokenizer:       model=%s", f.get<std::string>("tokenizer.ggml.model").c_str());
  if (auto pre = f.get_optional<std::string>("tokenizer.ggml.pre")) std::printf(" pre=%s", pre->c_str());
  if (const GgufValue* v = f.find("tokenizer.ggml.tokens"))
    if (auto* a = std::get_if<GgufArray>(&v->data)) std::printf(" tokens=%zu", a->items.size());
  if (const GgufValue* v = f.find("tokenizer.ggml.merges"))
    if (auto* a = std::get_if<GgufArray>(&v->data)) std::printf(" merges=%zu", a->items.size());
  if (auto b = f.get_optional<int64_t>("tokenizer.ggml.bos_token_id")) std::printf(" bos=%lld", static_cast<long long>(*b));
  if (auto e = f.get_optional<int64_t>("tokenizer.ggml.eos_token_id")) std::printf(" eos=%lld", static_cast<long long>(*e));
  std::printf(" chat_template=%s\n", f.has("tokenizer.chat_template") ? "yes" : "no");
}

// deepseek2: the layer split and whether the MTP (next-N) layers load, through the model's own
// loader (only their tensors are loaded; the embedding and output head are shared).
void print_deepseek2_layers(const GgufFile& f) {
  Deepseek2Config c;
  try {
    c = Deepseek2Config::from_gguf(f);
  } catch (const Error& e) {
    std::printf("layers:          unreadable: %s\n", e.what());
    return;
  }
  std::printf("layers:          %lld main + %lld MTP\n", static_cast<long long>(c.n_layers),
              static_cast<long long>(c.n_mtp_layers));
  if (c.n_mtp_layers == 0) return;
  Deepseek2Weights w;
  try {
    const int64_t n = load_deepseek2_mtp_weights(c, GgufWeightSource(f), w);
    std::printf("MTP:             loaded: blk.%lld (%lld tensors: attention + %s + nextn.eh_proj, "
                "enorm, hnorm, shared_head_norm; embedding and output head shared)\n",
                static_cast<long long>(c.n_layers), static_cast<long long>(n),
                c.is_moe_layer(c.n_layers) ? "MoE" : "dense FFN");
  } catch (const Error& e) {
    std::printf("MTP:             not loadable: %s\n", e.what());
  }
}

void info_gguf(const std::string& path, bool list_tensors) {
  GgufFile f = GgufFile::open(path);
  const std::string arch = f.get_or<std::string>("general.architecture", "(none)");
  std::printf("file:            %s (GGUF v%u, %s)\n", path.c_str(), f.version(), human_bytes(static_cast<double>(f.file_size())).c_str());
  std::printf("architecture:    %s\n", arch.c_str());
  if (auto name = f.get_optional<std::string>("general.name")) std::printf("name:            %s\n", name->c_str());
  std::printf("hyper-parameters:\n");
  for (const auto& [key, value] : f.metadata())
    if (key.rfind(arch + ".", 0) == 0) std::printf("  %-48s %s\n", key.c_str(), value.to_display_string().c_str());
  if (arch == "deepseek2") print_deepseek2_layers(f);
  std::map<std::string, TypeTally> by_type;
  int64_t total_params = 0;
  uint64_t total_bytes = 0;
  for (const auto& t : f.tensors()) {
    auto& tally = by_type[type_name(t.type)];
    ++tally.n_tensors;
    tally.n_params += t.n_elements;
    tally.n_bytes += t.n_bytes;
    total_params += t.n_elements;
    total_bytes += t.n_bytes;
  }
  std::printf("tensors:         %zu\n", f.tensors().size());
  print_tally(by_type, total_params, total_bytes);
  print_gguf_tokenizer(f);
  if (!list_tensors) return;
  std::printf("\n%-40s %-8s %-28s %12s\n", "name", "type", "shape (ne, innermost first)", "bytes");
  for (const auto& t : f.tensors())
    std::printf("%-40s %-8s %-28s %12llu\n", t.name.c_str(), type_name(t.type), t.shape_string().c_str(),
                static_cast<unsigned long long>(t.n_bytes));
}

void print_hf_tokenizer(const std::filesystem::path& dir) {
  const auto tok = dir / "tokenizer.json";
  if (!std::filesystem::exists(tok)) {
    std::printf("tokenizer:       none (no tokenizer.json)\n");
    return;
  }
  nlohmann::json j = nlohmann::json::parse(read_text_file(tok.string()), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(tok.string() + ": not valid JSON");
  const auto& model = j.value("model", nlohmann::json::object());
  std::printf("tokenizer:       model=%s vocab=%zu merges=%zu added=%zu\n",
              model.value("type", std::string("?")).c_str(),
              model.contains("vocab") ? model["vocab"].size() : size_t{0},
              model.contains("merges") ? model["merges"].size() : size_t{0},
              j.contains("added_tokens") ? j["added_tokens"].size() : size_t{0});
}

void info_hf(const std::string& dir, bool list_tensors) {
  HfConfig cfg = HfConfig::load(dir);
  SafetensorsModel st = SafetensorsModel::open(dir);
  std::printf("directory:       %s (Hugging Face)\n", dir.c_str());
  std::printf("architecture:    %s\n", cfg.get_string_or("model_type", "(unknown)").c_str());
  std::printf("hyper-parameters (config.json):\n");
  for (const auto& [key, value] : cfg.top_level_fields())
    if (key != "architectures" && key != "auto_map") std::printf("  %-32s %s\n", key.c_str(), value.c_str());
  std::map<std::string, TypeTally> by_type;
  int64_t total_params = 0;
  uint64_t total_bytes = 0;
  for (const StTensor* t : st.tensors()) {
    auto& tally = by_type[st_dtype_name(t->dtype)];
    ++tally.n_tensors;
    tally.n_bytes += t->n_bytes;
    total_bytes += t->n_bytes;
    // FP8 block scales are storage overhead, not parameters.
    const bool is_scale = t->name.size() > 10 && t->name.ends_with("_scale_inv");
    if (!is_scale) {
      tally.n_params += t->n_elements();
      total_params += t->n_elements();
    }
  }
  std::printf("tensors:         %zu\n", st.tensors().size());
  print_tally(by_type, total_params, total_bytes);
  print_hf_tokenizer(dir);
  if (!list_tensors) return;
  std::printf("\n%-64s %-8s %-24s %12s\n", "name", "dtype", "shape", "bytes");
  for (const StTensor* t : st.tensors())
    std::printf("%-64s %-8s %-24s %12llu\n", t->name.c_str(), st_dtype_name(t->dtype), t->shape_string().c_str(),
                static_cast<unsigned long long>(t->n_bytes));
}

}  // namespace

int cmd_info(int argc, char** argv) {
  Args args(argc, argv, {}, {"--tensors"});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  const std::string& path = args.require_positional(0, "MODEL (a .gguf file or a Hugging Face directory)");
  if (std::filesystem::is_directory(path)) info_hf(path, args.has("--tensors"));
  else if (path.ends_with(".safetensors")) throw Error(path + ": give the model directory (with config.json), not a single .safetensors file");
  else info_gguf(path, args.has("--tensors"));
  return 0;
}

}  // namespace frugal::cli
