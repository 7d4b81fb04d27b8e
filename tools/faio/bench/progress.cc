// progress.cc - see progress.h.
#include "bench/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "cli/options.h"

namespace faio::tool {
namespace {

std::string Rate(double bytes_per_s) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes_per_s >= 1024.0 * 10) {
    bytes_per_s /= 1024.0;
    ++u;
  }
  return fmt::format("{:.0f}{}/s", bytes_per_s, kUnits[u]);
}

}  // namespace

ProgressSampler::ProgressSampler(const BenchSpec& spec, std::vector<const LiveCounters*> live,
                                 bool show_line)
    : spec_(spec), live_(std::move(live)), show_line_(show_line), start_ns_(NowNs()) {
  samples_.push_back(Sample{});
}

Sample ProgressSampler::Take() const {
  Sample s;
  s.t_ns = NowNs() - start_ns_;
  for (const LiveCounters* l : live_) {
    for (int d = 0; d < kDirections; ++d) {
      s.ios[d] += l->ios[d].load(std::memory_order_relaxed);
      s.bytes[d] += l->bytes[d].load(std::memory_order_relaxed);
    }
  }
  return s;
}

void ProgressSampler::Run(const std::function<bool(std::chrono::milliseconds)>& wait_step) {
  int step = 0;
  while (!wait_step(kStep)) {
    samples_.push_back(Take());
    if (show_line_ && ++step % kStepsPerLine == 0) {
      const size_t n = samples_.size();
      PrintLine(samples_[n - 1], samples_[n - 1 - std::min<size_t>(kStepsPerLine, n - 1)]);
    }
  }
}

void ProgressSampler::Finish() {
  samples_.push_back(Take());
  if (line_shown_) {
    fmt::print("\r\033[K");
    std::fflush(stdout);
    line_shown_ = false;
  }
}

void ProgressSampler::PrintLine(const Sample& now, const Sample& before) {
  size_t running = 0;
  for (const LiveCounters* l : live_) running += l->done.load(std::memory_order_relaxed) ? 0 : 1;
  const double secs = static_cast<double>(now.t_ns) / 1e9;
  const double dt = static_cast<double>(now.t_ns - before.t_ns) / 1e9;
  // How far along: by the clock for a time-based job, else by bytes (or the
  // clock, when a --runtime comes first).
  double total_s = static_cast<double>(spec_.ramp_ns + spec_.runtime_ns) / 1e9;
  double frac = spec_.runtime_ns != 0 ? secs / total_s : 0.0;
  if (!spec_.time_based) {
    double want = static_cast<double>(spec_.size) * spec_.numjobs;
    double got = static_cast<double>(now.bytes[0] + now.bytes[1]);
    frac = std::max(frac, got / want);
  }
  frac = std::clamp(frac, 0.0, 1.0);
  double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
  if (spec_.time_based) eta = std::max(0.0, total_s - secs);
  const uint64_t eta_s = static_cast<uint64_t>(eta + 0.5);
  const char kind = spec_.reads && spec_.writes ? (spec_.random ? 'm' : 'M')
                    : spec_.writes              ? (spec_.random ? 'w' : 'W')
                                                : (spec_.random ? 'r' : 'R');
  std::string bw, iops;
  for (int d = 0; d < kDirections; ++d) {
    if (d == kDirRead ? !spec_.reads : !spec_.writes) continue;
    const char* tag = d == kDirRead ? "r" : "w";
    double rate = dt > 0 ? static_cast<double>(now.bytes[d] - before.bytes[d]) / dt : 0;
    double ops = dt > 0 ? static_cast<double>(now.ios[d] - before.ios[d]) / dt : 0;
    bw += fmt::format("{}{}={}", bw.empty() ? "" : ",", tag, Rate(rate));
    iops += fmt::format("{}{}={}", iops.empty() ? "" : ",", tag, FormatCount(ops));
  }
  fmt::print("\rJobs: {} (f=1): [{}({})][{:.1f}%][{}][{} IOPS][eta {:02}m:{:02}s]\033[K", running,
             kind, running, frac * 100, bw, iops, eta_s / 60, eta_s % 60);
  std::fflush(stdout);
  line_shown_ = true;
}

}  // namespace faio::tool
