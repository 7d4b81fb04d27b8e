// batch_tuner.h - how faio bench hands its ready requests to faio_ctx_submit
// when --iodepth_batch_submit is not given: measured, not guessed.
//
// Whether one call with every ready request or several smaller ones moves more
// I/O, and at what CPU cost, depends on the device, not on faio. On a cached
// file the one call is cheapest (the submitting thread makes the reads). On a
// virtual disk (virtio) every call that reaches the device is a notification
// (a VM exit of ~5 us on the disk measured), so large calls cost less CPU; but
// the device starts only when the first call reaches it, and its completions
// come back together, so a whole batch in one call leaves the queue empty
// while it is built - 15-20% fewer I/Os (docs/benchmarks.md).
//
// So the tuner tries each Shape for a short epoch and measures the rate of
// completions and the thread's CPU time per completion. It keeps the cheapest
// among those within kTie of the fastest, runs it for a while and tries them
// all again, so a device that changes pace is followed.
#ifndef FAIO_TOOLS_FAIO_BENCH_BATCH_TUNER_H_
#define FAIO_TOOLS_FAIO_BENCH_BATCH_TUNER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace faio::tool {

// Shape is how the requests made ready by one wait go to faio_ctx_submit: the
// first call takes at most `head` of them, each later call at most `cap`
// (0: no limit).
struct Shape {
  uint32_t head = 0;
  uint32_t cap = 0;

  // Limit is the most that call number `call` (0: the first after a wait) may take.
  uint32_t Limit(size_t call) const { return call == 0 ? head : cap; }
  // Describe: "all ready", "8", "8 first, then all ready".
  std::string Describe() const;
  bool operator==(const Shape&) const = default;
};

class BatchTuner {
 public:
  // Each shape is tried until kProbeCount requests completed and kProbeMinNs
  // passed, or for kProbeMaxNs: a few milliseconds on a fast job, so that the
  // tries cost little, and enough completions to be compared.
  static constexpr uint64_t kProbeMinNs = 20'000'000;
  static constexpr uint64_t kProbeMaxNs = 200'000'000;
  static constexpr uint64_t kProbeCount = 8000;
  static constexpr uint64_t kHoldNs = 2'000'000'000;  // the chosen one kept this long
  // A shape within 5% of the fastest is as fast: among those the least CPU
  // per completion wins. (Tries of one shape differ by a few percent on the
  // disk measured; 4 per call moved 2-6% more than 8 for 12% more CPU per
  // I/O, docs/benchmarks.md.)
  static constexpr double kTie = 0.95;

  // CpuClock reads the calling thread's CPU time in any unit (only
  // differences are compared); it is read when an epoch starts and ends.
  using CpuClock = std::function<uint64_t()>;

  // The shapes tried, for a queue of `iodepth`, in the order a tie of both
  // rate and CPU is broken (fewest calls first):
  //   all ready in one call;
  //   a quarter of the depth first, then the rest in one call (the device
  //   starts early, and the batch costs two calls);
  //   at most 8 per call, and at most 4 per call, where below the depth.
  // (2 per call moved no more than 4 on the disk measured and cost a third
  // more CPU per I/O.)
  BatchTuner(uint32_t iodepth, CpuClock cpu);

  // shape: how the next requests are to be submitted.
  const Shape& shape() const { return shapes_[current_]; }
  // chosen: what the last round of tries picked (what the job ran with most
  // of the time); all ready before the first round ends.
  const Shape& chosen() const { return shapes_[chosen_]; }
  bool decided() const { return decided_; }
  const std::vector<Shape>& shapes() const { return shapes_; }

  // Observe is called after each wait with the clock and the number of
  // requests completed since the job began.
  void Observe(uint64_t now_ns, uint64_t completed);

 private:
  enum class Phase { kStart, kWarm, kProbe, kHold };
  void StartEpoch(uint64_t now_ns, uint64_t completed, uint64_t cpu);
  // EpochOver: the current try or warm-up has lasted long enough.
  bool EpochOver(uint64_t elapsed, uint64_t completed) const;
  void Record(uint64_t elapsed, uint64_t completed, uint64_t cpu);
  size_t Pick() const;

  CpuClock cpu_;
  std::vector<Shape> shapes_;
  // Per shape, moving averages of its tries (each new one weighs half; 0: not
  // tried yet): completions per ns, and CPU per completion.
  std::vector<double> rate_;
  std::vector<double> cost_;
  size_t current_ = 0;
  size_t chosen_ = 0;
  Phase phase_ = Phase::kStart;
  bool decided_ = false;
  uint64_t t0_ = 0;
  uint64_t c0_ = 0;
  uint64_t cpu0_ = 0;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_BATCH_TUNER_H_
