#include "runtime/disk_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "core/error.h"
#include "model/cache_blob.h"
#include "model/causal_lm.h"

namespace frugal {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxQueuedBytes = int64_t{512} << 20;  // more: blocks are not saved

std::string read_file(const std::string& path, bool* found) {
  std::ifstream in(path, std::ios::binary);
  *found = static_cast<bool>(in);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint64_t hash_u64(uint64_t v, uint64_t h) {
  return fnv1a64(std::string_view(reinterpret_cast<const char*>(&v), sizeof v), h);
}

}  // namespace

DiskPrefixCache::DiskPrefixCache(DiskCacheOptions opt) : opt_(std::move(opt)) {
  std::error_code ec;
  fs::create_directories(opt_.dir, ec);
  if (ec || !fs::is_directory(opt_.dir))
    throw Error("--cache-dir " + opt_.dir + ": cannot create the directory (" + ec.message() + ")");
  int64_t total = 0;
  for (const auto& e : fs::directory_iterator(opt_.dir, ec))
    if (e.is_regular_file(ec) && e.path().extension() == ".kv") total += e.file_size(ec);
  bytes_.store(total);
  writer_ = std::thread([this] { writer_loop(); });
}

DiskPrefixCache::~DiskPrefixCache() {
  {
    std::lock_guard lk(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

std::vector<uint64_t> DiskPrefixCache::block_keys(std::span<const int32_t> tokens,
                                                  int64_t n_blocks) const {
  std::vector<uint64_t> keys;
  uint64_t h = hash_u64(opt_.model_tag, fnv1a64("frugal-kv-block-v1"));
  for (int64_t k = 0; k < n_blocks; ++k) {
    const auto* p = reinterpret_cast<const char*>(tokens.data() + k * kBlockTokens);
    h = fnv1a64(std::string_view(p, kBlockTokens * sizeof(int32_t)), h);
    keys.push_back(h);
  }
  return keys;
}

std::string DiskPrefixCache::path_of(uint64_t key) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.kv", static_cast<unsigned long long>(key));
  return (fs::path(opt_.dir) / name).string();
}

void DiskPrefixCache::warn(const std::string& what) {
  errors_.fetch_add(1);
  std::fprintf(stderr, "frugal: warning: prompt cache: %s\n", what.c_str());
}

int64_t DiskPrefixCache::load(std::span<const int32_t> tokens, int64_t n_have, int64_t limit,
                              SequenceState& state) {
  limit = std::min<int64_t>(limit, static_cast<int64_t>(tokens.size()));
  const int64_t n_blocks = limit / kBlockTokens;
  if (n_blocks * kBlockTokens <= n_have) return n_have;  // nothing longer to find
  const std::vector<uint64_t> keys = block_keys(tokens, n_blocks);
  state.truncate(n_have);
  int64_t n_valid = n_have;
  for (int64_t k = n_have / kBlockTokens; k < n_blocks; ++k) {
    const std::string path = path_of(keys[static_cast<size_t>(k)]);
    bool found = false;
    const std::string bytes = read_file(path, &found);
    if (!found) break;
    try {
      state.import_entries(bytes, opt_.model_tag);
    } catch (const Error& e) {
      warn("ignoring " + path + ": " + e.what());
      std::error_code ec;
      if (fs::remove(path, ec)) bytes_.fetch_sub(static_cast<int64_t>(bytes.size()));
      break;
    }
    if (state.n_past() != (k + 1) * kBlockTokens) {
      // A well-formed file holding other positions (renamed by hand?): what it overwrote is
      // unknown, so nothing of the state is trusted.
      warn("ignoring " + path + ": it holds other positions than its name says");
      std::error_code ec;
      fs::remove(path, ec);
      state.truncate(0);
      return 0;
    }
    std::error_code ec;
    fs::last_write_time(path, fs::file_time_type::clock::now(), ec);  // recently used
    n_valid = (k + 1) * kBlockTokens;
  }
  if (n_valid > n_have) hit_tokens_.fetch_add(n_valid - n_have);
  return n_valid;
}

void DiskPrefixCache::save(std::span<const int32_t> tokens, const SequenceState& state) {
  const int64_t n = std::min<int64_t>(static_cast<int64_t>(tokens.size()), state.n_past());
  const int64_t n_blocks = n / kBlockTokens;
  const std::vector<uint64_t> keys = block_keys(tokens, n_blocks);
  for (int64_t k = 0; k < n_blocks; ++k) {
    const uint64_t key = keys[static_cast<size_t>(k)];
    {
      std::lock_guard lk(mu_);
      if (queued_.count(key)) continue;
    }
    const std::string path = path_of(key);
    std::error_code ec;
    if (fs::exists(path, ec)) {
      fs::last_write_time(path, fs::file_time_type::clock::now(), ec);
      continue;
    }
    std::string bytes =
        state.export_entries(k * kBlockTokens, (k + 1) * kBlockTokens, opt_.model_tag);
    std::lock_guard lk(mu_);
    if (queued_bytes_ + static_cast<int64_t>(bytes.size()) > kMaxQueuedBytes) return;
    queued_bytes_ += static_cast<int64_t>(bytes.size());
    queued_.insert(key);
    queue_.push_back({key, std::move(bytes)});
  }
  cv_.notify_all();
}

void DiskPrefixCache::flush() {
  std::unique_lock lk(mu_);
  done_cv_.wait(lk, [&] { return queued_.empty(); });
}

DiskCacheStats DiskPrefixCache::stats() const {
  return {hit_tokens_.load(), blocks_written_.load(), errors_.load(), bytes_.load()};
}

void DiskPrefixCache::writer_loop() {
  std::unique_lock lk(mu_);
  while (true) {
    cv_.wait(lk, [&] { return quit_ || !queue_.empty(); });
    if (queue_.empty()) break;  // quit_ with nothing left to write
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    write_block(job);
    enforce_bound();
    lk.lock();
    queued_bytes_ -= static_cast<int64_t>(job.bytes.size());
    queued_.erase(job.key);
    done_cv_.notify_all();
  }
}

// Temporary file in the same directory, then rename: readers see the whole file or none.
void DiskPrefixCache::write_block(const Job& job) {
  static std::atomic<uint64_t> counter{0};
  const std::string path = path_of(job.key);
  const std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(job.bytes.data(), static_cast<std::streamsize>(job.bytes.size()));
    out.flush();
    if (!out) {
      warn("cannot write " + tmp);
      std::error_code ec;
      fs::remove(tmp, ec);
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    warn("cannot rename " + tmp + " to " + path + ": " + ec.message());
    fs::remove(tmp, ec);
    return;
  }
  bytes_.fetch_add(static_cast<int64_t>(job.bytes.size()));
  blocks_written_.fetch_add(1);
}

// Deletes the least recently used blocks while the directory holds more than max_bytes.
void DiskPrefixCache::enforce_bound() {
  if (bytes_.load() <= opt_.max_bytes) return;
  struct Entry {
    fs::file_time_type time;
    int64_t size;
    fs::path path;
  };
  std::vector<Entry> files;
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(opt_.dir, ec)) {
    if (!e.is_regular_file(ec) || e.path().extension() != ".kv") continue;
    const auto size = static_cast<int64_t>(e.file_size(ec));
    files.push_back({e.last_write_time(ec), size, e.path()});
    total += size;
  }
  std::sort(files.begin(), files.end(),
            [](const Entry& a, const Entry& b) { return a.time < b.time; });
  for (const Entry& f : files) {
    if (total <= opt_.max_bytes) break;
    if (fs::remove(f.path, ec)) total -= f.size;
  }
  bytes_.store(total);
}

uint64_t model_file_tag(const std::string& path, const std::string& architecture) {
  uint64_t h = fnv1a64(architecture);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::pair<std::string, uint64_t>> files;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file(ec)) files.emplace_back(e.path().filename().string(), e.file_size(ec));
    std::sort(files.begin(), files.end());
    for (const auto& [name, size] : files) h = hash_u64(size, fnv1a64(name, h));
    return h;
  }
  const uint64_t size = fs::file_size(path, ec);
  h = hash_u64(size, h);
  std::ifstream in(path, std::ios::binary);
  std::string buf(size_t{1} << 20, '\0');
  in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  h = fnv1a64(std::string_view(buf.data(), static_cast<size_t>(in.gcount())), h);
  if (size > buf.size()) {
    in.clear();
    in.seekg(static_cast<std::streamoff>(size - buf.size()));
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = fnv1a64(std::string_view(buf.data(), static_cast<size_t>(in.gcount())), h);
  }
  return h;
}

}  // namespace frugal
