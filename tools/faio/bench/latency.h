// latency.h - a constant-size, mergeable latency histogram for faio bench.
//
// Values are nanoseconds. Below 128 ns every value has its own bucket; above,
// each power of two is split into 64 equal buckets (log-linear, HDR-histogram
// style), so a bucket is at most 1/64 of its lower edge wide. A percentile is
// reported as the middle of the bucket holding that rank (clamped to the
// recorded min and max), hence within 1/128 (0.8%) of the true sample value.
// The histogram is about 30 KiB, never allocates, and recording is an index
// computation and a few adds, so it can sit in the completion loop.
//
// The mean and the standard deviation are exact: the sum of values and the sum
// of their squares are kept as integers (the squares in 128 bits).
//
// Not thread-safe: each job records into its own histograms; Merge adds them
// afterwards.
#ifndef FAIO_TOOLS_FAIO_BENCH_LATENCY_H_
#define FAIO_TOOLS_FAIO_BENCH_LATENCY_H_

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace faio::tool {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 6;                            // 64 buckets per power of two
  static constexpr uint64_t kLinear = uint64_t{2} << kSubBits;  // exact buckets below 128
  static constexpr size_t kBuckets =
      kLinear + static_cast<size_t>(64 - (kSubBits + 1)) * (size_t{1} << kSubBits);

  void Record(uint64_t ns) { RecordN(ns, 1); }

  // RecordN records `n` samples of the same value (a whole batch's submission
  // latency in one call).
  void RecordN(uint64_t ns, uint64_t n) {
    if (n == 0) return;
    buckets_[Index(ns)] += n;
    count_ += n;
    sum_ += ns * n;
    sum_sq_ += static_cast<unsigned __int128>(ns) * ns * n;
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }

  // Merge adds every sample of `o` to this histogram; the result is what
  // recording both sample sets into one histogram would have given.
  void Merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    sum_sq_ += o.sum_sq_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }

  void Reset() { *this = LatencyHistogram(); }

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  uint64_t sum() const { return sum_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  // stddev is the sample standard deviation (divided by n-1, as fio reports it);
  // 0 for fewer than two samples.
  double stddev() const {
    if (count_ < 2) return 0.0;
    // sum((x - q)^2) with q = floor(mean) is exact in 128 bits; the fractional
    // part r/n of the mean is then taken off: M2 = S_q - r^2/n.
    const uint64_t q = sum_ / count_;
    const uint64_t r = sum_ % count_;
    const __int128 s_q = static_cast<__int128>(sum_sq_) -
                         2 * static_cast<__int128>(q) * static_cast<__int128>(sum_) +
                         static_cast<__int128>(count_) * q * q;
    long double m2 = static_cast<long double>(s_q) -
                     static_cast<long double>(r) * static_cast<long double>(r) / count_;
    if (m2 < 0) m2 = 0;
    return static_cast<double>(std::sqrt(m2 / static_cast<long double>(count_ - 1)));
  }

  // Percentile returns the value at percent `p` (0..100): the k-th smallest
  // sample with k = ceil(p/100 * count) (at least 1), as the middle of its
  // bucket clamped to [min, max]. 0 when empty.
  uint64_t Percentile(double p) const {
    if (count_ == 0) return 0;
    uint64_t k = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    k = std::clamp<uint64_t>(k, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen >= k) return std::clamp(Middle(i), min_, max_);
    }
    return max_;
  }

  // ForEachBucket calls fn(lower, upper, count) for every non-empty bucket in
  // increasing order; [lower, upper] are the bucket's inclusive bounds in ns.
  template <typename Fn>
  void ForEachBucket(Fn&& fn) const {
    for (size_t i = 0; i < kBuckets; ++i) {
      if (buckets_[i] != 0) fn(Lower(i), Upper(i), buckets_[i]);
    }
  }

  // The bucket arithmetic, public for the tests.
  static size_t Index(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    const int e = 63 - std::countl_zero(v);  // kSubBits+1 .. 63
    const uint64_t sub = (v >> (e - kSubBits)) & ((uint64_t{1} << kSubBits) - 1);
    return static_cast<size_t>(
        kLinear + static_cast<uint64_t>(e - kSubBits - 1) * (uint64_t{1} << kSubBits) + sub);
  }
  static uint64_t Lower(size_t i) {
    if (i < kLinear) return i;
    const size_t k = i - kLinear;
    const int e = static_cast<int>(k >> kSubBits) + kSubBits + 1;
    const uint64_t sub = k & ((size_t{1} << kSubBits) - 1);
    return (uint64_t{1} << e) + (sub << (e - kSubBits));
  }
  static uint64_t Upper(size_t i) {
    if (i < kLinear) return i;
    const int e = static_cast<int>((i - kLinear) >> kSubBits) + kSubBits + 1;
    return Lower(i) + ((uint64_t{1} << (e - kSubBits)) - 1);
  }
  static uint64_t Middle(size_t i) { return Lower(i) + (Upper(i) - Lower(i)) / 2; }

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  unsigned __int128 sum_sq_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_LATENCY_H_
