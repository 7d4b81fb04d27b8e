// engine.h - one faio bench job: its context, buffers and requests, and
// the loop that keeps --iodepth transfers in flight.
//
// A BenchJob is set up on the main thread (Setup may throw ToolError, before any
// thread runs), then Run is called once on the job's own thread. While it runs,
// the job's thread alone touches the job; other threads read only live(). After
// the thread has been joined, result() holds the figures.
#ifndef FAIO_TOOLS_FAIO_BENCH_ENGINE_H_
#define FAIO_TOOLS_FAIO_BENCH_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <faio/faio.hpp>
#include <memory>
#include <string>
#include <vector>

#include "bench/batch_tuner.h"
#include "bench/bench.h"
#include "bench/stats.h"
#include "cli/common.h"
#include "host/host.h"

namespace faio::tool {

// LiveCounters are a running job's totals since its start (the ramp included),
// published after every reaping for the progress line and the plot.
struct LiveCounters {
  std::atomic<uint64_t> ios[kDirections] = {};
  std::atomic<uint64_t> bytes[kDirections] = {};
  std::atomic<bool> done{false};
};

// NowNs reads the monotonic clock (std::chrono::steady_clock) in nanoseconds.
uint64_t NowNs();

class BenchJob {
 public:
  BenchJob(const BenchSpec& spec, uint32_t index);
  BenchJob(const BenchJob&) = delete;
  BenchJob& operator=(const BenchJob&) = delete;
  ~BenchJob();

  // Setup takes the job's context and file, allocates the buffers (aligned to
  // `alignment`) and the requests, and applies --registerfiles and --fixedbufs.
  // Throws ToolError. The file descriptor must outlive the job.
  void Setup(faio::Context ctx, faio_file file, uint64_t file_size, size_t alignment);

  // Run runs the job to its end (time, --size, an error, or an interrupt) and
  // fills result(). Never throws.
  void Run() noexcept;

  const JobResult& result() const { return *result_; }
  const LiveCounters& live() const { return live_; }
  // What --fixedbufs / --registerfiles did: "yes", "no (...)", or "off".
  const std::string& fixedbufs_note() const { return fixedbufs_note_; }
  const std::string& registerfiles_note() const { return registerfiles_note_; }

 private:
  // Loop is RunLoop's state: the clock marks, the totals for live_, and what is
  // in flight.
  struct Loop {
    uint64_t t_begin = 0;
    uint64_t stats_start = 0;  // where the figures start (after the ramp)
    uint64_t ramp_end = 0;
    uint64_t t_end = 0;
    bool ramping = false;
    CpuUsage cpu0;
    uint64_t total_ios[kDirections] = {0, 0};  // since t_begin, for live_
    uint64_t total_bytes[kDirections] = {0, 0};
    uint64_t writes_since_flush = 0;
    size_t inflight = 0;
    bool stopping = false;
    bool broken = false;  // a failed wait returned nothing: nothing more will come back
    uint64_t last_completion = 0;
    uint64_t now = 0;
  };

  bool Prepare(uint32_t slot, uint64_t now);
  void PrepareFlush(uint32_t slot);
  void RunLoop();
  // RunLoop's steps, in the order of one iteration.
  void StartLoop();
  void SubmitPending();
  void RecordSlat(size_t from, size_t to, uint64_t issued);
  void Reap();
  void Complete(faio_req* r);
  void CompleteFlush(uint32_t slot, int status, int host_error);
  void CompleteTransfer(uint32_t slot, int status, size_t got, int host_error);
  void EndRampOrRun();
  void FinishLoop();
  void NoteError(const std::string& what, int host_error);

  Loop loop_;
  BatchTuner tuner_;  // --iodepth_batch_submit auto

  const BenchSpec& spec_;
  const uint32_t index_;
  // The buffers must outlive the context (a registered buffer is the kernel's
  // until the context is destroyed): mem_ is declared first, destroyed last.
  AlignedBuffer mem_;
  faio::Context ctx_;
  std::vector<faio::Request> reqs_;     // one per slot (--iodepth)
  std::vector<faio_req*> pending_;      // prepared, not yet submitted
  std::vector<uint32_t> pending_slot_;  // their slots
  std::vector<faio_req*> reaped_;
  std::vector<uint64_t> start_ns_;  // per slot: when its batch started being prepared
  std::vector<uint64_t> issue_ns_;  // per slot: when the submit call that took it returned
  std::vector<uint8_t> dir_;        // per slot: kDirRead, kDirWrite, or a flush
  faio_file file_{};
  uint64_t blocks_ = 0;  // whole --bs blocks in the file
  uint64_t seq_block_ = 0;
  uint64_t rng_ = 0;
  uint64_t issued_bytes_ = 0;
  uint64_t size_limit_ = 0;
  std::unique_ptr<JobResult> result_;
  LiveCounters live_;
  std::string fixedbufs_note_ = "off";
  std::string registerfiles_note_ = "off";
  bool leak_buffers_ = false;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_ENGINE_H_
