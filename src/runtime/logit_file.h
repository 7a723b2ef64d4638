// The file `frugal perplexity --save-logits` writes and `--kl-divergence` reads: the evaluated
// tokens and, for every scored position, the full-precision model's log-probabilities over the
// whole vocabulary, compactly (2 bytes per vocabulary entry).
//
// Layout (little-endian):
//   header, 64 bytes:
//     char[8] magic "FRGLOGP1"
//     u32 version = 1
//     u32 n_vocab
//     u32 n_ctx          tokens per chunk
//     u32 n_chunks
//     u32 first          first scored logits position in a chunk (n_ctx / 2)
//     u32 n_scored       scored positions per chunk (n_ctx - 1 - first)
//     zero padding to 64 bytes
//   i32 tokens[n_chunks][n_ctx]   the tokens evaluated (after BOS replacement)
//   n_chunks * n_scored records, chunk by chunk, position by position:
//     f32 nll       -ln p(next token), exact
//     i32 top       the most probable token
//     f32 lp_max    the largest log-probability (<= 0)
//     f32 step      quantization step (nats)
//     u16 q[n_vocab]  ln p(v) ~= lp_max - q[v] * step; values below lp_max - 65535 * step
//                     (a range of at most kLogProbRange nats) are stored as 65535
// A record is 16 + 2 n_vocab bytes. With kLogProbRange = 30 the step is at most 4.6e-4 nats, so
// the KL divergence of a model against its own saved run is below 1e-7.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace frugal {

struct LogitFileHeader {
  uint32_t n_vocab = 0;
  uint32_t n_ctx = 0;
  uint32_t n_chunks = 0;
  uint32_t first = 0;
  uint32_t n_scored = 0;
};

// One scored position.
struct SavedLogProbs {
  float nll = 0;
  int32_t top = 0;
  std::vector<float> log_probs;  // [n_vocab] decoded ln p
};

inline constexpr float kLogProbRange = 30.0f;

class LogitFileWriter {
 public:
  // Writes the header and the tokens ([n_chunks * n_ctx]). Throws frugal::Error naming the file.
  LogitFileWriter(const std::string& path, const LogitFileHeader& h,
                  std::span<const int32_t> tokens);
  ~LogitFileWriter();
  LogitFileWriter(const LogitFileWriter&) = delete;
  LogitFileWriter& operator=(const LogitFileWriter&) = delete;

  // log_probs: [n_vocab] ln p of one scored position; nll and top as in the record.
  void add(std::span<const float> log_probs, float nll, int32_t top);
  void close();  // checks the record count; throws on a write error

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  LogitFileHeader h_;
  uint64_t n_records_ = 0;
  std::vector<uint16_t> q_;
};

class LogitFileReader {
 public:
  // Reads and checks the header; throws frugal::Error naming the file and the problem.
  explicit LogitFileReader(const std::string& path);
  ~LogitFileReader();
  LogitFileReader(const LogitFileReader&) = delete;
  LogitFileReader& operator=(const LogitFileReader&) = delete;

  const LogitFileHeader& header() const { return h_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }  // [n_chunks * n_ctx]
  // The next record (chunk by chunk, position by position); throws at the end of the file.
  void next(SavedLogProbs& out);

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  LogitFileHeader h_;
  std::vector<int32_t> tokens_;
  std::vector<uint16_t> q_;
};

}  // namespace frugal
