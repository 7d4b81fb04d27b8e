// batch_tuner.cc - see batch_tuner.h.
#include "bench/batch_tuner.h"

#include <fmt/format.h>

#include <utility>

namespace faio::tool {

std::string Shape::Describe() const {
  auto one = [](uint32_t n) { return n == 0 ? std::string("all ready") : std::to_string(n); };
  return head == cap ? one(cap) : fmt::format("{} first, then {}", one(head), one(cap));
}

BatchTuner::BatchTuner(uint32_t iodepth, CpuClock cpu) : cpu_(std::move(cpu)) {
  shapes_.push_back({0, 0});
  if (iodepth / 4 >= 2) shapes_.push_back({iodepth / 4, 0});
  for (uint32_t c : {8u, 4u}) {
    if (c < iodepth) shapes_.push_back({c, c});
  }
  rate_.assign(shapes_.size(), 0.0);
  cost_.assign(shapes_.size(), 0.0);
}

void BatchTuner::StartEpoch(uint64_t now_ns, uint64_t completed, uint64_t cpu) {
  t0_ = now_ns;
  c0_ = completed;
  cpu0_ = cpu;
}

bool BatchTuner::EpochOver(uint64_t elapsed, uint64_t completed) const {
  return elapsed >= kProbeMaxNs || (elapsed >= kProbeMinNs && completed - c0_ >= kProbeCount);
}

// Record folds the try that just ended into the current shape's averages.
// A device's pace wanders from one try to the next: the moving average lets
// no single unlucky try decide, and shows a change of the device within a
// round or two however long the job has run.
void BatchTuner::Record(uint64_t elapsed, uint64_t completed, uint64_t cpu) {
  const uint64_t n = completed - c0_;
  const double r = static_cast<double>(n) / static_cast<double>(elapsed);
  rate_[current_] = rate_[current_] == 0 ? r : (rate_[current_] + r) / 2;
  if (n == 0 || cpu <= cpu0_) return;  // no clock, or it did not move: not measured
  const double c = static_cast<double>(cpu - cpu0_) / static_cast<double>(n);
  cost_[current_] = cost_[current_] == 0 ? c : (cost_[current_] + c) / 2;
}

// Pick: among the shapes within kTie of the fastest, the one with the least
// CPU per completion. A shape whose cost was never measured (0) is never
// cheaper than one that was; the first in order wins a tie (and every pick on
// a host without a CPU clock).
size_t BatchTuner::Pick() const {
  double best = 0;
  for (double x : rate_) best = x > best ? x : best;
  auto cheaper = [this](size_t a, size_t b) {
    if (cost_[a] == 0) return false;
    return cost_[b] == 0 || cost_[a] < cost_[b];
  };
  size_t pick = shapes_.size();
  for (size_t i = 0; i < shapes_.size(); ++i) {
    if (rate_[i] < best * kTie) continue;
    if (pick == shapes_.size() || cheaper(i, pick)) pick = i;
  }
  return pick == shapes_.size() ? 0 : pick;
}

// Observe moves from one epoch to the next; the CPU clock is read only when
// one ends (a few times a second), never between.
void BatchTuner::Observe(uint64_t now_ns, uint64_t completed) {
  const uint64_t elapsed = now_ns - t0_;
  switch (phase_) {
    case Phase::kStart:
      phase_ = Phase::kWarm;
      break;
    case Phase::kWarm:
      // The job's first moments (the queue filling, a cache warming) say
      // nothing about any shape: one epoch of the first is not counted.
      if (!EpochOver(elapsed, completed)) return;
      phase_ = Phase::kProbe;
      break;
    case Phase::kHold:
      if (elapsed < kHoldNs) return;
      phase_ = Phase::kProbe;  // try them all again
      current_ = 0;
      break;
    case Phase::kProbe: {
      if (!EpochOver(elapsed, completed)) return;
      const uint64_t cpu = cpu_ ? cpu_() : 0;
      Record(elapsed, completed, cpu);
      if (current_ + 1 < shapes_.size()) {
        ++current_;
      } else {
        chosen_ = Pick();
        current_ = chosen_;
        decided_ = true;
        phase_ = Phase::kHold;
      }
      StartEpoch(now_ns, completed, cpu);
      return;
    }
  }
  StartEpoch(now_ns, completed, cpu_ ? cpu_() : 0);
}

}  // namespace faio::tool
