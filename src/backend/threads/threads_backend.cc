// threads_backend.cc - see threads_backend.h.
#include "backend/threads/threads_backend.h"

#include <atomic>
#include <condition_variable>
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

// Request::backend_data while the request is with this backend.
enum : uint64_t { kQueued = 0, kRunning = 1, kDone = 2 };

constexpr uint32_t kDefaultThreads = 16;

class ThreadsBackend final : public Backend {
 public:
  explicit ThreadsBackend(const BackendParams& p)
      : ctx_(p.ctx), capacity_(p.capacity == 0 ? FAIO_UNLIMITED : p.capacity) {}

  // Start starts the workers; false with *why when the host refuses a thread
  // (pthread_create's EAGAIN: RLIMIT_NPROC, kernel.threads-max, memory for a
  // stack) or memory runs out. The ones started are joined by the destructor.
  bool Start(uint32_t threads, Unavailable* why) {
    if (threads == 0) threads = kDefaultThreads;
    try {
      workers_.reserve(threads);
      for (uint32_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
    } catch (const std::system_error& e) {
      CannotStart(e, workers_.size(), threads, why);
      return false;
    } catch (const std::bad_alloc&) {
      why->status = FAIO_E_NO_MEMORY;
      why->reason = "out of memory";
      return false;
    }
    return true;
  }

  ~ThreadsBackend() override {
    {
      std::lock_guard<std::mutex> lock(q_mu_);
      stop_ = true;
    }
    q_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  const char* name() const override { return "threads"; }
  uint32_t capacity() const override { return capacity_; }

  size_t Enqueue(Request* const* reqs, size_t n, int*) override {
    {
      std::lock_guard<std::mutex> lock(q_mu_);
      for (size_t i = 0; i < n; ++i) {
        Request* r = reqs[i];
        Flag(r).store(kQueued, std::memory_order_relaxed);
        r->next = nullptr;
        r->prev = q_tail_;
        if (q_tail_ != nullptr) {
          q_tail_->next = r;
        } else {
          q_head_ = r;
        }
        q_tail_ = r;
      }
    }
    if (n == 1) {
      q_cv_.notify_one();
    } else {
      q_cv_.notify_all();
    }
    return n;
  }

  void Commit() override {}

  // A worker would make the same system call after a hand-off: a cached read
  // or a buffered write to a local file system is made by the submitter.
  DoNowPolicy do_now() const override { return DoNowPolicy::kAlways; }

  size_t Reap(Request** out, size_t max, bool block, Clock::time_point deadline) override {
    size_t n = 0;
    bool slept = false;
    for (;;) {
      if (ready_ == nullptr) TakeDone();
      while (ready_ != nullptr && n < max) {
        Request* r = ready_;
        ready_ = r->next;
        if (ctx_->Finish(r, r->seq32, r->host_error, r->bytes)) out[n++] = r;
      }
      if (n > 0 || !block || slept || n == max || ctx_->ReapShouldReturn()) return n;
      if (kicked_.exchange(false, std::memory_order_acq_rel)) return n;
      if (done_.load(std::memory_order_acquire) != nullptr) continue;
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
    std::lock_guard<std::mutex> lock(q_mu_);
    // The core holds submission seq32 in kCancelling while we decide, so the
    // flag below is that submission's.
    (void)seq32;
    uint64_t f = Flag(r).load(std::memory_order_acquire);
    if (f == kRunning) return CancelOutcome::kInProgress;
    if (f == kDone) return CancelOutcome::kNotFound;
    if (r->prev != nullptr) {
      r->prev->next = r->next;
    } else {
      q_head_ = r->next;
    }
    if (r->next != nullptr) {
      r->next->prev = r->prev;
    } else {
      q_tail_ = r->prev;
    }
    r->next = r->prev = nullptr;
    Flag(r).store(kDone, std::memory_order_release);
    return CancelOutcome::kCancelled;
  }

 private:
  static std::atomic<uint64_t>& Flag(Request* r) { return r->backend_data; }

  void Work() {
    for (;;) {
      Request* r;
      {
        std::unique_lock<std::mutex> lock(q_mu_);
        q_cv_.wait(lock, [this] { return stop_ || q_head_ != nullptr; });
        if (q_head_ == nullptr) return;  // stopping, and nothing left
        r = q_head_;
        q_head_ = r->next;
        if (q_head_ != nullptr) {
          q_head_->prev = nullptr;
        } else {
          q_tail_ = nullptr;
        }
        Flag(r).store(kRunning, std::memory_order_release);
      }
      Execute(r);
      Flag(r).store(kDone, std::memory_order_release);
      // Push onto the completion stack.
      Request* head = PushFront(done_, r, &Request::next, std::memory_order_seq_cst);
      // The pollable handle turns ready when the stack stops being empty: a
      // wait resets it before it takes the stack, and is repeated until it
      // finds nothing, so a later push always finds the stack empty again.
      if (head == nullptr && notify_on_.load(std::memory_order_acquire)) {
        platform::SignalNotify(notify_);
      }
      WakeReaper();
    }
  }

  static void Execute(Request* r) {
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
  std::vector<std::thread> workers_;

  std::mutex q_mu_;
  std::condition_variable q_cv_;
  Request* q_head_ = nullptr;  // guarded by q_mu_
  Request* q_tail_ = nullptr;  // guarded by q_mu_
  bool stop_ = false;          // guarded by q_mu_

  std::atomic<Request*> done_{nullptr};
  Request* ready_ = nullptr;  // reaper only
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> kicked_{false};
  platform::Notify notify_;  // set once, before any request that signals it
  std::atomic<bool> notify_on_{false};
};

}  // namespace

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
  if (!b->Start(p.threads, why)) return nullptr;
  return b;
}

}  // namespace faio::detail
