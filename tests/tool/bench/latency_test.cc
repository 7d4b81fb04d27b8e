// latency_test.cc - LatencyHistogram against known distributions: every
// percentile within the bucket's relative error of the exact order statistic,
// merge equal to recording everything into one, exact mean and stdev.
#include "bench/latency.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace faio::tool {
namespace {

constexpr double kPcts[] = {0,  1,  5,  10, 20,   30,   40,    50,    60,     70,
                            80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100};

// Exact is the k-th smallest sample, k = ceil(p/100 * n) (at least 1): the
// definition LatencyHistogram::Percentile documents.
uint64_t Exact(const std::vector<uint64_t>& sorted, double p) {
  uint64_t n = sorted.size();
  uint64_t k = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  k = std::clamp<uint64_t>(k, 1, n);
  return sorted[k - 1];
}

long double TwoPassStddev(const std::vector<uint64_t>& v) {
  long double mean = 0;
  for (uint64_t x : v) mean += x;
  mean /= v.size();
  long double m2 = 0;
  for (uint64_t x : v) m2 += (x - mean) * (x - mean);
  return std::sqrt(m2 / (v.size() - 1));
}

void CheckAgainst(std::vector<uint64_t> samples, const char* what) {
  LatencyHistogram h;
  for (uint64_t v : samples) h.Record(v);
  std::sort(samples.begin(), samples.end());
  ASSERT_EQ(h.count(), samples.size()) << what;
  EXPECT_EQ(h.min(), samples.front()) << what;
  EXPECT_EQ(h.max(), samples.back()) << what;
  for (double p : kPcts) {
    const double exact = static_cast<double>(Exact(samples, p));
    const double got = static_cast<double>(h.Percentile(p));
    // The middle of a bucket at most 1/64 of its lower edge wide.
    EXPECT_LE(std::abs(got - exact), exact / 128.0 + 1e-9)
        << what << " p" << p << ": histogram " << got << ", exact " << exact;
  }
  long double sum = 0;
  for (uint64_t v : samples) sum += v;
  EXPECT_NEAR(h.mean(), static_cast<double>(sum / samples.size()), 1e-9 * h.mean() + 1e-9) << what;
  const double sd = static_cast<double>(TwoPassStddev(samples));
  EXPECT_NEAR(h.stddev(), sd, 1e-9 * sd + 1e-6) << what;
}

TEST(LatencyHistogram, BucketsCoverEveryValueWithinOneSixtyFourth) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> values = {0,
                                  1,
                                  63,
                                  127,
                                  128,
                                  129,
                                  255,
                                  256,
                                  1000,
                                  4095,
                                  4096,
                                  UINT64_MAX,
                                  UINT64_MAX / 2,
                                  uint64_t{1} << 40};
  for (int i = 0; i < 100000; ++i) values.push_back(rng() >> (rng() % 64));
  for (uint64_t v : values) {
    size_t i = LatencyHistogram::Index(v);
    ASSERT_LT(i, LatencyHistogram::kBuckets) << v;
    uint64_t lo = LatencyHistogram::Lower(i), hi = LatencyHistogram::Upper(i);
    ASSERT_LE(lo, v);
    ASSERT_GE(hi, v);
    if (v < LatencyHistogram::kLinear) {
      EXPECT_EQ(lo, hi) << "values below 128 have their own bucket";
    } else {
      EXPECT_LE(static_cast<double>(hi - lo + 1), static_cast<double>(lo) / 64.0) << v;
    }
    if (i + 1 < LatencyHistogram::kBuckets) {
      EXPECT_EQ(LatencyHistogram::Lower(i + 1), hi + 1);
    }
  }
}

TEST(LatencyHistogram, EmptyIsAllZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_EQ(h.Percentile(50), 0u);
}

TEST(LatencyHistogram, Uniform) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<uint64_t> d(1000, 1000000);
  std::vector<uint64_t> s(200000);
  for (auto& v : s) v = d(rng);
  CheckAgainst(s, "uniform");
}

TEST(LatencyHistogram, Exponential) {
  std::mt19937_64 rng(2);
  std::exponential_distribution<double> d(1.0 / 50000.0);  // mean 50 us
  std::vector<uint64_t> s(200000);
  for (auto& v : s) v = static_cast<uint64_t>(d(rng));
  CheckAgainst(s, "exponential");
}

TEST(LatencyHistogram, ConstantIsExact) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.Record(123457);
  for (double p : kPcts) EXPECT_EQ(h.Percentile(p), 123457u) << p;
  EXPECT_EQ(h.mean(), 123457.0);
  EXPECT_EQ(h.stddev(), 0.0);
  CheckAgainst(std::vector<uint64_t>(5000, 987654321), "constant");
}

TEST(LatencyHistogram, Bimodal) {
  // 90% around 20 us, 10% around 5 ms: the tail percentiles sit in the second mode.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> fast(20000, 2000), slow(5e6, 5e5);
  std::bernoulli_distribution tail(0.1);
  std::vector<uint64_t> s(200000);
  for (auto& v : s) v = static_cast<uint64_t>(std::max(1.0, tail(rng) ? slow(rng) : fast(rng)));
  CheckAgainst(s, "bimodal");
  LatencyHistogram h;
  for (uint64_t v : s) h.Record(v);
  EXPECT_LT(h.Percentile(50), 40000u);
  EXPECT_GT(h.Percentile(95), 3000000u);
}

TEST(LatencyHistogram, StddevSurvivesALargeMean) {
  // A mean of ~1e12 ns with a spread of a few ns: a naive sum-of-squares in
  // double would lose it all.
  std::vector<uint64_t> s;
  for (int i = 0; i < 10000; ++i) s.push_back(1000000000000ull + static_cast<uint64_t>(i % 7));
  LatencyHistogram h;
  for (uint64_t v : s) h.Record(v);
  EXPECT_NEAR(h.stddev(), static_cast<double>(TwoPassStddev(s)), 1e-6);
  EXPECT_GT(h.stddev(), 1.5);
}

TEST(LatencyHistogram, MergeEqualsRecordingIntoOne) {
  std::mt19937_64 rng(4);
  std::lognormal_distribution<double> d(10.0, 1.5);
  LatencyHistogram all, a, b, c;
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = static_cast<uint64_t>(d(rng));
    all.Record(v);
    (i % 3 == 0 ? a : i % 3 == 1 ? b : c).Record(v);
  }
  LatencyHistogram m;
  m.Merge(a);
  m.Merge(b);
  m.Merge(c);
  EXPECT_EQ(m.count(), all.count());
  EXPECT_EQ(m.min(), all.min());
  EXPECT_EQ(m.max(), all.max());
  EXPECT_EQ(m.sum(), all.sum());
  EXPECT_DOUBLE_EQ(m.mean(), all.mean());
  EXPECT_DOUBLE_EQ(m.stddev(), all.stddev());
  for (double p : kPcts) EXPECT_EQ(m.Percentile(p), all.Percentile(p)) << p;
  size_t buckets_all = 0, buckets_m = 0;
  all.ForEachBucket([&](uint64_t, uint64_t, uint64_t n) { buckets_all += n; });
  m.ForEachBucket([&](uint64_t, uint64_t, uint64_t n) { buckets_m += n; });
  EXPECT_EQ(buckets_all, buckets_m);
  EXPECT_EQ(buckets_all, all.count());
}

TEST(LatencyHistogram, MergeWithEmptyChangesNothing) {
  LatencyHistogram h, empty;
  h.Record(500);
  h.Record(7000);
  h.Merge(empty);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 500u);
  EXPECT_EQ(h.max(), 7000u);
  empty.Merge(h);
  EXPECT_EQ(empty.min(), 500u);
}

TEST(LatencyHistogram, RecordNIsNRecords) {
  LatencyHistogram one, many;
  for (int i = 0; i < 37; ++i) one.Record(4242);
  one.Record(99);
  many.RecordN(4242, 37);
  many.RecordN(99, 1);
  many.RecordN(5, 0);  // nothing
  EXPECT_EQ(one.count(), many.count());
  EXPECT_EQ(one.min(), many.min());
  EXPECT_DOUBLE_EQ(one.stddev(), many.stddev());
  for (double p : kPcts) EXPECT_EQ(one.Percentile(p), many.Percentile(p));
}

TEST(LatencyHistogram, ResetEmpties) {
  LatencyHistogram h;
  h.Record(1);
  h.Record(1000000);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0u);
  h.Record(77);
  EXPECT_EQ(h.min(), 77u);
  EXPECT_EQ(h.Percentile(99), 77u);
}

}  // namespace
}  // namespace faio::tool
