// Run-time CPU feature detection (x86-64), read once. Kernels are chosen from these flags at
// start-up (kernels/dispatch.cpp); nothing in the project is compiled for the build machine.
#pragma once

#include <string>

namespace frugal {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;

  // Everything the AVX2 kernels use.
  bool has_avx2_set() const { return avx2 && fma && f16c; }
  // Everything the AVX-512 kernels use (Zen 4, Sapphire Rapids and later).
  bool has_avx512_set() const {
    return has_avx2_set() && avx512f && avx512bw && avx512vl && avx512dq && avx512vnni && avx512bf16;
  }
  // "avx2 fma f16c avx512f ..." for logs and `frugal bench`.
  std::string to_string() const;
};

// Detected once (thread-safe), then cached.
const CpuFeatures& cpu_features();

}  // namespace frugal
