// context.h - the completion context: every rule of the contract that is the
// same for all backends (docs/contract.md) lives here, once.
//
// Accounting. `inflight_` counts the requests submitted and neither reaped nor
// cancelled; submit reserves capacity from it before anything reaches the host
// and gives back what the host did not take. Debug builds also keep submitted_,
// reaped_ and cancelled_ and check inflight == submitted - reaped - cancelled.
//
// Wakeups. faio_ctx_wakeup sets `wakeup_pending_` and kicks the backend (the
// kick is sticky, so a wakeup that lands before the waiter blocks is seen).
// Completions are handed out only with success (docs/contract.md, Wait and
// Wakeup): a wait that begins with the flag set consumes it and returns
// INTERRUPTED before reaping; a wait the flag ends consumes it and returns
// INTERRUPTED only when it reaped nothing, and otherwise returns success with
// what it reaped and leaves the flag for the next wait. Several wakeups
// coalesce into one interrupted wait, and none is lost.
#ifndef FAIO_SRC_CORE_CONTEXT_H_
#define FAIO_SRC_CORE_CONTEXT_H_

#include <atomic>
#include <cassert>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "core/file_table.h"
#include "core/handle_table.h"
#include "core/request.h"
#include "faio/faio.h"
#include "platform/host.h"

namespace faio::detail {

bool TakeForCompletionSlow(Request* r, uint32_t seq32, uint64_t* word);

// TakeForCompletion moves submission seq32 of r from kSubmitted to kFinishing
// for a completion; false when that submission is no longer submitted (a
// canceller took it, or it is stale). The usual case is one load and one
// compare-and-swap; a canceller holding the request is waited for
// (context.cc).
inline bool TakeForCompletion(Request* r, uint32_t seq32, uint64_t* word) {
  uint64_t w = r->word.load(std::memory_order_acquire);
  if (StateOf(w) == kSubmitted && static_cast<uint32_t>(SeqOf(w)) == seq32 &&
      r->word.compare_exchange_strong(w, MakeWord(SeqOf(w), kFinishing),
                                      std::memory_order_acq_rel)) {
    *word = w;
    return true;
  }
  return TakeForCompletionSlow(r, seq32, word);
}

// AwaitCancelVerdict waits while a canceller holds submission seq32 of r
// (kCancelling) and asks the host about it. For a backend whose Cancel looks
// for the request's completion where the reaper consumes it (io_uring's
// completion ring): the reaper does not move past that completion until the
// canceller has decided. One load when nobody cancels.
void AwaitCancelVerdictSlow(const Request* r, uint32_t seq32);
inline void AwaitCancelVerdict(const Request* r, uint32_t seq32) {
  if (StateOf(r->word.load(std::memory_order_acquire)) == kCancelling) [[unlikely]] {
    AwaitCancelVerdictSlow(r, seq32);
  }
}

class Context {
 public:
  // Create builds a context on the backend named by opts (or chosen
  // automatically). On failure returns a status and, for an unavailable backend,
  // fills *why.
  // MakeBackend makes a context's backend from its parameters (null: the one
  // opts name, through the registry). Tests pass a scripted host.
  using MakeBackend = std::unique_ptr<Backend> (*)(const BackendParams& p, void* arg);
  static int Create(const faio_ctx_options& opts, Context** out, Unavailable* why,
                    MakeBackend make = nullptr, void* arg = nullptr);
  ~Context();

  // Submit: see faio_ctx_submit; *accepted (when given) is the accepted prefix,
  // 0 on every refusal of the whole batch.
  int Submit(faio_req** reqs, size_t n, size_t* accepted = nullptr);
  int Wait(size_t min, uint32_t timeout_ms, faio_req** out, size_t size, uint32_t* count) {
    if (count == nullptr) return FAIO_E_INVALID_PARAMETER;
    *count = 0;
    if (out == nullptr || size == 0) return FAIO_E_INVALID_PARAMETER;
    if (min > size) return FAIO_E_OUT_OF_RANGE;
    bool expected = false;
    if (!waiting_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
      return FAIO_E_BUSY;
    }
    int st = WaitHeld(min, timeout_ms, out, size, count);
    waiting_.store(false, std::memory_order_release);
    return st;
  }
  // Run: see faio_ctx_run (a wait that calls each completed request's callback).
  int Run(size_t min, uint32_t timeout_ms, uint32_t* count);
  int Wakeup();
  // Pollable: see faio_ctx_pollable. The first call makes the handle (nothing
  // may be in flight then); later calls return the same one.
  int Pollable(faio_file* out);
  // Signal makes the pollable handle ready, if there is one: for completions
  // that reach the core without the host's notice (a backend's inline
  // completions, CompleteLocally, a wakeup). Any thread; async-signal-safe.
  // Only the first signal after a wait's reset writes to the handle (a done-now
  // completion per request would otherwise cost a system call each); the
  // exchange pairs with WaitHeld's, so a completion queued before a skipped
  // signal is found by the wait that reset the handle.
  void Signal() {
    if (notify_on_.load(std::memory_order_acquire) &&
        !notify_set_.exchange(true, std::memory_order_acq_rel)) {
      if (own_pollable_) {
        backend_->SignalPollable();
      } else {
        platform::SignalNotify(notify_);
      }
    }
  }
  int Cancel(Request* r, uint64_t word);
  // Expire: the timer thread's (core/timer.h) - submission `word` of r passed
  // its deadline. Withdrawn from the host where it can be, it completes with
  // FAIO_E_TIMEOUT for the next wait; otherwise nothing changes.
  void Expire(Request* r, uint64_t word);
  int ClearError(faio_file f);
  int AssociateFile(faio_file f);
  int RegisterBuffers(const faio_buffer* bufs, size_t count);
  // Busy: requests still counted, or a thread waiting.
  bool Busy() const {
    return inflight_.load(std::memory_order_acquire) != 0 ||
           waiting_.load(std::memory_order_acquire);
  }
  uint32_t capacity() const { return capacity_; }
  // ReapShouldReturn: a backend's Reap calls it before it blocks (waiting
  // thread only). True when a flush is free to be issued by the wait loop, or
  // the next part of a full transfer is to be submitted (Continue), so Reap
  // must return instead of blocking for completions that need it.
  bool ReapShouldReturn() {
    ApplyReleases();
    return drain_due_.load(std::memory_order_acquire) || !continuing_.empty() ||
           continue_due_.load(std::memory_order_acquire);
  }
  const char* backend_name() const { return backend_->name(); }

  // CompleteLocally completes a submitted request without the host (sticky flush
  // errors, a request the host refused on its own at submission) and queues it
  // for the next wait. Backends call it from Enqueue (under the submit lock).
  void CompleteLocally(Request* r, int status, int host_error, size_t bytes = 0);
  // CompleteFromHost is CompleteLocally for an outcome the host gave at
  // submission: its error code (0: success) becomes the status here.
  void CompleteFromHost(Request* r, int host_error, size_t bytes = 0) {
    CompleteLocally(r, host_error == 0 ? FAIO_OK : platform::StatusFromHostError(host_error),
                    host_error, bytes);
  }

  uint64_t handle = 0;

 private:
  Context() = default;
  // Submit's steps (context.cc). Those declared inline have one caller (or a
  // few) and are defined and used in context.cc only (inlined there).
  class Batch;
  class Stage;
  inline size_t Reserve(size_t n);
  inline int HandOver(const Batch& batch, size_t take, size_t* accepted);
  void SubmitFlush(Request* r, FileState* fs);
  bool DoNow(Request* r, FileState* fs);
  // ArmDeadline: under submit_mu_, before r (a claimed request with a
  // deadline) is published as its next submission. A first part sets when the
  // deadline falls; the core's timer is armed unless `host` (a transfer for a
  // backend that OwnsDeadlines).
  static void ArmDeadline(Request* r, bool first_part, bool host);
  // TimedOut completes r (held: kCancelling) with FAIO_E_TIMEOUT for the next wait.
  void TimedOut(Request* r, uint64_t held);
  // QueueLocal puts a request whose outcome is written (kFinishing) on the
  // local list for the next wait, waking a blocked one.
  inline void QueueLocal(Request* r);
  // Finish turns one raw host completion (Backend::Reap) into the request's
  // outcome, on the waiting thread: the host's code becomes a status here, in
  // one place (platform::StatusFromHostError). True when the request is now
  // completed and goes to the caller; false for a stale event (the request was
  // cancelled or submitted again meanwhile) or a part of a full transfer whose
  // rest goes to the host. Inline: it runs once per request.
  bool Finish(const HostCompletion& c) {
    Request* const r = c.req;
    HostHandBack(r);
    uint64_t w;
    if (!TakeForCompletion(r, c.seq32, &w)) return false;  // stale, or a canceller won
    int status = FAIO_OK;
    int host_error = 0;
    size_t bytes = 0;
    if (c.result >= 0) [[likely]] {
      bytes = static_cast<size_t>(c.result);
    } else if (c.result == kHostTimedOut) {
      status = FAIO_E_TIMEOUT;
    } else {
      host_error = -c.result;
      status = platform::StatusFromHostError(host_error);
    }
    const Op op = r->op.load(std::memory_order_relaxed);
    if (op == Op::kFlush && r->fstate != nullptr) FlushOutcome(r, &status, &host_error);
    if (full_transfers_ && status == FAIO_OK && bytes != 0 && bytes < r->len && op != Op::kFlush &&
        Continue(r, bytes)) {
      return false;  // FAIO_CTX_FULL_TRANSFERS: the rest goes to the host
    }
    r->status = status;
    r->host_error = host_error;
    r->bytes = r->done + bytes;
    if (Epoch* e = r->epoch) {
      r->epoch = nullptr;
      if (e != release_epoch_) {
        ApplyReleases();
        release_epoch_ = e;
      }
      ++release_count_;
    }
    r->MarkCompleted(w);
    return true;
  }
  // FAIO_CTX_FULL_TRANSFERS (waiting thread): r (kFinishing, still counted and
  // in its file's epoch) moved `bytes` of its length; its description is
  // advanced and it waits in continuing_ until the wait resubmits it
  // (ResubmitContinuing, after the backend's Reap).
  // False (no memory for the list): r completes short, as without the flag.
  bool Continue(Request* r, size_t bytes);
  bool ContinueLocked(Request* r, size_t bytes);
  void ResubmitContinuing();
  // A flush's outcome against its file's sticky error (docs/contract.md, Flush).
  static void FlushOutcome(Request* r, int* status, int* host_error);
  // WaitHeld is Wait for a caller that holds waiting_ (Wait, Run).
  int WaitHeld(size_t min, uint32_t timeout_ms, faio_req** out, size_t size, uint32_t* count);
  inline size_t TakeLocal(faio_req** out, size_t max);  // WaitHeld's step (context.cc)
  // Issues flushes whose barrier has passed. Takes the submit lock.
  void DrainFlushes();
  // Under the submit lock: hands the flushes in flush_scratch_ to the host (or
  // completes them locally).
  void IssueFlushes();
  void Uncount(size_t n, bool cancelled) {
    if (n == 0) return;
    [[maybe_unused]] int64_t before =
        inflight_.fetch_sub(static_cast<int64_t>(n), std::memory_order_acq_rel);
#ifndef NDEBUG
    assert(before >= static_cast<int64_t>(n));
    (cancelled ? cancelled_ : reaped_).fetch_add(static_cast<int64_t>(n));
#else
    (void)cancelled;
#endif
  }
  // Waiting thread only: applies the epoch releases Finish batched.
  void ApplyReleases() {
    if (release_epoch_ == nullptr) return;
    if (FileTable::ReleaseN(release_epoch_, release_count_)) {
      drain_due_.store(true, std::memory_order_release);
    }
    release_epoch_ = nullptr;
    release_count_ = 0;
  }

  std::unique_ptr<Backend> backend_;
  DoNowPolicy do_now_ = DoNowPolicy::kNever;
  bool probe_files_ = false;            // FileState::now is learnt (ProbeNow)
  uint8_t probe_mask_ = 0xFF;           // ... and these of its bits kept
  uint32_t capacity_ = 0;
  uint32_t flags_ = 0;
  bool full_transfers_ = false;          // FAIO_CTX_FULL_TRANSFERS
  bool host_deadlines_ = false;          // Backend::OwnsDeadlines
  std::vector<Request*> continuing_;     // waiting thread only (Continue)
  std::vector<Request*> continuing_locked_;  // guarded by submit_mu_ (ContinueLocked)
  std::atomic<bool> continue_due_{false};    // continuing_locked_ has parts
  bool buffers_registered_ = false;  // guarded by submit_mu_

  platform::Lock submit_mu_;
  FileTable files_;                        // guarded by submit_mu_
  std::vector<ReadyFlush> flush_scratch_;  // guarded by submit_mu_

  std::atomic<int64_t> inflight_{0};
  std::atomic<bool> waiting_{false};
  std::atomic<bool> wakeup_pending_{false};
  std::atomic<bool> drain_due_{false};

  // The pollable handle (faio_ctx_pollable): made once, under submit_mu_.
  platform::Notify notify_;
  faio_file pollable_ = platform::kInvalidFile;  // what the caller polls
  std::atomic<bool> notify_on_{false};
  std::atomic<bool> notify_set_{false};
  bool own_pollable_ = false;  // the backend's handle (Backend::OwnsPollable); set before notify_on_  // Signal wrote to notify_ since the last reset

  // faio_ctx_run: the thread running callbacks (its submits are committed once
  // per batch of callbacks), and whether one of them staged something.
  std::atomic<std::thread::id> run_thread_{};
  bool commit_due_ = false;  // run thread only
  // Finish's batched epoch releases (waiting thread only): one atomic
  // subtraction per run of completions of the same epoch.
  Epoch* release_epoch_ = nullptr;
  int64_t release_count_ = 0;
  // What one Reap hands the wait loop (waiting thread only).
  static constexpr size_t kReapChunk = 64;
  HostCompletion reap_buf_[kReapChunk];

  // Requests completed without the host (QueueLocal): pushed by any thread
  // on a lock-free stack, taken by the waiting thread into local_ready_ in
  // the order they came.
  std::atomic<Request*> local_{nullptr};
  Request* local_ready_ = nullptr;  // waiting thread only
  // The waiting thread is (about to be) blocked in the backend's Reap: a
  // request completed locally on another thread must Kick it. Set and read
  // seq_cst against local_ (WaitHeld, QueueLocal).
  std::atomic<bool> reaper_blocked_{false};

#ifndef NDEBUG
  std::atomic<int64_t> submitted_{0};
  std::atomic<int64_t> reaped_{0};
  std::atomic<int64_t> cancelled_{0};
#endif
};

// A slot of the process-wide context table (slots are never freed). `users`
// counts the calls inside the context (pins); kClosing marks a destroy in
// progress.
struct ContextSlot {
  static constexpr uint32_t kClosing = 1u << 31;
  std::atomic<Context*> ctx{nullptr};
  std::atomic<uint32_t> users{0};
};

// The process-wide table of context slots (context.cc).
inline constexpr uint8_t kContextTag = 0xFC;
using ContextTable = HandleTable<ContextSlot, kContextTag>;
extern ContextTable g_contexts;

// ContextPin resolves a context handle and keeps the context alive for the
// pin's life: every C call that uses a context holds one, so a destroy racing
// it on another thread answers *busy* (or the call *invalid handle*) instead of
// freeing the context under it. Two atomic operations on the context's own
// slot; async-signal-safe.
class ContextPin {
 public:
  // Inline: every C call on a context makes one.
  explicit ContextPin(uint64_t handle) {
    ContextSlot* slot = g_contexts.Lookup(handle);
    if (slot == nullptr) return;
    uint32_t before = slot->users.fetch_add(1, std::memory_order_acq_rel);
    // Being destroyed, or freed (and perhaps reused) since the lookup: not ours.
    if ((before & ContextSlot::kClosing) != 0 || !ContextTable::StillNames(slot, handle))
        [[unlikely]] {
      slot->users.fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
    slot_ = slot;
    ctx_ = slot->ctx.load(std::memory_order_acquire);
  }
  explicit ContextPin(const faio_ctx* h)
      : ContextPin(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h))) {}
  ~ContextPin() {
    if (slot_ != nullptr) slot_->users.fetch_sub(1, std::memory_order_acq_rel);
  }
  ContextPin(const ContextPin&) = delete;
  ContextPin& operator=(const ContextPin&) = delete;
  explicit operator bool() const { return ctx_ != nullptr; }
  Context* operator->() const { return ctx_; }
  Context* get() const { return ctx_; }

 private:
  ContextSlot* slot_ = nullptr;
  Context* ctx_ = nullptr;
};

int CreateContext(const faio_ctx_options& opts, faio_ctx** out);
// CreateContextOver is CreateContext over a backend `make` makes (tests).
int CreateContextOver(const faio_ctx_options& opts, Context::MakeBackend make, void* arg,
                      faio_ctx** out);
int DestroyContext(faio_ctx* h);

}  // namespace faio::detail

#endif  // FAIO_SRC_CORE_CONTEXT_H_
