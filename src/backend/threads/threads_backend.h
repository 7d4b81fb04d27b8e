// threads_backend.h - the portable backend: a pool of worker threads doing
// positional reads, writes and syncs.
//
// Submission: one lock per batch over an intrusive FIFO, so a queued request can
// be cancelled (unlinked) until a worker takes it. Completion: workers push onto
// a lock-free stack that the one reaper takes whole; a worker touches the
// reaper's mutex only when the reaper is asleep, so completions never convoy on
// a lock while the reaper is busy.
#ifndef FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_
#define FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

std::unique_ptr<Backend> CreateThreadsBackend(const BackendParams& p, Unavailable* why);
bool ProbeThreadsBackend(Unavailable* why);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_
