// linux_aio_backend.cc - Linux kernel AIO.
//
// Raw system calls rather than libaio: libaio is a one-line wrapper per call, and
// the raw ABI (linux/aio_abi.h) is stable, documented and has IOCB_CMD_POLL,
// which this backend needs; one dependency fewer.
//
// Kernel AIO is truly asynchronous only for O_DIRECT transfers. On buffered files
// io_submit performs the transfer before it returns (submit blocks; the
// completion is then immediate), so the core does such a transfer itself
// (do_now: kAlways; Context::DoNow) with pread / pwrite and completes it
// locally: the same blocking, one system call instead of io_submit +
// io_getevents. What reaches this backend is the rest: O_DIRECT, a read the
// cache does not hold whole, files on other file systems. On files that cannot seek (pipes,
// sockets, terminals) a read would block io_submit indefinitely, so for those the backend submits
// an IOCB_CMD_POLL for readiness and the reaper performs the transfer with RWF_NOWAIT when the poll
// fires, re-arming on EAGAIN. Poll iocbs can be cancelled; file transfers cannot (io_cancel answers
// EINVAL): *in progress*.
//
// Flushes of a buffered file go to the process's worker pool
// (backend/threads/pool.h) where this build has it: fdatasync on a worker,
// completed through this backend's reap. Kernel AIO's IOCB_CMD_FDSYNC runs the
// same sync from a kernel workqueue but cost more there (qd1_bench, a write +
// fdatasync every 16 writes, one at a time: 1.08-1.13x the plain system calls
// through IOCB_CMD_FDSYNC against 1.00-1.04x on the pool; docs/benchmarks.md).
// On an O_DIRECT file it is the other way round (1.04-1.08x through the kernel,
// 1.08-1.22x on the pool: nothing to write back, and the kernel's worker runs
// on the waiter's own CPU), so those go to the kernel; so does every flush
// when the pool cannot start a thread.
//
// Wakeup: an IOCB_CMD_POLL on an eventfd is always in flight; Kick() writes the
// eventfd (async-signal-safe), the poll completes and io_getevents returns. The
// reaper drains the eventfd and re-arms (io_submit is thread-safe, no lock).
//
// Contexts: io_destroy waits for an RCU grace period (~32 ms), so a destroyed
// context's kernel AIO context, once shown idle (Quiesce), is kept for the next
// context of its size (IdleAioContexts, bounded; given back when io_setup runs
// out of fs.aio-max-nr).
//
// io_submit's partial results: it returns how many iocbs it took; when the first
// one is refused it returns that error. EAGAIN (fs.aio-max-nr / the context's
// nr_events exhausted) stops the batch: the rest are *prepared* again. Any other
// error belongs to that one request, which completes with it.
#include "backend/linux_aio/linux_aio_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend_util.h"
#if FAIO_HAVE_THREADS
#include "backend/threads/pool.h"
#include "core/lockfree_stack.h"
#endif
#include "core/context.h"
#include "platform/host.h"

namespace faio::detail {
namespace {

static_assert(sizeof(iocb) <= sizeof(Request::backend_area), "iocb must fit the request");

int IoSetup(unsigned nr, aio_context_t* ctx) {
  return static_cast<int>(syscall(SYS_io_setup, nr, ctx));
}
int IoDestroy(aio_context_t ctx) { return static_cast<int>(syscall(SYS_io_destroy, ctx)); }
int IoSubmit(aio_context_t ctx, long n, iocb** iocbs) {
  return static_cast<int>(syscall(SYS_io_submit, ctx, n, iocbs));
}
int IoGetevents(aio_context_t ctx, long min, long max, io_event* ev, timespec* ts) {
  return static_cast<int>(syscall(SYS_io_getevents, ctx, min, max, ev, ts));
}
int IoCancel(aio_context_t ctx, iocb* cb, io_event* ev) {
  return static_cast<int>(syscall(SYS_io_cancel, ctx, cb, ev));
}

constexpr uint64_t kWakeTag = ~uint64_t{0};
constexpr uint32_t kDefaultCapacity = 4096;
constexpr long kEventBatch = 256;

// Request::backend_data: the phase of a request on a file that cannot seek.
enum : uint64_t {
  kPhaseDirect = 0,        // an ordinary iocb transfer
  kPhasePolling = 1,       // waiting for readiness
  kPhaseCancelling = 2,    // a canceller is trying io_cancel on the poll
  kPhaseTransferring = 3,  // the reaper is transferring
  kPhaseCancelled = 4,
  kPhaseParked = 6,  // its poll must go to the kernel again, which had no slot for it
};

// IdleAioContexts: kernel AIO contexts that a destroyed linux_aio context left
// idle, kept for the next one that asks for the same number of events.
// io_destroy does not return until the kernel has retired the context, which
// waits for an RCU grace period (~32 ms on the development VM: a process that
// creates and destroys contexts, or asks faio_get_backends, paid that each
// time), while a context whose every event has been read is as good as new.
// So a backend that can show its context idle (LinuxAioBackend::Quiesce)
// parks it here, and the next context of the same size takes it instead of
// calling io_setup.
// - Bounded (kMax contexts, kMaxEvents events in all): the slots they hold come
//   from the system-wide fs.aio-max-nr, which other processes share. A context
//   parked when the store is full pushes out the oldest ones (destroyed), so
//   sizes nobody asks for again do not keep the store.
// - An io_setup that answers EAGAIN destroys them all and asks once more.
// - Kernel AIO contexts do not survive fork: entries another process made
//   (pid) are dropped, and a context is taken only once the kernel says it is
//   this process's (a pid can come back). The lock is only ever tried (a few
//   times), so a child forked while some thread held it does not hang: it
//   does without the store.
class IdleAioContexts {
 public:
  static constexpr size_t kMax = 16;
  static constexpr unsigned kMaxEvents = 1024;

  constexpr IdleAioContexts() = default;

  // Take: an idle context of exactly nr events into *ctx; false: none.
  bool Take(unsigned nr, aio_context_t* ctx) {
    for (;;) {
      Idle got{};
      {
        Held lock(this);
        if (!lock.owns_lock()) return false;
        size_t i = 0;
        while (i < n_ && idle_[i].nr != nr) ++i;
        if (i == n_) return false;
        got = idle_[i];
        Remove(i);
      }
      // Ours? (io_getevents of nothing: EINVAL for a context this process
      // does not have.)
      timespec zero = {0, 0};
      if (IoGetevents(got.ctx, 0, 0, nullptr, &zero) == 0) {
        *ctx = got.ctx;
        return true;
      }
    }
  }

  // Put keeps ctx (nr events, nothing in flight, nothing unread), pushing out
  // (destroying) the oldest ones to make room; false: it does not fit at all
  // (or the store is busy), and the caller destroys it.
  bool Put(aio_context_t ctx, unsigned nr) {
    if (nr > kMaxEvents) return false;
    Idle out[kMax];
    size_t n_out = 0;
    {
      Held lock(this);
      if (!lock.owns_lock()) return false;
      while (n_ == kMax || nr > kMaxEvents - Events()) {
        out[n_out++] = idle_[0];
        Remove(0);
      }
      idle_[n_++] = Idle{ctx, nr};
    }
    for (size_t i = 0; i < n_out; ++i) IoDestroy(out[i].ctx);
    return true;
  }

  // DestroyAll destroys every idle context of this process: their slots go
  // back to fs.aio-max-nr.
  void DestroyAll() {
    Idle taken[kMax];
    size_t n = 0;
    {
      Held lock(this);
      if (!lock.owns_lock()) return;
      n = n_;
      std::copy(idle_, idle_ + n_, taken);
      n_ = 0;
    }
    for (size_t i = 0; i < n; ++i) IoDestroy(taken[i].ctx);
  }

 private:
  struct Idle {
    aio_context_t ctx;
    unsigned nr;
  };

  // Held: the store's lock, tried a few times; with it, the entries are this
  // process's (a fork child forgets its parent's).
  class Held {
   public:
    explicit Held(IdleAioContexts* s) : s_(s) {
      for (int i = 0; i < 64 && !owns_; ++i) {
        owns_ = s->mu_.try_lock();
        if (!owns_) std::this_thread::yield();
      }
      if (!owns_) return;
      const pid_t pid = getpid();
      if (s->pid_ != pid) {
        s->n_ = 0;
        s->pid_ = pid;
      }
    }
    ~Held() {
      if (owns_) s_->mu_.unlock();
    }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    bool owns_lock() const { return owns_; }

   private:
    IdleAioContexts* s_;
    bool owns_ = false;
  };

  // Remove entry i, keeping the others oldest first.
  void Remove(size_t i) {
    std::copy(idle_ + i + 1, idle_ + n_, idle_ + i);
    --n_;
  }
  // Events: the events the idle contexts hold in all.
  unsigned Events() const {
    unsigned sum = 0;
    for (size_t i = 0; i < n_; ++i) sum += idle_[i].nr;
    return sum;
  }

  platform::Lock mu_;
  pid_t pid_ = 0;
  size_t n_ = 0;  // idle_[0, n_), oldest first
  Idle idle_[kMax] = {};
};
constinit IdleAioContexts g_idle_aio;

// SetUp gives *ctx a kernel AIO context of nr events: an idle one, or a new one
// (when io_setup answers EAGAIN, the idle ones are destroyed and it is asked
// once more). -1 and errno as io_setup.
int SetUp(unsigned nr, aio_context_t* ctx) {
  if (g_idle_aio.Take(nr, ctx)) return 0;
  int ret = IoSetup(nr, ctx);
  if (ret < 0 && errno == EAGAIN) {
    g_idle_aio.DestroyAll();
    ret = IoSetup(nr, ctx);
  }
  return ret;
}

// Retire hands back a context the caller has shown idle (nothing in flight,
// every event read): kept for the next SetUp of nr events, else destroyed.
void Retire(aio_context_t ctx, unsigned nr) {
  if (!g_idle_aio.Put(ctx, nr)) IoDestroy(ctx);
}

// AioSlotsLeft: fs.aio-max-nr - fs.aio-nr (given as read), the event slots
// io_setup can still give (every process's), or -1 when /proc does not say.
long long AioSlotsLeft(const std::string& max_nr, const std::string& nr) {
  char* end_max = nullptr;
  char* end_nr = nullptr;
  const long long m = strtoll(max_nr.c_str(), &end_max, 10);
  const long long n = strtoll(nr.c_str(), &end_nr, 10);
  if (end_max == max_nr.c_str() || end_nr == nr.c_str()) return -1;  // "?"
  return m - n;
}

// Explains a failed io_setup: the host lacking or forbidding kernel AIO is
// FAIO_E_NOT_SUPPORTED; the pool or the kernel's memory exhausted is
// FAIO_E_INSUFFICIENT_RESOURCES, which "auto" does not take for absence
// (docs/contract.md, "Context lifetime").
void Explain(int err, unsigned nr, Unavailable* why) {
  why->host_error = err;
  if (err == ENOMEM) {
    why->status = FAIO_E_INSUFFICIENT_RESOURCES;
    why->reason = "io_setup(" + std::to_string(nr) + ") returned ENOMEM: out of kernel memory";
  } else if (err == EAGAIN) {
    why->status = FAIO_E_INSUFFICIENT_RESOURCES;
    why->reason = "io_setup(" + std::to_string(nr) +
                  ") returned EAGAIN: fs.aio-max-nr=" + ReadProcValue("/proc/sys/fs/aio-max-nr") +
                  " exhausted (fs.aio-nr=" + ReadProcValue("/proc/sys/fs/aio-nr") + ")";
  } else if (err == ENOSYS) {
    why->status = FAIO_E_NOT_SUPPORTED;
    why->reason = "io_setup returned ENOSYS: kernel without CONFIG_AIO, or a seccomp filter";
  } else if (err == EPERM) {
    why->status = FAIO_E_NOT_SUPPORTED;
    why->reason = "io_setup denied with EPERM (a seccomp filter or an LSM)";
  } else {
    why->status = FAIO_E_NOT_SUPPORTED;
    why->reason = std::string("io_setup failed: ") + strerror(err);
  }
}

class LinuxAioBackend final : public Backend {
 public:
  explicit LinuxAioBackend(const BackendParams& p) : ctx_(p.ctx), asked_(p.capacity) {}

  ~LinuxAioBackend() override {
#if FAIO_HAVE_THREADS
    // First: a worker finishing a flush of ours still kicks wake_.
    if (flushes_.attached()) flushes_.Detach();
#endif
    if (aio_ != 0) {
      if (ready_ && Quiesce()) {
        Retire(aio_, nr_);
      } else {
        IoDestroy(aio_);  // cancels the wake poll
      }
    }
    platform::CloseNotify(&wake_);
  }

  bool Init(Unavailable* why) {
    capacity_ = asked_ == 0 ? kDefaultCapacity : asked_;
    // Event slots: the requests in flight, as many again for cancelled requests
    // whose events are not reaped yet (the core no longer counts them, the
    // kernel does), and one for the wake poll.
    unsigned nr = capacity_ * 2 + 1;
    int ret = SetUp(nr, &aio_);
    if (ret < 0 && errno == EAGAIN && asked_ == 0) {
      capacity_ = 128;
      nr = capacity_ * 2 + 1;
      ret = SetUp(nr, &aio_);
    }
    if (ret < 0) {
      aio_ = 0;
      Explain(errno, nr, why);
      return false;
    }
    nr_ = nr;
    if (!OpenWakeup(&wake_, 1, why)) return false;
    wake_armed_ = ArmWake();
    if (!wake_armed_) {
      int err = errno;
      why->host_error = err;
      if (err == EAGAIN || err == ENOMEM) {
        why->status = FAIO_E_INSUFFICIENT_RESOURCES;
        why->reason = std::string("could not arm the wakeup poll: ") + strerror(err);
      } else {
        why->status = FAIO_E_NOT_SUPPORTED;
        why->reason = "IOCB_CMD_POLL is not supported (needs Linux 4.18)";
      }
      return false;
    }
    ready_ = true;
    return true;
  }

  const char* name() const override { return "linux_aio"; }
  uint32_t capacity() const override { return capacity_; }

  size_t Enqueue(Request* const* reqs, size_t n, int* host_error) override {
    // In request order, runs of up to 64 in one io_submit each. A refusal
    // (EAGAIN) leaves only requests the host never saw to be prepared again
    // (docs/contract.md, Submit).
    iocb* batch[64];
    size_t done = 0;
    int last_fd = -1;
    bool last_seekable = true;
    while (done < n) {
      if (reqs[done]->op == Op::kFlush && FlushToPool(reqs[done])) {
        ++done;
        continue;
      }
      size_t k = 0;
      for (; k < 64 && done + k < n; ++k) {
        Request* r = reqs[done + k];
        if (k > 0 && r->op == Op::kFlush && FlushesPooled()) break;  // next turn: the pool
        if (r->file != last_fd) {
          struct stat st;
          last_fd = r->file;
          last_seekable = fstat(r->file, &st) != 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
        }
        batch[k] = Prepare(r, last_seekable);
      }
      size_t sent = 0;
      while (sent < k) {
        int ret = IoSubmit(aio_, static_cast<long>(k - sent), batch + sent);
        if (ret > 0) {
          sent += static_cast<size_t>(ret);
          continue;
        }
        int err = ret == 0 ? EAGAIN : errno;
        if (err == EINTR) continue;
        if (err == EAGAIN) {
          *host_error = EAGAIN;
          return done + sent;
        }
        // This one request is refused on its own (EBADF, EINVAL, ...): it is
        // accepted and completes with its error - unless the file just lacks
        // kernel AIO (EINVAL on a buffered descriptor, e.g. /proc files): then
        // the transfer runs here, as io_submit would have run it for a
        // buffered file anyway.
        Request* r = reqs[done + sent];
        int64_t moved = -1;
        if (err == EINVAL && r->op != Op::kFlush && (fcntl(r->file, F_GETFL) & O_DIRECT) == 0) {
          err = 0;
          faio_buffer one;
          uint32_t nsegs = 0;
          const faio_buffer* segs = SegmentsOf(r, &one, &nsegs);
          moved = r->op == Op::kRead ? platform::ReadAtV(r->file, segs, nsegs, r->offset, &err)
                                     : platform::WriteAtV(r->file, segs, nsegs, r->offset, &err);
        }
        if (moved >= 0) {
          ctx_->CompleteFromHost(r, 0, static_cast<size_t>(moved));
        } else {
          ctx_->CompleteFromHost(r, err);
        }
        ++sent;
      }
      done += k;
    }
    return n;
  }

  void Commit() override {}

  DoNowPolicy do_now() const override { return DoNowPolicy::kAlways; }

  size_t Reap(HostCompletion* out, size_t max, bool may_block,
              Clock::time_point deadline) override {
    size_t n = 0;
    bool woken = false;
#if FAIO_HAVE_THREADS
    // Flushes the pool ran. One that finishes later kicks wake_, which ends a
    // blocked io_getevents below.
    TakeFlushes(out, &n, max);
    if (n >= max) return n;
#endif
    if (!parked_.empty()) Unpark();
    // Sweep what is ready; when that is nothing, block once for one event (a
    // wakeup is one event, and a wait for more would not return for it).
    // EINTR and timeouts go back to the core's loop.
    bool block = false;
    for (;;) {
      long room = static_cast<long>(max - n < kEventBatch ? max - n : kEventBatch);
      timespec ts = {0, 0};
      timespec* tsp = &ts;
      if (block) {
        if (!wake_armed_) {
          bool drained = false;
          wake_armed_ = ArmWake(&drained);
          if (drained) {  // a kick came since the sweep: back to the core
            woken = true;
            break;
          }
        }
        Clock::time_point until = deadline;
        if (!wake_armed_) {
          // No event slot for the wake poll right now (the context is full of
          // events): block in short slices and look at the eventfd ourselves.
          uint64_t v;
          if (read(wake_.wait, &v, sizeof(v)) > 0) {
            woken = true;
            break;
          }
          until = std::min(deadline, Clock::now() + std::chrono::milliseconds(1));
        }
        // Parked polls are tried again soon: block in short slices meanwhile.
        if (!parked_.empty()) {
          until = std::min(until, Clock::now() + std::chrono::milliseconds(1));
        }
        if (until != Clock::time_point::max() && Clock::now() >= until) break;
        tsp = TimeLeft(until, &ts);
      }
      io_event ev[kEventBatch];
      // Never more events than the caller has room for (flaw 4).
      int got = IoGetevents(aio_, block ? 1 : 0, room, ev, tsp);
      if (got < 0) break;
      for (int i = 0; i < got; ++i) Handle(ev[i], out, &n, &woken);
      if (block || n >= max || woken || ctx_->ReapShouldReturn()) break;
      if (got == room) continue;  // a full sweep: look again before blocking
      if (n > 0 || !may_block) break;
      block = true;
    }
    if (!wake_armed_) wake_armed_ = ArmWake();
    return n;
  }

  // Set under the submit lock with nothing in flight; read by Prepare (submit
  // lock) and by the reaper's re-arm, which runs only for requests submitted
  // after it.
  bool HasPollable() const override { return true; }
  int WatchPollable(const platform::Notify& n, faio_file* out) override {
    notify_ = n;
    notify_on_ = true;
    *out = n.wait;
    return FAIO_OK;
  }

  void Kick() override { platform::SignalNotify(wake_); }

  CancelOutcome Cancel(Request* r, uint32_t seq32) override {
#if FAIO_HAVE_THREADS
    if (r->op == Op::kFlush && FlushesPooled()) {
      if (flushes_.Unqueue(r)) return CancelOutcome::kCancelled;
      uint64_t f = PoolClient::Flag(r).load(std::memory_order_acquire);
      if (f == PoolClient::kDone) return CancelOutcome::kNotFound;
      if (f != PoolClient::kNotHere) return CancelOutcome::kInProgress;
      // Not with the pool: not pushed yet (in progress, below), or with the
      // kernel because the pool refused it.
    }
#endif
    auto& phase = Phase(r);
    // Parked by the reaper (not with the kernel): the cancel takes it; the
    // reaper drops it when it finds it cancelled.
    uint64_t parked = kPhaseParked;
    if (phase.compare_exchange_strong(parked, kPhaseCancelled, std::memory_order_acq_rel)) {
      return CancelOutcome::kCancelled;
    }
    uint64_t expected = kPhasePolling;
    bool poll = phase.load(std::memory_order_acquire) != kPhaseDirect;
    if (poll &&
        !phase.compare_exchange_strong(expected, kPhaseCancelling, std::memory_order_acq_rel)) {
      return CancelOutcome::kInProgress;  // the reaper is transferring it
    }
    io_event ev;
    int ret = IoCancel(aio_, Cb(r), &ev);
    bool cancelled = ret == 0 || (ret < 0 && errno == EINPROGRESS);
    // The kernel still posts the cancelled poll's event, which holds a slot
    // until read (OwesEvents).
    if (cancelled) owed_.fetch_add(1, std::memory_order_relaxed);
    if (poll) phase.store(cancelled ? kPhaseCancelled : kPhasePolling, std::memory_order_release);
    if (cancelled) return CancelOutcome::kCancelled;
    // File transfers cannot be cancelled (EINVAL). Finished already? (The
    // cookie is computed, not read from the iocb, which Enqueue may still be
    // filling in on another thread.)
    return InCompletionRing(SubmissionTag(seq32, r)) ? CancelOutcome::kNotFound
                                                     : CancelOutcome::kInProgress;
  }

 private:
  // The kernel maps each context's completion ring at the context id; its
  // layout is ABI (fs/aio.c: struct aio_ring). Read-only peek for Cancel.
  struct AioRing {
    unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
    io_event events[];
  };
  static constexpr unsigned kAioRingMagic = 0xa10a10a1;

  bool InCompletionRing(uint64_t data) const {
    const auto* ring = reinterpret_cast<const AioRing*>(aio_);
    if (ring->magic != kAioRingMagic || ring->nr == 0) return false;
    unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
    unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
    for (unsigned i = head % ring->nr; i != tail % ring->nr; i = (i + 1) % ring->nr) {
      if (ring->events[i].data == data) return true;
    }
    return false;
  }

  // Reaper only. Repoll hands the poll of submission seq32 of r to the kernel
  // again. When the kernel has no slot for it right now (EAGAIN: the slots of
  // events just reaped are given back lazily, per CPU), it is parked and tried
  // again by the next Reap, never completed with the kernel's EAGAIN.
  void Repoll(Request* r, uint32_t seq32) {
    Prepare(r, false);
    iocb* cb = Cb(r);
    if (IoSubmit(aio_, 1, &cb) == 1) {
      return;
    }
    // A canceller that found it kPhasePolling meanwhile asked io_cancel, which
    // did not find it, and put it back: parking it is still ours to do.
    // One deciding right now is waited for (it is quick).
    uint64_t expected = kPhasePolling;
    while (!Phase(r).compare_exchange_weak(expected, kPhaseParked, std::memory_order_acq_rel)) {
      if (expected != kPhaseCancelling && expected != kPhasePolling) return;  // cancelled
      expected = kPhasePolling;
      std::this_thread::yield();
    }
    parked_.push_back(Parked{r, seq32});
  }

  // Reaper only: tries the parked polls again; drops the ones cancelled since.
  void Unpark() {
    std::vector<Parked> retry;
    retry.swap(parked_);
    for (const Parked& p : retry) {
      uint64_t expected = kPhaseParked;
      if (static_cast<uint32_t>(SeqOf(p.r->word.load(std::memory_order_acquire))) != p.seq32 ||
          !Phase(p.r).compare_exchange_strong(expected, kPhasePolling, std::memory_order_acq_rel)) {
        continue;  // cancelled (and perhaps submitted again)
      }
      Repoll(p.r, p.seq32);
    }
  }

  static iocb* Cb(Request* r) { return reinterpret_cast<iocb*>(r->backend_area); }
  static std::atomic<uint64_t>& Phase(Request* r) { return r->backend_data; }

  iocb* Prepare(Request* r, bool seekable) {
    iocb* cb = Cb(r);
    memset(cb, 0, sizeof(*cb));
    cb->aio_data = SubmissionTag(r->seq32, r);
    cb->aio_fildes = static_cast<uint32_t>(r->file);
    if (notify_on_) {  // the kernel signals the eventfd after it posts the event
      cb->aio_flags = IOCB_FLAG_RESFD;
      cb->aio_resfd = static_cast<uint32_t>(notify_.signal);
    }
    Phase(r).store(kPhaseDirect, std::memory_order_relaxed);
    switch (r->op) {
      case Op::kRead:
      case Op::kWrite:
        if (!seekable) {
          cb->aio_lio_opcode = IOCB_CMD_POLL;
          cb->aio_buf = r->op == Op::kRead ? POLLIN : POLLOUT;
          Phase(r).store(kPhasePolling, std::memory_order_release);
          break;
        }
        if (r->nsegs != 0) {  // the request's faio_buffer array is an iovec array
          cb->aio_lio_opcode = r->op == Op::kRead ? IOCB_CMD_PREADV : IOCB_CMD_PWRITEV;
          cb->aio_buf = reinterpret_cast<uintptr_t>(r->segs);
          cb->aio_nbytes = r->nsegs;
        } else {
          cb->aio_lio_opcode = r->op == Op::kRead ? IOCB_CMD_PREAD : IOCB_CMD_PWRITE;
          cb->aio_buf = reinterpret_cast<uintptr_t>(r->buf);
          cb->aio_nbytes = r->len;
        }
        cb->aio_offset = r->offset;
        break;
      case Op::kFlush:
        cb->aio_lio_opcode = (r->flush_flags & FAIO_FLUSH_FULL) ? IOCB_CMD_FSYNC : IOCB_CMD_FDSYNC;
        break;
      case Op::kNone:
        cb->aio_lio_opcode = IOCB_CMD_NOOP;
        break;
    }
    HostHandOff(r);
    return cb;
  }

  // Quiesce withdraws the wake poll and reads every event the kernel still
  // owes this context (the wake poll's, and those of cancelled polls:
  // OwesEvents), so that it holds nothing another context could mistake for
  // its own: then true, and it can be reused (Retire). Called at destruction,
  // when the core counts no request. False when that cannot be shown within
  // kQuiesceMs (or an event comes that should not): the caller destroys it.
  bool Quiesce() {
    static constexpr int64_t kQuiesceMs = 100;
    bool wake_owed = false;
    if (wake_armed_) {
      io_event ev;
      // The poll's event comes through the ring (EINPROGRESS), or is there
      // already (EINVAL: it fired, unread). A kernel that answers 0 hands the
      // event here instead: not a kernel this path knows, so no reuse.
      if (IoCancel(aio_, &wake_cb_, &ev) == 0 || (errno != EINPROGRESS && errno != EINVAL)) {
        return false;
      }
      wake_owed = true;
    }
    const auto give_up = Clock::now() + std::chrono::milliseconds(kQuiesceMs);
    int64_t owed = owed_.load(std::memory_order_acquire);
    while (wake_owed || owed > 0) {
      io_event ev[16];
      timespec ts = {0, 10'000'000};
      const int got = IoGetevents(aio_, 1, 16, ev, &ts);
      if (got < 0 && errno != EINTR) return false;
      for (int i = 0; i < got; ++i) {
        if (ev[i].data == kWakeTag && wake_owed) {
          wake_owed = false;
        } else if (owed > 0) {
          --owed;  // a cancelled poll's late event
        } else {
          return false;  // an event nothing here owed
        }
      }
      if ((wake_owed || owed > 0) && Clock::now() >= give_up) return false;
    }
    // Nothing left unread in the ring either.
    const auto* ring = reinterpret_cast<const AioRing*>(aio_);
    return ring->magic == kAioRingMagic && __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) ==
                                               __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
  }

  // *drained (when given): a kick was pending, which the caller must honour as
  // a wakeup (its poll is gone with the drain).
  bool ArmWake(bool* drained = nullptr) {
    // Drain the counter first: the poll is level-triggered.
    uint64_t v;
    while (read(wake_.wait, &v, sizeof(v)) > 0) {
      if (drained != nullptr) *drained = true;
    }
    memset(&wake_cb_, 0, sizeof(wake_cb_));
    wake_cb_.aio_data = kWakeTag;
    wake_cb_.aio_lio_opcode = IOCB_CMD_POLL;
    wake_cb_.aio_fildes = static_cast<uint32_t>(wake_.wait);
    wake_cb_.aio_buf = POLLIN;
    iocb* p = &wake_cb_;
    int ret;
    do {
      ret = IoSubmit(aio_, 1, &p);
    } while (ret < 0 && errno == EINTR);
    return ret == 1;
  }

  bool OwesEvents() const override { return owed_.load(std::memory_order_relaxed) > 0; }

  // Reaper only: a stale event was read (most are a cancelled poll's).
  void Repaid() {
    if (owed_.load(std::memory_order_relaxed) > 0) owed_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Reaper only.
  void Handle(const io_event& e, HostCompletion* out, size_t* n, bool* woken) {
    if (e.data == kWakeTag) {
      *woken = true;
      wake_armed_ = false;  // its poll fired; re-armed after this reap
      return;
    }
    Request* r = RequestAt(TagIndex(e.data));
    uint32_t seq32 = TagSeq(e.data);
    int host_error = 0;
    size_t bytes = 0;
    uint64_t w = r->word.load(std::memory_order_acquire);
    State st = StateOf(w);
    if ((st != kSubmitted && st != kCancelling) || static_cast<uint32_t>(SeqOf(w)) != seq32) {
      Repaid();
      return;  // stale: an event of a submission that was cancelled
    }
    auto& phase = Phase(r);
    if (phase.load(std::memory_order_acquire) != kPhaseDirect) {
      // Readiness of a file that cannot seek: transfer now, without blocking.
      uint64_t expected = kPhasePolling;
      while (
          !phase.compare_exchange_weak(expected, kPhaseTransferring, std::memory_order_acq_rel)) {
        // Its cancel won (and the request may already be submitted again,
        // with another phase): the event is stale.
        if (expected == kPhaseCancelled || expected == kPhaseDirect ||
            static_cast<uint32_t>(SeqOf(r->word.load(std::memory_order_acquire))) != seq32) {
          Repaid();
          return;
        }
        expected = kPhasePolling;  // a canceller is deciding; it is quick
        std::this_thread::yield();
      }
      if (static_cast<uint32_t>(SeqOf(r->word.load(std::memory_order_acquire))) != seq32) {
        phase.store(kPhasePolling, std::memory_order_release);  // a newer submission's
        return;
      }
      faio_buffer one;
      uint32_t nsegs = 0;
      const auto* iov = reinterpret_cast<const iovec*>(SegmentsOf(r, &one, &nsegs));
      const int niov = static_cast<int>(nsegs);
      ssize_t t;
      do {
        t = r->op == Op::kRead ? preadv2(r->file, iov, niov, -1, RWF_NOWAIT)
                               : pwritev2(r->file, iov, niov, -1, RWF_NOWAIT);
      } while (t < 0 && errno == EINTR);
      if (t < 0 && (errno == EAGAIN || errno == EOPNOTSUPP)) {
        if (errno == EOPNOTSUPP) {
          // No RWF_NOWAIT for this file: the poll said ready, so a plain call
          // does not block for long.
          t = r->op == Op::kRead ? readv(r->file, iov, niov) : writev(r->file, iov, niov);
        }
        if (t < 0 && errno == EAGAIN) {  // someone else took the data: poll again
          Repoll(r, seq32);
          return;
        }
      }
      if (t < 0) {
        host_error = errno;
      } else {
        bytes = static_cast<size_t>(t);
      }
    } else if (e.res < 0) {
      host_error = static_cast<int>(-e.res);
    } else {
      bytes = static_cast<size_t>(e.res);
    }
    out[(*n)++] = HostCompletion{r, seq32, HostResult(host_error, bytes)};
  }

#if FAIO_HAVE_THREADS
  // The pool's client for this context's flushes: a worker's Done queues the
  // flush for the reaper and kicks it.
  class FlushClient final : public PoolClient {
   public:
    explicit FlushClient(LinuxAioBackend* owner) : PoolClient(kPoolFlushes), owner_(owner) {}
    ~FlushClient() = default;
    std::atomic<Request*> done{nullptr};

   private:
    void Done(Request* r) override {
      PushFront(done, r, &Request::next, std::memory_order_release);
      owner_->Kick();
      // No iocb of the kernel's announces it: the pollable handle is ours to signal.
      if (owner_->notify_on_) platform::SignalNotify(owner_->notify_);
    }
    LinuxAioBackend* const owner_;
  };
  static constexpr uint32_t kPoolFlushes = 4;  // workers one context's flushes occupy

  bool FlushesPooled() const { return flushes_ok_.load(std::memory_order_acquire); }

  // Under the submit lock: hands r to the pool (attached at the first flush);
  // false when it goes to the kernel: its file is open O_DIRECT (asked per
  // flush: one fcntl beside a sync), or the pool has no thread for it.
  bool FlushToPool(Request* r) {
    const int fl = fcntl(r->file, F_GETFL);
    if (fl != -1 && (fl & O_DIRECT) != 0) return false;
    if (!flushes_tried_) {
      flushes_tried_ = true;
      Unavailable why;
      flushes_ok_.store(flushes_.Attach(&why), std::memory_order_release);
    }
    if (!FlushesPooled()) return false;
    int err = 0;
    return flushes_.Push(&r, 1, &err);
  }

  // Reaper only: finishes the flushes the pool ran, oldest first, while there
  // is room.
  void TakeFlushes(HostCompletion* out, size_t* n, size_t max) {
    if (flush_ready_ == nullptr) {
      for (Request* r = TakeAll(flushes_.done); r != nullptr;) {  // newest first: reverse
        Request* next = r->next;
        r->next = flush_ready_;
        flush_ready_ = r;
        r = next;
      }
    }
    while (flush_ready_ != nullptr && *n < max) {
      Request* r = flush_ready_;
      flush_ready_ = r->next;
      PoolClient::Flag(r).store(PoolClient::kNotHere, std::memory_order_relaxed);
      out[(*n)++] = HostCompletion{r, r->seq32, HostResult(r->host_error, r->bytes)};
    }
  }

  FlushClient flushes_{this};
  bool flushes_tried_ = false;  // submit lock
  std::atomic<bool> flushes_ok_{false};
  Request* flush_ready_ = nullptr;  // reaper only
#else
  bool FlushesPooled() const { return false; }
  bool FlushToPool(Request*) { return false; }
#endif

  Context* const ctx_;
  const uint32_t asked_;
  uint32_t capacity_ = 0;
  aio_context_t aio_ = 0;
  unsigned nr_ = 0;        // aio_'s events (io_setup's nr)
  bool ready_ = false;     // Init succeeded: aio_ may be kept idle at the end
  platform::Notify wake_;  // Kick's eventfd, polled by wake_cb_
  iocb wake_cb_ = {};
  platform::Notify notify_;  // faio_ctx_pollable's, once WatchPollable ran
  bool notify_on_ = false;
  bool wake_armed_ = false;  // reaper only (and Init)
  struct Parked {
    Request* r;
    uint32_t seq32;
  };
  std::vector<Parked> parked_;  // reaper only: polls waiting for a kernel slot
  // Events of cancelled polls the kernel still owes (read: Repaid; stale
  // events come only from them: file transfers cannot be cancelled).
  std::atomic<int64_t> owed_{0};
};

}  // namespace

bool ProbeLinuxAioBackend(Unavailable* why) {
  // The probe's own context of 2 events is kept idle between probes. Taken
  // from the store it says nothing about the host now: then the slots left
  // say what io_setup(2) would (the kernel charges nr slots).
  aio_context_t ctx = 0;
  if (g_idle_aio.Take(2, &ctx)) {
    const std::string max_nr = ReadProcValue("/proc/sys/fs/aio-max-nr");
    const std::string nr = ReadProcValue("/proc/sys/fs/aio-nr");
    const long long left = AioSlotsLeft(max_nr, nr);
    if (left >= 0 && left < 2) {
      Retire(ctx, 2);
      why->status = FAIO_E_INSUFFICIENT_RESOURCES;
      why->host_error = EAGAIN;
      why->reason =
          "no slot left for io_setup(2), which would return EAGAIN: fs.aio-max-nr=" + max_nr +
          " exhausted (fs.aio-nr=" + nr + ")";
      return false;
    }
  } else if (SetUp(2, &ctx) < 0) {
    Explain(errno, 2, why);
    return false;
  }
  // A context needs the wakeup's eventfd too: no descriptor for it is
  // exhaustion as well.
  bool ok = true;
  platform::Notify wake;
  ok = OpenWakeup(&wake, 1, why);
  platform::CloseNotify(&wake);
  Retire(ctx, 2);  // never used: idle; the next probe takes it
  return ok;
}

// Kernel AIO has no per-process cap: event slots come from one system-wide pool
// of fs.aio-max-nr (fs.aio-nr of it taken now, by every process), and io_setup
// takes a context's whole reservation at once. A linux_aio context reserves two
// slots per request of its capacity (the request's event, and room for the late
// event of a cancelled one) and one for its wakeup poll, so one process holding
// the whole pool in one context has at most (fs.aio-max-nr - 1) / 2 requests in
// flight. That is the cap reported; what is free at a given moment
// (fs.aio-max-nr - fs.aio-nr) belongs to every process and changes between the
// question and the next io_setup, so it is not reported: running out of it is
// FAIO_E_INSUFFICIENT_RESOURCES at creation, with faio_get_backends saying so.
int LinuxAioBackendLimits(faio_limits* out) {
  out->buffer_alignment = 0;  // buffered transfers need none; O_DIRECT: per file
  out->max_requests = FAIO_UNLIMITED;
  FILE* f = fopen("/proc/sys/fs/aio-max-nr", "re");
  if (f == nullptr) return FAIO_OK;  // no /proc: the cap cannot be known
  unsigned long long max_nr = 0;
  bool read = fscanf(f, "%llu", &max_nr) == 1;
  fclose(f);
  if (!read) return FAIO_OK;
  unsigned long long n = max_nr == 0 ? 0 : (max_nr - 1) / 2;
  // A pool too large for 32 bits is a cap all the same: never FAIO_UNLIMITED.
  out->max_requests = n >= FAIO_UNLIMITED ? FAIO_UNLIMITED - 1 : static_cast<uint32_t>(n);
  return FAIO_OK;
}

std::unique_ptr<Backend> CreateLinuxAioBackend(const BackendParams& p, Unavailable* why) {
  return MakeWithInit<LinuxAioBackend>(why, p);
}

}  // namespace faio::detail
