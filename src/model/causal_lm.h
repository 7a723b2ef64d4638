// What every model family offers the runtime: a forward pass over the tokens of one or several
// sequences, each with a state (KV cache) whose layout the model owns. Families: deepseek2 (MLA +
// MoE); dense qwen2 / llama follow the same interface. The runtime and server see only this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "format/ggml_type.h"

namespace frugal {

enum class AttentionImpl {
  Absorbed,  // MLA: W_UK folded into the query, attention over the latent cache (engine path)
  Naive,     // MLA: k_nope and v expanded per head from the cache (reference/test path; allocates)
};

enum class LogitsMode { All, Last };

struct ModelOptions {
  int64_t max_batch = 512;      // rows per internal chunk (activations are sized for this); MoE
                                // prefill reads each expert once per chunk, so bigger pays
  int64_t max_context = 4096;   // longest cache the model attends over (clamped to context_length)
  AttentionImpl attention = AttentionImpl::Absorbed;
  // Element type of the deepseek2 latent KV cache: F32, F16 or BF16 (dense models keep F32).
  GgmlType kv_cache_type = GgmlType::F32;
  // Copy the weights the fast kernels stream best interleaved (kernels/interleave.h) into
  // huge-page memory at load; results are bit-identical to the mapped layout.
  bool repack = true;
  // Called on the loading thread while weights are packed: bytes done, bytes in all (may be
  // empty). For a progress bar.
  std::function<void(uint64_t done, uint64_t total)> on_pack_progress;
  bool mtp = false;  // keep the MTP head's state in every sequence (CausalLm::draft); the model
                     // must have MTP layers
};

// Tokens of one sequence at consecutive positions; positions[0] may be at most the state's
// n_past() (a smaller value rewinds it).
struct Batch {
  std::span<const int32_t> tokens;     // [n_tokens]
  std::span<const int32_t> positions;  // [n_tokens]
  LogitsMode logits = LogitsMode::All;
};

class SequenceState;
class KvBlockPool;

// One sequence's part of a multi-sequence forward step.
struct SequenceBatch {
  Batch batch;                     // its tokens, positions and the logits it wants
  SequenceState* state = nullptr;  // its cache, made by the same model; one entry per state
};

// One sequence's cached state inside a model (its KV cache).
class SequenceState {
 public:
  virtual ~SequenceState() = default;
  virtual int64_t n_ctx() const = 0;            // positions it can hold
  virtual int64_t n_past() const = 0;           // positions [0, n_past) are valid
  virtual void truncate(int64_t n_keep) = 0;    // forget positions >= n_keep
  virtual size_t bytes_per_token() const = 0;   // cache bytes one position takes
  virtual size_t bytes() const = 0;             // bytes allocated

  // Prompt-cache persistence. export_entries: the entries of positions [begin, end) (end at most
  // n_past) as self-describing bytes (model/cache_blob.h): a header naming the cache layout, its
  // sizes and `model_tag` (the caller's identity of the weights), a checksum, the entries.
  // import_entries: loads such bytes at their positions [begin, begin + n), where begin is at
  // most n_past (positions already held may keep their own entries); then n_past == begin + n. Throws frugal::Error naming the mismatch (another
  // layout, sizes or model tag; truncated or corrupt bytes; positions beyond n_ctx) and leaves
  // the state unchanged. Families without persistence throw from both.
  virtual std::string export_entries(int64_t begin, int64_t end, uint64_t model_tag) const;
  virtual void import_entries(std::string_view bytes, uint64_t model_tag);

  // Paged states (made with a pool, model/kv_pool.h): the pool blocks holding positions
  // [0, n_past), in order (the last may be partly filled); empty for other states.
  virtual std::span<const int32_t> kv_blocks() const { return {}; }
  // Drops what the state holds and takes `blocks` of its pool (each retained; a write into one
  // another holder shares copies it first) as its positions [0, n_past), n_past within the
  // blocks. Throws frugal::Error for states without a pool.
  virtual void adopt_kv_blocks(std::span<const int32_t> blocks, int64_t n_past);
};

class CausalLm {
 public:
  virtual ~CausalLm() = default;
  virtual std::string architecture() const = 0;  // "deepseek2", "qwen2", "llama"
  virtual int64_t n_vocab() const = 0;
  virtual int64_t context_length() const = 0;    // the model's trained maximum
  // The element type of the KV cache its states keep (F32 unless the family has the option).
  virtual GgmlType kv_cache_type() const { return GgmlType::F32; }
  // A fresh state of n_ctx positions (0 = the options' max_context).
  virtual std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx = 0) const = 0;
  // Paged KV cache: a pool of n_blocks blocks for states to share, and a state drawing its
  // blocks from it as it grows (a full pool fails the forward that needs one more). Families
  // without paging return null from new_kv_pool.
  virtual std::shared_ptr<KvBlockPool> new_kv_pool(int64_t /*n_blocks*/) const { return nullptr; }
  virtual std::unique_ptr<SequenceState> new_sequence(int64_t n_ctx,
                                                      std::shared_ptr<KvBlockPool> pool) const;
  // One sequence: logits [n_tokens, n_vocab] (All) or [n_vocab] (Last). Throws frugal::Error on
  // bad input.
  virtual void forward(const Batch& batch, SequenceState& seq, std::span<float> logits) = 0;
  // One step over several sequences. logits: each sequence's, in order, back to back:
  // [n_tokens_i, n_vocab] (All) or [n_vocab] (Last). A sequence's logits are the same as from
  // forward() on it alone. The families (deepseek2, dense) run every row of every sequence
  // through the norms, projections, MoE and output head together, in chunks of
  // ModelOptions::max_batch rows (each weight read once per chunk), and attention per sequence
  // over its own cache; they check every input before any cache changes. This default runs the
  // sequences one by one through forward(). Throws frugal::Error naming the sequence.
  virtual void forward_multi(std::span<const SequenceBatch> seqs, std::span<float> logits);

  // Self-speculative decoding with the model's own draft head (DeepSeek's MTP, loaded with
  // ModelOptions::mtp). can_draft: the sequence's draft state is current (not before anything
  // was fed, at the context end, or after a LogitsMode::All forward rewound past the last hidden
  // state it kept). draft: for a sequence holding
  // positions [0, n_past), given `next`, the token chosen for position n_past (not yet fed),
  // writes the draft head's logits [n_vocab] for position n_past + 1.
  virtual bool can_draft(const SequenceState& /*seq*/) const { return false; }
  virtual void draft(SequenceState& seq, int32_t next, std::span<float> logits);
};

// Loads a GGUF file or a Hugging Face directory, choosing the family from
// general.architecture / config.json model_type. Throws frugal::Error for unsupported ones.
std::unique_ptr<CausalLm> load_causal_lm(const std::string& path, const ModelOptions& opt = {});

}  // namespace frugal
