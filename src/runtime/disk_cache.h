// The prefix cache's disk tier (frugal serve --cache-dir): KV-cache entries of finished sequences
// saved in blocks of kBlockTokens positions, content-addressed by a hash chain over the model tag
// and the tokens of every block up to and including this one (an entry depends on all the tokens
// before it). A new sequence whose prompt starts with saved blocks loads them instead of
// computing them; the files survive restarts. Bounded in size: least recently used blocks (file
// mtime, refreshed on every hit) are deleted first. Writes go through a background thread as a
// temporary file renamed into place, so readers (this or another process) see whole files only.
// A file that does not load (truncated, corrupt, another model) is deleted with a warning on
// stderr and counted; the sequence computes that part instead.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace frugal {

class SequenceState;

struct DiskCacheOptions {
  std::string dir;                       // created when missing
  int64_t max_bytes = int64_t{4} << 30;  // files kept at most (LRU beyond)
  uint64_t model_tag = 0;                // identity of the weights (model_file_tag)
};

struct DiskCacheStats {
  int64_t hit_tokens = 0;      // positions loaded from disk
  int64_t blocks_written = 0;  // since start
  int64_t errors = 0;          // files rejected or not written
  int64_t bytes = 0;           // on disk now (as this process knows it)
};

class DiskPrefixCache {
 public:
  static constexpr int64_t kBlockTokens = 256;

  // Throws frugal::Error when the directory cannot be created.
  explicit DiskPrefixCache(DiskCacheOptions opt);
  ~DiskPrefixCache();  // writes what is queued, then stops
  DiskPrefixCache(const DiskPrefixCache&) = delete;
  DiskPrefixCache& operator=(const DiskPrefixCache&) = delete;

  // Extends `state`, whose positions [0, n_have) hold tokens[0, n_have), with the saved blocks
  // that continue it within tokens[0, limit). Returns the new number of valid positions:
  // n_have when nothing was loaded, 0 in the (never expected) case of a file whose positions
  // differ from its name, after which nothing of `state` is valid.
  int64_t load(std::span<const int32_t> tokens, int64_t n_have, int64_t limit,
               SequenceState& state);
  // Queues for writing the whole blocks of tokens[0, n) not on disk yet, n = the positions
  // `state` holds for `tokens`. Called from the engine thread: copies memory, no file I/O.
  void save(std::span<const int32_t> tokens, const SequenceState& state);
  // Waits until the queued blocks are written (tests, shutdown).
  void flush();

  DiskCacheStats stats() const;
  const std::string& dir() const { return opt_.dir; }

 private:
  struct Job {
    uint64_t key;
    std::string bytes;
  };
  std::vector<uint64_t> block_keys(std::span<const int32_t> tokens, int64_t n_blocks) const;
  std::string path_of(uint64_t key) const;
  void writer_loop();
  void write_block(const Job& job);
  void enforce_bound();
  void warn(const std::string& what);

  DiskCacheOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<Job> queue_;
  std::unordered_set<uint64_t> queued_;  // keys in queue_ or being written
  int64_t queued_bytes_ = 0;
  bool quit_ = false;
  std::atomic<int64_t> hit_tokens_{0}, blocks_written_{0}, errors_{0}, bytes_{0};
  std::thread writer_;
};

// A tag identifying a model file's weights for cache files: the architecture, the file's size
// and a hash of its first and last MiB (a directory: its files' names and sizes).
uint64_t model_file_tag(const std::string& path, const std::string& architecture);

}  // namespace frugal
