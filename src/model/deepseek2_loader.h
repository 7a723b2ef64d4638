// Fills Deepseek2Weights from a WeightSource, driven by the tensor table: every tensor is found,
// shape-checked and viewed in place where possible. Conversions made at load (kept in
// Deepseek2Weights::owned): norms/bias to F32, k_b transposed to F32 when split from wkv_b,
// HF FP8 e4m3 (128x128 block scales) dequantized to BF16.
#pragma once

#include "model/deepseek2_config.h"
#include "model/deepseek2_weights.h"
#include "model/weight_source.h"

namespace frugal {

// Throws frugal::Error naming the tensor when one is missing, mis-shaped or of an unusable type.
void load_deepseek2_weights(const Deepseek2Config& c, const WeightSource& src, Deepseek2Weights& w);

// Loads only the MTP modules' tensors (w.mtp), as the full load would; returns how many were
// loaded (0 without MTP). For `frugal info`. Throws frugal::Error like load_deepseek2_weights.
int64_t load_deepseek2_mtp_weights(const Deepseek2Config& c, const WeightSource& src,
                                   Deepseek2Weights& w);

}  // namespace frugal
