// report.h - faio bench's output: fio-like text, and fio-shaped JSON.
#ifndef FAIO_TOOLS_FAIO_BENCH_REPORT_H_
#define FAIO_TOOLS_FAIO_BENCH_REPORT_H_

#include <cstdint>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "bench/stats.h"

namespace faio::tool {

// ReportInfo is what the report says about the run besides the figures.
struct ReportInfo {
  std::string backend;
  std::string path;  // the file used
  bool temporary = false;
  uint64_t file_size = 0;
  std::string fixedbufs = "off";      // what --fixedbufs did
  std::string registerfiles = "off";  // what --registerfiles did
  std::time_t started = 0;
};

// The percentiles fio prints by default (percent).
inline constexpr double kPercentiles[] = {1,  5,  10, 20, 30,   40,   50,    60,   70,
                                          80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99};

// PrintHeader prints the job line fio prints before a run.
void PrintHeader(const BenchSpec& spec, const ReportInfo& info);

// PrintNormal prints fio's per-job report for each of `entries` (one per job,
// or one merged entry), then the group summary from `group` and the per-job
// `jobs` (for the min-max of the bandwidth and the runtime).
void PrintNormal(const BenchSpec& spec, const ReportInfo& info,
                 const std::vector<const JobResult*>& entries, const JobResult& group,
                 const std::vector<std::unique_ptr<JobResult>>& jobs);

// BenchJson builds the JSON document: fio's names and nesting ("jobs"[i].read.iops,
// .clat_ns.percentile["99.000000"], ...), "faio version" instead of "fio version",
// and a "faio" object per job with what fio has no field for.
nlohmann::ordered_json BenchJson(const BenchSpec& spec, const ReportInfo& info,
                                 const std::vector<const JobResult*>& entries);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_REPORT_H_
