// batch_tuner.h - how many requests faio bench hands over per submit call when
// --iodepth_batch_submit is not given: measured, not guessed.
//
// Whether one call with every ready request or several smaller ones moves more
// I/O depends on the device, not on faio: on a cached file the one call is
// cheapest (the submitting thread makes the reads), while on a virtual disk
// (virtio) a 16-request call reaches the device as one burst, the bursts
// come back together and the queue runs half empty between them - capped at
// 4 per call the same job moved 17% more (docs/benchmarks.md). So the tuner
// tries each cap for a short epoch, keeps the one that completed the most
// (the larger cap when within 3%: it costs less CPU), runs it for a while and
// tries them all again, so a device that changes pace is followed.
#ifndef FAIO_TOOLS_FAIO_BENCH_BATCH_TUNER_H_
#define FAIO_TOOLS_FAIO_BENCH_BATCH_TUNER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace faio::tool {

class BatchTuner {
 public:
  // Each cap is tried until kProbeCount requests completed and kProbeMinNs
  // passed, or for kProbeMaxNs: a few milliseconds on a fast job, so that the
  // tries cost little, and enough completions to be compared.
  static constexpr uint64_t kProbeMinNs = 20'000'000;
  static constexpr uint64_t kProbeMaxNs = 200'000'000;
  static constexpr uint64_t kProbeCount = 8000;
  static constexpr uint64_t kHoldNs = 2'000'000'000;  // the best one kept this long
  static constexpr double kTie = 0.97;                // a larger cap wins within 3%

  // Caps tried: 0 (every ready request in one call), then 8 and 4 where they
  // are below iodepth. (2 moved no more than 4 on the disk measured and cost
  // a third more CPU per I/O.)
  explicit BatchTuner(uint32_t iodepth);

  // cap: the most requests the next submit call may take; 0: no limit.
  uint32_t cap() const { return caps_[current_]; }
  // chosen: the cap the last round of tries picked (what the job ran with
  // most of the time); 0 before the first round ends.
  uint32_t chosen() const { return chosen_; }
  bool decided() const { return decided_; }

  // Observe is called after each wait with the clock and the number of
  // requests completed since the job began.
  void Observe(uint64_t now_ns, uint64_t completed);

 private:
  enum class Phase { kStart, kWarm, kProbe, kHold };
  void StartEpoch(uint64_t now_ns, uint64_t completed);
  // EpochOver: the current try or warm-up has lasted long enough.
  bool EpochOver(uint64_t elapsed, uint64_t completed) const;

  std::vector<uint32_t> caps_;
  std::vector<double> rate_;  // completions per ns of each cap: a moving average of its tries
  size_t current_ = 0;
  Phase phase_ = Phase::kStart;
  bool decided_ = false;
  uint32_t chosen_ = 0;
  uint64_t t0_ = 0;
  uint64_t c0_ = 0;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_BATCH_TUNER_H_
