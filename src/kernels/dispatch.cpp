// Chooses the kernel family once from the CPU's features.
#include <cstdlib>
#include <string_view>

#include "core/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/kernels.h"

namespace frugal::kern {
namespace {

// No fast kernels at all: matmul() takes the dequantizing reference for every type (the
// baseline for before/after figures).
constexpr KernelTable kNoneTable = {
    "none",  nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, silu_mul_reference,
    nullptr, nullptr};

// BF16 weights x bf16-rounded activations (vdpbf16ps) only with FRUGAL_BF16_DOT=on: rounding the
// activations moves logits by ~2e-3 on the oracle models, past the 1e-4 that DeepSeek's float32
// reference allows, and on the Xeon VM it measured within ~10% of the widening FMA kernel (both
// bound by their loads from L2; vdpbf16ps itself latency-bound at ~0.5 an instruction a cycle).
bool use_bf16_dot() {
  const char* env = std::getenv("FRUGAL_BF16_DOT");
  return env != nullptr && std::string_view(env) == "on";
}

// Family k as it runs: without its bf16 dot products (BF16 weights widen to float) unless asked.
KernelTable with_bf16_dot_choice(KernelTable k) {
  if (!use_bf16_dot()) {
    k.round_act_bf16 = nullptr;
    k.bf16_dot = nullptr;
  }
  return k;
}

const KernelTable& choose() {
  const CpuFeatures& f = cpu_features();
  const char* forced = std::getenv("FRUGAL_KERNELS");
  const std::string_view want = forced ? forced : "";
  if (want == "none") return kNoneTable;
  if (want == "ref") return ref_kernel_table();
  if (f.has_avx512_set() && want != "avx2") return avx512_kernel_table();
  if (f.has_avx2_set()) return avx2_kernel_table();
  return ref_kernel_table();
}

}  // namespace

size_t act_row_bytes(ActFormat f, int64_t n) {
  switch (f) {
    case ActFormat::F32:
      return (static_cast<size_t>(n) * 4 + 63) / 64 * 64;
    case ActFormat::Q8_0:
      return act_q8_0_layout(n).bytes();
    case ActFormat::Q8_K:
      return static_cast<size_t>(n / 256) * sizeof(ActQ8K);
    case ActFormat::BF16:
      return static_cast<size_t>((n + 31) / 32) * 64;
  }
  return 0;
}

TypeKernel find_kernel(const KernelTable& k, GgmlType t, int interleave) {
  if (interleave != 1) {
    const R16Layout* l = find_r16_layout(t);
    if (l == nullptr || interleave != kR16Rows) return {};
    return {l->act, k.*(l->gemm)};
  }
  switch (t) {
    case GgmlType::F32:
      return {ActFormat::F32, k.f32};
    case GgmlType::F16:
      return {ActFormat::F32, k.f16};
    case GgmlType::BF16:
      if (k.bf16_dot != nullptr) return {ActFormat::BF16, k.bf16_dot};
      return {ActFormat::F32, k.bf16};
    case GgmlType::Q8_0:
      return {ActFormat::Q8_0, k.q8_0};
    case GgmlType::Q4_0:
      return {ActFormat::Q8_0, k.q4_0};
    case GgmlType::Q5_0:
      return {ActFormat::Q8_0, k.q5_0};
    case GgmlType::Q4_1:
      return {ActFormat::Q8_0, k.q4_1};
    case GgmlType::Q5_1:
      return {ActFormat::Q8_0, k.q5_1};
    case GgmlType::Q4_K:
      return {ActFormat::Q8_K, k.q4_k};
    case GgmlType::Q5_K:
      return {ActFormat::Q8_K, k.q5_k};
    case GgmlType::Q6_K:
      return {ActFormat::Q8_K, k.q6_k};
    default:
      return {};
  }
}

QuantizeActFn find_quantizer(const KernelTable& k, ActFormat f) {
  switch (f) {
    case ActFormat::Q8_0:
      return k.quantize_q8_0;
    case ActFormat::Q8_K:
      return k.quantize_q8_k;
    case ActFormat::BF16:
      return k.round_act_bf16;
    case ActFormat::F32:
      return nullptr;
  }
  return nullptr;
}

const KernelTable& active_kernel_table() {
  static const KernelTable t = with_bf16_dot_choice(choose());
  return t;
}

}  // namespace frugal::kern

namespace frugal {

void silu_mul(float* gate, const float* up, int64_t n) {
  kern::active_kernel_table().silu_mul(gate, up, n);
}

}  // namespace frugal
