// Flags shared by the subcommands that load a model and sample from it (run, chat, serve).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "cli/args.h"
#include "model/causal_lm.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {

// --tokenizer --ctx --cache-type --temp --top-k --top-p --min-p --seed --repeat-penalty
const std::set<std::string>& model_value_flags();
// command_flags plus the model's boolean flags (--no-repack).
std::set<std::string> model_bool_flags(std::set<std::string> command_flags = {});
extern const char* const kModelFlagsHelp;
extern const char* const kSamplingFlagsHelp;

struct LoadedModel {
  std::unique_ptr<CausalLm> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Loads MODEL (GGUF or HF directory) and its tokenizer (--tokenizer overrides the model's own).
LoadedModel load_model_and_tokenizer(const std::string& path, const Args& args);
// A progress bar on stderr for weight packing at load, when stderr is a terminal (else nothing).
std::function<void(uint64_t, uint64_t)> pack_progress_bar();

// --cache-type f16|bf16|f32 (throws frugal::Error naming the flag on anything else).
GgmlType cache_type_from_args(const Args& args, GgmlType default_type = GgmlType::F16);
// The --cache-type spelling of a cache type ("f16", "q8", ...).
std::string cache_type_label(GgmlType t);
SamplingParams sampling_from_args(const Args& args, SamplingParams defaults = {});

// SIGINT sets a flag instead of killing the program, so Ctrl-C stops a generation.
void install_interrupt_handler();
bool take_interrupt();  // true once after each Ctrl-C

}  // namespace frugal::cli
