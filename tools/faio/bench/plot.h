// plot.h - `faio bench --plot FILE.svg`: a self-contained SVG picture of
// a run (IOPS over time, and the completion-latency percentiles on log axes),
// readable in any browser or image viewer.
#ifndef FAIO_TOOLS_FAIO_BENCH_PLOT_H_
#define FAIO_TOOLS_FAIO_BENCH_PLOT_H_

#include <string>
#include <vector>

#include "bench/bench.h"
#include "bench/progress.h"
#include "bench/stats.h"

namespace faio::tool {

// PlotSvg renders the picture: `samples` (the jobs' summed totals every
// ~100 ms) give the IOPS curve, `group` (all jobs merged) the clat percentiles.
std::string PlotSvg(const BenchSpec& spec, const std::vector<Sample>& samples,
                    const JobResult& group);

// WritePlot writes PlotSvg to `path`. Throws ToolError naming --plot when the
// file cannot be written.
void WritePlot(const std::string& path, const BenchSpec& spec, const std::vector<Sample>& samples,
               const JobResult& group);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_PLOT_H_
