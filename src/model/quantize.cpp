#include "model/quantize.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/thread_pool.h"
#include "format/gguf.h"
#include "format/quant.h"
#include "model/quantize_jobs.h"

namespace frugal {
namespace {

namespace fs = std::filesystem;

// Every tensor and metadata key of a GGUF file, in file order.
ModelJobs gguf_jobs(const std::string& path) {
  auto f = std::make_shared<GgufFile>(GgufFile::open(path));
  ModelJobs jobs;
  jobs.alignment = static_cast<uint32_t>(f->alignment());
  jobs.keep_alive = f;
  jobs.write_metadata = [f](GgufWriter& w) {
    for (const auto& [key, value] : f->metadata()) w.set(key, value);
  };
  for (const GgufTensorInfo& t : f->tensors()) {
    TensorJob& j = jobs.tensors.emplace_back();
    j.name = t.name;
    j.ne.assign(t.ne.begin(), t.ne.begin() + t.n_dims);
    j.source_type = type_name(t.type);
    j.source_bytes = t.n_bytes;
    j.raw = t.data;
    j.stored_type = t.type;
    if (type_traits(t.type).dequantizable) {
      const GgmlType type = t.type;
      const int64_t ne0 = t.ne[0];
      const size_t rb = row_bytes(type, ne0);
      const uint8_t* data = t.data;
      j.read_rows = [=](int64_t begin, int64_t n, float* out) {
        dequantize_row(type, data + static_cast<size_t>(begin) * rb, out, n * ne0);
      };
    }
  }
  return jobs;
}

// Serializes progress reports from the pool's threads.
class ProgressSink {
 public:
  ProgressSink(const QuantizeOptions& opt, uint64_t total) : opt_(opt) { p_.total_bytes = total; }
  void add(uint64_t bytes, const std::string& tensor) {
    if (!opt_.progress) return;
    std::lock_guard<std::mutex> lock(mu_);
    p_.done_bytes += bytes;
    p_.tensor = &tensor;
    opt_.progress(p_);
  }

 private:
  const QuantizeOptions& opt_;
  std::mutex mu_;
  QuantizeProgress p_;
};

// Fills dst (the tensor's bytes in `type`) from the job, in parallel over rows.
void fill_tensor(const TensorJob& job, GgmlType type, uint8_t* dst, size_t n_bytes,
                 ProgressSink& progress, int n_threads) {
  const int64_t ne0 = job.ne[0], rows = job.n_rows();
  if (job.raw != nullptr && type == job.stored_type) {
    FRUGAL_CHECK(n_bytes == job.source_bytes, "tensor '" + job.name + "': size changed in copy");
    constexpr size_t kSlice = 64u << 20;
    for (size_t off = 0; off < n_bytes; off += kSlice) {
      const size_t n = std::min(kSlice, n_bytes - off);
      std::memcpy(dst + off, job.raw + off, n);
      progress.add(n, job.name);
    }
    if (n_bytes == 0) progress.add(0, job.name);
    return;
  }
  FRUGAL_CHECK(job.read_rows != nullptr, "tensor '" + job.name + "' has no row reader");
  const size_t rb = row_bytes(type, ne0);
  const uint64_t src_row_bytes = rows > 0 ? job.source_bytes / static_cast<uint64_t>(rows) : 0;
  // Chunks of about 256 KiB of floats, handed out to the pool.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(ne0, 1));
  ThreadPool::global().parallel_for(
      rows, grain,
      [&](int64_t begin, int64_t end) {
        std::vector<float> buf(static_cast<size_t>((end - begin) * ne0));  // [end - begin, ne0]
        job.read_rows(begin, end - begin, buf.data());
        for (int64_t r = begin; r < end; ++r)
          quantize_row(type, buf.data() + (r - begin) * ne0, dst + static_cast<size_t>(r) * rb,
                       ne0);
        progress.add(src_row_bytes * static_cast<uint64_t>(end - begin), job.name);
      },
      n_threads);
}

// The type a tensor is written in; copies of types Frugal cannot requantize keep their type.
QuantizedTensor plan_tensor(const TensorJob& job, const QuantMix& mix) {
  QuantizedTensor q;
  q.name = job.name;
  q.ne = job.ne;
  q.source_type = job.source_type;
  if (!job.read_rows) {
    q.type = job.stored_type;
    q.note = std::string("copied as stored (Frugal cannot requantize ") + type_name(q.type) + ")";
  } else {
    const TypeChoice c =
        choose_tensor_type(mix, job.name, static_cast<int>(job.ne.size()), job.ne[0]);
    q.type = c.type;
    q.group = c.group;
    q.note = c.note;
  }
  q.bytes = row_bytes(q.type, job.ne[0]) * static_cast<uint64_t>(job.n_rows());
  return q;
}

}  // namespace

QuantizeReport quantize_model(const std::string& in, const std::string& out, const QuantMix& mix_in,
                              const QuantizeOptions& opt) {
  if (!fs::exists(in)) throw Error(in + ": no such file or directory");
  std::error_code ec;
  if (fs::exists(out) && fs::equivalent(in, out, ec))
    throw Error(out + ": the output must not be the input file");
  ModelJobs jobs = fs::is_directory(in) ? deepseek2_hf_jobs(in) : gguf_jobs(in);

  QuantizeReport report;
  report.notes = jobs.notes;
  const bool moe = std::any_of(jobs.tensors.begin(), jobs.tensors.end(), [](const TensorJob& j) {
    return tensor_group(j.name, static_cast<int>(j.ne.size())) == TensorGroup::RoutedExperts;
  });
  const QuantMix mix = moe ? mix_in : mix_in.for_dense_model();
  if (!moe && mix.attention != mix_in.attention)
    report.notes.push_back("no routed experts: attention and FFN weights take the mix's " +
                           std::string(type_name(mix.attention)) + " (as routed experts would)");
  GgufWriter w(jobs.alignment);
  jobs.write_metadata(w);
  w.set("general.file_type", GgufValue::u32(mix.file_type));
  for (const TensorJob& j : jobs.tensors) report.source_bytes += j.source_bytes;
  ProgressSink progress(opt, report.source_bytes);
  for (const TensorJob& job : jobs.tensors) {
    QuantizedTensor& q = report.tensors.emplace_back(plan_tensor(job, mix));
    const GgmlType type = q.type;
    w.add_tensor(job.name, type, job.ne, [&job, type, &progress, &opt](uint8_t* dst, size_t n) {
      fill_tensor(job, type, dst, n, progress, opt.n_threads);
    });
  }
  // Written beside the target and renamed at the end, so a failure leaves no half-written model.
  const std::string partial = out + ".partial";
  try {
    w.write(partial);
    fs::rename(partial, out, ec);
    if (ec) throw Error(out + ": cannot rename " + partial + " to it: " + ec.message());
  } catch (...) {
    fs::remove(partial, ec);
    throw;
  }
  report.output_bytes = fs::file_size(out);
  return report;
}

}  // namespace frugal
