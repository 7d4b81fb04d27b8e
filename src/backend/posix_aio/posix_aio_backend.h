// posix_aio_backend.h - POSIX AIO (aio_read/aio_write/aio_fsync/lio_listio),
// with completions from a notifier: "posix_aio" (SIGEV_NONE + aio_suspend,
// notifier_suspend.cc) and "kqueue" (SIGEV_KEVENT, FreeBSD - the reference
// design).
#ifndef FAIO_SRC_BACKEND_POSIX_AIO_POSIX_AIO_BACKEND_H_
#define FAIO_SRC_BACKEND_POSIX_AIO_POSIX_AIO_BACKEND_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

std::unique_ptr<Backend> CreatePosixAioBackend(const BackendParams& p, Unavailable* why);
bool ProbePosixAioBackend(Unavailable* why);
std::unique_ptr<Backend> CreateKqueueBackend(const BackendParams& p, Unavailable* why);
bool ProbeKqueueBackend(Unavailable* why);
// PosixAioBackendLimits: faio_get_limits for posix_aio and kqueue, the host's
// per-process cap on queued POSIX AIO requests (posix_aio_limits.cc).
int PosixAioBackendLimits(faio_limits* out);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_POSIX_AIO_POSIX_AIO_BACKEND_H_
