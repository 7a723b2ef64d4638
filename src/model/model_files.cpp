#include "model/model_files.h"

#include <algorithm>

#include "core/error.h"

namespace frugal {

void ModelFiles::pack(const std::vector<WeightMatrix*>& targets, const ModelOptions& opt) {
  if (!opt.repack) return;
  packed = PackedWeights::pack(targets, gguf ? gguf->mapped_bytes() : std::span<const uint8_t>(),
                               opt.on_pack_progress);
}

ModelOptions checked_options(const ModelOptions& opt, int64_t context_length) {
  if (opt.max_batch <= 0)
    throw Error("max_batch must be > 0, found " + std::to_string(opt.max_batch));
  if (opt.max_context <= 0)
    throw Error("max_context must be > 0, found " + std::to_string(opt.max_context));
  ModelOptions out = opt;
  out.max_context = std::min(opt.max_context, context_length);
  return out;
}

int64_t cache_positions(int64_t n_ctx, int64_t max_context) {
  if (n_ctx <= 0) return max_context;
  if (n_ctx > max_context)
    throw Error("cache of " + std::to_string(n_ctx) +
                " positions exceeds the model's max context " + std::to_string(max_context));
  return n_ctx;
}

}  // namespace frugal
