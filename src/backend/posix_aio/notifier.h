// notifier.h - how POSIX AIO completions reach the waiting thread.
//
// The POSIX AIO logic (posix_aio_backend.cc) is the same on every host; only the
// notification differs:
//   - kqueue (FreeBSD, the reference design): SIGEV_KEVENT into the context's
//     kqueue, waited on with kevent() and a timeout, woken with EVFILT_USER /
//     NOTE_TRIGGER. No signals, no threads, no lost wakeup.
//   - sigev_thread (Linux/glibc and other POSIX hosts): SIGEV_THREAD. glibc's
//     POSIX AIO is a user-space thread pool anyway; its notification thread
//     pushes the completion onto a lock-free stack and wakes the waiter only if
//     it sleeps. Chosen over signals (SIGEV_SIGNAL + signalfd), which would need
//     the signal blocked in every thread of the caller's process - not a thing a
//     library may impose.
#ifndef FAIO_SRC_BACKEND_POSIX_AIO_NOTIFIER_H_
#define FAIO_SRC_BACKEND_POSIX_AIO_NOTIFIER_H_

#include <signal.h>

#include <cstddef>
#include <memory>
#include <string>

#include "backend/backend.h"

namespace faio::detail {

class AioNotifier {
 public:
  virtual ~AioNotifier() = default;
  // Fill sev so that the completion of the aiocb carrying `cookie` is reported.
  virtual void Prepare(struct sigevent* sev, void* cookie) = 0;
  // Collect up to max cookies of completed aiocbs. Blocks (until the deadline or
  // Wake) only when block is true and nothing is ready. *woken is set when a
  // Wake was consumed.
  virtual size_t Collect(void** cookies, size_t max, bool block, Clock::time_point deadline,
                         bool* woken) = 0;
  // Wake a blocked Collect, or make the next one return at once. Any thread.
  virtual void Wake() = 0;
};

// Returns nullptr with *why filled when the mechanism is unavailable.
std::unique_ptr<AioNotifier> MakeSigevThreadNotifier(Unavailable* why);
std::unique_ptr<AioNotifier> MakeKqueueNotifier(Unavailable* why);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_POSIX_AIO_NOTIFIER_H_
