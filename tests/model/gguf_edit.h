// Test helper: copy a GGUF through GgufWriter with edits (drop/replace tensors, change keys).
#pragma once

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "format/gguf.h"

namespace frugal::test {

struct GgufEdit {
  // Return false to drop the tensor (after optionally adding replacements to the writer).
  std::function<bool(const GgufTensorInfo&, GgufWriter&)> tensor;
  std::function<void(GgufWriter&)> meta;  // after the original metadata is copied
};

inline void copy_gguf(const GgufFile& in, const std::string& out_path, const GgufEdit& edit) {
  GgufWriter w(static_cast<uint32_t>(in.alignment()));
  for (const auto& [k, v] : in.metadata()) w.set(k, v);
  if (edit.meta) edit.meta(w);
  for (const GgufTensorInfo& t : in.tensors()) {
    if (edit.tensor && !edit.tensor(t, w)) continue;
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    w.add_tensor(t.name, t.type, ne, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
  }
  w.write(out_path);
}

}  // namespace frugal::test
