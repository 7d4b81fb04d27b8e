// stats.h - the figures one faio bench job gathers, and their merging
// (fio's group_reporting).
//
// A JobResult is written by its job's thread only while the job runs, and read
// by the main thread after the thread has been joined.
#ifndef FAIO_TOOLS_FAIO_BENCH_STATS_H_
#define FAIO_TOOLS_FAIO_BENCH_STATS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/latency.h"
#include "host/host.h"

namespace faio::tool {

enum Direction : int { kDirRead = 0, kDirWrite = 1 };
inline constexpr int kDirections = 2;

// DirStats are the figures of one direction (reads or writes) of a job.
//   slat: from the start of preparing a submit batch to the return of the
//         faio_ctx_submit call that took the request (fio's submission latency);
//   clat: from that return to the return of the faio_ctx_wait that reaped the
//         request (fio's completion latency);
//   lat:  slat + clat (from the start of the batch to the reaping).
struct DirStats {
  uint64_t ios = 0;        // completed without error (full or short)
  uint64_t bytes = 0;      // bytes they transferred
  uint64_t short_ios = 0;  // completed with fewer bytes than --bs
  uint64_t errors = 0;     // completed with an error
  LatencyHistogram slat, clat, lat;

  void Merge(const DirStats& o);
};

// SyncStats are the figures of the flushes (--fsync): lat is from the submit
// call's return to the reaping, like clat (fio's "sync" lat).
struct SyncStats {
  uint64_t ios = 0;
  uint64_t errors = 0;
  LatencyHistogram lat;

  void Merge(const SyncStats& o);
};

struct JobResult {
  uint32_t jobs = 1;  // how many jobs these figures cover (group_reporting)
  DirStats dir[kDirections];
  SyncStats sync;
  uint64_t runtime_ns = 0;      // from the start of the figures to the last completion
  uint64_t min_runtime_ns = 0;  // over the jobs merged (the same for one job)
  uint64_t elapsed_ns = 0;      // the whole job, ramp included
  uint64_t cpu_base_ns = 0;     // the runtime the CPU figures are a share of (summed on merge)
  CpuUsage cpu;                 // of the job's thread, after the ramp
  int error = 0;                // the first failure's errno (fio's "error"), or -1 if none known
  std::string first_error;      // a sentence about the first failure; empty if none
  bool interrupted = false;     // stopped by SIGINT/SIGTERM
  // Requests per submit call: "all ready", "N", or with --iodepth_batch_submit
  // auto the Shape the tuner settled on ("auto: 4", "auto: 8 first, then all
  // ready"; a merge keeps the first job's).
  std::string submit_batch;

  bool failed() const { return !first_error.empty(); }
};

// MergeJobs combines the results of several jobs into one, as fio's
// group_reporting does: counts, bytes and histograms add up, runtime is the
// longest, CPU usage adds up (its percentage is then over the summed runtime).
std::unique_ptr<JobResult> MergeJobs(const std::vector<std::unique_ptr<JobResult>>& jobs);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_STATS_H_
