// bench.cc - `faio bench`: keeps --iodepth reads in flight against one file for
// --runtime seconds, reaping with faio_ctx_wait (min 1) and resubmitting the
// reaped requests as one batch, and prints fio-like figures.
#include "bench.h"

#include "subcommand.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <faio/faio.hpp>
#include <memory>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "common.h"
#include "job_file.h"
#include "latency.h"
#include "options.h"

namespace faio::tool {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMaxTransfer = 0x7ffff000;            // the largest single Linux transfer
constexpr uint64_t kMaxBufferBytes = uint64_t{4} << 30;  // iodepth * bs at most
constexpr uint32_t kMaxIodepth = 65536;

// Every backend name SPEC.md knows, so that a known-but-absent one gets a better
// message than "unknown".
constexpr std::array<std::string_view, 6> kKnownBackends = {"io_uring", "linux_aio", "posix_aio",
                                                            "kqueue",   "threads",   "iocp"};

enum class Pattern { kRandom, kSequential };

struct Job {
  std::string filename;
  uint64_t size = 0;
  bool size_given = false;
  uint64_t bs = 0;
  uint32_t iodepth = 0;
  double runtime = 0;
  std::string backend;  // "auto" or a name
  bool direct = false;
  std::string rw;
  Pattern pattern = Pattern::kRandom;
  bool json = false;
};

struct Outcome {
  uint64_t ios = 0;     // successful reads
  uint64_t bytes = 0;   // bytes they transferred
  uint64_t errors = 0;  // failed or short reads
  std::string first_error;
  std::string fatal;   // a context-level failure that ended the job early
  double seconds = 0;  // from the first submit to the last completion
  bool interrupted = false;
  LatencyHistogram lat;
};

Job Validate(const BenchArgs& a) {
  Job job;
  job.filename = a.filename;
  job.size_given = a.size_given;

  auto size = ParseSize(a.size);
  if (!size) {
    throw UsageError(fmt::format("--size '{}': not a size (use e.g. 256M, 1G, 4096)", a.size));
  }
  job.size = *size;
  auto bs = ParseSize(a.bs);
  if (!bs)
    throw UsageError(fmt::format("--bs '{}': not a block size (use e.g. 4k, 64k, 1M)", a.bs));
  if (*bs > kMaxTransfer) {
    throw UsageError(fmt::format("--bs {}: larger than the largest single transfer ({} bytes)",
                                 a.bs, kMaxTransfer));
  }
  job.bs = *bs;
  auto depth = ParseUnsigned(a.iodepth, 1, kMaxIodepth);
  if (!depth) {
    throw UsageError(
        fmt::format("--iodepth '{}': not a whole number from 1 to {}", a.iodepth, kMaxIodepth));
  }
  job.iodepth = static_cast<uint32_t>(*depth);
  if (job.bs * job.iodepth > kMaxBufferBytes) {
    throw UsageError(fmt::format("--bs {} with --iodepth {}: needs {} of buffers, more than {}",
                                 a.bs, a.iodepth, FormatBytes(job.bs * job.iodepth),
                                 FormatBytes(kMaxBufferBytes)));
  }
  auto runtime = ParseDuration(a.runtime);
  if (!runtime) {
    throw UsageError(fmt::format(
        "--runtime '{}': not a positive duration (use e.g. 5, 10s, 500ms, 2m)", a.runtime));
  }
  job.runtime = *runtime;
  if (a.backend.empty())
    throw UsageError("--backend: empty name (use auto, io_uring, threads, ...)");
  job.backend = a.backend;
  if (a.direct == "0" || a.direct == "false") {
    job.direct = false;
  } else if (a.direct == "1" || a.direct == "true") {
    job.direct = true;
  } else {
    throw UsageError(fmt::format("--direct '{}': must be 0 or 1", a.direct));
  }
  job.rw = a.rw;
  if (a.rw == "randread") {
    job.pattern = Pattern::kRandom;
  } else if (a.rw == "read") {
    job.pattern = Pattern::kSequential;
  } else if (a.rw == "write" || a.rw == "randwrite" || a.rw == "rw" || a.rw == "readwrite" ||
             a.rw == "randrw" || a.rw == "trim" || a.rw == "randtrim" || a.rw == "trimwrite") {
    throw UsageError(
        fmt::format("--rw {}: not supported yet; this version runs read and randread", a.rw));
  } else {
    throw UsageError(fmt::format("--rw '{}': unknown pattern (use randread or read)", a.rw));
  }
  if (a.output_format == "normal") {
    job.json = false;
  } else if (a.output_format == "json") {
    job.json = true;
  } else {
    throw UsageError(fmt::format("--output-format '{}': use normal or json", a.output_format));
  }
  if (job.filename.empty() && job.bs > job.size) {
    throw UsageError(fmt::format("--bs {} is larger than --size {}", a.bs, a.size));
  }
  return job;
}

// CreateContext opens the job's context, turning the library's status into a
// message that names the option (or FAIO_BACKEND) at fault.
faio::Context CreateContext(const Job& job) {
  std::vector<faio_backend_info> backends = Backends();
  bool is_auto = job.backend == "auto";
  const char* env = std::getenv("FAIO_BACKEND");
  std::string wanted = is_auto && env != nullptr && *env != '\0' ? env : job.backend;
  std::string who =
      is_auto ? fmt::format("FAIO_BACKEND={}", wanted) : fmt::format("--backend {}", wanted);
  if (wanted != "auto") {
    auto it = std::find_if(backends.begin(), backends.end(), [&](const faio_backend_info& b) {
      return b.name != nullptr && wanted == b.name;
    });
    if (it == backends.end()) {
      bool known =
          std::find(kKnownBackends.begin(), kKnownBackends.end(), wanted) != kKnownBackends.end();
      throw UsageError(fmt::format("{}: {} (compiled in: {}; or auto)", who,
                                   known ? "not compiled into this faio" : "unknown backend",
                                   BackendNames(backends)));
    }
    if (!it->available) {
      throw ToolError(
          kExitFailure,
          fmt::format("{}: unavailable here: {}", who,
                      it->reason[0] != '\0' ? it->reason : StatusText(it->status, it->host_error)));
    }
  }
  faio::Options opts;
  opts.capacity = job.iodepth;
  opts.backend = is_auto ? nullptr : job.backend.c_str();
  auto ctx = faio::Context::Create(opts);
  if (!ctx.ok()) {
    int st = static_cast<int>(ctx.status());
    if (st == FAIO_E_INSUFFICIENT_RESOURCES) {
      throw ToolError(kExitFailure,
                      fmt::format("--iodepth {}: the host refused a context of that capacity: {}",
                                  job.iodepth, StatusText(st)));
    }
    throw ToolError(kExitFailure,
                    fmt::format("{}: cannot create a context: {}", who, StatusText(st)));
  }
  faio::Context c = std::move(ctx).value();
  if (c.Capacity() < job.iodepth) {
    throw ToolError(kExitFailure, fmt::format("--iodepth {}: the context holds only {}",
                                              job.iodepth, c.Capacity()));
  }
  return c;
}

// Rng is xorshift64*: fast, and plenty for picking blocks.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed | 1) {}
  uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1DULL;
  }
  // Below returns a number in [0, n) (Lemire's multiply-shift).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  uint64_t s_;
};

Outcome RunJob(faio::Context& ctx, const JobFile& file, const Job& job, size_t alignment) {
  Outcome out;
  const uint32_t depth = job.iodepth;
  AlignedBuffer mem = AllocAligned(alignment, depth * job.bs);
  if (!mem) throw ToolError(kExitFailure, "out of memory for the I/O buffers");
  std::memset(mem.get(), 0, depth * job.bs);

  std::vector<faio::Request> reqs;
  std::vector<Clock::time_point> submitted(depth);
  for (uint32_t i = 0; i < depth; ++i) {
    auto r = faio::Request::Create();
    if (!r.ok()) {
      throw ToolError(kExitFailure, "faio_req_create: " + StatusText(static_cast<int>(r.status())));
    }
    reqs.push_back(std::move(r).value());
  }

  const uint64_t nblocks = file.size() / job.bs;
  Rng rng((uint64_t{std::random_device{}()} << 32) ^ std::random_device{}());
  uint64_t seq_next = 0;
  auto prepare = [&](uint32_t slot) {
    uint64_t block;
    if (job.pattern == Pattern::kRandom) {
      block = rng.Below(nblocks);
    } else {
      block = seq_next;
      seq_next = seq_next + 1 == nblocks ? 0 : seq_next + 1;
    }
    faio::Status s = reqs[slot].PrepareRead(file.fd(), static_cast<int64_t>(block * job.bs),
                                            std::span<std::byte>(mem.get() + slot * job.bs, job.bs),
                                            reinterpret_cast<void*>(static_cast<uintptr_t>(slot)));
    if (s != faio::Status::kOk && out.fatal.empty()) {
      out.fatal = "faio_req_prepare_read: " + StatusText(static_cast<int>(s));
    }
    return s == faio::Status::kOk;
  };

  std::vector<faio_req*> pending;  // prepared, not yet submitted
  std::vector<faio_req*> reaped(depth);
  for (uint32_t i = 0; i < depth; ++i) {
    if (prepare(i)) pending.push_back(reqs[i].native());
  }
  size_t inflight = 0;
  bool stopping = !out.fatal.empty();
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(job.runtime));
  Clock::time_point last = start;

  while (true) {
    if (!stopping && !pending.empty()) {
      Clock::time_point t = Clock::now();
      for (faio_req* r : pending) submitted[reinterpret_cast<uintptr_t>(faio_req_user(r))] = t;
      int st = 0;
      size_t took = SubmitBatch(ctx.native(), pending.data(), pending.size(), &st);
      inflight += took;
      pending.erase(pending.begin(), pending.begin() + static_cast<ptrdiff_t>(took));
      if (st != FAIO_OK && !(st == FAIO_E_INSUFFICIENT_RESOURCES && inflight > 0)) {
        out.fatal = "faio_ctx_submit: " + StatusText(st);
        stopping = true;
      }
    }
    if (inflight == 0) break;

    auto w = ctx.Wait(1, std::span<faio_req*>(reaped), std::chrono::milliseconds(250));
    Clock::time_point now = Clock::now();
    size_t n = w.value().count;
    for (size_t i = 0; i < n; ++i) {
      faio_req* r = reaped[i];
      uint32_t slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(faio_req_user(r)));
      out.lat.Record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - submitted[slot]).count()));
      size_t got = 0;
      int st = faio_req_result(r, &got);
      if (st == FAIO_OK && got == job.bs) {
        ++out.ios;
        out.bytes += got;
      } else {
        ++out.errors;
        if (out.first_error.empty()) {
          out.first_error = st != FAIO_OK ? StatusText(st, faio_req_host_error(r))
                                          : fmt::format("short read: {} of {} bytes", got, job.bs);
        }
      }
      if (!stopping && prepare(slot)) pending.push_back(r);
    }
    inflight -= n;
    if (n > 0) last = now;
    if (!w.ok() && w.status() != faio::Status::kTimeout &&
        w.status() != faio::Status::kInterrupted) {
      if (out.fatal.empty())
        out.fatal = "faio_ctx_wait: " + StatusText(static_cast<int>(w.status()));
      stopping = true;
      if (n == 0) break;  // the context is broken; nothing more will come back
    }
    if (now >= deadline) stopping = true;
    if (Interrupted()) {
      stopping = true;
      out.interrupted = true;
    }
    if (!out.fatal.empty()) stopping = true;
  }
  if (inflight != 0) {
    // Only after a failing wait: the kernel may still own the buffers, so they
    // must outlive this process's use of them.
    (void)mem.release();
  }
  out.seconds = std::chrono::duration<double>(last - start).count();
  return out;
}

void PrintNormal(const Job& job, const JobFile& file, const std::string& backend,
                 const Outcome& o) {
  double secs = o.seconds > 0 ? o.seconds : 1e-9;
  double iops = static_cast<double>(o.ios) / secs;
  double mib = static_cast<double>(o.bytes) / (1024.0 * 1024.0);
  double mb = static_cast<double>(o.bytes) / 1e6;
  fmt::print("{}: (g=0): rw={}, bs={}, size={}, iodepth={}, direct={}, backend={}\n", job.rw,
             job.rw, FormatBytes(job.bs), FormatBytes(file.size()), job.iodepth, job.direct ? 1 : 0,
             backend);
  fmt::print("  file: {}{}\n", file.path(),
             file.temporary() ? " (temporary, removed at exit)" : "");
  fmt::print(
      "  read: backend={}, IOPS={}, BW={:.1f}MiB/s ({:.1f}MB/s)({:.1f}MiB/{:.0f}msec), "
      "lat avg={:.2f}usec, errors={}\n",
      backend, FormatCount(iops), mib / secs, mb / secs, mib, secs * 1000, o.lat.mean() / 1000.0,
      o.errors);
  fmt::print(
      "    lat (usec): min={:.2f}, max={:.2f}, avg={:.2f}, p50={:.2f}, p90={:.2f}, "
      "p99={:.2f}, p99.9={:.2f}\n",
      o.lat.min() / 1000.0, o.lat.max() / 1000.0, o.lat.mean() / 1000.0,
      o.lat.Percentile(0.50) / 1000.0, o.lat.Percentile(0.90) / 1000.0,
      o.lat.Percentile(0.99) / 1000.0, o.lat.Percentile(0.999) / 1000.0);
  if (!o.first_error.empty()) fmt::print("  first error: {}\n", o.first_error);
  if (o.interrupted) fmt::print("  interrupted: figures cover the part that ran\n");
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void PrintJson(const Job& job, const JobFile& file, const std::string& backend, const Outcome& o) {
  double secs = o.seconds > 0 ? o.seconds : 1e-9;
  fmt::print(
      "{{\"faio_version\": {}, \"jobs\": [{{\"jobname\": {}, \"backend\": {}, "
      "\"options\": {{\"rw\": {}, \"bs\": {}, \"size\": {}, \"iodepth\": {}, \"direct\": {}, "
      "\"runtime\": {}, \"filename\": {}, \"temporary\": {}}}, "
      "\"read\": {{\"io_bytes\": {}, \"total_ios\": {}, \"runtime_ms\": {:.3f}, "
      "\"iops\": {:.1f}, \"bw_bytes\": {:.0f}, "
      "\"lat_ns\": {{\"min\": {}, \"max\": {}, \"mean\": {:.1f}, \"percentile\": "
      "{{\"50.000000\": {}, \"90.000000\": {}, \"99.000000\": {}, \"99.900000\": {}}}}}}}, "
      "\"errors\": {}, \"first_error\": {}, \"interrupted\": {}}}]}}\n",
      JsonString(VersionString()), JsonString(job.rw), JsonString(backend), JsonString(job.rw),
      job.bs, file.size(), job.iodepth, job.direct ? 1 : 0, job.runtime, JsonString(file.path()),
      file.temporary() ? "true" : "false", o.bytes, o.ios, secs * 1000,
      static_cast<double>(o.ios) / secs, static_cast<double>(o.bytes) / secs, o.lat.min(),
      o.lat.max(), o.lat.mean(), o.lat.Percentile(0.50), o.lat.Percentile(0.90),
      o.lat.Percentile(0.99), o.lat.Percentile(0.999), o.errors, JsonString(o.first_error),
      o.interrupted ? "true" : "false");
}

}  // namespace

int RunBench(const BenchArgs& args) {
  Job job = Validate(args);
  InstallInterruptHandler();
  faio::Context ctx = CreateContext(job);
  std::string backend = ctx.Backend() != nullptr ? ctx.Backend() : "?";

  JobFile file = job.filename.empty() ? JobFile::CreateTemporary(ctx, job.size, job.iodepth)
                                      : JobFile::Open(ctx, job.filename, job.size, job.size_given,
                                                      job.direct, job.iodepth);
  if (Interrupted()) throw ToolError(kExitInterrupted, "interrupted");
  if (job.direct) file.EnableDirect();
  if (file.size() < job.bs) {
    throw UsageError(fmt::format("--bs {}: larger than the file ({})", FormatBytes(job.bs),
                                 FormatBytes(file.size())));
  }

  size_t alignment = 4096;  // page-aligned buffers suit every backend and file system
  faio_limits limits{};
  if (faio_get_limits(&limits) == FAIO_OK && limits.buffer_alignment > alignment) {
    alignment = limits.buffer_alignment;
  }
  if (job.direct) {
    faio_alignment al{};
    int st = faio_file_alignment(file.fd(), &al);
    if (st == FAIO_OK) {
      if (al.memory > alignment) alignment = al.memory;
      if (al.offset > 1 && job.bs % al.offset != 0) {
        throw UsageError(
            fmt::format("--bs {}: not a multiple of the direct-I/O alignment of {} "
                        "({} bytes)",
                        FormatBytes(job.bs), file.path(), al.offset));
      }
    } else if (job.bs % 512 != 0) {
      throw UsageError(
          fmt::format("--bs {}: direct I/O needs a multiple of the device's block "
                      "size (faio_file_alignment: {})",
                      FormatBytes(job.bs), StatusText(st)));
    }
  }

  Outcome o = RunJob(ctx, file, job, alignment);
  if (job.json) {
    PrintJson(job, file, backend, o);
  } else {
    PrintNormal(job, file, backend, o);
  }
  std::fflush(stdout);
  if (!o.fatal.empty()) throw ToolError(kExitFailure, o.fatal);
  if (o.interrupted) return kExitInterrupted;
  if (o.errors != 0) {
    fmt::print(stderr, "faio bench: {} read(s) failed; first: {}\n", o.errors, o.first_error);
    return kExitFailure;
  }
  return kExitOk;
}

Subcommand AddBench(CLI::App& parent) {
  auto b = std::make_shared<BenchArgs>();
  CLI::App* bench = parent.add_subcommand(
      "bench",
      "Run a fio-like read job through faio: --iodepth reads in flight for --runtime "
      "seconds; prints IOPS, bandwidth and latency.");
  bench
      ->add_option("--filename", b->filename,
                   "file or block device to read; a missing file is created with --size "
                   "and kept (default: a temporary file in $TMPDIR or /var/tmp, removed)")
      ->type_name("PATH");
  CLI::Option* size_opt =
      bench->add_option("--size", b->size, "bytes to lay out / read (k, M, G: binary units)")
          ->type_name("SIZE")
          ->capture_default_str();
  bench->add_option("--bs", b->bs, "block size of each read")
      ->type_name("SIZE")
      ->capture_default_str();
  bench->add_option("--iodepth", b->iodepth, "reads kept in flight")
      ->type_name("N")
      ->capture_default_str();
  bench->add_option("--runtime", b->runtime, "seconds to run (5, 10s, 500ms, 2m)")
      ->type_name("TIME")
      ->capture_default_str();
  bench
      ->add_option("--backend", b->backend,
                   "auto, io_uring, threads, ... (auto honours FAIO_BACKEND)")
      ->type_name("NAME")
      ->capture_default_str();
  bench->add_option("--direct", b->direct, "1: O_DIRECT, bypassing the page cache")
      ->type_name("0|1")
      ->capture_default_str();
  bench->add_option("--rw", b->rw, "randread or read (writes: later)")
      ->type_name("KIND")
      ->capture_default_str();
  bench->add_option("--output-format", b->output_format, "normal or json")
      ->type_name("FORMAT")
      ->capture_default_str();
  return {bench, [b, size_opt] {
            b->size_given = size_opt->count() > 0;
            return RunBench(*b);
          }};
}

}  // namespace faio::tool
