// threads_backend.h - the portable backend: one process-wide pool of worker
// threads doing positional reads, writes and syncs for every context.
//
// The pool: workers are started on demand, up to a process-wide maximum (the
// FAIO_THREADS environment variable, else max(32, 8 x the machine's cores),
// at most 1024), and never stop; a context costs no thread of its own. Each
// context keeps its own FIFO of queued requests (so a queued request can be
// cancelled, unlinked, until a worker takes it); contexts with queued work wait
// in one round-robin list, and a worker takes one request from the context at
// its head and puts the context back at the tail, so a context with thousands
// queued cannot starve one with a single request. A context's `threads` option
// caps how many of its requests run at once (0: the pool's maximum).
//
// Completion: workers push onto the context's lock-free stack, which the one
// reaper takes whole; a worker touches the reaper's mutex only when the reaper
// is asleep. A reaper with nothing ready spins briefly before it sleeps, and
// so does an idle worker, so one request at a time does not pay two thread
// wake-ups. A cached read is first tried on the submitting thread with
// RWF_NOWAIT (Linux), which never blocks: when the data is in the page cache
// the read is done at once and only handed to the wait.
#ifndef FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_
#define FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

std::unique_ptr<Backend> CreateThreadsBackend(const BackendParams& p, Unavailable* why);
bool ProbeThreadsBackend(Unavailable* why);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_THREADS_THREADS_BACKEND_H_
