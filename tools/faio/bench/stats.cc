// stats.cc - see stats.h.
#include "bench/stats.h"

#include <algorithm>

namespace faio::tool {
void DirStats::Merge(const DirStats& o) {
  ios += o.ios;
  bytes += o.bytes;
  short_ios += o.short_ios;
  errors += o.errors;
  slat.Merge(o.slat);
  clat.Merge(o.clat);
  lat.Merge(o.lat);
}

void SyncStats::Merge(const SyncStats& o) {
  ios += o.ios;
  errors += o.errors;
  lat.Merge(o.lat);
}

std::unique_ptr<JobResult> MergeJobs(const std::vector<std::unique_ptr<JobResult>>& jobs) {
  auto m = std::make_unique<JobResult>();
  m->jobs = 0;
  bool first = true;
  for (const auto& j : jobs) {
    m->jobs += j->jobs;
    for (int d = 0; d < kDirections; ++d) m->dir[d].Merge(j->dir[d]);
    m->sync.Merge(j->sync);
    m->runtime_ns = std::max(m->runtime_ns, j->runtime_ns);
    m->min_runtime_ns = first ? j->min_runtime_ns : std::min(m->min_runtime_ns, j->min_runtime_ns);
    m->elapsed_ns = std::max(m->elapsed_ns, j->elapsed_ns);
    if (first) m->submit_batch = j->submit_batch;
    m->cpu.Add(j->cpu);
    m->cpu_base_ns += j->cpu_base_ns;
    if (m->first_error.empty() && !j->first_error.empty()) {
      m->first_error = j->first_error;
      m->error = j->error;
    }
    m->interrupted = m->interrupted || j->interrupted;
    first = false;
  }
  return m;
}

}  // namespace faio::tool
