// batch_tuner_test.cc - faio bench's --iodepth_batch_submit auto (BatchTuner)
// against simulated devices: each cap completes requests at a rate the test
// sets, and the tuner must settle on the fastest (the larger within 3%), try
// again after its hold, and follow a device whose best cap changes.
#include "bench/batch_tuner.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

namespace faio::tool {
namespace {

// Drive runs the tuner for `ns` of simulated time in steps of 100 us, the
// device completing rate(cap) requests per second at the cap in force.
void Drive(BatchTuner* t, uint64_t* now, double* completed, uint64_t ns,
           const std::function<double(uint32_t)>& rate) {
  const uint64_t step = 100'000;
  for (uint64_t end = *now + ns; *now < end; *now += step) {
    t->Observe(*now, static_cast<uint64_t>(*completed));
    *completed += rate(t->cap()) * 1e-9 * static_cast<double>(step);
  }
}

TEST(BatchTuner, SettlesOnTheFastestCap) {
  BatchTuner t(32);
  uint64_t now = 1;
  double done = 0;
  // A virtual disk: bursts of a whole batch run the queue half empty.
  auto disk = [](uint32_t cap) { return cap == 4 ? 85000.0 : cap == 0 ? 72000.0 : 80000.0; };
  Drive(&t, &now, &done, 1'000'000'000, disk);
  ASSERT_TRUE(t.decided());
  EXPECT_EQ(t.chosen(), 4u);
  EXPECT_EQ(t.cap(), 4u) << "held after the tries";
}

TEST(BatchTuner, ALargerCapWinsWithinThreePercent) {
  BatchTuner t(32);
  uint64_t now = 1;
  double done = 0;
  // A cached file: one call with every request is as fast (2% off is a tie).
  auto cached = [](uint32_t cap) { return cap == 0 ? 700000.0 : cap == 8 ? 714000.0 : 600000.0; };
  Drive(&t, &now, &done, 1'000'000'000, cached);
  ASSERT_TRUE(t.decided());
  EXPECT_EQ(t.chosen(), 0u);
}

TEST(BatchTuner, TriesAgainAfterItsHoldAndFollowsTheDevice) {
  BatchTuner t(32);
  uint64_t now = 1;
  double done = 0;
  Drive(&t, &now, &done, 1'000'000'000, [](uint32_t cap) { return cap == 8 ? 90000.0 : 60000.0; });
  ASSERT_EQ(t.chosen(), 8u);
  // The device changes: cap 4 is now far ahead. The mean of the tries moves
  // to it within a few rounds.
  Drive(&t, &now, &done, 20'000'000'000,
        [](uint32_t cap) { return cap == 4 ? 300000.0 : 60000.0; });
  EXPECT_EQ(t.chosen(), 4u);
}

// A device that changes after a long steady run is still followed: the
// tries are averaged with decay, not over the whole job.
TEST(BatchTuner, FollowsAChangeAfterALongRun) {
  BatchTuner t(32);
  uint64_t now = 1;
  double done = 0;
  Drive(&t, &now, &done, 60'000'000'000, [](uint32_t cap) { return cap == 0 ? 90000.0 : 70000.0; });
  ASSERT_EQ(t.chosen(), 0u);
  Drive(&t, &now, &done, 6'000'000'000, [](uint32_t cap) { return cap == 4 ? 90000.0 : 70000.0; });
  EXPECT_EQ(t.chosen(), 4u) << "within about two rounds of 2 s";
}

TEST(BatchTuner, ShallowQueuesTryOnlyCapsBelowTheirDepth) {
  BatchTuner t(8);  // caps 0 and 4 only
  uint64_t now = 1;
  double done = 0;
  Drive(&t, &now, &done, 1'000'000'000, [](uint32_t cap) {
    return cap == 8 ? 1e9 : cap == 4 ? 90000.0 : 50000.0;  // 8 is never tried
  });
  ASSERT_TRUE(t.decided());
  EXPECT_EQ(t.chosen(), 4u);
}

}  // namespace
}  // namespace faio::tool
