// batch_tuner_test.cc - faio bench's --iodepth_batch_submit auto (BatchTuner)
// against simulated devices: each Shape completes requests at a rate and a CPU
// cost per completion that the test sets. The tuner must settle on the fastest
// shape, or the cheapest of those within 5% of it; try again after its hold;
// and follow a device whose best shape changes.
#include "bench/batch_tuner.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <vector>

namespace faio::tool {

// For readable failures.
void PrintTo(const Shape& s, std::ostream* os) { *os << s.Describe(); }

namespace {

const Shape kAll{0, 0};
const Shape kQuarterFirst{8, 0};  // at depth 32
const Shape kCap8{8, 8};
const Shape kCap4{4, 4};

// Device: a simulated device and the thread's CPU clock. Drive runs the tuner
// for `ns` of simulated time in steps of 100 us: at the shape in force the
// device completes rate(shape) requests per second, each costing cost(shape)
// ns of the thread's CPU.
struct Device {
  std::function<double(const Shape&)> rate;
  std::function<double(const Shape&)> cost = [](const Shape&) { return 0.0; };
  uint64_t now = 1;
  double completed = 0;
  double cpu = 0;

  BatchTuner::CpuClock Clock() {
    return [this] { return static_cast<uint64_t>(cpu); };
  }
  // Settle runs a new tuner for a queue of `depth` for 1 s, its CPU clock this
  // device's (or none), and returns what it chose; nothing if it did not decide.
  std::optional<Shape> Settle(uint32_t depth, bool cpu_clock = true) {
    BatchTuner t(depth, cpu_clock ? Clock() : nullptr);
    Drive(&t, 1'000'000'000);
    if (!t.decided()) return std::nullopt;
    return t.chosen();
  }
  void Drive(BatchTuner* t, uint64_t ns) {
    const uint64_t step = 100'000;
    for (uint64_t end = now + ns; now < end; now += step) {
      t->Observe(now, static_cast<uint64_t>(completed));
      const double n = rate(t->shape()) * 1e-9 * static_cast<double>(step);
      completed += n;
      cpu += n * cost(t->shape());
    }
  }
};

TEST(BatchTuner, TriesEveryShapeBelowTheDepthFewestCallsFirst) {
  Device d;
  EXPECT_EQ(BatchTuner(32, d.Clock()).shapes(),
            (std::vector<Shape>{kAll, kQuarterFirst, kCap8, kCap4}));
  EXPECT_EQ(BatchTuner(16, d.Clock()).shapes(),
            (std::vector<Shape>{kAll, Shape{4, 0}, kCap8, kCap4}));
  EXPECT_EQ(BatchTuner(8, d.Clock()).shapes(), (std::vector<Shape>{kAll, Shape{2, 0}, kCap4}));
  // QD4 and below: one shape, nothing to tune (QD1's latency is untouched).
  EXPECT_EQ(BatchTuner(4, d.Clock()).shapes(), (std::vector<Shape>{kAll}));
  EXPECT_EQ(BatchTuner(1, d.Clock()).shapes(), (std::vector<Shape>{kAll}));
  EXPECT_EQ(kQuarterFirst.Describe(), "8 first, then all ready");
  EXPECT_EQ(kCap4.Describe(), "4");
  EXPECT_EQ(kAll.Describe(), "all ready");
}

// The engine asks Limit(call) for each submit call after a wait: the head for
// the first, the cap for every later one.
TEST(BatchTuner, AShapesHeadIsTheFirstCallsLimitAndItsCapEveryLaterOnes) {
  EXPECT_EQ(kQuarterFirst.Limit(0), 8u);
  EXPECT_EQ(kQuarterFirst.Limit(1), 0u);
  EXPECT_EQ(kQuarterFirst.Limit(5), 0u);
  EXPECT_EQ((Shape{2, 6}).Limit(0), 2u);
  EXPECT_EQ((Shape{2, 6}).Limit(1), 6u);
  EXPECT_EQ(kCap4.Limit(0), 4u);
  EXPECT_EQ(kCap4.Limit(3), 4u);
}

TEST(BatchTuner, SettlesOnTheFastestShape) {
  Device d;
  // A virtual disk: a whole batch in one call runs the queue half empty.
  d.rate = [](const Shape& s) { return s == kCap4 ? 85000.0 : s == kAll ? 72000.0 : 80000.0; };
  d.cost = [](const Shape& s) { return s == kCap4 ? 3000.0 : 2000.0; };
  BatchTuner t(32, d.Clock());
  d.Drive(&t, 1'000'000'000);
  ASSERT_TRUE(t.decided());
  EXPECT_EQ(t.chosen(), kCap4) << "6% faster beats a third less CPU";
  EXPECT_EQ(t.shape(), kCap4) << "held after the tries";
}

TEST(BatchTuner, AmongShapesAsFastTheCheapestWins) {
  Device d;
  // Three shapes move as much (within 5%). The quarter first costs two
  // notifications per batch but here also a second wakeup (its head comes
  // back alone), so 8 per call is the cheapest; the fewest calls is not.
  d.rate = [](const Shape& s) { return s == kAll ? 170000.0 : s == kCap8 ? 233000.0 : 230000.0; };
  d.cost = [](const Shape& s) {
    return s == kAll ? 2000.0 : s == kQuarterFirst ? 2400.0 : s == kCap8 ? 2150.0 : 2900.0;
  };
  EXPECT_EQ(d.Settle(32), kCap8);
  // The same with the quarter first the cheapest (the disk measured, some days).
  d.cost = [](const Shape& s) {
    return s == kAll ? 2000.0 : s == kQuarterFirst ? 2150.0 : s == kCap8 ? 2340.0 : 2900.0;
  };
  EXPECT_EQ(d.Settle(32), kQuarterFirst);
}

TEST(BatchTuner, ACheaperShapeMoreThanFivePercentSlowerLoses) {
  Device d;
  d.rate = [](const Shape& s) { return s == kCap8 ? 100000.0 : 94000.0; };
  d.cost = [](const Shape& s) { return s == kCap8 ? 3000.0 : 2000.0; };
  EXPECT_EQ(d.Settle(32), kCap8);
}

TEST(BatchTuner, ACheaperShapeFourPercentSlowerWins) {
  Device d;
  d.rate = [](const Shape& s) { return s == kCap4 ? 100000.0 : s == kCap8 ? 96000.0 : 80000.0; };
  d.cost = [](const Shape& s) { return s == kCap4 ? 3000.0 : s == kCap8 ? 2600.0 : 2000.0; };
  EXPECT_EQ(d.Settle(32), kCap8);
}

// On a fast device the tries end at 20 ms, and a slower shape's try holds
// fewer completions: the CPU is compared per completion, not per try.
TEST(BatchTuner, ComparesCpuPerCompletionNotPerTry) {
  Device d;
  d.rate = [](const Shape& s) {
    return s == kAll ? 500000.0 : s == kQuarterFirst ? 480000.0 : 300000.0;
  };
  // Per try of 20 ms: all ready 10,000 x 2.00 us = 20.0 ms of CPU; a quarter
  // first 9,600 x 2.05 us = 19.7 ms. Per completion all ready is cheaper.
  d.cost = [](const Shape& s) { return s == kQuarterFirst ? 2050.0 : 2000.0; };
  EXPECT_EQ(d.Settle(32), kAll);
}

TEST(BatchTuner, WithoutACpuClockATieGoesToTheFewestCalls) {
  Device d;
  // A cached file: one call with every request is as fast (2% off is within the tie).
  d.rate = [](const Shape& s) { return s == kAll ? 700000.0 : s == kCap8 ? 714000.0 : 600000.0; };
  EXPECT_EQ(d.Settle(32, /*cpu_clock=*/false), kAll);
}

// A try in which the thread's CPU clock did not move measured nothing: that
// shape is not taken for the cheapest.
TEST(BatchTuner, AShapeWhoseCostWasNotMeasuredIsNotTheCheapest) {
  Device d;
  d.rate = [](const Shape&) { return 100000.0; };
  d.cost = [](const Shape& s) {
    return s == kQuarterFirst ? 0.0 : s == kCap8 ? 2000.0 : s == kAll ? 2500.0 : 3000.0;
  };
  EXPECT_EQ(d.Settle(32), kCap8);
}

TEST(BatchTuner, TriesAgainAfterItsHoldAndFollowsTheDevice) {
  Device d;
  d.rate = [](const Shape& s) { return s == kCap8 ? 90000.0 : 60000.0; };
  BatchTuner t(32, d.Clock());
  d.Drive(&t, 1'000'000'000);
  ASSERT_EQ(t.chosen(), kCap8);
  // The device changes: cap 4 is now far ahead. The mean of the tries moves
  // to it within a few rounds.
  d.rate = [](const Shape& s) { return s == kCap4 ? 300000.0 : 60000.0; };
  d.Drive(&t, 20'000'000'000);
  EXPECT_EQ(t.chosen(), kCap4);
}

// A device that changes after a long steady run is still followed: the tries
// are averaged with decay, not over the whole job - and so is the CPU cost.
TEST(BatchTuner, FollowsAChangeAfterALongRun) {
  Device d;
  d.rate = [](const Shape& s) { return s == kAll ? 90000.0 : 70000.0; };
  d.cost = [](const Shape& s) { return s == kQuarterFirst ? 4000.0 : 2000.0; };
  BatchTuner t(32, d.Clock());
  d.Drive(&t, 60'000'000'000);
  ASSERT_EQ(t.chosen(), kAll);
  d.rate = [](const Shape& s) { return s == kCap4 ? 90000.0 : 70000.0; };
  d.Drive(&t, 6'000'000'000);
  EXPECT_EQ(t.chosen(), kCap4) << "within about two rounds of 2 s";
  // All as fast again, and the quarter first, the dearest for a minute, is
  // now the cheapest: its cost's history decays too.
  d.rate = [](const Shape&) { return 90000.0; };
  d.cost = [](const Shape& s) { return s == kQuarterFirst ? 1000.0 : 2000.0; };
  d.Drive(&t, 12'000'000'000);
  EXPECT_EQ(t.chosen(), kQuarterFirst) << "within a few rounds, once rates and costs have met";
}

TEST(BatchTuner, ShallowQueuesTryOnlyShapesBelowTheirDepth) {
  Device d;
  d.rate = [](const Shape& s) {
    return s == kCap8 ? 1e9 : s == kCap4 ? 90000.0 : 50000.0;  // 8 is never tried
  };
  EXPECT_EQ(d.Settle(8), kCap4);
}

}  // namespace
}  // namespace faio::tool
