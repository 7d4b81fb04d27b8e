// bench.h - `faio bench`: a fio-like job (reads, writes or a mix, random or
// sequential, one or more jobs) through faio, with fio's option names and
// fio-shaped normal and JSON output.
//
// The pieces: bench.cc parses and validates the options (ParseBench) and runs
// the jobs (RunBench); engine.* is one job's I/O loop; stats.* the figures it
// gathers; report.* the normal and JSON output; plot.* the SVG picture;
// progress.* the live status line; job_file.* the file the jobs use.
#ifndef FAIO_TOOLS_FAIO_BENCH_BENCH_H_
#define FAIO_TOOLS_FAIO_BENCH_BENCH_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace faio::tool {

// BenchArgs holds the option values as typed (strings, so that a bad value is
// reported with the option's name); ParseBench validates them. The *_given
// fields say whether the option was on the command line.
struct BenchArgs {
  std::string name = "faio";
  std::string filename;  // empty: a temporary file
  std::string size = "256M";
  bool size_given = false;
  std::string bs = "4k";
  std::string iodepth = "32";
  std::string iodepth_batch_submit = "auto";
  std::string iodepth_batch_complete_min = "1";
  std::string runtime = "5";
  bool runtime_given = false;
  std::string time_based;  // "" (not given), "1"/"0"/"true"/"false"
  std::string ramp_time = "0";
  std::string backend = "auto";
  std::string direct = "0";
  std::string rw = "randread";
  std::string rwmixread = "50";
  std::string numjobs = "1";
  std::string fsync = "0";
  std::string output_format = "normal";
  bool group_reporting = false;
  bool fixedbufs = false;
  bool registerfiles = false;
  bool host_only = false;  // FAIO_CTX_HOST_ONLY
  std::string plot;  // an SVG file to write, or empty
  // The options given on the command line, as typed, for the JSON "job options".
  std::vector<std::pair<std::string, std::string>> given;
  // Arguments CLI11 did not recognise (reported as a usage error).
  std::vector<std::string> extras;
};

// BenchSpec is a validated job description.
struct BenchSpec {
  std::string name;
  std::string filename;  // empty: a temporary file shared by all jobs
  uint64_t size = 0;     // bytes of the file to use (and, without time_based, to transfer)
  bool size_given = false;
  uint64_t bs = 0;
  uint32_t iodepth = 0;
  uint32_t batch_submit = 0;        // at most this many requests per submit call; 0: all ready
  bool batch_submit_auto = true;    // not given: measured as the job runs (BatchTuner)
  uint32_t batch_complete_min = 1;  // the min of every faio_ctx_wait
  uint64_t runtime_ns = 0;          // 0: no time limit
  bool time_based = false;          // run for runtime_ns, wrapping around the file
  uint64_t ramp_ns = 0;             // run this long first; figures then start from zero
  std::string backend;              // "auto" or a name
  bool direct = false;
  std::string rw;           // as typed
  bool random = false;      // random offsets (else sequential, wrapping at the end)
  bool reads = false;       // the job reads ...
  bool writes = false;      // ... and/or writes
  uint32_t rwmixread = 50;  // percent of reads in a mixed job
  uint32_t numjobs = 1;
  uint32_t fsync = 0;  // a flush after every fsync completed writes; 0: none
  bool json = false;
  bool group_reporting = false;
  // Registered buffers / files. Not given: used where the backend has them
  // (*_auto; a refusal then only shows in the report); given: as fio does.
  bool fixedbufs = false;
  bool registerfiles = false;
  bool fixedbufs_auto = false;
  bool registerfiles_auto = false;
  bool host_only = false;  // FAIO_CTX_HOST_ONLY
  std::string plot;
  std::vector<std::pair<std::string, std::string>> given;
};

// BenchCommand is the `bench` subcommand as declared on a CLI11 app.
struct BenchCommand {
  CLI::App* app = nullptr;
  // finish, called after parsing, fills args' *_given fields, `given` and
  // `extras` from what was on the command line.
  std::function<void()> finish;
};

// DeclareBench declares `bench` and its options on parent; the values land in
// *args. Both `--opt value` and `--opt=value` are accepted.
BenchCommand DeclareBench(CLI::App& parent, std::shared_ptr<BenchArgs> args);

// ParseBench validates args. Throws UsageError (exit code 2) naming the option
// and the values it accepts.
BenchSpec ParseBench(const BenchArgs& args);

// RunBench runs the job described by args and prints its result. Returns the
// exit code; throws ToolError for bad option values and failures.
int RunBench(const BenchArgs& args);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_BENCH_H_
