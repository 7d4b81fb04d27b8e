// bench.cc - `faio bench`: option checking (ParseBench), the run (RunBench:
// contexts, the file, one thread per job, the progress sampler, the report) and
// the subcommand's command line (AddBench).
#include "bench/bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <faio/faio.hpp>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/engine.h"
#include "bench/job_file.h"
#include "bench/plot.h"
#include "bench/progress.h"
#include "bench/report.h"
#include "bench/stats.h"
#include "cli/common.h"
#include "cli/options.h"
#include "cli/subcommand.h"
#include "host/host.h"
#include "io/context.h"

namespace faio::tool {
namespace {

constexpr uint64_t kMaxTransfer = 0x7ffff000;            // the largest single Linux transfer
constexpr uint64_t kMaxBufferBytes = uint64_t{4} << 30;  // iodepth * bs per job at most
constexpr uint32_t kMaxIodepth = 65536;
constexpr uint32_t kMaxJobs = 1024;

bool ParseBool(const std::string& option, const std::string& v) {
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  throw UsageError(fmt::format("{} '{}': must be 0 or 1", option, v));
}

uint64_t NsOf(double seconds) { return static_cast<uint64_t>(seconds * 1e9 + 0.5); }

// Alignment returns the buffer alignment for the job, and checks --bs against
// the file's direct-I/O alignment.
size_t Alignment(const BenchSpec& spec, const JobFile& file) {
  if (!spec.direct) return BufferAlignment();
  faio_alignment al{};
  int st = faio_file_alignment(file.file(), &al);
  size_t alignment = BufferAlignment();
  if (st == FAIO_OK) {
    alignment = BufferAlignment(al.memory);
    if (al.offset > 1 && spec.bs % al.offset != 0) {
      throw UsageError(
          fmt::format("--bs {}: not a multiple of the direct-I/O alignment of {} ({} "
                      "bytes)",
                      FormatBytes(spec.bs), file.path(), al.offset));
    }
  } else if (spec.bs % 512 != 0) {
    throw UsageError(
        fmt::format("--bs {}: direct I/O needs a multiple of the device's block size "
                    "(faio_file_alignment: {})",
                    FormatBytes(spec.bs), StatusText(st)));
  }
  return alignment;
}

}  // namespace

namespace {

// ParseBench's steps, each filling its part of s.

// ParseSizes checks --size and --bs.
void ParseSizes(const BenchArgs& a, BenchSpec& s) {
  auto size = ParseSize(a.size);
  if (!size)
    throw UsageError(fmt::format("--size '{}': not a size (use e.g. 256M, 1G, 4096)", a.size));
  s.size = *size;
  auto bs = ParseSize(a.bs);
  if (!bs)
    throw UsageError(fmt::format("--bs '{}': not a block size (use e.g. 4k, 64k, 1M)", a.bs));
  if (*bs > kMaxTransfer) {
    throw UsageError(fmt::format("--bs {}: larger than the largest single transfer ({} bytes)",
                                 a.bs, kMaxTransfer));
  }
  s.bs = *bs;
}

// ParseDepths checks --iodepth and its batches.
void ParseDepths(const BenchArgs& a, BenchSpec& s) {
  auto depth = ParseUnsigned(a.iodepth, 1, kMaxIodepth);
  if (!depth) {
    throw UsageError(
        fmt::format("--iodepth '{}': not a whole number from 1 to {}", a.iodepth, kMaxIodepth));
  }
  s.iodepth = static_cast<uint32_t>(*depth);
  if (s.bs * s.iodepth > kMaxBufferBytes) {
    throw UsageError(fmt::format("--bs {} with --iodepth {}: needs {} of buffers, more than {}",
                                 a.bs, a.iodepth, FormatBytes(s.bs * s.iodepth),
                                 FormatBytes(kMaxBufferBytes)));
  }
  s.batch_submit_auto = a.iodepth_batch_submit == "auto";
  if (!s.batch_submit_auto) {
    auto batch = ParseUnsigned(a.iodepth_batch_submit, 0, kMaxIodepth);
    if (!batch) {
      throw UsageError(fmt::format(
          "--iodepth_batch_submit '{}': not a whole number from 0 (all ready) to {}, or auto",
          a.iodepth_batch_submit, kMaxIodepth));
    }
    s.batch_submit = static_cast<uint32_t>(*batch);
  }
  auto cmin = ParseUnsigned(a.iodepth_batch_complete_min, 0, kMaxIodepth);
  if (!cmin) {
    throw UsageError(
        fmt::format("--iodepth_batch_complete_min '{}': not a whole number from 0 to --iodepth",
                    a.iodepth_batch_complete_min));
  }
  if (*cmin > s.iodepth) {
    throw UsageError(
        fmt::format("--iodepth_batch_complete_min {}: more than --iodepth {}", *cmin, s.iodepth));
  }
  s.batch_complete_min = std::max<uint32_t>(1, static_cast<uint32_t>(*cmin));
}

// ParseTiming checks --time_based, --runtime, --ramp_time.
void ParseTiming(const BenchArgs& a, BenchSpec& s) {
  // The default job (no --size, no --runtime) runs for 5 s; --size alone, as in
  // fio, ends the job once that many bytes were transferred.
  if (a.time_based.empty()) {
    s.time_based = !a.size_given;
  } else {
    s.time_based = ParseBool("--time_based", a.time_based);
  }
  if (a.runtime_given || s.time_based) {
    auto runtime = ParseDuration(a.runtime);
    if (!runtime) {
      throw UsageError(fmt::format(
          "--runtime '{}': not a positive duration (use e.g. 5, 10s, 500ms, 2m)", a.runtime));
    }
    s.runtime_ns = NsOf(*runtime);
  }
  auto ramp = ParseDurationOrZero(a.ramp_time);
  if (!ramp) {
    throw UsageError(
        fmt::format("--ramp_time '{}': not a duration (use e.g. 0, 2, 2s, 500ms)", a.ramp_time));
  }
  s.ramp_ns = NsOf(*ramp);
}

// ParseWorkload checks --backend, --direct, --rw, --rwmixread, --numjobs, --fsync.
void ParseWorkload(const BenchArgs& a, BenchSpec& s) {
  if (a.backend.empty())
    throw UsageError("--backend: empty name (use auto, io_uring, threads, ...)");
  s.backend = a.backend;
  s.direct = ParseBool("--direct", a.direct);

  s.rw = a.rw;
  if (a.rw == "read") {
    s.reads = true;
  } else if (a.rw == "write") {
    s.writes = true;
  } else if (a.rw == "randread") {
    s.reads = s.random = true;
  } else if (a.rw == "randwrite") {
    s.writes = s.random = true;
  } else if (a.rw == "randrw") {
    s.reads = s.writes = s.random = true;
  } else if (a.rw == "readwrite" || a.rw == "rw") {
    s.reads = s.writes = true;
  } else if (a.rw == "trim" || a.rw == "randtrim" || a.rw == "trimwrite") {
    throw UsageError(
        fmt::format("--rw {}: faio has no trim; use read, write, randread, "
                    "randwrite, randrw, readwrite (rw)",
                    a.rw));
  } else {
    throw UsageError(
        fmt::format("--rw '{}': unknown pattern (use read, write, randread, "
                    "randwrite, randrw, readwrite or rw)",
                    a.rw));
  }
  auto mix = ParseUnsigned(a.rwmixread, 0, 100);
  if (!mix) {
    throw UsageError(fmt::format(
        "--rwmixread '{}': not a percentage (a whole number from 0 to 100)", a.rwmixread));
  }
  s.rwmixread = static_cast<uint32_t>(*mix);
  auto jobs = ParseUnsigned(a.numjobs, 1, kMaxJobs);
  if (!jobs) {
    throw UsageError(
        fmt::format("--numjobs '{}': not a whole number from 1 to {}", a.numjobs, kMaxJobs));
  }
  s.numjobs = static_cast<uint32_t>(*jobs);
  auto fsync = ParseUnsigned(a.fsync, 0, UINT32_MAX);
  if (!fsync) {
    throw UsageError(fmt::format(
        "--fsync '{}': not a whole number (a flush after every N writes; 0: none)", a.fsync));
  }
  s.fsync = static_cast<uint32_t>(*fsync);
}

// ParseOutput checks the output and registration options.
void ParseOutput(const BenchArgs& a, BenchSpec& s) {
  if (a.output_format == "normal") {
    s.json = false;
  } else if (a.output_format == "json") {
    s.json = true;
  } else {
    throw UsageError(fmt::format("--output-format '{}': use normal or json", a.output_format));
  }
  s.group_reporting = a.group_reporting;
  auto given = [&a](const char* name) {
    for (const auto& g : a.given) {
      if (g.first == name) return true;
    }
    return false;
  };
  s.fixedbufs_auto = !given("fixedbufs");
  s.registerfiles_auto = !given("registerfiles");
  s.fixedbufs = a.fixedbufs || s.fixedbufs_auto;
  s.registerfiles = a.registerfiles || s.registerfiles_auto;
  s.host_only = a.host_only;
  s.plot = a.plot;
}

}  // namespace

BenchSpec ParseBench(const BenchArgs& a) {
  BenchSpec s;
  if (!a.extras.empty()) {
    throw UsageError(
        fmt::format("'{}': not an option of faio bench (see faio bench --help)", a.extras.front()));
  }
  if (a.name.empty()) throw UsageError("--name: empty (use e.g. --name randread)");
  s.name = a.name;
  s.filename = a.filename;
  s.size_given = a.size_given;
  s.given = a.given;
  ParseSizes(a, s);
  ParseDepths(a, s);
  ParseTiming(a, s);
  ParseWorkload(a, s);
  ParseOutput(a, s);
  if (s.filename.empty() && s.bs > s.size) {
    throw UsageError(fmt::format("--bs {} is larger than --size {}", a.bs, a.size));
  }
  return s;
}

namespace {

// RunBench's steps.

// OpenContexts makes every job's context first, so that a bad backend fails
// before any file is written. A flush (--fsync) takes one of the --iodepth
// slots, as in fio.
std::vector<faio::Context> OpenContexts(const BenchSpec& spec) {
  std::vector<faio::Context> ctxs;
  for (uint32_t i = 0; i < spec.numjobs; ++i) {
    // --registerfiles: faio_ctx_associate_file (BenchJob::Setup) then makes the
    // file an io_uring fixed file; the file outlives every context.
    // --host_only: every transfer goes to the backend's host facility.
    uint32_t flags = (spec.registerfiles ? FAIO_CTX_FIXED_FILES : 0u) |
                     (spec.host_only ? FAIO_CTX_HOST_ONLY : 0u);
    ctxs.push_back(OpenContext(spec.backend, spec.iodepth, flags));
  }
  return ctxs;
}

// OpenJobFile opens (or creates and lays out) the one file of all jobs (fio's
// shared --filename; the temporary file too).
JobFile OpenJobFile(const BenchSpec& spec, faio::Context& ctx) {
  JobFile file = spec.filename.empty()
                     ? JobFile::CreateTemporary(ctx, spec.size, spec.iodepth)
                     : JobFile::Open(ctx, spec.filename, spec.size, spec.size_given, spec.direct,
                                     spec.iodepth, spec.writes);
  if (Interrupted()) throw ToolError(kExitInterrupted, "interrupted");
  if (spec.direct) file.EnableDirect();
  if (file.size() < spec.bs) {
    throw UsageError(fmt::format("--bs {}: larger than the file ({})", FormatBytes(spec.bs),
                                 FormatBytes(file.size())));
  }
  return file;
}

std::vector<std::unique_ptr<BenchJob>> SetUpJobs(const BenchSpec& spec,
                                                 std::vector<faio::Context>& ctxs,
                                                 const JobFile& file) {
  const size_t alignment = Alignment(spec, file);
  std::vector<std::unique_ptr<BenchJob>> jobs;
  for (uint32_t i = 0; i < spec.numjobs; ++i) {
    jobs.push_back(std::make_unique<BenchJob>(spec, i));
    jobs.back()->Setup(std::move(ctxs[i]), file.file(), file.size(), alignment);
  }
  return jobs;
}

// RunJobs runs every job on a thread of its own while the sampler samples
// their counters on this one, until all have ended.
void RunJobs(std::vector<std::unique_ptr<BenchJob>>& jobs, ProgressSampler& sampler) {
  std::mutex mu;
  std::condition_variable cv;
  uint32_t finished = 0;
  std::vector<std::thread> threads;
  threads.reserve(jobs.size());
  for (auto& j : jobs) {
    threads.emplace_back([&, job = j.get()] {
      job->Run();
      std::lock_guard<std::mutex> lock(mu);
      ++finished;
      cv.notify_all();
    });
  }
  sampler.Run([&](std::chrono::milliseconds step) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, step, [&] { return finished == jobs.size(); });
  });
  for (std::thread& t : threads) t.join();
  sampler.Finish();
}

// Report prints the jobs' figures (one entry per job, or merged), writes the
// plot, and returns the exit code.
int Report(const BenchSpec& spec, const ReportInfo& info,
           const std::vector<std::unique_ptr<BenchJob>>& jobs, const ProgressSampler& sampler) {
  std::vector<std::unique_ptr<JobResult>> results;
  for (const auto& j : jobs) results.push_back(std::make_unique<JobResult>(j->result()));
  std::unique_ptr<JobResult> group = MergeJobs(results);
  std::vector<const JobResult*> entries;
  if (spec.group_reporting || results.size() == 1) {
    entries.push_back(group.get());
  } else {
    for (const auto& r : results) entries.push_back(r.get());
  }
  if (spec.json) {
    fmt::print("{}\n", BenchJson(spec, info, entries).dump(2));
  } else {
    PrintNormal(spec, info, entries, *group, results);
  }
  std::fflush(stdout);
  if (!spec.plot.empty()) WritePlot(spec.plot, spec, sampler.samples(), *group);

  if (group->interrupted) return kExitInterrupted;
  if (group->failed()) {
    fmt::print(stderr, "faio bench: the job failed: {}\n", group->first_error);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int RunBench(const BenchArgs& args) {
  const BenchSpec spec = ParseBench(args);
  InstallInterruptHandler();
  // A --plot file that cannot be written fails the run before it starts.
  if (!spec.plot.empty()) WritePlot(spec.plot, spec, {}, JobResult());

  std::vector<faio::Context> ctxs = OpenContexts(spec);
  ReportInfo info;
  info.backend = ctxs[0].Backend() != nullptr ? ctxs[0].Backend() : "?";
  JobFile file = OpenJobFile(spec, ctxs[0]);
  info.path = file.path();
  info.temporary = file.temporary();
  info.file_size = file.size();
  info.started = std::time(nullptr);
  std::vector<std::unique_ptr<BenchJob>> jobs = SetUpJobs(spec, ctxs, file);
  info.fixedbufs = jobs[0]->fixedbufs_note();
  info.registerfiles = jobs[0]->registerfiles_note();

  if (!spec.json) {
    PrintHeader(spec, info);
    std::fflush(stdout);
  }
  std::vector<const LiveCounters*> live;
  for (const auto& j : jobs) live.push_back(&j->live());
  ProgressSampler sampler(spec, live, /*show_line=*/!spec.json && StdoutIsTerminal());
  RunJobs(jobs, sampler);
  return Report(spec, info, jobs, sampler);
}

BenchCommand DeclareBench(CLI::App& parent, std::shared_ptr<BenchArgs> b) {
  CLI::App* bench = parent.add_subcommand(
      "bench",
      "Run a fio-like job through faio (fio's option names): reads, writes or a mix, random or "
      "sequential, --numjobs threads each with --iodepth transfers in flight; prints IOPS, "
      "bandwidth, latency percentiles and CPU use, as text or fio-shaped JSON.");
  bench->allow_extras();
  struct Opt {
    const char* name;
    std::string* target;
    const char* type;
    const char* help;
  };
  const Opt opts[] = {
      {"--name", &b->name, "NAME", "job name (fio's jobname)"},
      {"--filename", &b->filename, "PATH",
       "file or block device (shared by all jobs); a missing file is created with --size and "
       "kept (default: a temporary file in $TMPDIR or /var/tmp, removed)"},
      {"--size", &b->size, "SIZE",
       "bytes of the file to use; without --time_based also the bytes each job transfers "
       "(k, M, G: binary units)"},
      {"--bs", &b->bs, "SIZE", "block size of each transfer"},
      {"--rw", &b->rw, "KIND", "read, write, randread, randwrite, randrw, readwrite (rw)"},
      {"--rwmixread", &b->rwmixread, "PCT", "percent of reads in randrw/readwrite"},
      {"--iodepth", &b->iodepth, "N", "transfers kept in flight per job"},
      {"--iodepth_batch_submit", &b->iodepth_batch_submit, "N",
       "most requests per submit call (0: all that are ready; auto, the default: "
       "measured as the job runs)"},
      {"--iodepth_batch_complete_min", &b->iodepth_batch_complete_min, "N",
       "completions each wait waits for (at least 1)"},
      {"--runtime", &b->runtime, "TIME",
       "time limit after the ramp (5, 10s, 500ms, 2m); default 5 s for a time-based job, none "
       "otherwise"},
      {"--ramp_time", &b->ramp_time, "TIME", "run this long first without counting"},
      {"--numjobs", &b->numjobs, "N", "jobs, each its own thread and faio context"},
      {"--fsync", &b->fsync, "N", "flush after every N completed writes (0: never)"},
      {"--backend", &b->backend, "NAME",
       "auto, io_uring, linux_aio, threads, ... (auto honours "
       "FAIO_BACKEND)"},
      {"--direct", &b->direct, "0|1", "1: O_DIRECT, bypassing the page cache"},
      {"--output-format", &b->output_format, "FORMAT", "normal or json (fio's field names)"},
      {"--plot", &b->plot, "FILE.svg", "write an SVG picture: IOPS over time, latency percentiles"},
  };
  std::vector<std::pair<std::string, CLI::Option*>> given;
  for (const Opt& o : opts) {
    CLI::Option* opt = bench->add_option(o.name, *o.target, o.help)->type_name(o.type);
    if (!o.target->empty()) opt->capture_default_str();
    given.emplace_back(std::string(o.name).substr(2), opt);
  }
  CLI::Option* tb =
      bench
          ->add_option("--time_based", b->time_based,
                       "run for --runtime even when --size was transferred (the default when "
                       "--size is not given); --time_based=0 turns it off")
          ->type_name("[0|1]")
          ->expected(0, 1)
          ->default_str("");
  given.emplace_back("time_based", tb);
  given.emplace_back("group_reporting",
                     bench->add_flag("--group_reporting", b->group_reporting,
                                     "report the jobs merged into one (fio's group_reporting)"));
  given.emplace_back("fixedbufs", bench->add_flag("--fixedbufs", b->fixedbufs,
                                                  "register the I/O buffers with the backend "
                                                  "(io_uring fixed buffers); not given: where "
                                                  "the backend can, --fixedbufs=0: never"));
  given.emplace_back("registerfiles",
                     bench->add_flag("--registerfiles", b->registerfiles,
                                     "register the file with the backend (io_uring fixed files); "
                                     "not given: where the backend can, --registerfiles=0: never"));
  given.emplace_back("host_only",
                     bench->add_flag("--host_only", b->host_only,
                                     "every transfer to the backend's host facility, none made "
                                     "by the submitting thread (FAIO_CTX_HOST_ONLY)"));
  return {bench, [b, bench, given] {
            for (const auto& [name, opt] : given) {
              if (opt->count() == 0) continue;
              std::string value = opt->get_expected_max() == 0 || opt->results().empty()
                                      ? std::string()
                                      : opt->results().back();
              if (name == "time_based" && value.empty()) b->time_based = value = "1";
              if (name == "size") b->size_given = true;
              if (name == "runtime") b->runtime_given = true;
              b->given.emplace_back(name, value);
            }
            b->extras = bench->remaining();
          }};
}

Subcommand AddBench(CLI::App& parent) {
  auto b = std::make_shared<BenchArgs>();
  BenchCommand cmd = DeclareBench(parent, b);
  return {cmd.app, [b, finish = cmd.finish] {
            finish();
            return RunBench(*b);
          }};
}

}  // namespace faio::tool
