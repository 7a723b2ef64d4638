// AVX2 (with FMA and F16C) GEMM kernels: placeholder table until the AVX2 ports land; null
// entries fall back to the reference in matmul().
#include "kernels/gemm.h"

namespace frugal::kern {
namespace {
constexpr KernelTable kAvx2Table = {"avx2", nullptr, nullptr, nullptr, nullptr, nullptr,
                                    nullptr, nullptr, nullptr, nullptr};
}  // namespace

const KernelTable& avx2_kernel_table() { return kAvx2Table; }

}  // namespace frugal::kern
