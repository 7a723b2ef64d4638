// Loading shared by the model families: opening a GGUF file or a Hugging Face directory
// (config.json + safetensors), reading the family's config from it and filling its weight views,
// and the checks on ModelOptions and cache sizes made at load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "format/hf_config.h"
#include "format/safetensors.h"
#include "model/causal_lm.h"
#include "model/weight_pack.h"
#include "model/weight_source.h"

namespace frugal {

// The mapped files a model's weight views point into; kept alive as long as the model.
struct ModelFiles {
  std::shared_ptr<const GgufFile> gguf;        // keeps the mapping alive (GGUF)
  std::shared_ptr<const SafetensorsModel> hf;  // keeps the mappings alive (HF)
  std::shared_ptr<const PackedWeights> packed;  // interleaved copies (ModelOptions::repack)

  // With opt.repack, moves the views in `targets` that the kernels interleave into `packed`.
  void pack(const std::vector<WeightMatrix*>& targets, const ModelOptions& opt);
};

// Opens `path` (a directory with config.json + safetensors, or a GGUF file), reads `config`
// (Config::from_hf / Config::from_gguf) and fills `weights` with load_weights. Throws
// frugal::Error.
template <class Config, class Weights>
ModelFiles open_model_files(const std::string& path, Config& config, Weights& weights,
                            void (*load_weights)(const Config&, const WeightSource&, Weights&)) {
  ModelFiles f;
  if (std::filesystem::is_directory(path)) {
    config = Config::from_hf(HfConfig::load(path));
    f.hf = std::make_shared<const SafetensorsModel>(SafetensorsModel::open(path));
    load_weights(config, HfWeightSource(*f.hf, path), weights);
  } else {
    f.gguf = std::make_shared<const GgufFile>(GgufFile::open(path));
    config = Config::from_gguf(*f.gguf);
    load_weights(config, GgufWeightSource(*f.gguf), weights);
  }
  return f;
}

// opt with max_context capped at the model's context_length. Throws frugal::Error when
// max_batch or max_context is not > 0.
ModelOptions checked_options(const ModelOptions& opt, int64_t context_length);

// The positions of a new cache: n_ctx, or max_context when n_ctx <= 0. Throws frugal::Error when
// n_ctx exceeds max_context.
int64_t cache_positions(int64_t n_ctx, int64_t max_context);

}  // namespace frugal
