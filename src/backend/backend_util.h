// backend_util.h - small helpers the backends share: turning the core's
// absolute deadline into a system call's relative timeout, building a backend
// that has a fallible Init, and reading a /proc/sys value for a probe's reason.
#ifndef FAIO_SRC_BACKEND_BACKEND_UTIL_H_
#define FAIO_SRC_BACKEND_BACKEND_UTIL_H_

#include <stdio.h>

#include <chrono>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "backend/backend.h"

namespace faio::detail {

// TimeLeft fills *ts (a timespec or __kernel_timespec) with the time from now
// to deadline, and returns it; nullptr for no deadline (wait indefinitely). A
// passed deadline gives a zero timeout.
template <typename Timespec>
Timespec* TimeLeft(Clock::time_point deadline, Timespec* ts) {
  if (deadline == Clock::time_point::max()) return nullptr;
  auto left = deadline - Clock::now();
  if (left < Clock::duration::zero()) left = Clock::duration::zero();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  ts->tv_sec = ns / 1000000000;
  ts->tv_nsec = ns % 1000000000;
  return ts;
}

// MakeWithInit allocates a T from args and runs its Init(why); nullptr (and
// *why) on failure.
template <typename T, typename... Args>
std::unique_ptr<T> MakeWithInit(Unavailable* why, Args&&... args) {
  auto p = std::unique_ptr<T>(new (std::nothrow) T(std::forward<Args>(args)...));
  if (p == nullptr) {
    why->status = FAIO_E_NO_MEMORY;
    why->reason = "out of memory";
    return nullptr;
  }
  if (!p->Init(why)) return nullptr;
  return p;
}

// ReadProcValue returns the first line of a /proc/sys file, or "?".
inline std::string ReadProcValue(const char* path) {
  FILE* f = fopen(path, "re");
  if (f == nullptr) return "?";
  char buf[64] = {};
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
  return buf;
}

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_BACKEND_UTIL_H_
