// batch_tuner.cc - see batch_tuner.h.
#include "bench/batch_tuner.h"

namespace faio::tool {

BatchTuner::BatchTuner(uint32_t iodepth) {
  caps_.push_back(0);
  for (uint32_t c : {8u, 4u}) {
    if (c < iodepth) caps_.push_back(c);
  }
  rate_.assign(caps_.size(), 0.0);
}

void BatchTuner::StartEpoch(uint64_t now_ns, uint64_t completed) {
  t0_ = now_ns;
  c0_ = completed;
}

bool BatchTuner::EpochOver(uint64_t elapsed, uint64_t completed) const {
  return elapsed >= kProbeMaxNs || (elapsed >= kProbeMinNs && completed - c0_ >= kProbeCount);
}

void BatchTuner::Observe(uint64_t now_ns, uint64_t completed) {
  const uint64_t elapsed = now_ns - t0_;
  switch (phase_) {
    case Phase::kStart:
      phase_ = Phase::kWarm;
      break;
    case Phase::kWarm:
      // The job's first moments (the queue filling, a cache warming) say
      // nothing about any cap: one epoch at cap 0 is not counted.
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
      // A device's pace wanders from one try to the next: a moving average of
      // the tries decides (each new one weighs half; 0: not tried yet), so one
      // unlucky epoch does not, and a change of the device shows within a
      // round or two however long the job has run.
      const double r = static_cast<double>(completed - c0_) / static_cast<double>(elapsed);
      rate_[current_] = rate_[current_] == 0 ? r : (rate_[current_] + r) / 2;
      if (current_ + 1 < caps_.size()) {
        ++current_;
        break;
      }
      // Every cap tried: the best, or the largest within kTie of it.
      double best = 0;
      for (double x : rate_) best = x > best ? x : best;
      size_t pick = 0;
      while (pick + 1 < caps_.size() && rate_[pick] < best * kTie) ++pick;
      current_ = pick;
      chosen_ = caps_[pick];
      decided_ = true;
      phase_ = Phase::kHold;
      break;
    }
  }
  StartEpoch(now_ns, completed);
}

}  // namespace faio::tool
