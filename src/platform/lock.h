// lock.h - the mutex of the core's short critical sections: a context's submit
// lock (taken by every submit) and the handle tables' allocation lock.
//
// On Linux it is a futex word (0 free, 1 held, 2 held with sleepers): an
// uncontended lock is one compare-and-swap and an unlock one exchange, both
// inline. glibc's pthread mutex makes the same two atomic operations but
// through two calls of ~55 instructions together, which a one-request-at-a-time
// caller pays on every submit (docs/benchmarks.md, one request at a time). A
// contended lock sleeps in the kernel like any mutex; it does not spin.
//
// Windows: an SRW lock (mingw-w64's std::mutex goes through winpthreads). Other
// hosts: std::mutex. Every variant is constant-initialized, so a global (the
// handle tables) needs no guard.
#ifndef FAIO_SRC_PLATFORM_LOCK_H_
#define FAIO_SRC_PLATFORM_LOCK_H_

#include <atomic>
#include <cstdint>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#elif !defined(__linux__)
#include <mutex>
#endif

namespace faio::platform {

#if defined(__linux__)
class Lock {
 public:
  constexpr Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  void lock() {
    uint32_t free = 0;
    if (!word_.compare_exchange_strong(free, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) [[unlikely]] {
      LockSlow(free);
    }
  }
  bool try_lock() {
    uint32_t free = 0;
    return word_.compare_exchange_strong(free, 1, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void unlock() {
    if (word_.exchange(0, std::memory_order_release) == 2) [[unlikely]] Wake();
  }

 private:
  // LockSlow: marks the word "held with sleepers" and sleeps until it can take
  // it so (host_posix.cc); Wake wakes one sleeper.
  void LockSlow(uint32_t seen);
  void Wake();

  std::atomic<uint32_t> word_{0};
};
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "the futex word is the atomic itself");
#elif defined(_WIN32)
class Lock {
 public:
  constexpr Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  void lock() { AcquireSRWLockExclusive(&l_); }
  bool try_lock() { return TryAcquireSRWLockExclusive(&l_) != 0; }
  void unlock() { ReleaseSRWLockExclusive(&l_); }

 private:
  SRWLOCK l_ = SRWLOCK_INIT;
};
#else
using Lock = std::mutex;
#endif

}  // namespace faio::platform

#endif  // FAIO_SRC_PLATFORM_LOCK_H_
