// backend.h - the seam between the core (core/context.h) and a host's I/O
// facility.
//
// The core owns every rule of the contract: argument checks, the request state
// machine, capacity and in-flight counts, the flush barrier, sticky flush errors,
// the wait loop with its deadline and wakeups. A backend only moves requests to
// the host and completions back:
//
//   Enqueue   stage transfers/flushes for the host; may take a prefix only
//   Commit    hand everything staged to the host in as few calls as it allows
//   Reap      collect what has completed; when asked, block once for more
//   Kick      make a blocked (or the next) Reap return promptly; any thread
//   Cancel    try to take a submitted request back from the host
//
// Threads: Enqueue/Commit/Cancel-of-queued-work are called with the context's
// submit lock held (so they are serialized); Reap is called by the one waiting
// thread only; Kick may come from any thread (and, where the backend says so,
// from a signal handler). Reap hands the core raw host completions (which
// request, which submission, the host's error code and bytes); the core alone
// turns them into outcomes: it decides whether each is still current (see
// request.h), maps the host's code to a status, applies the flush and
// full-transfer rules and publishes the request. A decorating backend
// (backend/fault) rewrites or holds back its inner backend's raw completions
// before they reach the core.
#ifndef FAIO_SRC_BACKEND_BACKEND_H_
#define FAIO_SRC_BACKEND_BACKEND_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/request.h"
#include "faio/faio.h"
#include "platform/host.h"
#include "platform/lock.h"

namespace faio::detail {

using Clock = std::chrono::steady_clock;

// What a backend is told at creation.
struct BackendParams {
  uint32_t capacity = 0;  // asked-for capacity (0: as many as the host allows)
  uint32_t threads = 0;   // worker threads (threads backend); 0: default
  Context* ctx = nullptr;
  platform::Lock* submit_mu = nullptr;  // the context's submit lock
  const char* faults = nullptr;     // the "fault" backend's spec (options), or null
  uint32_t flags = 0;               // FAIO_CTX_* of the context
};

// Why a backend could not be created: a status and a sentence.
struct Unavailable {
  int status = FAIO_E_NOT_SUPPORTED;
  int host_error = 0;
  std::string reason;
};

// One completion as the host reported it, for submission seq32 of req, in the
// shape of an io_uring CQE's result: the bytes moved (>= 0; a transfer is at
// most kMaxTransfer), or minus the host's error code (errno, or a Windows
// error), or kHostTimedOut when the host withdrew it at its deadline
// (Backend::OwnsDeadlines). Stale ones (of an older submission, or one a
// canceller withdrew) are dropped by the core.
struct HostCompletion {
  Request* req;
  uint32_t seq32;
  int32_t result;
};
inline constexpr int32_t kHostTimedOut = INT32_MIN;
static_assert(kMaxTransfer <= INT32_MAX, "a transfer's byte count fits a HostCompletion");
// HostResult: a HostCompletion's result for the host's error code (0: success)
// and the bytes moved.
inline int32_t HostResult(int host_error, size_t bytes) {
  return host_error != 0 ? -host_error : static_cast<int32_t>(bytes);
}

enum class CancelOutcome {
  kCancelled,   // the host will never complete it (or its event will be stale)
  kInProgress,  // the host could not cancel it; it completes normally
  kNotFound,    // not with the host any more: finished, its completion pending
};

// Which transfers the core may make on the submitting thread instead of
// handing them over (Context::DoNow; docs/design.md, "Done at submission"):
// none; those of a submit call that carries one request; all.
enum class DoNowPolicy { kNever, kSingle, kAlways };

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const char* name() const = 0;
  // Effective capacity: >= the asked-for one, or FAIO_UNLIMITED.
  virtual uint32_t capacity() const = 0;

  // Enqueue stages reqs[0..n) (kSubmitted already, ctx/seq32 set) and returns
  // how many it took (a prefix). Fewer than n means the host is out of
  // resources; *host_error then holds its code (EAGAIN, ENOMEM, ...).
  virtual size_t Enqueue(Request* const* reqs, size_t n, int* host_error) = 0;
  // Commit hands what Enqueue staged to the host. A backend whose Enqueue is
  // already final does nothing.
  virtual void Commit() = 0;

  // Reap collects up to max host completions that are ready into out, each
  // once (the core finishes them: Context::WaitHeld). When `block` is
  // set and it found none, it blocks once - until a host completion, the
  // deadline (Clock::time_point::max(): none) or a Kick - collects again and
  // returns, even with nothing (a stale event, EINTR, a timeout). The core's
  // wait loop (Context::WaitHeld) owns the minimum, the deadline and wakeups;
  // a backend never loops for a count.
  virtual size_t Reap(HostCompletion* out, size_t max, bool block, Clock::time_point deadline) = 0;

  // Kick wakes a blocked Reap, or makes the next one return at once. Sticky
  // until a Reap returns because of it.
  virtual void Kick() = 0;

  // Cancel tries to withdraw submission seq32 of r (called without the submit
  // lock; may block briefly). r may have completed and been submitted again
  // meanwhile: a backend never cancels a submission other than seq32.
  virtual CancelOutcome Cancel(Request* r, uint32_t seq32) = 0;

  // DoNow: see DoNowPolicy. A backend whose host does buffered transfers no
  // better than a system call on the submitting thread says so; one that
  // decorates another (fault) says kNever, so that every request reaches it.
  virtual DoNowPolicy do_now() const { return DoNowPolicy::kNever; }

  // OwnsDeadlines: the backend withdraws a transfer at its deadline itself
  // (Request::deadline_ns; io_uring: a linked timeout) and reaps it with
  // kHostTimedOut; the core's timer then arms only flushes, which
  // wait behind their barrier in the core. Otherwise the core's timer
  // withdraws it through Cancel.
  virtual bool OwnsDeadlines() const { return false; }

  // OwesEvents: the host still holds events the backend must read although no
  // request is counted (linux_aio: a cancelled poll's event keeps its kernel
  // slot until read). A wait that requests done at submission satisfied asks
  // the host anyway then. Waiting thread only.
  virtual bool OwesEvents() const { return false; }

  // AssociateFile: optional registration of a file.
  virtual int AssociateFile(faio_file) { return FAIO_OK; }

  // WatchPollable arranges that every host completion from now on makes `n`
  // ready (platform::SignalNotify), for faio_ctx_pollable, and sets *out to the
  // handle the caller polls (n.wait, or one of the backend's own that is ready
  // whenever n is). Completions the backend makes without the host (done
  // inline at submission) call Context::Signal. Called once, under the submit
  // lock, with nothing in flight. FAIO_E_NOT_SUPPORTED: the host has no way.
  virtual int WatchPollable(const platform::Notify&, faio_file*) { return FAIO_E_NOT_SUPPORTED; }
  // HasPollable: WatchPollable can succeed (asked before the in-flight check).
  virtual bool HasPollable() const { return false; }
  // OwnsPollable: the handle WatchPollable gives is the backend's own (kqueue:
  // the kqueue descriptor, readable while events are pending), which the core
  // makes ready with SignalPollable (any thread, async-signal-safe) and re-arms
  // with ResetPollable (the waiting thread, at the start of each wait) instead
  // of a platform::Notify of its own; WatchPollable's Notify is then unused.
  virtual bool OwnsPollable() const { return false; }
  virtual void SignalPollable() {}
  virtual void ResetPollable() {}

  // RegisterBuffers: optional registration of memory (faio_ctx_register_buffers).
  // Called with the submit lock held and nothing in flight; at most once.
  virtual int RegisterBuffers(const faio_buffer*, size_t) { return FAIO_E_NOT_SUPPORTED; }
};

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_BACKEND_H_
