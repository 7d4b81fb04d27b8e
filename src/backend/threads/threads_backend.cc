// threads_backend.cc - see threads_backend.h.
#include "backend/threads/threads_backend.h"
#include "backend/threads/pool.h"

#ifndef _WIN32
#include <pthread.h>  // pthread_atfork, pthread_setschedparam
#include <sched.h>    // SCHED_BATCH
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/context.h"
#include "core/lockfree_stack.h"
#include "platform/host.h"

namespace faio::detail {
namespace {

// The host refused a thread: exhaustion, not absence (docs/contract.md,
// "Context lifetime").
void CannotStart(const std::system_error& e, size_t started, uint32_t wanted, Unavailable* why) {
  why->status = FAIO_E_INSUFFICIENT_RESOURCES;
  why->host_error = e.code().value();
  why->reason = "could not start a worker thread (" + std::to_string(started) + " of " +
                std::to_string(wanted) + " started): " + e.code().message();
}

constexpr uint64_t kNotHere = PoolClient::kNotHere;
constexpr uint64_t kQueued = PoolClient::kQueued;
constexpr uint64_t kRunning = PoolClient::kRunning;
constexpr uint64_t kDone = PoolClient::kDone;

// Most of the pool's workers one context may occupy at once, unless its
// `threads` option says otherwise.
constexpr uint32_t kDefaultPerContext = 16;
// Workers beyond the pool's base size leave after this long without work.
constexpr auto kIdleExit = std::chrono::seconds(2);

}  // namespace

// Pool: the process's one set of worker threads, shared by every threads
// context (docs/backends.md, "threads"). Each context keeps its own FIFO of
// queued requests; contexts with queued work wait in a ring, and a worker
// takes one request from the context at the front and puts it at the back, so
// a context with many queued requests cannot starve another. A context may
// occupy at most `cap` workers at once (its `threads` option; 16 by default),
// so its held pipe reads cannot take them all. Size: FAIO_THREADS=N fixes it at
// N; otherwise `base` workers (4 x cores, at least 8) start with the first
// context and stay, and more start while queued work finds every worker
// busy, or when a worker takes a request that may hold it while work is
// queued (Spare), up to max(64, 8 x cores) (1,024 at most); those
// leave after 2 s idle. Sized (FAIO_THREADS read)
// and started by the first context; a forked child sizes and starts its own.
// One mutex guards everything here and the contexts' queues.
class Pool {
 public:
  static Pool& Get() {
    static Pool* pool = new Pool();  // never destroyed: detached workers use it
    return *pool;
  }

  // Attach is called by a new context: the pool has a worker, or starts one
  // (false with *why when the host refuses a thread).
  bool Attach(PoolClient* b, Unavailable* why);
  // Push queues reqs for b and wakes or starts workers for them. False (none
  // queued) only when the pool has no worker and the host refuses to start one.
  bool Push(PoolClient* b, Request* const* reqs, size_t n, int* host_error);
  // Unqueue takes a queued request back (cancel); false when a worker has it.
  bool Unqueue(PoolClient* b, Request* r);
  // Detach waits until no worker runs a request of b and forgets b.
  void Detach(PoolClient* b);
  // TakeHead takes b's oldest queued request if it is on a local file (for the
  // calling thread to run; it counts as running); Release ends that run.
  Request* TakeHead(PoolClient* b);
  void Release(PoolClient* b);

 private:
  Pool();
  void Work();
  void Spare();
  static void SetUpWorkerThread();
  // Under mu_: starts one worker; false with the error when the host refuses.
  bool StartLocked(std::unique_lock<std::mutex>& lock, std::system_error* err);
  void RingAppend(PoolClient* b);
  void RingRemove(PoolClient* b);
#ifndef _WIN32
  static void AtForkPrepare() { Get().mu_.lock(); }
  static void AtForkParent() { Get().mu_.unlock(); }
  static void AtForkChild();
#endif

  std::mutex mu_;
  std::condition_variable work_cv_;     // idle workers
  std::condition_variable drained_cv_;  // Detach
  IntrusiveList<PoolClient, &PoolClient::ring_next_, &PoolClient::ring_prev_> ring_;
  uint32_t workers_ = 0;    // started and not left
  uint32_t idle_ = 0;       // waiting on work_cv_
  uint32_t wakeups_ = 0;    // notifications sent and not yet taken by an idle worker
  uint32_t base_ = 4;
  uint32_t max_ = 64;
  uint64_t gen_ = 0;  // bumped in a forked child: contexts of the parent are older
};

namespace {

class ThreadsBackend final : public Backend, public PoolClient {
 public:
  explicit ThreadsBackend(const BackendParams& p)
      : PoolClient(p.threads == 0 ? kDefaultPerContext : p.threads),
        ctx_(p.ctx),
        capacity_(p.capacity == 0 ? FAIO_UNLIMITED : p.capacity) {}

  bool Start(Unavailable* why) { return Attach(why); }

  ~ThreadsBackend() override {
    if (attached()) Detach();
  }

  const char* name() const override { return "threads"; }
  uint32_t capacity() const override { return capacity_; }

  size_t Enqueue(Request* const* reqs, size_t n, int* host_error) override {
    return Push(reqs, n, host_error) ? n : 0;
  }

  void Commit() override {}

  // A worker would make the same system call after a hand-off: a cached read
  // or a buffered write to a local file system is made by the submitter.
  DoNowPolicy do_now() const override { return DoNowPolicy::kAlways; }

  size_t Reap(HostCompletion* out, size_t max, bool block, Clock::time_point deadline) override {
    size_t n = 0;
    bool slept = false;
    for (;;) {
      if (ready_ == nullptr) TakeDone();
      while (ready_ != nullptr && n < max) {
        Request* r = ready_;
        ready_ = r->next;
        // Not with the pool any more: a cancel of its next submission that
        // comes before the push finds it "not here" (in progress), not done.
        Flag(r).store(kNotHere, std::memory_order_relaxed);
        out[n++] = HostCompletion{r, r->seq32, HostResult(r->host_error, r->bytes)};
      }
      if (n > 0 || !block || slept || n == max || ctx_->ReapShouldReturn()) return n;
      if (kicked_.exchange(false, std::memory_order_acq_rel)) return n;
      if (done_.load(std::memory_order_acquire) != nullptr) continue;
      // Rather than sleep while a worker wakes for it, run our oldest queued
      // request here when its file is local (bounded by the device). Only in a
      // wait without a deadline: the transfer cannot be cut short, and a
      // wakeup that comes meanwhile is seen when it ends.
      if (deadline == Clock::time_point::max()) {
        if (Request* r = RunOwn()) {
          Flag(r).store(kNotHere, std::memory_order_relaxed);
          out[n++] = HostCompletion{r, r->seq32, HostResult(r->host_error, r->bytes)};
          continue;
        }
      }
      // Sleep once. The seq_cst store/load pairs with the worker's
      // push-then-check, so either we see its completion or it sees us asleep
      // and notifies.
      std::unique_lock<std::mutex> lock(sleep_mu_);
      sleeping_.store(true, std::memory_order_seq_cst);
      if (done_.load(std::memory_order_seq_cst) == nullptr &&
          !kicked_.load(std::memory_order_seq_cst)) {
        if (deadline == Clock::time_point::max()) {
          sleep_cv_.wait(lock);
        } else {
          sleep_cv_.wait_until(lock, deadline);
        }
      }
      sleeping_.store(false, std::memory_order_relaxed);
      slept = true;  // one last look, then back to the core
    }
  }

  void Kick() override {
    kicked_.store(true, std::memory_order_seq_cst);
    WakeReaper();
  }

  bool HasPollable() const override { return true; }
  int WatchPollable(const platform::Notify& n, faio_file* out) override {
    notify_ = n;
    notify_on_.store(true, std::memory_order_release);
    *out = n.wait;
    return FAIO_OK;
  }

  CancelOutcome Cancel(Request* r, uint32_t seq32) override {
    // The core holds submission seq32 in kCancelling while we decide, so the
    // flag is that submission's.
    (void)seq32;
    if (Unqueue(r)) return CancelOutcome::kCancelled;
    return Flag(r).load(std::memory_order_acquire) == kDone ? CancelOutcome::kNotFound
                                                            : CancelOutcome::kInProgress;
  }

 private:
  // A worker of the pool ran r: hand it to the reaper.
  void Done(Request* r) override {
    Request* head = PushFront(done_, r, &Request::next, std::memory_order_seq_cst);
    // The pollable handle turns ready when the stack stops being empty: a
    // wait resets it before it takes the stack, and is repeated until it
    // finds nothing, so a later push always finds the stack empty again.
    if (head == nullptr && notify_on_.load(std::memory_order_acquire)) {
      platform::SignalNotify(notify_);
    }
    WakeReaper();
  }

  void WakeReaper() {
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      sleep_cv_.notify_one();
    }
  }

  // Takes every finished request, oldest first.
  void TakeDone() {
    Request* r = TakeAll(done_);
    Request* fifo = nullptr;
    while (r != nullptr) {
      Request* next = r->next;
      r->next = fifo;
      fifo = r;
      r = next;
    }
    ready_ = fifo;
  }

  Context* const ctx_;
  const uint32_t capacity_;

  std::atomic<Request*> done_{nullptr};
  Request* ready_ = nullptr;  // reaper only
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> kicked_{false};
  platform::Notify notify_;  // set once, before any request that signals it
  std::atomic<bool> notify_on_{false};
};

uint32_t EnvThreads() {
  const char* v = std::getenv("FAIO_THREADS");
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  unsigned long n = std::strtoul(v, &end, 10);
  if (*end != '\0' || n == 0) return 0;
  return static_cast<uint32_t>(std::min<unsigned long>(n, 1024));
}

}  // namespace

Pool::Pool() {
#ifndef _WIN32
  pthread_atfork(&Pool::AtForkPrepare, &Pool::AtForkParent, &Pool::AtForkChild);
#endif
}

#ifndef _WIN32
// The child has only the forking thread: no worker. Its copies of contexts keep
// their queues (requests a worker was running in the parent never finish in
// the child). The lock and conditions are made anew (the parent's waiters are
// not there).
void Pool::AtForkChild() {
  Pool& p = Get();
  new (&p.mu_) std::mutex();
  new (&p.work_cv_) std::condition_variable();
  new (&p.drained_cv_) std::condition_variable();
  p.workers_ = 0;
  p.idle_ = 0;
  p.wakeups_ = 0;
  // The parent's queued requests are the parent's: the child never runs them
  // (its copies of the parent's contexts are not for use; docs/backends.md).
  p.ring_.Clear();
  ++p.gen_;
}
#endif

bool Pool::StartLocked(std::unique_lock<std::mutex>& lock, std::system_error* err) {
  if (workers_ == 0) {  // the first worker (of this process): size the pool
    uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
    if (uint32_t n = EnvThreads(); n != 0) {
      base_ = max_ = n;
    } else {
      // More than the cores: with as few workers as cores, a woken worker
      // tends to share the waker's core (nop_bench, QD1: 22 us a request
      // with 4, 15 with 8, 13 with 16, on 2 cores).
      base_ = std::max(8u, 4 * cores);
      max_ = std::min(1024u, std::max(64u, 8 * cores));
    }
  }
  ++workers_;
  lock.unlock();
  bool ok = true;
  try {
    std::thread([this] { Work(); }).detach();
  } catch (const std::system_error& e) {
    *err = e;
    ok = false;
  }
  lock.lock();
  if (!ok) --workers_;
  return ok;
}

// The first context starts the base workers (once per process); a host that
// refuses every one of them cannot serve the context.
bool Pool::Attach(PoolClient* b, Unavailable* why) {
  std::unique_lock<std::mutex> lock(mu_);
  b->gen_ = gen_;
  if (workers_ > 0) return true;
  std::system_error err(std::error_code{});
  if (!StartLocked(lock, &err)) {
    if (workers_ > 0) return true;  // another thread started one meanwhile
    CannotStart(err, 0, 1, why);
    return false;
  }
  while (workers_ < base_ && StartLocked(lock, &err)) {
  }
  return true;
}

void Pool::RingAppend(PoolClient* b) {
  b->in_ring_ = true;
  ring_.PushBack(b);
}

void Pool::RingRemove(PoolClient* b) {
  if (!b->in_ring_) return;
  ring_.Remove(b);
  b->in_ring_ = false;
}

bool Pool::Push(PoolClient* b, Request* const* reqs, size_t n, int* host_error) {
  std::unique_lock<std::mutex> lock(mu_);
  if (b->gen_ != gen_) {  // a parent's context used in a forked child: start it afresh
    // Its queued requests are the parent's, never run here: not queued any
    // more, so a cancel here does not unlink them from the fresh queue.
    for (Request* r = b->queue_.front(); r != nullptr; r = r->next) {
      PoolClient::Flag(r).store(kNotHere, std::memory_order_relaxed);
    }
    b->queue_.Clear();
    b->running_ = 0;
    b->in_ring_ = false;
    b->gen_ = gen_;
  }
  if (workers_ == 0) {  // a forked child's first request
    std::system_error err(std::error_code{});
    if (!StartLocked(lock, &err) && workers_ == 0) {
      *host_error = err.code().value();
      return false;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    Request* r = reqs[i];
    PoolClient::Flag(r).store(kQueued, std::memory_order_relaxed);
    b->queue_.PushBack(r);
  }
  if (!b->in_ring_ && b->running_ < b->cap_) RingAppend(b);
  // Wake as many idle workers as there are new requests (those woken and not
  // yet up count as awake); start more for the rest, up to the pool's maximum.
  // Only as many as the context may run at once count.
  size_t runnable = b->cap_ > b->running_ ? std::min<size_t>(n, b->cap_ - b->running_) : 0;
  uint32_t asleep = idle_ > wakeups_ ? idle_ - wakeups_ : 0;
  uint32_t wake = static_cast<uint32_t>(std::min<size_t>(runnable, asleep));
  wakeups_ += wake;
  const bool all = wake > 1 && wake == asleep;
  // Every worker busy: start more (refused: the workers there are get to
  // them). Not when some are idle but already woken for earlier work: they
  // come back for this one; starting threads on every such push cost the
  // Windows build (Wine) its completion stream.
  size_t more = idle_ == 0 ? runnable - wake : 0;
  lock.unlock();  // a woken worker should not find the lock held
  if (all) {
    work_cv_.notify_all();  // one system call for all of them
  } else {
    for (uint32_t i = 0; i < wake; ++i) work_cv_.notify_one();
  }
  if (more == 0) return true;
  lock.lock();
  std::system_error err(std::error_code{});
  for (; more > 0 && workers_ < max_; --more) {
    if (!StartLocked(lock, &err)) break;
  }
  return true;
}

bool Pool::Unqueue(PoolClient* b, Request* r) {
  std::lock_guard<std::mutex> lock(mu_);
  // A parent's context in a forked child: its queue and ring links are the
  // parent's (the child's ring was cleared), and unlinking it here would cut
  // the child's own contexts out of the ring.
  if (b->gen_ != gen_) return false;
  if (PoolClient::Flag(r).load(std::memory_order_relaxed) != kQueued) return false;
  b->queue_.Remove(r);
  PoolClient::Flag(r).store(kNotHere, std::memory_order_release);
  if (b->queue_.empty()) RingRemove(b);
  return true;
}

void Pool::Detach(PoolClient* b) {
  std::unique_lock<std::mutex> lock(mu_);
  if (b->gen_ != gen_) return;  // made before a fork: no worker of this process has it
  RingRemove(b);
  drained_cv_.wait(lock, [b] { return b->running_ == 0; });
}

Request* Pool::TakeHead(PoolClient* b) {
  std::lock_guard<std::mutex> lock(mu_);
  Request* r = b->queue_.front();
  // Transfers only: a sync may take long, and a wakeup waits for what runs here.
  if (r == nullptr || !r->LocalFile() || r->op == Op::kFlush || b->gen_ != gen_) return nullptr;
  b->queue_.PopFront();
  if (b->queue_.empty()) RingRemove(b);
  ++b->running_;
  PoolClient::Flag(r).store(kRunning, std::memory_order_release);
  return r;
}

void Pool::Release(PoolClient* b) {
  std::lock_guard<std::mutex> lock(mu_);
  --b->running_;
  if (!b->queue_.empty() && !b->in_ring_ && b->running_ < b->cap_) RingAppend(b);
  if (b->running_ == 0) drained_cv_.notify_all();
}

// A worker's own setup: a name that shows in ps/top/gdb, and on Linux the
// SCHED_BATCH policy when it would otherwise be SCHED_OTHER. A batch thread
// does not preempt the running thread when it is woken (kernel/sched/fair.c:
// only SCHED_NORMAL wakees preempt). Without it, the worker a submit wakes
// takes the submitter's core, runs first and wins the request that the
// submitter, about to wait, would have run itself (RunOwn): one request at a
// time on O_DIRECT, the submitter ran its own in 46 % of waits, with batch
// workers in 96 % (qd1_bench, 2 cores). A worker woken while another core is
// idle still runs there at once; on a machine with every core busy it starts
// at the next scheduling point instead of at once. A real-time caller's
// workers keep the policy they inherited.
void Pool::SetUpWorkerThread() {
#ifdef __linux__
  int policy = 0;
  sched_param param{};
  if (pthread_getschedparam(pthread_self(), &policy, &param) == 0 && policy == SCHED_OTHER) {
    param.sched_priority = 0;
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);  // best effort
  }
  pthread_setname_np(pthread_self(), "faio-pool");  // named once set up
#endif
}

// Spare: queued work waits while a worker starts a request that may hold it
// (Request::MayHold: a pipe read, a FUSE file). Every worker a push woke may be
// taking such a request (a push that finds the idle workers already woken
// starts none): wake a sleeping worker nobody has woken yet; else, when no
// woken worker is on its way (one that is spares in turn if it is held too),
// start one, up to the maximum. Only while work is queued, and never for a
// transfer of a local file.
void Pool::Spare() {
  std::unique_lock<std::mutex> lock(mu_);
  if (ring_.empty()) return;
  if (idle_ > wakeups_) {
    ++wakeups_;
    lock.unlock();
    work_cv_.notify_one();
    return;
  }
  if (wakeups_ > 0 || workers_ >= max_) return;
  std::system_error err(std::error_code{});
  StartLocked(lock, &err);  // refused: the workers there are get to it
}

void Pool::Work() {
  SetUpWorkerThread();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    PoolClient* b = ring_.front();
    if (b == nullptr) {
      ++idle_;
      bool timed_out = false;
      if (workers_ > base_) {
        timed_out = work_cv_.wait_for(lock, kIdleExit) == std::cv_status::timeout;
      } else {
        work_cv_.wait(lock);
      }
      --idle_;
      if (wakeups_ > 0) --wakeups_;
      if (timed_out && ring_.empty() && workers_ > base_) {
        --workers_;
        return;
      }
      continue;
    }
    // One request from the context at the front; the context goes to the
    // back while it has more and is under its cap.
    Request* r = b->queue_.PopFront();
    ++b->running_;
    PoolClient::Flag(r).store(kRunning, std::memory_order_release);
    RingRemove(b);
    if (!b->queue_.empty() && b->running_ < b->cap_) RingAppend(b);
    const bool others_wait = !ring_.empty();
    lock.unlock();
    // A request that may hold this worker indefinitely, while other work
    // waits: make sure another worker comes for it (Spare).
    if (others_wait && r->MayHold()) Spare();
    PoolClient::Execute(r);
    PoolClient::Flag(r).store(kDone, std::memory_order_release);
    b->Done(r);
    lock.lock();
    // The last touch of b: Detach waits for running_ to reach 0 under mu_.
    --b->running_;
    if (!b->queue_.empty() && !b->in_ring_ && b->running_ < b->cap_) RingAppend(b);
    if (b->running_ == 0) drained_cv_.notify_all();
  }
}

bool PoolClient::Attach(Unavailable* why) {
  attached_ = Pool::Get().Attach(this, why);
  return attached_;
}
bool PoolClient::Push(Request* const* reqs, size_t n, int* host_error) {
  return Pool::Get().Push(this, reqs, n, host_error);
}
bool PoolClient::Unqueue(Request* r) { return Pool::Get().Unqueue(this, r); }
Request* PoolClient::RunOwn() {
  Request* r = Pool::Get().TakeHead(this);
  if (r == nullptr) return nullptr;
  if (platform::IsLocalFile(r->file)) {
    Execute(r);
  } else {  // the number was reused for another kind of file: do not block here
    r->file_bits &= static_cast<uint8_t>(~Request::kFileLocal);
    int err = 0;
    // Back to the queue, for a worker.
    Pool::Get().Release(this);
    Flag(r).store(kNotHere, std::memory_order_relaxed);
    Request* one = r;
    if (!Push(&one, 1, &err)) {
      r->host_error = err != 0 ? err : EAGAIN;
      Flag(r).store(kDone, std::memory_order_release);
      return r;
    }
    return nullptr;
  }
  Flag(r).store(kDone, std::memory_order_release);
  Pool::Get().Release(this);
  return r;
}
void PoolClient::Detach() {
  Pool::Get().Detach(this);
  attached_ = false;
}

void PoolClient::Execute(Request* r) {
  int err = 0;
  int64_t n = 0;
  switch (r->op) {
    case Op::kRead:
      n = r->nsegs != 0 ? platform::ReadAtV(r->file, r->segs, r->nsegs, r->offset, &err)
                        : platform::ReadAt(r->file, r->buf, r->len, r->offset, &err);
      break;
    case Op::kWrite:
      n = r->nsegs != 0 ? platform::WriteAtV(r->file, r->segs, r->nsegs, r->offset, &err)
                        : platform::WriteAt(r->file, r->buf, r->len, r->offset, &err);
      break;
    case Op::kFlush:
      n = platform::SyncFile(r->file, (r->flush_flags & FAIO_FLUSH_FULL) != 0, &err);
      break;
    case Op::kNone:  // never submitted (a prepare sets the op)
      n = -1;
      err = EINVAL;
      break;
  }
  if (n < 0) {
    r->host_error = err != 0 ? err : EIO;
    r->bytes = 0;
  } else {
    r->host_error = 0;
    r->bytes = r->op == Op::kFlush ? 0 : static_cast<size_t>(n);
  }
}

// The probe starts (and joins) one thread: a host that cannot start one right
// now cannot make a context either.
bool ProbeThreadsBackend(Unavailable* why) {
  try {
    std::thread t([] {});
    t.join();
  } catch (const std::system_error& e) {
    CannotStart(e, 0, 1, why);
    return false;
  }
  return true;
}

std::unique_ptr<Backend> CreateThreadsBackend(const BackendParams& p, Unavailable* why) {
  auto b = std::unique_ptr<ThreadsBackend>(new (std::nothrow) ThreadsBackend(p));
  if (b == nullptr) {
    why->status = FAIO_E_NO_MEMORY;
    why->reason = "out of memory";
    return nullptr;
  }
  if (!b->Start(why)) return nullptr;
  return b;
}

}  // namespace faio::detail
