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
//
// Under ThreadSanitizer the futex lock announces itself as a mutex
// (<sanitizer/tsan_interface.h>), so TSan keeps checking lock order (the
// submit lock before the timer's, docs/design.md) and misuse, as it did for
// std::mutex.
#ifndef FAIO_SRC_PLATFORM_LOCK_H_
#define FAIO_SRC_PLATFORM_LOCK_H_

#include <atomic>
#include <cstdint>

#if defined(__SANITIZE_THREAD__)
#define FAIO_TSAN_MUTEX 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FAIO_TSAN_MUTEX 1
#endif
#endif
#if defined(FAIO_TSAN_MUTEX) && defined(__linux__)
#include <sanitizer/tsan_interface.h>
#define FAIO_TSAN_ANNOTATE(call) call
#else
#define FAIO_TSAN_ANNOTATE(call) ((void)0)
#endif

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
    FAIO_TSAN_ANNOTATE(__tsan_mutex_pre_lock(this, 0));
    uint32_t free = 0;
    if (!word_.compare_exchange_strong(free, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) [[unlikely]] {
      LockSlow(free);
    }
    FAIO_TSAN_ANNOTATE(__tsan_mutex_post_lock(this, 0, 0));
  }
  bool try_lock() {
    FAIO_TSAN_ANNOTATE(__tsan_mutex_pre_lock(this, __tsan_mutex_try_lock));
    uint32_t free = 0;
    const bool got = word_.compare_exchange_strong(free, 1, std::memory_order_acquire,
                                                   std::memory_order_relaxed);
    FAIO_TSAN_ANNOTATE(__tsan_mutex_post_lock(
        this, got ? __tsan_mutex_try_lock : __tsan_mutex_try_lock | __tsan_mutex_try_lock_failed,
        0));
    return got;
  }
  void unlock() {
    FAIO_TSAN_ANNOTATE(__tsan_mutex_pre_unlock(this, 0));
    if (word_.exchange(0, std::memory_order_release) == 2) [[unlikely]] Wake();
    FAIO_TSAN_ANNOTATE(__tsan_mutex_post_unlock(this, 0));
  }
  // Sleepers: a thread has found the lock held and sleeps, or is about to
  // (tests).
  bool Sleepers() const { return word_.load(std::memory_order_relaxed) == 2; }

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
