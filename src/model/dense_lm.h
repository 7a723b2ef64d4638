// DenseModel (qwen2, llama) behind the family-neutral CausalLm interface; its SequenceState is
// the per-layer K/V cache, paged (its own block pool, or one the caller shares among states).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/dense_model.h"

namespace frugal {

class DenseSequence final : public SequenceState {
 public:
  explicit DenseSequence(DenseKvCache cache) : cache_(std::move(cache)) {}
  int64_t n_ctx() const override { return cache_.n_ctx(); }
  int64_t n_past() const override { return cache_.n_past(); }
  void truncate(int64_t n_keep) override;
  size_t bytes_per_token() const override { return cache_.bytes_per_token(); }
  size_t bytes() const override { return cache_.bytes(); }
  std::string export_entries(int64_t begin, int64_t end, uint64_t model_tag) const override {
    return cache_.export_entries(begin, end, model_tag);
  }
  void import_entries(std::string_view bytes, uint64_t model_tag) override {
    cache_.import_entries(bytes, model_tag);
  }
  std::span<const int32_t> kv_blocks() const override;
  void adopt_kv_blocks(std::span<const int32_t> blocks, int64_t n_past) override {
    cache_.adopt_blocks(blocks, n_past);
  }
  DenseKvCache& cache() { return cache_; }

 private:
  DenseKvCache cache_;
};

class DenseLm final : public CausalLm {
 public:
  explicit DenseLm(DenseModel model) : model_(std::move(model)) {}
  std::string architecture() const override { return model_.config().architecture; }
  int64_t n_vocab() const override { return model_.config().n_vocab; }
  int64_t context_length() const override { return model_.config().context_length; }
  std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx = 0) const override;
  std::shared_ptr<KvBlockPool> new_kv_pool(int64_t n_blocks) const override {
    return model_.new_kv_pool(n_blocks);
  }
  std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx,
                                              std::shared_ptr<KvBlockPool> pool) const override;
  void forward(const Batch& batch, SequenceState& seq, std::span<float> logits) override;
  void forward_multi(std::span<const SequenceBatch> seqs, std::span<float> logits) override;
  DenseModel& model() { return model_; }

 private:
  DenseModel model_;
  std::vector<DenseSequenceBatch> step_;  // forward_multi's list in the model's terms (reused)
};

}  // namespace frugal
