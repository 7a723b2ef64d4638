#include "runtime/logit_file.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace frugal {
namespace {

static_assert(std::endian::native == std::endian::little, "logit files are little-endian");

constexpr char kMagic[8] = {'F', 'R', 'G', 'L', 'O', 'G', 'P', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;

struct RecordHead {
  float nll;
  int32_t top;
  float lp_max;
  float step;
};
static_assert(sizeof(RecordHead) == 16);

}  // namespace

LogitFileWriter::LogitFileWriter(const std::string& path, const LogitFileHeader& h,
                                 std::span<const int32_t> tokens)
    : path_(path), h_(h), q_(h.n_vocab) {
  FRUGAL_CHECK(tokens.size() == static_cast<size_t>(h.n_chunks) * h.n_ctx,
               "logit file: token count does not match the header");
  f_ = std::fopen(path.c_str(), "wb");
  if (f_ == nullptr) throw Error(path + ": cannot create: " + std::strerror(errno));
  uint8_t head[kHeaderBytes] = {};
  std::memcpy(head, kMagic, 8);
  const uint32_t fields[6] = {kVersion, h.n_vocab, h.n_ctx, h.n_chunks, h.first, h.n_scored};
  std::memcpy(head + 8, fields, sizeof fields);
  if (std::fwrite(head, 1, kHeaderBytes, f_) != kHeaderBytes ||
      std::fwrite(tokens.data(), sizeof(int32_t), tokens.size(), f_) != tokens.size())
    throw Error(path + ": write failed: " + std::strerror(errno));
}

LogitFileWriter::~LogitFileWriter() {
  if (f_) std::fclose(f_);
}

void LogitFileWriter::add(std::span<const float> log_probs, float nll, int32_t top) {
  FRUGAL_CHECK(log_probs.size() == h_.n_vocab, "logit file: row of the wrong vocabulary size");
  const float lp_max = *std::max_element(log_probs.begin(), log_probs.end());
  const float lp_min = *std::min_element(log_probs.begin(), log_probs.end());
  const float range = std::min(lp_max - lp_min, kLogProbRange);
  const float step = range > 0 ? range / 65535.0f : 1.0f;
  for (size_t v = 0; v < q_.size(); ++v) {
    const float q = std::round((lp_max - log_probs[v]) / step);
    q_[v] = static_cast<uint16_t>(std::clamp(q, 0.0f, 65535.0f));
  }
  const RecordHead rh{nll, top, lp_max, step};
  if (std::fwrite(&rh, sizeof rh, 1, f_) != 1 ||
      std::fwrite(q_.data(), sizeof(uint16_t), q_.size(), f_) != q_.size())
    throw Error(path_ + ": write failed: " + std::strerror(errno));
  ++n_records_;
}

void LogitFileWriter::close() {
  FRUGAL_CHECK(n_records_ == static_cast<uint64_t>(h_.n_chunks) * h_.n_scored,
               "logit file: " + std::to_string(n_records_) + " records written, header promises " +
                   std::to_string(static_cast<uint64_t>(h_.n_chunks) * h_.n_scored));
  const int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0) throw Error(path_ + ": close failed: " + std::strerror(errno));
}

LogitFileReader::LogitFileReader(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "rb");
  if (f_ == nullptr) throw Error(path + ": cannot open: " + std::strerror(errno));
  uint8_t head[kHeaderBytes];
  if (std::fread(head, 1, kHeaderBytes, f_) != kHeaderBytes || std::memcmp(head, kMagic, 8) != 0)
    throw Error(path +
                ": not a logit file written by 'frugal perplexity --save-logits' "
                "(expected magic FRGLOGP1)");
  uint32_t fields[6];
  std::memcpy(fields, head + 8, sizeof fields);
  if (fields[0] != kVersion)
    throw Error(path + ": logit file version " + std::to_string(fields[0]) + ", expected " +
                std::to_string(kVersion));
  h_ = {fields[1], fields[2], fields[3], fields[4], fields[5]};
  if (h_.n_vocab == 0 || h_.n_ctx < 3 || h_.n_chunks == 0 || h_.first + h_.n_scored + 1 != h_.n_ctx)
    throw Error(path + ": inconsistent header (n_vocab " + std::to_string(h_.n_vocab) + ", n_ctx " +
                std::to_string(h_.n_ctx) + ", chunks " + std::to_string(h_.n_chunks) + ", first " +
                std::to_string(h_.first) + ", scored " + std::to_string(h_.n_scored) + ")");
  tokens_.resize(static_cast<size_t>(h_.n_chunks) * h_.n_ctx);
  if (std::fread(tokens_.data(), sizeof(int32_t), tokens_.size(), f_) != tokens_.size())
    throw Error(path + ": truncated (tokens)");
  q_.resize(h_.n_vocab);
}

LogitFileReader::~LogitFileReader() {
  if (f_) std::fclose(f_);
}

void LogitFileReader::next(SavedLogProbs& out) {
  RecordHead rh;
  if (std::fread(&rh, sizeof rh, 1, f_) != 1 ||
      std::fread(q_.data(), sizeof(uint16_t), q_.size(), f_) != q_.size())
    throw Error(path_ + ": truncated (fewer records than the header promises)");
  out.nll = rh.nll;
  out.top = rh.top;
  out.log_probs.resize(q_.size());
  for (size_t v = 0; v < q_.size(); ++v) out.log_probs[v] = rh.lp_max - q_[v] * rh.step;
}

}  // namespace frugal
