// report.cc - see report.h.
#include "bench/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/common.h"
#include "cli/options.h"
#include "host/host.h"

namespace faio::tool {
namespace {

using Json = nlohmann::ordered_json;

double Secs(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// Human renders a quantity with the largest unit that keeps it under 10000,
// three significant digits or so, as fio does ("10.9MiB", "420MiB", "2674MiB").
std::string Human(double v, bool binary) {
  static constexpr const char* kBin[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  static constexpr const char* kDec[] = {"B", "kB", "MB", "GB", "TB"};
  const double step = binary ? 1024.0 : 1000.0;
  int u = 0;
  while (u < 4 && v >= 10000.0) {
    v /= step;
    ++u;
  }
  const char* unit = binary ? kBin[u] : kDec[u];
  if (v >= 100 || u == 0) return fmt::format("{:.0f}{}", v, unit);
  if (v >= 10) return fmt::format("{:.1f}{}", v, unit);
  return fmt::format("{:.2f}{}", v, unit);
}

double Rate(uint64_t bytes, uint64_t ns) {
  return ns == 0 ? 0.0 : static_cast<double>(bytes) / Secs(ns);
}

// LatUnit picks the unit fio prints a latency summary and its percentiles in:
// the largest in which the minimum is still at least 1.
struct Unit {
  const char* name;
  double div;
};
Unit LatUnit(uint64_t min_ns) {
  if (min_ns < 1000) return {"nsec", 1};
  if (min_ns < 1000000) return {"usec", 1e3};
  return {"msec", 1e6};
}

void PrintLat(const char* label, const LatencyHistogram& h) {
  if (h.count() == 0) return;
  Unit u = LatUnit(h.min());
  fmt::print("    {} ({}): min={:.0f}, max={:.0f}, avg={:.2f}, stdev={:.2f}\n", label, u.name,
             static_cast<double>(h.min()) / u.div, static_cast<double>(h.max()) / u.div,
             h.mean() / u.div, h.stddev() / u.div);
}

void PrintPercentiles(const char* label, const LatencyHistogram& h) {
  if (h.count() == 0) return;
  Unit u = LatUnit(h.min());
  std::vector<std::string> cells;
  size_t width = 1;
  std::vector<uint64_t> vals;
  for (double p : kPercentiles) {
    uint64_t v = static_cast<uint64_t>(std::llround(static_cast<double>(h.Percentile(p)) / u.div));
    vals.push_back(v);
    width = std::max(width, fmt::format("{}", v).size());
  }
  fmt::print("    {} percentiles ({}):\n", label, u.name);
  for (size_t i = 0; i < vals.size(); ++i) {
    if (i % 3 == 0) fmt::print("     |");
    fmt::print(" {:5.2f}th=[{:>{}}]{}", kPercentiles[i], vals[i], width,
               i + 1 == vals.size() ? "" : ",");
    if (i % 3 == 2 || i + 1 == vals.size()) fmt::print("\n");
  }
}

void PrintDirection(const char* name, const DirStats& d, uint64_t runtime_ns) {
  if (d.ios == 0 && d.errors == 0) return;
  double iops = runtime_ns == 0 ? 0.0 : static_cast<double>(d.ios) / Secs(runtime_ns);
  double bw = Rate(d.bytes, runtime_ns);
  fmt::print("  {}: IOPS={}, BW={}/s ({}/s)({}/{}msec)\n", name, FormatCount(iops), Human(bw, true),
             Human(bw, false), Human(static_cast<double>(d.bytes), true),
             (runtime_ns + 500000) / 1000000);
  PrintLat("slat", d.slat);
  PrintLat("clat", d.clat);
  PrintLat(" lat", d.lat);
  PrintPercentiles("clat", d.clat);
}

const char* JobKind(const BenchSpec& s) {
  if (s.reads && s.writes) return s.random ? "m" : "M";
  if (s.writes) return s.random ? "w" : "W";
  return s.random ? "r" : "R";
}

Json LatJson(const LatencyHistogram& h, bool percentiles) {
  Json j;
  j["min"] = h.min();
  j["max"] = h.max();
  j["mean"] = h.mean();
  j["stddev"] = h.stddev();
  j["N"] = h.count();
  if (percentiles && h.count() != 0) {
    Json p;
    for (double pct : kPercentiles) p[fmt::format("{:f}", pct)] = h.Percentile(pct);
    j["percentile"] = std::move(p);
  }
  return j;
}

Json DirJson(const DirStats& d, uint64_t runtime_ns) {
  Json j;
  const uint64_t ms = (runtime_ns + 500000) / 1000000;
  const double bw = Rate(d.bytes, runtime_ns);
  j["io_bytes"] = d.bytes;
  j["io_kbytes"] = d.bytes / 1024;
  j["bw_bytes"] = static_cast<uint64_t>(bw);
  j["bw"] = static_cast<uint64_t>(bw / 1024);
  j["iops"] = runtime_ns == 0 ? 0.0 : static_cast<double>(d.ios) / Secs(runtime_ns);
  j["runtime"] = d.ios == 0 && d.errors == 0 ? 0 : ms;
  j["total_ios"] = d.ios;
  j["short_ios"] = d.short_ios;
  j["drop_ios"] = 0;
  j["slat_ns"] = LatJson(d.slat, false);
  j["clat_ns"] = LatJson(d.clat, true);
  j["lat_ns"] = LatJson(d.lat, true);
  return j;
}

}  // namespace

void PrintHeader(const BenchSpec& spec, const ReportInfo& info) {
  fmt::print("{}: (g=0): rw={}, bs=(R) {}B-{}B, (W) {}B-{}B, ioengine=faio/{}, iodepth={}\n",
             spec.name, spec.rw, spec.bs, spec.bs, spec.bs, spec.bs, info.backend, spec.iodepth);
  fmt::print("faio-{}\n", VersionString());
  fmt::print("Starting {} thread{} on {} ({}{}){}; fixedbufs: {}; registerfiles: {}\n",
             spec.numjobs, spec.numjobs == 1 ? "" : "s", info.path, FormatBytes(info.file_size),
             info.temporary ? ", temporary, removed at exit" : "", spec.direct ? "; O_DIRECT" : "",
             info.fixedbufs, info.registerfiles);
}

void PrintNormal(const BenchSpec& spec, const ReportInfo& info,
                 const std::vector<const JobResult*>& entries, const JobResult& group,
                 const std::vector<std::unique_ptr<JobResult>>& jobs) {
  char when[64] = "";
  std::tm tm{};
  if (LocalTime(info.started, &tm)) std::strftime(when, sizeof when, "%c", &tm);
  fmt::print("\n");
  for (const JobResult* e : entries) {
    fmt::print("{}: (groupid=0, jobs={}): err={:2}: pid={}: {}\n", spec.name, e->jobs,
               e->failed() ? e->error : 0, ProcessId(), when);
    PrintDirection("read", e->dir[kDirRead], e->runtime_ns);
    PrintDirection("write", e->dir[kDirWrite], e->runtime_ns);
    if (e->sync.ios != 0 || e->sync.errors != 0) {
      fmt::print("  fsync/fdatasync/sync_file_range:\n");
      PrintLat("sync", e->sync.lat);
      PrintPercentiles("sync", e->sync.lat);
    }
    double base = Secs(e->cpu_base_ns);
    fmt::print("  cpu          : usr={:.2f}%, sys={:.2f}%, ctx={}, majf={}, minf={}\n",
               base > 0 ? 100.0 * e->cpu.usr_s / base : 0.0,
               base > 0 ? 100.0 * e->cpu.sys_s / base : 0.0, e->cpu.ctx, e->cpu.majf, e->cpu.minf);
    fmt::print("  submit batch : {} per call\n", e->submit_batch);
    fmt::print("     issued rwts: total={},{},0,{} short={},{},0,0 dropped=0,0,0,0\n",
               e->dir[kDirRead].ios, e->dir[kDirWrite].ios, e->sync.ios, e->dir[kDirRead].short_ios,
               e->dir[kDirWrite].short_ios);
    fmt::print("     errors     : read={}, write={}, sync={}\n", e->dir[kDirRead].errors,
               e->dir[kDirWrite].errors, e->sync.errors);
    if (e->failed()) fmt::print("     first error: {}\n", e->first_error);
  }
  fmt::print("\nRun status group 0 (all jobs):\n");
  static constexpr const char* kNames[] = {"READ", "WRITE"};
  for (int d = 0; d < kDirections; ++d) {
    const DirStats& g = group.dir[d];
    if (g.ios == 0) continue;
    double lo = 0, hi = 0;
    uint64_t rlo = UINT64_MAX, rhi = 0;
    for (const auto& j : jobs) {
      double r = Rate(j->dir[d].bytes, j->runtime_ns);
      lo = &j == &jobs.front() ? r : std::min(lo, r);
      hi = std::max(hi, r);
      rlo = std::min(rlo, j->runtime_ns);
      rhi = std::max(rhi, j->runtime_ns);
    }
    double bw = Rate(g.bytes, group.runtime_ns);
    fmt::print("{:>7}: bw={}/s ({}/s), {}/s-{}/s ({}/s-{}/s), io={} ({}), run={}-{}msec\n",
               kNames[d], Human(bw, true), Human(bw, false), Human(lo, true), Human(hi, true),
               Human(lo, false), Human(hi, false), Human(static_cast<double>(g.bytes), true),
               Human(static_cast<double>(g.bytes), false), (rlo + 500000) / 1000000,
               (rhi + 500000) / 1000000);
  }
  if (group.interrupted) fmt::print("\ninterrupted: the figures cover the part that ran\n");
}

Json BenchJson(const BenchSpec& spec, const ReportInfo& info,
               const std::vector<const JobResult*>& entries) {
  Json root;
  root["faio version"] = "faio-" + VersionString();
  root["timestamp"] = static_cast<int64_t>(info.started);
  root["timestamp_ms"] = static_cast<int64_t>(info.started) * 1000;
  char when[64] = "";
  std::tm tm{};
  if (LocalTime(info.started, &tm)) {
    // fio's ctime() layout; %d with its leading zero blanked, as %e is not
    // portable (the Windows C library lacks it).
    if (std::strftime(when, sizeof when, "%a %b %d %H:%M:%S %Y", &tm) > 8 && when[8] == '0') {
      when[8] = ' ';
    }
  }
  root["time"] = when;
  Json jobs = Json::array();
  for (const JobResult* e : entries) {
    Json j;
    j["jobname"] = spec.name;
    j["groupid"] = 0;
    j["error"] = e->failed() ? e->error : 0;
    j["eta"] = 0;
    j["elapsed"] = (e->elapsed_ns + 500000000) / 1000000000;
    Json opts = Json::object();
    opts["name"] = spec.name;
    for (const auto& [k, v] : spec.given) opts[k] = v;
    j["job options"] = std::move(opts);
    j["read"] = DirJson(e->dir[kDirRead], e->runtime_ns);
    j["write"] = DirJson(e->dir[kDirWrite], e->runtime_ns);
    j["trim"] = DirJson(DirStats(), 0);
    Json sync;
    sync["total_ios"] = e->sync.ios;
    sync["lat_ns"] = LatJson(e->sync.lat, true);
    j["sync"] = std::move(sync);
    j["job_runtime"] = (e->runtime_ns + 500000) / 1000000;
    double base = Secs(e->cpu_base_ns);
    j["usr_cpu"] = base > 0 ? 100.0 * e->cpu.usr_s / base : 0.0;
    j["sys_cpu"] = base > 0 ? 100.0 * e->cpu.sys_s / base : 0.0;
    j["ctx"] = e->cpu.ctx;
    j["majf"] = e->cpu.majf;
    j["minf"] = e->cpu.minf;
    Json f;
    f["backend"] = info.backend;
    f["filename"] = info.path;
    f["temporary"] = info.temporary;
    f["file_size"] = info.file_size;
    f["jobs"] = e->jobs;
    f["kind"] = JobKind(spec);
    f["fixedbufs"] = info.fixedbufs;
    f["registerfiles"] = info.registerfiles;
    f["submit_batch"] = e->submit_batch;
    f["read_errors"] = e->dir[kDirRead].errors;
    f["write_errors"] = e->dir[kDirWrite].errors;
    f["sync_errors"] = e->sync.errors;
    f["first_error"] = e->first_error;
    f["interrupted"] = e->interrupted;
    j["faio"] = std::move(f);
    jobs.push_back(std::move(j));
  }
  root["jobs"] = std::move(jobs);
  return root;
}

}  // namespace faio::tool
