// threads_backend.h - the portable backend: the process's one pool of worker
// threads doing positional reads, writes and syncs for every threads context
// (threads_backend.cc, Pool; docs/backends.md, "The threads pool").
//
// Submission: one lock (the pool's) per batch over the context's intrusive FIFO,
// so a queued request can be cancelled (unlinked) until a worker takes it;
// contexts with queued work are served round robin. Completion: workers push
// onto the context's lock-free stack that its one reaper takes whole; a worker
// touches the reaper's mutex only when the reaper is asleep, so completions
// never convoy on a lock while the reaper is busy.
#ifndef FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_
#define FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

std::unique_ptr<Backend> CreateThreadsBackend(const BackendParams& p, Unavailable* why);
bool ProbeThreadsBackend(Unavailable* why);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_
