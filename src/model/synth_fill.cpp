#include "model/synth_fill.h"

#include <cmath>
#include <cstring>

#include "format/gguf.h"
#include "format/quant.h"

namespace frugal {
namespace {

// splitmix64, seeded per (seed, tensor, row).
struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() {
    return static_cast<float>((next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
  }  // [-1, 1)
};

uint64_t fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

}  // namespace

SynthFill projection_fill(int64_t fan_in) {
  return {0.0f, std::sqrt(3.0f / static_cast<float>(fan_in))};
}

void add_synth_tensor(GgufWriter& w, const std::string& name, GgmlType type,
                      const std::vector<int64_t>& shape, SynthFill f, uint64_t seed) {
  const int64_t cols = shape.back();
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  if (cols % type_traits(type).block_elems != 0) type = GgmlType::F32;
  const uint64_t key = fnv1a(name, seed);
  auto fill = [=](uint8_t* dst, size_t) {
    std::vector<float> row(static_cast<size_t>(cols));
    const size_t rb = row_bytes(type, cols);
    for (int64_t r = 0; r < rows; ++r) {
      SplitMix rng{key + static_cast<uint64_t>(r) * 0x2545F4914F6CDD1Dull};
      for (auto& v : row) v = f.center + f.half_width * rng.uniform();
      if (type == GgmlType::F32)
        std::memcpy(dst + r * rb, row.data(), rb);
      else
        quantize_row(type, row.data(), dst + r * rb, cols);
    }
  };
  w.add_tensor(name, type, std::vector<int64_t>(shape.rbegin(), shape.rend()), fill);
}

}  // namespace frugal
