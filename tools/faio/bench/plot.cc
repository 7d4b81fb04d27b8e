// plot.cc - see plot.h. Hand-written SVG 1.1, no dependencies.
#include "bench/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cli/common.h"
#include "cli/options.h"

namespace faio::tool {
namespace {

constexpr double kWidth = 960, kHeight = 800;
constexpr double kLeft = 90, kRight = 930;  // the plot areas' x range
constexpr const char* kColor[] = {"#1f77b4", "#d62728"};
constexpr const char* kDirName[] = {"read", "write"};
constexpr const char* kSyncColor = "#2ca02c";

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// NiceStep is 1, 2 or 5 times a power of ten, giving about `ticks` ticks up to max.
double NiceStep(double max, int ticks) {
  if (max <= 0) return 1;
  double raw = max / ticks;
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

std::string LatLabel(double ns) {
  if (ns < 1e3) return fmt::format("{:.3g} ns", ns);
  if (ns < 1e6) return fmt::format("{:.3g} µs", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.3g} ms", ns / 1e6);
  return fmt::format("{:.3g} s", ns / 1e9);
}

struct Panel {
  double top, bottom;  // y range in pixels
};

void Frame(std::string& svg, const Panel& p, const std::string& title, const std::string& xlabel,
           const std::string& ylabel) {
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#444\"/>\n",
      kLeft, p.top, kRight - kLeft, p.bottom - p.top);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
                     kLeft, p.top - 12, Escape(title));
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
                     (kLeft + kRight) / 2, p.bottom + 40, Escape(xlabel));
  svg += fmt::format(
      "<text x=\"20\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" "
      "transform=\"rotate(-90 20 {})\">{}</text>\n",
      (p.top + p.bottom) / 2, (p.top + p.bottom) / 2, Escape(ylabel));
}

void Legend(std::string& svg, double x, double y, const char* color, const std::string& text) {
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" fill=\"white\" "
      "fill-opacity=\"0.85\"/>",
      x - 4, y - 9, 40 + 6.5 * static_cast<double>(text.size()));
  svg += fmt::format(
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"3\"/>"
      "<text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>\n",
      x, y, x + 24, y, color, x + 30, y + 4, Escape(text));
}

}  // namespace

std::string PlotSvg(const BenchSpec& spec, const std::vector<Sample>& samples,
                    const JobResult& group) {
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, kHeight);
  svg += fmt::format(
      "<text x=\"{}\" y=\"26\" font-size=\"15\">faio bench, job {}: rw={}, bs={}, iodepth={}, "
      "numjobs={}{}</text>\n",
      kLeft, Escape(spec.name), Escape(spec.rw), FormatBytes(spec.bs), spec.iodepth, spec.numjobs,
      spec.direct ? ", O_DIRECT" : "");

  // ---- IOPS over time -----------------------------------------------------------
  const Panel top{70, 340};
  Frame(svg, top, "IOPS over time (all jobs, 100 ms intervals)", "time since start (s)",
        "IOPS (I/Os per second)");
  double t_max = samples.empty() ? 1.0 : static_cast<double>(samples.back().t_ns) / 1e9;
  t_max = std::max(t_max, 0.001);
  double iops_max = 1;
  std::vector<std::vector<std::pair<double, double>>> curve(kDirections);
  for (size_t i = 1; i < samples.size(); ++i) {
    double dt = static_cast<double>(samples[i].t_ns - samples[i - 1].t_ns) / 1e9;
    if (dt <= 0) continue;
    for (int d = 0; d < kDirections; ++d) {
      double v = static_cast<double>(samples[i].ios[d] - samples[i - 1].ios[d]) / dt;
      curve[d].emplace_back(static_cast<double>(samples[i].t_ns) / 1e9, v);
      iops_max = std::max(iops_max, v);
    }
  }
  double ystep = NiceStep(iops_max, 5);
  double y_top = std::ceil(iops_max / ystep) * ystep;
  auto tx = [&](double t) { return kLeft + (kRight - kLeft) * t / t_max; };
  auto iy = [&](double v) { return top.bottom - (top.bottom - top.top) * v / y_top; };
  if (spec.ramp_ns != 0) {
    double r = std::min(static_cast<double>(spec.ramp_ns) / 1e9, t_max);
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#e8e8e8\"/>"
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#666\">ramp (not counted)</text>\n",
        kLeft, top.top, tx(r) - kLeft, top.bottom - top.top, kLeft + 4, top.top + 14);
  }
  for (double v = 0; v <= y_top + ystep / 2; v += ystep) {
    svg += fmt::format(
        "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"11\">{}</text>\n",
        kLeft, iy(v), kRight, iy(v), kLeft - 6, iy(v) + 4, FormatCount(v));
  }
  double xstep = NiceStep(t_max, 8);
  for (double t = 0; t <= t_max + xstep / 1000; t += xstep) {
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#444\"/>"
        "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{:g}</text>\n",
        tx(t), top.bottom, tx(t), top.bottom + 5, tx(t), top.bottom + 18, t);
  }
  double lx = kRight - 150;
  for (int d = 0; d < kDirections; ++d) {
    if (d == kDirRead ? !spec.reads : !spec.writes) continue;
    std::string pts;
    for (auto [t, v] : curve[d]) pts += fmt::format("{:.1f},{:.1f} ", tx(t), iy(v));
    if (!pts.empty()) {
      svg +=
          fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                      pts, kColor[d]);
    }
    Legend(svg, lx, top.top + 18 + 18 * d, kColor[d], fmt::format("{} IOPS", kDirName[d]));
  }

  // ---- completion latency percentiles ----------------------------------------------
  const Panel bot{420, 720};
  Frame(svg, bot, "Completion latency (clat) by percentile, all jobs",
        "percentile (log scale of 1/(1-p))", "clat (log scale)");
  const LatencyHistogram* hs[3] = {&group.dir[kDirRead].clat, &group.dir[kDirWrite].clat,
                                   &group.sync.lat};
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const LatencyHistogram* h : hs) {
    if (h->count() == 0) continue;
    lo = std::min(lo, std::max<uint64_t>(1, h->min()));
    hi = std::max(hi, h->max());
  }
  if (hi == 0) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"14\">no completions</text>\n",
                       kLeft + 20, (bot.top + bot.bottom) / 2);
  } else {
    double d_lo = std::floor(std::log10(static_cast<double>(lo)));
    double d_hi = std::max(d_lo + 1, std::ceil(std::log10(static_cast<double>(hi) + 1)));
    constexpr double kNines = 5;  // x runs from 0% to 99.999%
    auto px = [&](double x) { return kLeft + (kRight - kLeft) * x / kNines; };
    auto py = [&](double ns) {
      double l = std::log10(std::max(ns, 1.0));
      return bot.bottom - (bot.bottom - bot.top) * (l - d_lo) / (d_hi - d_lo);
    };
    for (double dec = d_lo; dec <= d_hi + 1e-9; dec += 1) {
      double ns = std::pow(10.0, dec);
      svg += fmt::format(
          "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
          "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"11\">{}</text>\n",
          kLeft, py(ns), kRight, py(ns), kLeft - 6, py(ns) + 4, LatLabel(ns));
    }
    static constexpr const char* kTicks[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    for (int k = 0; k <= 5; ++k) {
      svg += fmt::format(
          "<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#ddd\"/>"
          "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>\n",
          px(k), bot.top, px(k), bot.bottom, px(k), bot.bottom + 18, kTicks[k]);
    }
    const char* colors[3] = {kColor[0], kColor[1], kSyncColor};
    const char* names[3] = {"read clat", "write clat", "flush (sync) lat"};
    int shown = 0;
    for (int i = 0; i < 3; ++i) {
      const LatencyHistogram& h = *hs[i];
      if (h.count() == 0) continue;
      std::string pts;
      for (int k = 0; k <= 500; ++k) {
        double x = k / 100.0;
        double pct = 100.0 * (1.0 - std::pow(10.0, -x));
        pts += fmt::format("{:.1f},{:.1f} ", px(x), py(static_cast<double>(h.Percentile(pct))));
      }
      svg +=
          fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                      pts, colors[i]);
      Legend(svg, kLeft + 14, bot.top + 18 + 18 * shown, colors[i],
             fmt::format("{}: p50={}, p99={}, p99.9={}, max={}", names[i],
                         LatLabel(static_cast<double>(h.Percentile(50))),
                         LatLabel(static_cast<double>(h.Percentile(99))),
                         LatLabel(static_cast<double>(h.Percentile(99.9))),
                         LatLabel(static_cast<double>(h.max()))));
      ++shown;
    }
  }
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#666\">clat: from the return of the submit "
      "call to the return of the wait that reaped the request. Percentiles from a log-linear "
      "histogram (within 0.8%).</text>\n",
      kLeft, kHeight - 30);
  svg += "</svg>\n";
  return svg;
}

void WritePlot(const std::string& path, const BenchSpec& spec, const std::vector<Sample>& samples,
               const JobResult& group) {
  std::string svg = PlotSvg(spec, samples, group);
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    throw ToolError(kExitFailure,
                    fmt::format("--plot {}: cannot create: {}", path, std::strerror(errno)));
  }
  size_t n = std::fwrite(svg.data(), 1, svg.size(), f);
  int e = errno;
  if (std::fclose(f) != 0 || n != svg.size()) {
    throw ToolError(kExitFailure,
                    fmt::format("--plot {}: cannot write: {}", path, std::strerror(e)));
  }
}

}  // namespace faio::tool
