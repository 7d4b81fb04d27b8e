// fault_backend.h - "fault": a decorator over any other backend that injects
// the faults of a misbehaving disk, so that a program (and this library's own
// tests) can be checked against them. Never chosen by "auto"; name it in
// faio_ctx_options.backend or FAIO_BACKEND=fault.
//
// Configuration: faio_ctx_options.faults, or when that is null the FAIO_FAULTS
// environment variable; no spec (or an empty one) injects nothing and the
// backend behaves exactly like its inner one. The grammar is in fault_spec.h
// and, with examples, in docs/reliability.md. For instance
//
//   FAIO_BACKEND=fault FAIO_FAULTS='inner=threads,seed=7,eio/write#3,short/read%4'
//
// fails the third write with FAIO_E_IO (host error EIO) and asks the host for
// fewer bytes in one read out of four. A bad spec makes context creation fail
// (with the parser's sentence as the reason faio_get_backends shows when the
// spec came from FAIO_FAULTS).
//
// What each fault does to a request:
//   ERR          the host does the request; its completion then carries ERR
//                (status from the host's errno mapping, host_error ERR, 0
//                bytes). A write "failed" this way may or may not be on disk,
//                as after a real EIO.
//   submit-ERR   the host refuses the request: eagain and eintr are transient
//                refusals (submit takes the requests before it and returns
//                FAIO_E_INSUFFICIENT_RESOURCES, the rest stay prepared; a flush
//                completes with FAIO_E_INSUFFICIENT_RESOURCES); eio, enospc and
//                efbig reject that one request, which submit still accepts and
//                which completes with the error without reaching the host.
//   short        the host is asked for a random shorter length (a multiple of
//                the direct-I/O block for O_DIRECT files; never 0), so a read
//                fills and a write writes only that prefix.
//   corrupt      after a successful read one random byte of the bytes read is
//                changed in the caller's buffer.
//   delay/reorder  the completion is held back, then handed to a later wait:
//                completions come out of submission order.
//   crash        power is lost at the triggering request: it and every later
//                request complete with FAIO_E_IO/EIO without reaching the host,
//                and completions still in flight report FAIO_E_IO too. When the
//                context is destroyed, every write not covered by a successful
//                flush is undone (its old bytes written back, the file cut to
//                the size its last successful flush saw), so the file holds
//                what a machine that lost power would find. A bare 'crash' (no
//                trigger) loses power only at destroy. Writes are snapshot
//                (the bytes they overwrite are copied) before they go to the
//                host; the file is reopened through /proc/self/fd (or dup'ed),
//                so closing it before the context is destroyed is fine. POSIX
//                hosts only: elsewhere a spec with 'crash' is refused
//                (FAIO_E_NOT_SUPPORTED).
//
// Threads: as every backend (backend.h). The decision of each request is taken
// under the submit lock, in submission order, so a seed reproduces a run of a
// single-threaded submitter exactly. A pure decorator: the inner backend's raw
// completions pass through this backend's Reap, which rewrites or holds them,
// before the core finishes them.
#ifndef FAIO_SRC_BACKEND_FAULT_FAULT_BACKEND_H_
#define FAIO_SRC_BACKEND_FAULT_FAULT_BACKEND_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

// CreateFaultBackend parses the spec (p.faults, else FAIO_FAULTS) and creates
// the inner backend. A bad spec: null with why->status FAIO_E_INVALID_PARAMETER.
std::unique_ptr<Backend> CreateFaultBackend(const BackendParams& p, Unavailable* why);
// ProbeFaultBackend fails when FAIO_FAULTS holds a bad spec, or when its inner
// backend (inner=, else the automatic choice) cannot be made now, with that
// backend's status and host error (the reason says which).
bool ProbeFaultBackend(Unavailable* why);
// FaultBackendLimits: faio_get_limits for fault, the limits of the inner backend
// FAIO_FAULTS names (inner=), else of the automatic choice.
int FaultBackendLimits(faio_limits* out);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_FAULT_FAULT_BACKEND_H_
