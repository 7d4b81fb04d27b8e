// progress.h - samples the running jobs' counters on the main thread: the
// time series for --plot, and fio's live one-line status on a terminal.
#ifndef FAIO_TOOLS_FAIO_BENCH_PROGRESS_H_
#define FAIO_TOOLS_FAIO_BENCH_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "bench/bench.h"
#include "bench/engine.h"

namespace faio::tool {

// Sample is the jobs' summed totals at t_ns after the start (the ramp included).
struct Sample {
  uint64_t t_ns = 0;
  uint64_t ios[kDirections] = {0, 0};
  uint64_t bytes[kDirections] = {0, 0};
};

class ProgressSampler {
 public:
  static constexpr std::chrono::milliseconds kStep{100};  // sampling period
  static constexpr int kStepsPerLine = 5;                 // the status line: 2x a second

  // live: the jobs' counters (they must outlive the sampler). show_line: print
  // the status line (a terminal, normal output).
  ProgressSampler(const BenchSpec& spec, std::vector<const LiveCounters*> live, bool show_line);

  // Run samples every kStep until wait_step(kStep) returns true (it waits up to
  // the step and says whether every job has finished). Main thread.
  void Run(const std::function<bool(std::chrono::milliseconds)>& wait_step);

  // Finish takes the last sample and clears the status line.
  void Finish();

  const std::vector<Sample>& samples() const { return samples_; }

 private:
  Sample Take() const;
  void PrintLine(const Sample& now, const Sample& before);

  const BenchSpec& spec_;
  std::vector<const LiveCounters*> live_;
  bool show_line_;
  bool line_shown_ = false;
  uint64_t start_ns_;
  std::vector<Sample> samples_;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_PROGRESS_H_
