// backend_util.h - small helpers the backends share: turning the core's
// absolute deadline into a system call's relative timeout, building a backend
// that has a fallible Init, a bounce buffer for vectored transfers, reading
// a /proc/sys value for a probe's reason, and (POSIX) a backend's wakeup
// descriptor.
#ifndef FAIO_SRC_BACKEND_BACKEND_UTIL_H_
#define FAIO_SRC_BACKEND_BACKEND_UTIL_H_

#include <stdio.h>
#include <string.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <utility>

#ifndef _WIN32
#include <errno.h>
#include <sys/resource.h>
#endif

#include "backend/backend.h"
#include "platform/host.h"

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

// Bounce: one contiguous buffer standing for a vectored transfer's segments, for
// a host without vectored asynchronous I/O (glibc's POSIX AIO, IOCP; docs/
// backends.md, "Vectored I/O"). Page aligned, so direct I/O takes it (the
// segments' own alignment is checked first: platform::CheckDirectSegments).
// Kept and grown by its owner (a backend's per-request slot), freed with it.
// Costs one copy of the data: gathered before a write, scattered after a read.
class Bounce {
 public:
  static constexpr size_t kAlign = 4096;
  Bounce() = default;
  Bounce(const Bounce&) = delete;
  Bounce& operator=(const Bounce&) = delete;
  ~Bounce() { Free(); }

  // Fit makes room for len bytes; false when memory is short.
  bool Fit(size_t len) {
    if (len <= cap_) return true;
    size_t cap = (len + kAlign - 1) & ~(kAlign - 1);
    void* p = ::operator new(cap, std::align_val_t{kAlign}, std::nothrow);
    if (p == nullptr) return false;
    Free();
    p_ = p;
    cap_ = cap;
    return true;
  }
  void* data() const { return p_; }

  // Gather copies r's segments in, in order (before a write).
  void Gather(const Request* r) {
    auto* at = static_cast<unsigned char*>(p_);
    for (uint32_t i = 0; i < r->nsegs; ++i) {
      memcpy(at, r->segs[i].base, r->segs[i].length);
      at += r->segs[i].length;
    }
  }
  // Scatter copies the first `bytes` bytes out to r's segments (after a read).
  void Scatter(const Request* r, size_t bytes) const {
    const auto* at = static_cast<const unsigned char*>(p_);
    for (uint32_t i = 0; i < r->nsegs && bytes != 0; ++i) {
      size_t k = r->segs[i].length < bytes ? r->segs[i].length : bytes;
      memcpy(r->segs[i].base, at, k);
      at += k;
      bytes -= k;
    }
  }

 private:
  void Free() {
    if (p_ != nullptr) ::operator delete(p_, std::align_val_t{kAlign});
    p_ = nullptr;
    cap_ = 0;
  }
  void* p_ = nullptr;
  size_t cap_ = 0;
};

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

#ifndef _WIN32
// NofileLimit: RLIMIT_NOFILE's soft limit as text, for a reason.
inline std::string NofileLimit() {
  struct rlimit rl = {};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return "?";
  return rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(rl.rlim_cur);
}

// OpenWakeup opens the descriptor a backend's Kick makes readable and its
// wait watches (platform::Notify: one eventfd on Linux). On failure, *why
// says so - always exhaustion (descriptors) - with what one context takes:
// `fds`.
inline bool OpenWakeup(platform::Notify* n, int fds, Unavailable* why) {
  int err = 0;
  if (platform::OpenNotify(n, &err) == FAIO_OK) return true;
  why->status = FAIO_E_INSUFFICIENT_RESOURCES;
  why->host_error = err;
  why->reason = std::string("eventfd for the wakeup failed: ") + strerror(err);
  if (err == EMFILE) {
    why->reason +=
        " (RLIMIT_NOFILE " + NofileLimit() + "; a context takes " + std::to_string(fds) + ")";
  }
  return false;
}
#endif

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_BACKEND_UTIL_H_
