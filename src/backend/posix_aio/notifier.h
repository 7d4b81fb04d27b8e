// notifier.h - how POSIX AIO completions reach the waiting thread.
//
// The POSIX AIO logic (posix_aio_backend.cc) is the same on every host; only the
// notification differs:
//   - kqueue (FreeBSD, the reference design): SIGEV_KEVENT into the context's
//     kqueue, waited on with kevent() and a timeout, woken with EVFILT_USER /
//     NOTE_TRIGGER. No signals, no threads, no lost wakeup.
//   - suspend (Linux/glibc and other POSIX hosts): SIGEV_NONE, and the waiter
//     finds completions itself with aio_error, blocking in aio_suspend on the
//     aiocbs in flight. On Linux the wakeup ends that aio_suspend with a
//     signal aimed at the waiting thread (a per-thread POSIX timer that
//     repeats until the waiter disarms it: no descriptor, no AIO request, no
//     thread per context); elsewhere the list also holds an aio_read of a
//     pipe that the wakeup writes (notifier_suspend.cc).
//     Chosen over SIGEV_THREAD, whose glibc implementation starts a thread per
//     completion and silently drops the notification when pthread_create fails
//     (seen here under stress: requests never came back), and over SIGEV_SIGNAL
//     (+ signalfd), which needs the signal blocked in every thread of the
//     caller's process - not a thing a library may impose. aio_suspend scans
//     what is in flight (O(n) per wait); this backend is for hosts whose POSIX
//     AIO is the best they have, which on Linux it is not.
#ifndef FAIO_SRC_BACKEND_POSIX_AIO_NOTIFIER_H_
#define FAIO_SRC_BACKEND_POSIX_AIO_NOTIFIER_H_

#include <aio.h>
#include <signal.h>

#include <cstddef>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "platform/host.h"

namespace faio::detail {

class AioNotifier {
 public:
  virtual ~AioNotifier() = default;
  // Fill sev so that the completion of the aiocb carrying `cookie` is
  // reported. Called under the context's submit lock, before it reaches the host.
  virtual void Prepare(struct sigevent* sev, void* cookie) = 0;
  // Watch: the host accepted cb (for notifiers that look for completions
  // themselves). Under the submit lock.
  virtual void Watch(void* cookie, const struct aiocb* cb) = 0;
  // Collect up to max cookies of completed aiocbs. Blocks (until the deadline or
  // Wake) only when block is true and nothing is ready. *woken is set when a
  // Wake was consumed.
  virtual size_t Collect(void** cookies, size_t max, bool block, Clock::time_point deadline,
                         bool* woken) = 0;
  // Wake a blocked Collect, or make the next one return at once. Any thread.
  virtual void Wake() = 0;
  // The pollable handle (Backend::WatchPollable): from now on every completion
  // makes n ready. Under the submit lock, with nothing in flight.
  virtual bool HasPollable() const { return false; }
  virtual int WatchPollable(const platform::Notify&, faio_file*) { return FAIO_E_NOT_SUPPORTED; }
  // StopWatching: end the pollable handle's watcher, if any (before the
  // aiocbs it watches are freed).
  virtual void StopWatching() {}
  // As Backend::OwnsPollable, SignalPollable, ResetPollable.
  virtual bool OwnsPollable() const { return false; }
  virtual void SignalPollable() {}
  virtual void ResetPollable() {}
};

// Returns nullptr with *why filled when the mechanism is unavailable.
std::unique_ptr<AioNotifier> MakeSuspendNotifier(Unavailable* why);
std::unique_ptr<AioNotifier> MakeKqueueNotifier(Unavailable* why);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_POSIX_AIO_NOTIFIER_H_
