// threads_backend.cc - see threads_backend.h.
#include "backend/threads/threads_backend.h"

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

#if defined(__linux__)
#include <fcntl.h>
#include <sys/uio.h>
#endif
#if !defined(_WIN32)
#include <pthread.h>
#endif

#include "core/context.h"
#include "platform/host.h"

namespace faio::detail {
namespace {

// The host refused a thread: exhaustion, not absence (docs/contract.md,
// Contexts).
void CannotStart(const std::system_error& e, Unavailable* why) {
  why->status = FAIO_E_INSUFFICIENT_RESOURCES;
  why->host_error = e.code().value();
  why->reason = "could not start a worker thread: " + e.code().message();
}

// Request::backend_data while the request is with this backend.
enum : uint64_t { kQueued = 0, kRunning = 1, kDone = 2 };

std::atomic<uint64_t>& Flag(Request* r) { return r->backend_data; }

// How many of one context's requests run at once when its `threads` option is
// 0: what a context had to itself before the pool was shared.
constexpr uint32_t kDefaultPerContext = 16;

// How long an idle worker, and a reaper with nothing ready, spin before they
// sleep: long enough to cover a cached transfer on another core, so one
// request at a time costs no thread wake-up, short enough not to matter to a
// machine with other work.
#if defined(_WIN32)
// Not on Windows: measured under Wine, spinning threads starved the workers
// that had the work (a completion stream of a few dozen per second).
constexpr Clock::duration kWorkerSpin = std::chrono::microseconds(0);
constexpr Clock::duration kReaperSpin = std::chrono::microseconds(0);
#else
constexpr Clock::duration kWorkerSpin = std::chrono::microseconds(50);
constexpr Clock::duration kReaperSpin = std::chrono::microseconds(30);
#endif

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() or `limit` passes; true when done() became true.
template <typename Done>
bool SpinUntil(Done done, Clock::duration limit) {
  auto end = Clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (Clock::now() >= end) return done();
  }
}

// PoolMax is the pool's most workers: FAIO_THREADS when set (1-1024), else
// max(64, 8 x cores), at most 1024.
uint32_t PoolMax() {
  if (const char* s = std::getenv("FAIO_THREADS"); s != nullptr && *s != '\0') {
    char* end = nullptr;
    unsigned long v = std::strtoul(s, &end, 10);
    if (end != nullptr && *end == '\0' && v >= 1 && v <= 1024) return static_cast<uint32_t>(v);
  }
  unsigned cores = std::thread::hardware_concurrency();
  return std::min<uint32_t>(1024, std::max<uint32_t>(64, 8 * cores));
}

void Execute(Request* r) {
  int err = 0;
  int64_t n = 0;
  switch (r->op) {
    case Op::kRead:
      n = platform::ReadAt(r->file, r->buf, r->len, r->offset, &err);
      break;
    case Op::kWrite:
      n = platform::WriteAt(r->file, r->buf, r->len, r->offset, &err);
      break;
    case Op::kFlush:
      n = platform::SyncFile(r->file, (r->flush_flags & FAIO_FLUSH_FULL) != 0, &err);
      break;
    case Op::kNone:
      n = -1;
      err = 0;
      break;
  }
  if (n < 0) {
    r->status = err == 0 ? FAIO_E_INVALID_STATE : platform::StatusFromHostError(err);
    r->host_error = err;
    r->bytes = 0;
  } else {
    r->status = FAIO_OK;
    r->host_error = 0;
    r->bytes = r->op == Op::kFlush ? 0 : static_cast<size_t>(n);
  }
}

// TryReadNow reads r on the calling thread when that cannot block: a
// positional read of a file opened without O_DIRECT, with RWF_NOWAIT, that the
// page cache satisfies whole (or that ends at end of file). False leaves r
// untouched for a worker (not cached, a pipe, a file system without
// RWF_NOWAIT, any error: the worker's own read reports it).
bool TryReadNow(Request* r) {
#if defined(__linux__) && defined(RWF_NOWAIT)
  if (r->op != Op::kRead || r->len == 0 || r->offset < 0) return false;
  int fl = ::fcntl(r->file, F_GETFL);
  if (fl == -1 || (fl & O_DIRECT) != 0) return false;  // direct I/O would wait for the device
  struct iovec iov = {r->buf, r->len};
  ssize_t n = ::preadv2(r->file, &iov, 1, static_cast<off_t>(r->offset), RWF_NOWAIT);
  // A short read may be a partly cached range, not the end of the file: only
  // a whole read, or none at all at end of file, is taken.
  if (n < 0 || (n > 0 && static_cast<size_t>(n) < r->len)) return false;
  r->status = FAIO_OK;
  r->host_error = 0;
  r->bytes = static_cast<size_t>(n);
  return true;
#else
  (void)r;
  return false;
#endif
}

class ThreadsBackend;

// The process-wide pool. It is never destroyed (workers may still be asleep in
// it when the process exits); a forked child starts with an empty one.
class Pool {
 public:
  static Pool& Get() {
    static Pool* pool = new Pool();
    return *pool;
  }

  // EnsureWorker starts the first worker; false with *why when the host
  // refuses a thread.
  bool EnsureWorker(Unavailable* why);
  // Push queues n requests of q and makes sure enough workers will run them.
  void Push(ThreadsBackend* q, Request* const* reqs, size_t n);
  // Unlink takes a queued request back; false when a worker has it or it is
  // done.
  CancelOutcome Unlink(ThreadsBackend* q, Request* r);
  // Retire waits until no worker uses q any more and forgets it.
  void Retire(ThreadsBackend* q);

 private:
  Pool();
  void Work();
  void Schedule(ThreadsBackend* q);  // mu_ held
  void StartWorkers(uint32_t k);
#if !defined(_WIN32)
  static void ForkPrepare() { Get().mu_.lock(); }
  static void ForkParent() { Get().mu_.unlock(); }
  static void ForkChild();
#endif

  std::mutex mu_;
  uint32_t max_ = 0;  // most workers; read from the environment while the pool is empty
  std::condition_variable work_cv_;       // idle workers sleep here
  std::condition_variable retire_cv_;     // Retire waits here
  ThreadsBackend* ready_head_ = nullptr;  // contexts with runnable work, round robin
  ThreadsBackend* ready_tail_ = nullptr;
  uint32_t workers_ = 0;               // started
  uint32_t starting_ = 0;              // being started by a Push
  uint32_t sleeping_ = 0;              // in work_cv_.wait
  uint32_t tickets_ = 0;               // wake-ups sent to sleepers, not yet taken by one
  std::atomic<uint32_t> runnable_{0};  // contexts in the ready list, for the spinner
  std::atomic<bool> spinning_{false};  // one idle worker spins at a time
};

class ThreadsBackend final : public Backend {
 public:
  explicit ThreadsBackend(const BackendParams& p)
      : ctx_(p.ctx),
        capacity_(p.capacity == 0 ? FAIO_UNLIMITED : p.capacity),
        cap_(p.threads == 0 ? kDefaultPerContext : p.threads) {}

  ~ThreadsBackend() override { Pool::Get().Retire(this); }

  const char* name() const override { return "threads"; }
  uint32_t capacity() const override { return capacity_; }

  size_t Enqueue(Request* const* reqs, size_t n, int*) override {
    // Reads the page cache holds are done here, at once; the rest go to the
    // pool in one push. A batch keeps its order in the queue.
    size_t i = 0;
    while (i < n) {
      size_t j = i;
      while (j < n && !TryReadNow(reqs[j])) ++j;
      if (j > i) Pool::Get().Push(this, reqs + i, j - i);
      if (j < n) {
        Flag(reqs[j]).store(kDone, std::memory_order_relaxed);
        Complete(reqs[j]);
        ++j;
      }
      i = j;
    }
    return n;
  }

  void Commit() override {}

  size_t Reap(Request** out, size_t max, size_t min, Clock::time_point deadline) override {
    size_t n = 0;
    for (;;) {
      if (ready_ == nullptr) TakeDone();
      while (ready_ != nullptr && n < max) {
        Request* r = ready_;
        ready_ = r->next;
        if (ctx_->Finish(r, r->seq32, r->status, r->host_error, r->bytes)) out[n++] = r;
      }
      if (n >= min || n == max || ctx_->ReapShouldReturn()) return n;
      if (kicked_.exchange(false, std::memory_order_acq_rel)) return n;
      if (done_.load(std::memory_order_acquire) != nullptr) continue;
      // A completion a worker is about to push is cheaper to spin for than to
      // sleep for; the spin ends early on a kick or the deadline.
      if (SpinUntil(
              [&] {
                return done_.load(std::memory_order_acquire) != nullptr ||
                       kicked_.load(std::memory_order_acquire);
              },
              deadline == Clock::time_point::max()
                  ? kReaperSpin
                  : std::min(kReaperSpin, std::max(deadline - Clock::now(), Clock::duration{})))) {
        continue;
      }
      // Sleep. The seq_cst store/load pairs with the worker's push-then-check,
      // so either we see its completion or it sees us asleep and notifies.
      std::unique_lock<std::mutex> lock(sleep_mu_);
      sleeping_.store(true, std::memory_order_seq_cst);
      if (done_.load(std::memory_order_seq_cst) == nullptr &&
          !kicked_.load(std::memory_order_seq_cst)) {
        if (deadline == Clock::time_point::max()) {
          sleep_cv_.wait(lock);
        } else if (sleep_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
          min = 0;  // one last look, then return what there is
        }
      }
      sleeping_.store(false, std::memory_order_relaxed);
    }
  }

  void Kick() override {
    kicked_.store(true, std::memory_order_seq_cst);
    WakeReaper();
  }

  CancelOutcome Cancel(Request* r, uint32_t seq32) override {
    // The core holds submission seq32 in kCancelling while we decide, so the
    // flag the pool looks at is that submission's.
    (void)seq32;
    return Pool::Get().Unlink(this, r);
  }

  // Complete hands a finished request to the reaper.
  void Complete(Request* r) {
    Request* head = done_.load(std::memory_order_relaxed);
    do {
      r->next = head;
    } while (!done_.compare_exchange_weak(head, r, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
    WakeReaper();
  }

 private:
  friend class Pool;

  void WakeReaper() {
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      sleep_cv_.notify_one();
    }
  }

  // Takes every finished request, oldest first.
  void TakeDone() {
    Request* r = done_.exchange(nullptr, std::memory_order_acquire);
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
  const uint32_t cap_;  // most of this context's requests running at once

  // Guarded by the pool's mutex.
  Request* q_head_ = nullptr;  // queued, oldest first
  Request* q_tail_ = nullptr;
  uint32_t running_ = 0;   // taken by workers, not yet completed
  bool in_ready_ = false;  // in the pool's ready list
  bool retiring_ = false;  // the destructor waits
  ThreadsBackend* ready_next_ = nullptr;

  std::atomic<Request*> done_{nullptr};
  Request* ready_ = nullptr;  // reaper only
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> kicked_{false};
};

Pool::Pool() {
#if !defined(_WIN32)
  pthread_atfork(&Pool::ForkPrepare, &Pool::ForkParent, &Pool::ForkChild);
#endif
}

#if !defined(_WIN32)
// The child has none of the parent's workers, and the contexts it inherited
// cannot be used (docs/contract.md, Contexts): it starts with an empty pool.
// The mutex was locked by this thread in ForkPrepare; the condition variables
// may hold waiters that do not exist here, so they are made anew.
void Pool::ForkChild() {
  Pool& p = Get();
  p.ready_head_ = p.ready_tail_ = nullptr;
  p.workers_ = p.starting_ = p.sleeping_ = p.tickets_ = 0;
  p.runnable_.store(0, std::memory_order_relaxed);
  p.spinning_.store(false, std::memory_order_relaxed);
  new (&p.work_cv_) std::condition_variable();
  new (&p.retire_cv_) std::condition_variable();
  p.mu_.unlock();
}
#endif

bool Pool::EnsureWorker(Unavailable* why) {
  std::unique_lock<std::mutex> lock(mu_);
  if (workers_ + starting_ > 0) return true;
  max_ = PoolMax();
  ++starting_;
  lock.unlock();
  try {
    std::thread([this] { Work(); }).detach();
  } catch (const std::system_error& e) {
    lock.lock();
    --starting_;
    CannotStart(e, why);
    return false;
  }
  lock.lock();
  --starting_;
  ++workers_;
  return true;
}

void Pool::StartWorkers(uint32_t k) {
  uint32_t started = 0;
  try {
    for (; started < k; ++started) std::thread([this] { Work(); }).detach();
  } catch (const std::system_error&) {
    // The workers there are run the queue; fewer run at once.
  }
  std::lock_guard<std::mutex> lock(mu_);
  starting_ -= k;
  workers_ += started;
}

void Pool::Schedule(ThreadsBackend* q) {
  q->in_ready_ = true;
  q->ready_next_ = nullptr;
  if (ready_tail_ != nullptr) {
    ready_tail_->ready_next_ = q;
  } else {
    ready_head_ = q;
  }
  ready_tail_ = q;
  runnable_.fetch_add(1, std::memory_order_release);
}

void Pool::Push(ThreadsBackend* q, Request* const* reqs, size_t n) {
  uint32_t start = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      Request* r = reqs[i];
      Flag(r).store(kQueued, std::memory_order_relaxed);
      r->next = nullptr;
      r->prev = q->q_tail_;
      if (q->q_tail_ != nullptr) {
        q->q_tail_->next = r;
      } else {
        q->q_head_ = r;
      }
      q->q_tail_ = r;
    }
    if (q->running_ >= q->cap_) return;  // a finishing worker schedules it
    if (!q->in_ready_) Schedule(q);
    // Workers wanted: this context's runnable requests, less the one an idle
    // spinner will take; from the sleepers first, then new ones.
    size_t want = std::min<size_t>(n, q->cap_ - q->running_);
    if (spinning_.load(std::memory_order_acquire)) --want;
    // A sleeper already sent a wake-up is not counted again: every wake-up
    // wanted reaches a worker that has not been woken yet.
    size_t wake = std::min<size_t>(want, sleeping_ - tickets_);
    tickets_ += static_cast<uint32_t>(wake);
    for (size_t i = 0; i < wake; ++i) work_cv_.notify_one();
    size_t room = max_ - workers_ - starting_;
    start = static_cast<uint32_t>(std::min(want - wake, room));
    starting_ += start;
  }
  if (start > 0) StartWorkers(start);
}

CancelOutcome Pool::Unlink(ThreadsBackend* q, Request* r) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t f = Flag(r).load(std::memory_order_acquire);
  if (f == kRunning) return CancelOutcome::kInProgress;
  if (f == kDone) return CancelOutcome::kNotFound;
  if (r->prev != nullptr) {
    r->prev->next = r->next;
  } else {
    q->q_head_ = r->next;
  }
  if (r->next != nullptr) {
    r->next->prev = r->prev;
  } else {
    q->q_tail_ = r->prev;
  }
  r->next = r->prev = nullptr;
  Flag(r).store(kDone, std::memory_order_release);
  return CancelOutcome::kCancelled;  // the context stays in the ready list; a worker skips it
}

void Pool::Retire(ThreadsBackend* q) {
  std::unique_lock<std::mutex> lock(mu_);
  q->retiring_ = true;
  retire_cv_.wait(lock, [q] { return q->running_ == 0; });
  if (q->in_ready_) {
    ThreadsBackend** link = &ready_head_;
    ThreadsBackend* prev = nullptr;
    while (*link != q) {
      prev = *link;
      link = &(*link)->ready_next_;
    }
    *link = q->ready_next_;
    if (ready_tail_ == q) ready_tail_ = prev;
    runnable_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Pool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (ready_head_ == nullptr) {
      // One idle worker spins for the next push; the others sleep.
      if (!spinning_.exchange(true, std::memory_order_acq_rel)) {
        lock.unlock();
        SpinUntil([this] { return runnable_.load(std::memory_order_acquire) != 0; }, kWorkerSpin);
        spinning_.store(false, std::memory_order_release);
        lock.lock();
        if (ready_head_ != nullptr) continue;
      }
      ++sleeping_;
      work_cv_.wait(lock, [this] { return tickets_ > 0; });
      --tickets_;
      --sleeping_;
      continue;
    }
    ThreadsBackend* q = ready_head_;
    ready_head_ = q->ready_next_;
    if (ready_head_ == nullptr) ready_tail_ = nullptr;
    q->in_ready_ = false;
    runnable_.fetch_sub(1, std::memory_order_relaxed);
    Request* r = q->q_head_;
    if (r == nullptr) continue;  // its queue was cancelled
    q->q_head_ = r->next;
    if (q->q_head_ != nullptr) {
      q->q_head_->prev = nullptr;
    } else {
      q->q_tail_ = nullptr;
    }
    Flag(r).store(kRunning, std::memory_order_release);
    ++q->running_;
    // Round robin: the context goes to the back with whatever it has left.
    if (q->q_head_ != nullptr && q->running_ < q->cap_) Schedule(q);
    // Work is left and this worker may block on its request: another worker
    // must be awake for it (a push counted on a spinner that took another).
    bool start = false;
    if (ready_head_ != nullptr && !spinning_.load(std::memory_order_acquire)) {
      if (sleeping_ > tickets_) {
        ++tickets_;
        work_cv_.notify_one();
      } else if (workers_ + starting_ < max_) {
        ++starting_;
        start = true;
      }
    }
    lock.unlock();
    if (start) StartWorkers(1);
    Execute(r);
    Flag(r).store(kDone, std::memory_order_release);
    q->Complete(r);
    lock.lock();
    // q is alive until running_ is 0 again: its destructor waits for that.
    --q->running_;
    if (q->q_head_ != nullptr && !q->in_ready_ && q->running_ < q->cap_) Schedule(q);
    if (q->retiring_ && q->running_ == 0) retire_cv_.notify_all();
  }
}

}  // namespace

// The probe starts (and joins) one thread: a host that cannot start one right
// now cannot make a context either.
bool ProbeThreadsBackend(Unavailable* why) {
  try {
    std::thread t([] {});
    t.join();
  } catch (const std::system_error& e) {
    CannotStart(e, why);
    return false;
  }
  return true;
}

std::unique_ptr<Backend> CreateThreadsBackend(const BackendParams& p, Unavailable* why) {
  if (!Pool::Get().EnsureWorker(why)) return nullptr;
  auto b = std::unique_ptr<ThreadsBackend>(new (std::nothrow) ThreadsBackend(p));
  if (b == nullptr) {
    why->status = FAIO_E_NO_MEMORY;
    why->reason = "out of memory";
    return nullptr;
  }
  return b;
}

}  // namespace faio::detail
