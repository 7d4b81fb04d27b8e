// progress.cc - see progress.h.
#include "cli/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "host/host.h"

namespace faio::tool {
namespace {

std::string Mib(double bytes) { return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024.0)); }

}  // namespace

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() { Finish(); }

bool ProgressWanted(bool no_progress) { return !no_progress && StderrIsTerminal(); }

void Progress::Update(uint64_t done, uint64_t position) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  double pct = total_ > 0 ? 100.0 * static_cast<double>(std::min(position, total_)) /
                                static_cast<double>(total_)
                          : 100.0;
  std::string line =
      fmt::format("{}: {:5.1f}%  {} of {}  {}/s", label_, pct, Mib(static_cast<double>(done)),
                  Mib(static_cast<double>(total_)), Mib(rate));
  fmt::print(stderr, "\r{:<78}", line);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (!drawn_) return;
  fmt::print(stderr, "\r{:<78}\r", "");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace faio::tool
