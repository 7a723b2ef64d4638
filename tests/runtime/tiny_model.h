// The runtime tests' model: the tiny deepseek2 synth preset with the real DeepSeek-V3 tokenizer
// (vocabulary resized to it), written to a temporary GGUF and loaded with the given options.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "model/causal_lm.h"
#include "model/deepseek2_synth.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace frugal::test {

struct TinyModel {
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<CausalLm> model;
};

// Null members when ../shared/data (the tokenizer) is absent; `name` keeps files apart.
inline TinyModel make_tiny_model(const std::string& name, const ModelOptions& opt) {
  TinyModel t;
  const std::string data = shared_data_dir();
  const std::string tok_path = data + "/tokenizer/deepseek-v3/tokenizer.json";
  if (data.empty() || !std::filesystem::exists(tok_path)) return t;
  t.tok = std::make_unique<Tokenizer>(Tokenizer::from_hf(tok_path));
  Deepseek2Config c = deepseek2_preset("tiny");
  c.n_vocab = t.tok->n_tokens();
  const std::string path = temp_dir() + "/" + name + ".gguf";
  write_deepseek2_synth(c, SynthOptions{}, path);
  t.model = load_causal_lm(path, opt);
  std::filesystem::remove(path);  // the mapping stays valid; nothing left in /tmp
  return t;
}

}  // namespace frugal::test
