// latency.h - a fixed-size latency histogram for the bench job.
//
// Values are nanoseconds. Below 64 ns every value has its own bucket; above, each
// power of two is split into 32 buckets (HDR-histogram style), so a percentile is
// within ~3% of the true value. Recording is a few instructions and never
// allocates, so it can sit in the completion loop.
#ifndef FAIO_TOOLS_FAIO_LATENCY_H_
#define FAIO_TOOLS_FAIO_LATENCY_H_

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>

namespace faio::tool {

class LatencyHistogram {
 public:
  void Record(uint64_t ns) {
    ++buckets_[Index(ns)];
    ++count_;
    sum_ += ns;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  // Percentile returns the value below which fraction p (0..1) of the samples lie
  // (the upper edge of the bucket holding that rank, capped at the maximum).
  uint64_t Percentile(double p) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(p * static_cast<double>(count_));
    if (rank >= count_) rank = count_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen > rank) return std::min(UpperEdge(i), max_);
    }
    return max_;
  }

 private:
  static constexpr int kSubBits = 5;       // 32 buckets per power of two
  static constexpr uint64_t kLinear = 64;  // exact buckets below this
  static constexpr size_t kBuckets = kLinear + (64 - 6) * (1u << kSubBits);

  static size_t Index(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    int e = 63 - std::countl_zero(v);  // 6..63
    uint64_t sub = (v >> (e - kSubBits)) & ((1u << kSubBits) - 1);
    return kLinear + static_cast<size_t>(e - 6) * (1u << kSubBits) + static_cast<size_t>(sub);
  }
  static uint64_t UpperEdge(size_t i) {
    if (i < kLinear) return i;
    size_t k = i - kLinear;
    int e = static_cast<int>(k >> kSubBits) + 6;
    uint64_t sub = k & ((1u << kSubBits) - 1);
    uint64_t base = (uint64_t{1} << e) + (sub << (e - kSubBits));
    return base + (uint64_t{1} << (e - kSubBits)) - 1;
  }

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_LATENCY_H_
