// Deepseek2Model behind the family-neutral CausalLm interface; its SequenceState is the latent
// KV cache, plus, with ModelOptions::mtp, the MTP head's state (deepseek2_draft.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/deepseek2.h"
#include "model/deepseek2_mtp.h"

namespace frugal {

// The MTP head's state for one sequence. Invariant after each forward: the MTP cache holds the
// entries of positions < n_past - 1 (entry i from h_i and the token at i + 1), and `hidden` holds
// h of the last forward chunk's positions, n_past - 1 among them.
struct MtpSequenceState {
  LatentKvCache cache;                // the MTP layer's latent cache
  std::vector<int32_t> tokens;        // [n_ctx] the token fed at each position
  std::vector<float> hidden;          // [max_batch, dim] h of positions [hidden_first, + n_hidden)
  std::vector<float> entries;         // [max_batch, dim] scratch: h rows of the entries to run
  std::vector<int32_t> entry_pos;     // [max_batch] scratch: their positions
  std::vector<int32_t> chunk_tokens;  // [max_batch] scratch: one chunk of the main forward
  std::vector<int32_t> chunk_pos;     // [max_batch] scratch: its positions
  int64_t hidden_first = 0, n_hidden = 0;
  bool current = true;  // false once an entry could not be computed (see can_draft)

  bool has_hidden(int64_t pos) const {
    return pos >= hidden_first && pos < hidden_first + n_hidden;
  }
};

class Deepseek2Sequence final : public SequenceState {
 public:
  explicit Deepseek2Sequence(LatentKvCache cache, std::unique_ptr<MtpSequenceState> mtp = nullptr)
      : cache_(std::move(cache)), mtp_(std::move(mtp)) {}
  int64_t n_ctx() const override { return cache_.n_ctx(); }
  int64_t n_past() const override { return cache_.n_past(); }
  void truncate(int64_t n_keep) override;
  size_t bytes_per_token() const override;
  size_t bytes() const override;
  std::string export_entries(int64_t begin, int64_t end, uint64_t model_tag) const override {
    return cache_.export_entries(begin, end, model_tag);
  }
  void import_entries(std::string_view bytes, uint64_t model_tag) override {
    cache_.import_entries(bytes, model_tag);
  }
  std::span<const int32_t> kv_blocks() const override;
  void adopt_kv_blocks(std::span<const int32_t> blocks, int64_t n_past) override;
  LatentKvCache& cache() { return cache_; }
  MtpSequenceState* mtp() { return mtp_.get(); }
  const MtpSequenceState* mtp() const { return mtp_.get(); }

 private:
  LatentKvCache cache_;
  std::unique_ptr<MtpSequenceState> mtp_;  // null without ModelOptions::mtp
};

class Deepseek2Lm final : public CausalLm {
 public:
  // Throws frugal::Error when the options ask for MTP and the model has no MTP layers.
  explicit Deepseek2Lm(Deepseek2Model model);
  Deepseek2Lm(const Deepseek2Lm&) = delete;  // mtp_ points at model_
  Deepseek2Lm& operator=(const Deepseek2Lm&) = delete;

  std::string architecture() const override { return "deepseek2"; }
  int64_t n_vocab() const override { return model_.config().n_vocab; }
  int64_t context_length() const override { return model_.config().context_length; }
  GgmlType kv_cache_type() const override { return model_.options().kv_cache_type; }
  std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx = 0) const override;
  std::shared_ptr<KvBlockPool> new_kv_pool(int64_t n_blocks) const override {
    return model_.new_kv_pool(n_blocks);
  }
  std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx,
                                              std::shared_ptr<KvBlockPool> pool) const override;
  void forward(const Batch& batch, SequenceState& seq, std::span<float> logits) override;
  void forward_multi(std::span<const SequenceBatch> seqs, std::span<float> logits) override;
  bool can_draft(const SequenceState& seq) const override;
  void draft(SequenceState& seq, int32_t next, std::span<float> logits) override;
  Deepseek2Model& model() { return model_; }

 private:
  std::unique_ptr<SequenceState> sequence_with(LatentKvCache cache) const;
  void forward_with_mtp(const Batch& batch, Deepseek2Sequence& seq, std::span<float> logits);
  void mtp_after_chunk(const Batch& chunk, MtpSequenceState& st);

  Deepseek2Model model_;
  std::vector<LatentSequenceBatch> step_;  // forward_multi's list in the model's terms (reused)
  std::unique_ptr<Deepseek2Mtp> mtp_;  // with ModelOptions::mtp
  std::vector<float> scratch_logits_;  // [n_vocab] logits of prompt chunks nobody reads
};

}  // namespace frugal
