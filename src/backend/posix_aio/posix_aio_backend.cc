// posix_aio_backend.cc - the POSIX AIO logic shared by "posix_aio" and "kqueue".
//
// What this file does about the reference design's flaws (docs/contract.md, The reference design's
// flaws):
//  - batches go to lio_listio(LIO_NOWAIT) in chunks of at most AIO_LISTIO_MAX
//    (and the host's sysconf(_SC_AIO_LISTIO_MAX)) - on glibc one aio_read /
//    aio_write per request instead, see "glibc" below; after a failed lio_listio
//    every aiocb of that chunk is examined with aio_error (on FreeBSD by the
//    error the kernel stored in it, see Enqueue): queued ones are
//    counted, ones refused for resources go back to *prepared* when they form
//    the tail of the batch, otherwise complete with *insufficient resources*;
//    nothing beyond the chunk is inspected (flaw 2);
//  - aio_fsync failing with EAGAIN is *insufficient resources*, judged by errno
//    (flaw 3);
//  - a request's error comes from aio_error, its byte count from aio_return,
//    called exactly once per request as soon as its notification arrives, which
//    also frees the kernel's job (flaw 5);
//  - a cancelled request is accounted once: the core takes it on a successful
//    aio_cancel and drops its later notification as stale (flaw 7).
//
// The aiocb lives in a slot owned by the backend, not in the request: after a
// successful cancel the request may be prepared and submitted again at once,
// while the kernel still has to post the old aiocb's notification. The slot goes
// back to the pool only when that notification has been reaped.
//
// glibc (the #if FAIO_GLIBC_AIO parts; FreeBSD and others do not have them).
// glibc's POSIX AIO keeps, per descriptor, one queue of requests; its head runs
// (or waits on the run list for one of the 20 worker threads), the rest wait
// behind it. Two of its behaviours lost requests here (issue 15, item 1):
//  - aio_cancel of a head that waits for a worker removes it and marks its
//    successor runnable without putting that on the run list
//    (__aio_remove_request): the successor and everything behind it on that
//    descriptor never run. The old rule here - cancel only a request with an
//    older one of its descriptor still queued ahead - was racy: the one ahead
//    could finish between the look and the aio_cancel, making ours the head.
//    Now a request is cancelled only when no other faio request of its
//    descriptor, from any context, is queued behind it in glibc (submitted
//    later, or of a lower priority). Cancelling a request with nothing behind
//    it is safe wherever it stands; otherwise the answer is *in progress* and
//    it completes normally. One process-wide lock (GlibcQueues::mu) covers the
//    look, the aio_cancel and every submission, so that no faio request can
//    join the queue behind it in between. Requests of the same descriptor
//    submitted by code other than faio are not seen.
//  - lio_listio: with LIO_NOWAIT it links every queued aiocb to a list
//    notification allocated afterwards, and fails the call (EAGAIN) with every
//    aiocb queued when that allocation fails; each aiocb's outcome has to be
//    inferred from aio_error. aio_read / aio_write / aio_fsync per request
//    answer for exactly one request each, which keeps the prefix rule
//    (docs/contract.md, Submit) exact.
//  - A request glibc refuses for want of memory (EAGAIN) is never queued and
//    glibc leaves its aiocb's error code as it was: Take sets it to EAGAIN so
//    that such an aiocb can never read as a success, and a refused request is
//    never watched.
#include "backend/posix_aio/posix_aio_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "backend/backend_util.h"
#include "backend/posix_aio/aio_host.h"
#include "backend/posix_aio/notifier.h"
#include "core/context.h"
#include "core/intrusive_list.h"
#include "core/lockfree_stack.h"
#include "platform/host.h"

namespace faio::detail {
namespace {

// Vectored transfers: FreeBSD's aio(4) takes them (LIO_READV/LIO_WRITEV, an
// iovec array in aio_iov); glibc's POSIX AIO has none, so a slot moves the
// data through a Bounce of its own.
#if defined(LIO_VECTORED)
#define FAIO_AIO_VECTORED 1
#else
#define FAIO_AIO_VECTORED 0
#endif

struct Slot {
  struct aiocb cb;
  Request* req;
  uint32_t seq32;
#if !FAIO_AIO_VECTORED
  Bounce bounce;  // a vectored transfer's data (kept for the slot's next one)
#endif
  Slot* free_next;
  uint64_t order;                 // submission order (glibc: process-wide)
  std::atomic<bool> busy{false};  // with the host, not yet released
  // FreeBSD: in a lio_listio call whose outcome Enqueue has not finished
  // examining; the reaper leaves the slot's aiocb alone until it clears.
  std::atomic<bool> listing{false};
#if FAIO_GLIBC_AIO
  // Membership of GlibcQueues' bucket of aio_fildes (under GlibcQueues::mu).
  // Unlinked when the slot is taken again or its backend goes.
  Slot* q_prev = nullptr;
  Slot* q_next = nullptr;
  bool queued = false;
#endif
};

#if FAIO_GLIBC_AIO
// GlibcQueues: every aiocb faio handed to glibc, by descriptor, process-wide
// (see the file comment). Linked at submission, unlinked lazily; whether one is
// still in glibc's queue is its aio_error (EINPROGRESS). Buckets by descriptor
// so a cancel looks only at requests of (about) its own descriptor.
struct GlibcQueues {
  static constexpr size_t kBuckets = 1024;
  std::mutex mu;
  uint64_t next_order = 0;       // under mu
  using List = IntrusiveList<Slot, &Slot::q_next, &Slot::q_prev>;
  List buckets[kBuckets];  // under mu

  List* Bucket(int fd) { return &buckets[static_cast<unsigned>(fd) % kBuckets]; }
  void Link(Slot* s) {
    Bucket(s->cb.aio_fildes)->PushBack(s);
    s->queued = true;
  }
  void Unlink(Slot* s) {
    if (!s->queued) return;
    Bucket(s->cb.aio_fildes)->Remove(s);
    s->queued = false;
  }
  // Is a faio request of s's descriptor queued behind s in glibc? glibc puts a
  // new request behind every one of its descriptor with a priority at least
  // its own (__abs_prio, set at submission), so one behind s is newer than s
  // or of a lower priority. Conservative: a newer one counts even when it
  // ranks ahead.
  bool AnyBehind(const Slot* s) {
    for (const Slot* o = Bucket(s->cb.aio_fildes)->front(); o != nullptr; o = o->q_next) {
      if (o == s || o->cb.aio_fildes != s->cb.aio_fildes) continue;
      if (aio_error(&o->cb) != EINPROGRESS) continue;  // no longer in glibc's queue
      if (o->order > s->order || o->cb.__abs_prio < s->cb.__abs_prio) return true;
    }
    return false;
  }
};

GlibcQueues& Queues() {
  static GlibcQueues* q = new GlibcQueues;  // never destroyed: contexts may outlive statics
  return *q;
}
#endif

size_t ListioMax() {
  long host = sysconf(_SC_AIO_LISTIO_MAX);
  size_t n = 64;
#ifdef AIO_LISTIO_MAX
  if (AIO_LISTIO_MAX < n) n = AIO_LISTIO_MAX;
#endif
  if (host > 0 && static_cast<size_t>(host) < n) n = static_cast<size_t>(host);
  return n < 1 ? 1 : n;
}

class PosixAioBackend final : public Backend {
 public:
  PosixAioBackend(const BackendParams& p, const char* name, std::unique_ptr<AioNotifier> n,
                  uint32_t host_cap, DoNowPolicy do_now)
      : ctx_(p.ctx),
        submit_mu_(p.submit_mu),
        name_(name),
        do_now_(do_now),
        notifier_(std::move(n)),
        listio_max_(ListioMax()) {
    capacity_ = p.capacity == 0 ? host_cap : p.capacity;
  }

  ~PosixAioBackend() override {
    // First: a pollable handle's watcher may be reading the aiocbs freed below.
    notifier_->StopWatching();
    // The context is idle (nothing counted), but cancelled aiocbs may still be
    // finishing: reap them before their slots go.
    while (outstanding_ > 0) {
      void* cookies[64];
      bool woken = false;
      size_t got = notifier_->Collect(cookies, 64, true,
                                      Clock::now() + std::chrono::milliseconds(100), &woken);
      for (size_t i = 0; i < got; ++i) Release(static_cast<Slot*>(cookies[i]), nullptr);
    }
#if FAIO_GLIBC_AIO
    {
      std::lock_guard<std::mutex> lock(Queues().mu);
      for (Slot* c : chunks_) {
        for (size_t i = 0; i < kChunk; ++i) Queues().Unlink(&c[i]);
      }
    }
#endif
    for (Slot* s : chunks_) delete[] s;
  }

  const char* name() const override { return name_; }
  uint32_t capacity() const override { return capacity_; }

  size_t Enqueue(Request* const* reqs, size_t n, int* host_error) override {
#if FAIO_GLIBC_AIO
    return EnqueueGlibc(reqs, n, host_error);
#else
    size_t done = 0;
    while (done < n) {
      Request* r = reqs[done];
      if (r->op == Op::kFlush) {
        Slot* s = Take(r);
        if (s == nullptr) {
          *host_error = ENOMEM;
          return done;
        }
#ifdef O_DSYNC
        int mode = (r->flush_flags & FAIO_FLUSH_FULL) ? O_SYNC : O_DSYNC;
#else
        int mode = O_SYNC;
#endif
        if (aio_fsync(mode, &s->cb) != 0) {
          int err = errno;  // judged by errno, not by the return value (flaw 3)
          Untake(s);
          if (err == EAGAIN) {
            *host_error = err;
            return done;
          }
          ctx_->CompleteFromHost(r, err);
        } else {
          notifier_->Watch(s, &s->cb);
        }
        ++done;
        continue;
      }
      // A chunk of transfers (up to the next flush) for one lio_listio.
      struct aiocb* list[64];
      Slot* slots[64];
      size_t k = 0;
      if (int e = BounceRefusal(reqs[done])) {
        ctx_->CompleteFromHost(reqs[done], e);
        ++done;
        continue;
      }
      while (done + k < n && k < listio_max_ && reqs[done + k]->op != Op::kFlush) {
        if (k != 0 && BounceRefusal(reqs[done + k]) != 0) break;  // the next chunk's first
        Slot* s = Take(reqs[done + k]);
        if (s == nullptr) break;
        slots[k] = s;
        list[k] = &s->cb;
        ++k;
      }
      if (k == 0) {
        *host_error = ENOMEM;
        return done;
      }
#if FAIO_FREEBSD_AIO
      for (size_t i = 0; i < k; ++i) slots[i]->listing.store(true, std::memory_order_relaxed);
#endif
      if (lio_listio(LIO_NOWAIT, list, static_cast<int>(k), nullptr) == 0) {
        for (size_t i = 0; i < k; ++i) notifier_->Watch(slots[i], &slots[i]->cb);
        EndListing(slots, k);
        done += k;
        continue;
      }
      int err = errno;
      // Look at each aiocb of this chunk, and only this chunk (flaw 2).
      // EINPROGRESS or 0: queued, its notification will come. EAGAIN: refused
      // for resources, never queued. Any other error: glibc queues every aiocb it
      // can and fails transfers only in its worker threads (the notification
      // comes); FreeBSD refuses bad aiocbs synchronously (EBADF, EINVAL: never
      // queued, no kevent). A refused trailing run goes back to *prepared*; a
      // refused request in the middle completes with its error.
      int errs[64];
      for (size_t i = 0; i < k; ++i) {
#if FAIO_FREEBSD_AIO
        // aio_error cannot tell a refused aiocb from a queued job that has
        // already failed with the same error: the second posts an event, the
        // first never does. aio_aqueue stores in the aiocb EINPROGRESS when it
        // queues the job and the error when it refuses it, and nothing writes
        // there again before aio_return - which the reaper holds off while
        // `listing` is set (found with tests/freebsd_model).
        long e = slots[i]->cb._aiocb_private.error;
        errs[i] = e == EINPROGRESS ? EINPROGRESS : e == 0 ? EINVAL : static_cast<int>(e);
#else
        errs[i] = aio_error(&slots[i]->cb);
        if (errs[i] == -1) errs[i] = EAGAIN;  // unknown to the host: never queued
#endif
      }
      auto queued = [&](int e) {
#if FAIO_FREEBSD_AIO
        return e == EINPROGRESS;
#else
        return e != EAGAIN;
#endif
      };
      size_t tail = k;  // first index of the trailing run of refused aiocbs
      while (tail > 0 && errs[tail - 1] == EAGAIN) --tail;
      EndListing(slots, k);
      for (size_t i = 0; i < k; ++i) {
        if (i >= tail) {
          Untake(slots[i]);  // the core puts the request back to *prepared*
        } else if (!queued(errs[i])) {
          Untake(slots[i]);
          ctx_->CompleteFromHost(reqs[done + i], errs[i]);
        } else {
          notifier_->Watch(slots[i], &slots[i]->cb);
        }
      }
      done += tail;
      if (tail < k) {
        *host_error = err == EIO ? EAGAIN : err;
        return done;
      }
    }
    return n;
#endif
  }

  void Commit() override {}

  // "posix_aio": glibc serves POSIX AIO with its own threads, a hand-off per
  // request, so a cached read or a buffered local write is cheaper made by
  // the submitter (kAlways; platform::ProbeNow finds such files on Linux
  // only). "kqueue": FreeBSD's kernel queues the job itself (kNever).
  DoNowPolicy do_now() const override { return do_now_; }

  size_t Reap(HostCompletion* out, size_t max, bool may_block,
              Clock::time_point deadline) override {
    size_t n = 0;
    bool woken = false;
    bool block = false;  // blocks once, after a sweep found nothing
    for (;;) {
      void* cookies[64];
      size_t room = max - n < 64 ? max - n : 64;
      size_t got = notifier_->Collect(cookies, room, block, deadline, &woken);
      for (size_t i = 0; i < got; ++i) {
        Request* r = nullptr;
        uint32_t seq32 = 0;
        int host_error = 0;
        size_t bytes = 0;
        Slot* s = static_cast<Slot*>(cookies[i]);
#if FAIO_FREEBSD_AIO
        // An event can come while Enqueue still examines the lio_listio that
        // queued the job: wait for it (it holds the submit lock), or aio_return
        // here would rewrite the aiocb it reads.
        if (s->listing.load(std::memory_order_acquire)) {
          std::lock_guard<platform::Lock> wait_for_enqueue(*submit_mu_);
        }
#endif
        Release(s, &r, &seq32, &host_error, &bytes);
        if (r != nullptr) out[n++] = HostCompletion{r, seq32, HostResult(host_error, bytes)};
      }
      // Blocked once (timed out, interrupted or not): the core decides.
      if (block || n >= max || woken || ctx_->ReapShouldReturn()) break;
      if (got == room) continue;  // a full sweep: look again before blocking
      if (n > 0 || !may_block) break;
      if (deadline != Clock::time_point::max() && Clock::now() >= deadline) break;
      block = true;
    }
    return n;
  }

  void Kick() override { notifier_->Wake(); }
  bool HasPollable() const override { return notifier_->HasPollable(); }
  int WatchPollable(const platform::Notify& n, faio_file* out) override {
    return notifier_->WatchPollable(n, out);
  }
  bool OwnsPollable() const override { return notifier_->OwnsPollable(); }
  void SignalPollable() override { notifier_->SignalPollable(); }
  void ResetPollable() override { notifier_->ResetPollable(); }

  CancelOutcome Cancel(Request* r, uint32_t seq32) override {
#if FAIO_GLIBC_AIO
    // Under the process-wide lock the slot cannot be handed to another request
    // and no faio request joins glibc's queue behind it (see the file comment).
    // Not the submit lock: a submit holding it may be completing this very
    // request locally, waiting for this cancel to let go of it.
    std::lock_guard<std::mutex> lock(Queues().mu);
#else
    // Under the submit lock the slot cannot be handed to another request.
    std::lock_guard<platform::Lock> lock(*submit_mu_);
#endif
    Slot* s = reinterpret_cast<Slot*>(
        static_cast<uintptr_t>(r->backend_data.load(std::memory_order_relaxed)));
    if (s == nullptr || s->req != r || s->seq32 != seq32) return CancelOutcome::kNotFound;
#if FAIO_GLIBC_AIO
    if (aio_error(&s->cb) != EINPROGRESS) return CancelOutcome::kNotFound;
    // Cancelling it could strand what is queued behind it: let it run.
    if (Queues().AnyBehind(s)) return CancelOutcome::kInProgress;
#endif
    switch (aio_cancel(s->cb.aio_fildes, &s->cb)) {
      case AIO_CANCELED:
        return CancelOutcome::kCancelled;
      case AIO_ALLDONE:
        return CancelOutcome::kNotFound;
      default:  // AIO_NOTCANCELED, or -1
        return CancelOutcome::kInProgress;
    }
  }

 private:
#if FAIO_GLIBC_AIO
  // EnqueueGlibc hands each request to glibc on its own (aio_read, aio_write,
  // aio_fsync), under the process-wide lock, and links it into GlibcQueues. A
  // request refused for resources (EAGAIN) ends the batch: it and the rest go
  // back to *prepared* (docs/contract.md, Submit). One that fails at once for
  // another reason completes with its error - after the lock is dropped, since
  // a cancel may hold that request while it waits for the lock, and
  // CompleteLocally waits for the cancel's verdict.
  size_t EnqueueGlibc(Request* const* reqs, size_t n, int* host_error) {
    constexpr size_t kStep = 64;
    size_t done = 0;
    while (done < n) {
      Slot* accepted[kStep];
      Request* failed[kStep];
      int failed_err[kStep];
      size_t n_accepted = 0, n_failed = 0;
      bool stop = false;
      {
        GlibcQueues& q = Queues();
        std::lock_guard<std::mutex> lock(q.mu);
        for (size_t k = 0; k < kStep && done < n; ++k) {
          Request* r = reqs[done];
          if (int e = BounceRefusal(r)) {
            failed[n_failed] = r;
            failed_err[n_failed++] = e;
            ++done;
            continue;
          }
          Slot* s = Take(r);
          if (s == nullptr) {
            *host_error = ENOMEM;
            stop = true;
            break;
          }
          s->order = q.next_order++;
          int rc;
          if (r->op == Op::kFlush) {
            rc = aio_fsync((r->flush_flags & FAIO_FLUSH_FULL) ? O_SYNC : O_DSYNC, &s->cb);
          } else if (r->op == Op::kRead) {
            rc = aio_read(&s->cb);
          } else {
            rc = aio_write(&s->cb);
          }
          if (rc == 0) {
            q.Link(s);
            accepted[n_accepted++] = s;
            ++done;
            continue;
          }
          int err = errno;  // judged by errno, not by the return value (flaw 3)
          Untake(s);
          if (err == EAGAIN) {
            *host_error = err;
            stop = true;
            break;
          }
          failed[n_failed] = r;
          failed_err[n_failed++] = err;
          ++done;
        }
      }
      for (size_t i = 0; i < n_accepted; ++i) notifier_->Watch(accepted[i], &accepted[i]->cb);
      for (size_t i = 0; i < n_failed; ++i) {
        ctx_->CompleteFromHost(failed[i], failed_err[i]);
      }
      if (stop) return done;
    }
    return n;
  }
#endif

  // BounceRefusal: the error the host would give a vectored transfer that a
  // Bounce would hide (direct I/O with a misaligned segment: EINVAL), else 0.
  static int BounceRefusal(const Request* r) {
#if FAIO_AIO_VECTORED
    (void)r;
    return 0;
#else
    // A later part of a full transfer (Request::done) is past a short direct
    // read, i.e. at the end of the file, where the kernel answers 0 bytes before
    // it looks at alignment: not checked.
    return r->nsegs != 0 && r->done == 0
               ? platform::CheckDirectSegments(r->file, r->segs, r->nsegs)
               : 0;
#endif
  }

  // Takes a slot for r and describes r in its aiocb (under the submit lock).
  Slot* Take(Request* r) {
    if (free_ == nullptr) TakeFreed();
    if (free_ == nullptr && !Grow()) return nullptr;
    Slot* s = free_;
    free_ = s->free_next;
#if FAIO_GLIBC_AIO
    Queues().Unlink(s);  // the caller holds Queues().mu
#endif
    memset(&s->cb, 0, sizeof(s->cb));
#if FAIO_GLIBC_AIO
    s->cb.__error_code = EAGAIN;  // not queued (yet): never a success (see the file comment)
#endif
    s->req = r;
    s->seq32 = r->seq32;
    s->cb.aio_fildes = r->file;
    if (r->op != Op::kFlush) {
      s->cb.aio_buf = r->buf;
      s->cb.aio_nbytes = r->len;
      s->cb.aio_offset = static_cast<off_t>(r->offset);
      s->cb.aio_lio_opcode = r->op == Op::kRead ? LIO_READ : LIO_WRITE;
      if (r->nsegs != 0) {
#if FAIO_AIO_VECTORED
        s->cb.aio_iov = reinterpret_cast<struct iovec*>(r->segs);  // same layout
        s->cb.aio_iovcnt = r->nsegs;
        s->cb.aio_lio_opcode = r->op == Op::kRead ? LIO_READV : LIO_WRITEV;
#else
        if (!s->bounce.Fit(r->len)) {
          s->free_next = free_;  // not taken: back to the free list
          free_ = s;
          return nullptr;
        }
        if (r->op == Op::kWrite) s->bounce.Gather(r);
        s->cb.aio_buf = s->bounce.data();
#endif
      }
    }
    notifier_->Prepare(&s->cb.aio_sigevent, s);
    r->backend_data.store(reinterpret_cast<uintptr_t>(s), std::memory_order_relaxed);
    s->busy.store(true, std::memory_order_release);
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }

  // Ends the examination of a lio_listio's slots (see Slot::listing).
  void EndListing(Slot* const* slots, size_t k) {
#if FAIO_FREEBSD_AIO
    for (size_t i = 0; i < k; ++i) slots[i]->listing.store(false, std::memory_order_release);
#else
    (void)slots;
    (void)k;
#endif
  }

  // Gives back a slot whose aiocb never reached the host.
  void Untake(Slot* s) {
    s->busy.store(false, std::memory_order_release);
    s->req->backend_data.store(0, std::memory_order_relaxed);
    s->req = nullptr;
    s->free_next = free_;
    free_ = s;
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Reaper: collects the outcome of a notified aiocb - aio_error, then
  // aio_return exactly once - and frees the slot.
  void Release(Slot* s, Request** r, uint32_t* seq32 = nullptr, int* host_error = nullptr,
               size_t* bytes = nullptr) {
    int err = aio_error(&s->cb);
    ssize_t ret = aio_return(&s->cb);
    if (r != nullptr) {
      *r = s->req;
      *seq32 = s->seq32;
      if (err == 0) {
        *bytes = ret < 0 ? 0 : static_cast<size_t>(ret);
#if !FAIO_AIO_VECTORED
        // A vectored read's data is in the bounce. It ran (err 0), so no
        // cancel took it: the request is still this submission's.
        if (s->req->nsegs != 0 && s->req->op == Op::kRead) {
          s->bounce.Scatter(s->req, *bytes);
        }
#endif
      } else {
        *host_error = err == -1 ? errno : err;  // the core maps it (ECANCELED: cancelled)
      }
    }
    s->busy.store(false, std::memory_order_release);
    // Hand the slot back through a lock-free stack; Enqueue takes it whole.
    PushFront(freed_, s, &Slot::free_next);
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
  }

  void TakeFreed() { free_ = TakeAll(freed_); }

  bool Grow() {
    Slot* c = new (std::nothrow) Slot[kChunk];
    if (c == nullptr) return false;
    try {
      chunks_.push_back(c);
    } catch (const std::bad_alloc&) {  // out of memory: the caller reports it
      delete[] c;
      return false;
    }
    for (size_t i = 0; i < kChunk; ++i) {
      c[i].free_next = free_;
      free_ = &c[i];
    }
    return true;
  }

  Context* const ctx_;
  platform::Lock* const submit_mu_;
  const char* const name_;
  const DoNowPolicy do_now_;
  std::unique_ptr<AioNotifier> notifier_;
  const size_t listio_max_;
  uint32_t capacity_ = 0;
  static constexpr size_t kChunk = 64;
  std::vector<Slot*> chunks_;  // under the submit lock
  Slot* free_ = nullptr;       // under the submit lock
  std::atomic<Slot*> freed_{nullptr};
  std::atomic<int64_t> outstanding_{0};  // slots with the host
};

// Per-process cap on outstanding requests, where the host has one.
uint32_t HostCap() {
#if FAIO_FREEBSD_AIO
  // FreeBSD refuses a job with EAGAIN once the process holds
  // vfs.aio.max_aio_queue_per_proc of them (or the system vfs.aio.max_aio_queue),
  // finished ones until aio_return (aio_aqueue); vfs.aio.max_aio_per_proc only
  // bounds how many of them run at once, and is no capacity. The same number as
  // faio_get_limits (docs/contract.md, Limits).
  faio_limits lim;
  PosixAioBackendLimits(&lim);
  return lim.max_requests;
#else
  return FAIO_UNLIMITED;  // glibc's POSIX AIO queues in user space without a cap
#endif
}

}  // namespace

bool ProbePosixAioBackend(Unavailable*) { return true; }

std::unique_ptr<Backend> CreatePosixAioBackend(const BackendParams& p, Unavailable* why) {
  auto n = MakeSuspendNotifier(why);
  if (n == nullptr) return nullptr;
  auto b = std::unique_ptr<Backend>(new (std::nothrow)
                                        PosixAioBackend(p, "posix_aio", std::move(n), HostCap(),
                                                        DoNowPolicy::kAlways));
  if (b == nullptr) {
    why->status = FAIO_E_NO_MEMORY;
    why->reason = "out of memory";
  }
  return b;
}

#if FAIO_FREEBSD_AIO
bool ProbeKqueueBackend(Unavailable* why) {
  // Without the aio module (or kernel option) the vfs.aio sysctls are absent.
  int v = 0;
  size_t len = sizeof(v);
  if (sysctlbyname("vfs.aio.max_aio_per_proc", &v, &len, nullptr, 0) != 0) {
    why->status = FAIO_E_NOT_SUPPORTED;
    why->host_error = errno;
    why->reason = "POSIX AIO is unavailable: vfs.aio sysctls absent (load aio(4): kldload aio)";
    return false;
  }
  return true;
}

std::unique_ptr<Backend> CreateKqueueBackend(const BackendParams& p, Unavailable* why) {
  if (!ProbeKqueueBackend(why)) return nullptr;
  auto n = MakeKqueueNotifier(why);
  if (n == nullptr) return nullptr;
  auto b = std::unique_ptr<Backend>(new (std::nothrow)
                                        PosixAioBackend(p, "kqueue", std::move(n), HostCap(),
                                                        DoNowPolicy::kNever));
  if (b == nullptr) {
    why->status = FAIO_E_NO_MEMORY;
    why->reason = "out of memory";
  }
  return b;
}
#endif

}  // namespace faio::detail
