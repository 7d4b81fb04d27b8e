// context.cc - submit, wait, wakeup and cancel: the contract's rules, once for
// every backend. See context.h for the accounting and wakeup design.
#include "core/context.h"

#include <algorithm>
#include <cassert>
#include <new>
#include <thread>

#include "backend/registry.h"
#include "core/handle_table.h"
#include "core/lockfree_stack.h"
#include "core/timer.h"
#include "platform/host.h"

// A step of the request path with one caller (or a few), in this file:
// inlined into it, as link-time optimization would (the library is not built
// with it), so the path is one function and not a chain of calls.
#if defined(__GNUC__)
#define FAIO_ONE_CALLER [[gnu::always_inline]] inline
#else
#define FAIO_ONE_CALLER inline
#endif

#ifndef NDEBUG
#define FAIO_DCHECK(cond) assert(cond)
#else
#define FAIO_DCHECK(cond) ((void)0)
#endif

namespace faio::detail {

constinit ContextTable g_contexts;

namespace {

// Requests staged per backend call: bounded so the batch lives on the stack.
constexpr size_t kStage = 64;
constexpr size_t kResolved = 256;

ContextTable& Table() { return g_contexts; }

// Flush errors after which the kernel may have dropped dirty pages: a later
// flush that succeeds would lie, so the context remembers them (docs/contract.md, Flush).
bool IsStickyFlushError(int status) { return status == FAIO_E_IO || status == FAIO_E_DISK_FULL; }

}  // namespace

// The slow path of TakeForCompletion (context.h): a canceller holds the
// request in kCancelling only while it asks the host to withdraw it (a short
// system call); the completion waits for its verdict: withdrawn (the
// completion is stale) or not (it proceeds).
bool TakeForCompletionSlow(Request* r, uint32_t seq32, uint64_t* word) {
  uint64_t w = r->word.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(SeqOf(w)) != seq32) return false;
    State s = StateOf(w);
    if (s == kCancelling) {
      std::this_thread::yield();
      w = r->word.load(std::memory_order_acquire);
      continue;
    }
    if (s != kSubmitted) return false;
    if (r->word.compare_exchange_weak(w, MakeWord(SeqOf(w), kFinishing),
                                      std::memory_order_acq_rel)) {
      *word = w;
      return true;
    }
  }
}

void AwaitCancelVerdictSlow(const Request* r, uint32_t seq32) {
  for (;;) {
    uint64_t w = r->word.load(std::memory_order_acquire);
    if (StateOf(w) != kCancelling || static_cast<uint32_t>(SeqOf(w)) != seq32) return;
    std::this_thread::yield();
  }
}

int CreateContext(const faio_ctx_options& opts, faio_ctx** out) {
  return CreateContextOver(opts, nullptr, nullptr, out);
}

int CreateContextOver(const faio_ctx_options& opts, Context::MakeBackend make, void* arg,
                      faio_ctx** out) {
  Context* ctx = nullptr;
  Unavailable why;
  int st = Context::Create(opts, &ctx, &why, make, arg);
  if (st != FAIO_OK) return st;
  uint64_t handle = 0;
  auto* slot = Table().Alloc(&handle);
  if (slot == nullptr) {
    delete ctx;
    return FAIO_E_NO_MEMORY;
  }
  ctx->handle = handle;
  slot->obj.ctx.store(ctx, std::memory_order_release);
  *out = reinterpret_cast<faio_ctx*>(static_cast<uintptr_t>(handle));
  return FAIO_OK;
}

// DestroyContext closes the slot only when no call is inside the context (a
// pin) and it counts no request: a destroy that races a submit, wait, wakeup
// or cancel on another thread (a caller bug) answers *busy* or makes that call
// answer *invalid handle*, and never frees what another thread uses.
int DestroyContext(faio_ctx* h) {
  if (h == nullptr) return FAIO_OK;
  const uint64_t handle = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h));
  ContextSlot* slot = Table().Lookup(handle);
  if (slot == nullptr) return FAIO_E_INVALID_HANDLE;
  uint32_t idle = 0;
  if (!slot->users.compare_exchange_strong(idle, ContextSlot::kClosing,
                                           std::memory_order_acq_rel)) {
    return FAIO_E_BUSY;  // another thread is inside a call on it
  }
  if (Table().Lookup(handle) != slot) {  // destroyed meanwhile by another thread
    slot->users.fetch_sub(ContextSlot::kClosing, std::memory_order_acq_rel);
    return FAIO_E_INVALID_HANDLE;
  }
  Context* ctx = slot->ctx.load(std::memory_order_acquire);
  if (ctx->Busy()) {
    slot->users.fetch_sub(ContextSlot::kClosing, std::memory_order_acq_rel);
    return FAIO_E_BUSY;
  }
  slot->ctx.store(nullptr, std::memory_order_release);
  Table().Free(handle);
  slot->users.fetch_sub(ContextSlot::kClosing, std::memory_order_acq_rel);
  delete ctx;
  return FAIO_OK;
}

int Context::Create(const faio_ctx_options& opts, Context** out, Unavailable* why,
                    MakeBackend make, void* arg) {
  if ((opts.flags &
       ~(FAIO_CTX_WAIT_WITHOUT_PENDING | FAIO_CTX_FIXED_FILES | FAIO_CTX_HOST_ONLY |
         FAIO_CTX_FULL_TRANSFERS)) != 0) {
    return FAIO_E_INVALID_PARAMETER;
  }
  auto* ctx = new (std::nothrow) Context();
  if (ctx == nullptr) return FAIO_E_NO_MEMORY;
  BackendParams p;
  p.capacity = opts.capacity;
  p.threads = opts.threads;
  p.ctx = ctx;
  p.submit_mu = &ctx->submit_mu_;
  p.faults = opts.faults;
  p.flags = opts.flags;
  int st = FAIO_OK;
  if (make != nullptr) {
    ctx->backend_ = make(p, arg);
    if (ctx->backend_ == nullptr) st = FAIO_E_NO_MEMORY;
  } else {
    st = CreateBackend(opts.backend, p, &ctx->backend_, why);
  }
  if (st != FAIO_OK) {
    delete ctx;
    return st;
  }
  ctx->flags_ = opts.flags;
  ctx->capacity_ = ctx->backend_->capacity();
  ctx->full_transfers_ = (opts.flags & FAIO_CTX_FULL_TRANSFERS) != 0;
  ctx->host_deadlines_ = ctx->backend_->OwnsDeadlines();
  ctx->do_now_ = (opts.flags & FAIO_CTX_HOST_ONLY) != 0 ? DoNowPolicy::kNever
                                                         : ctx->backend_->do_now();
  // A backend that could make transfers at submission learns what files are
  // even where this context may not (FAIO_CTX_HOST_ONLY): the threads pool
  // needs Request::MayHold.
  ctx->probe_files_ = ctx->backend_->do_now() != DoNowPolicy::kNever;
  // Not local for the threads waiter where transfers all go to the host.
  ctx->probe_mask_ = ctx->do_now_ == DoNowPolicy::kNever
                         ? static_cast<uint8_t>(~platform::kNowLocal)
                         : static_cast<uint8_t>(0xFF);
  ctx->flush_scratch_.reserve(16);
  *out = ctx;
  return FAIO_OK;
}

Context::~Context() {
  // Destroy is refused while requests are counted, so the books balance here.
  FAIO_DCHECK(inflight_.load() == 0);
#ifndef NDEBUG
  FAIO_DCHECK(submitted_.load() == reaped_.load() + cancelled_.load());
#endif
  backend_.reset();  // joins workers / closes the ring before the file table goes
  if (notify_on_.load() && !own_pollable_) platform::CloseNotify(&notify_);
}

// The requests of one submit call. The first kResolved handles are resolved
// once, by Claim.
class Context::Batch {
 public:
  Batch(faio_req** handles, size_t n) : handles_(handles), n_(n) {}
  size_t size() const { return n_; }
  Request* operator[](size_t i) const {
    return i < kResolved ? resolved_[i] : LookupRequest(handles_[i]);
  }
  // Claim validates the whole batch before anything reaches the host: every
  // request moves kPrepared -> kClaimed, or none does (a status says why). A
  // request that appears twice finds itself already claimed.
  int Claim() {
    for (size_t i = 0; i < n_; ++i) {
      Request* r = LookupRequest(handles_[i]);
      if (r == nullptr) return Refuse(i, FAIO_E_INVALID_HANDLE);
      uint64_t w = r->word.load(std::memory_order_acquire);
      if (StateOf(w) != kPrepared) {
        return Refuse(i, StateOf(w) == kDead ? FAIO_E_INVALID_HANDLE : FAIO_E_INVALID_STATE);
      }
      r->Claim(w);
      if (i < kResolved) resolved_[i] = r;
    }
    return FAIO_OK;
  }
  // Unclaim gives requests [from, n) back to the caller, prepared.
  void Unclaim(size_t from) const {
    for (size_t i = from; i < n_; ++i) (*this)[i]->Unclaim();
  }

 private:
  int Refuse(size_t claimed, int status) const {
    for (size_t i = 0; i < claimed; ++i) (*this)[i]->Unclaim();
    return status;
  }

  faio_req** const handles_;
  const size_t n_;
  Request* resolved_[kResolved];
};

// Transfers on their way to the host: staged in order, counted in their
// file's epoch (one atomic add per run of the same epoch) before the host can
// complete any of them, handed over kStage at a time.
class Context::Stage {
 public:
  explicit Stage(Context* ctx) : ctx_(ctx) {}
  // Add stages r, published in epoch e. It reads nothing of r: once
  // published, r may be a canceller's. False: the host stopped taking
  // requests (status() says why).
  bool Add(Request* r, Epoch* e) {
    if (e != count_epoch_) {
      Count();
      count_epoch_ = e;
    }
    ++count_n_;
    reqs_[n_++] = r;
    return n_ < kStage || HandOver();
  }
  // HandOver gives everything staged to the backend. What it does not take
  // is withdrawn (back to kClaimed; the caller prepares it again) and false
  // is returned.
  bool HandOver() {
    if (n_ == 0) return !stopped_;
    handed_ = true;
    Count();
    int host_error = 0;
    size_t got = ctx_->backend_->Enqueue(reqs_, n_, &host_error);
    accepted_ += got;
    for (size_t j = got; j < n_; ++j) {
      Request* r = reqs_[j];
      r->with_host = false;
      if (FileTable::Release(r)) ctx_->drain_due_.store(true);
      r->Withdraw();
    }
    if (got < n_) stopped_ = true;
    n_ = 0;
    return !stopped_;
  }
  // Accept counts a request that went its own way (a flush, one done now).
  void Accept() { ++accepted_; }
  bool empty() const { return n_ == 0; }
  // handed: the backend was given something (it has something to commit).
  bool handed() const { return handed_; }
  size_t accepted() const { return accepted_; }
  bool stopped() const { return stopped_; }

 private:
  void Count() {
    if (count_epoch_ != nullptr) FileTable::Count(count_epoch_, count_n_);
    count_epoch_ = nullptr;
    count_n_ = 0;
  }

  Context* const ctx_;
  Request* reqs_[kStage];
  size_t n_ = 0;
  size_t accepted_ = 0;
  bool stopped_ = false;
  bool handed_ = false;
  Epoch* count_epoch_ = nullptr;  // staged transfers not yet counted in it
  int64_t count_n_ = 0;
};

int Context::Submit(faio_req** reqs, size_t n, size_t* accepted_out) {
  size_t ignored;
  if (accepted_out == nullptr) accepted_out = &ignored;
  *accepted_out = 0;
  if (reqs == nullptr || n == 0) return FAIO_E_INVALID_PARAMETER;
  Batch batch(reqs, n);
  if (int st = batch.Claim(); st != FAIO_OK) return st;
  const size_t take = Reserve(n);
  size_t accepted = 0;
  int status = FAIO_OK;
  if (take > 0) status = HandOver(batch, take, &accepted);
  // Whatever did not reach the host is prepared again; its reservation goes.
  if (accepted < n) {
    if (take > accepted) {
      inflight_.fetch_sub(static_cast<int64_t>(take - accepted), std::memory_order_acq_rel);
    }
    batch.Unclaim(accepted);
    if (status == FAIO_OK) status = FAIO_E_INSUFFICIENT_RESOURCES;
  }
#ifndef NDEBUG
  submitted_.fetch_add(static_cast<int64_t>(accepted));
#endif
  if (drain_due_.load(std::memory_order_relaxed)) backend_->Kick();
  *accepted_out = accepted;
  return status;
}

FAIO_ONE_CALLER size_t Context::Reserve(size_t n) {
  if (capacity_ == FAIO_UNLIMITED) {
    inflight_.fetch_add(static_cast<int64_t>(n), std::memory_order_acq_rel);
    return n;
  }
  size_t take;
  int64_t cur = inflight_.load(std::memory_order_relaxed);
  do {
    int64_t room = static_cast<int64_t>(capacity_) - cur;
    take = room <= 0 ? 0 : std::min<size_t>(n, static_cast<size_t>(room));
  } while (take > 0 && !inflight_.compare_exchange_weak(cur, cur + static_cast<int64_t>(take),
                                                        std::memory_order_acq_rel));
  return take;
}

// Hands the first `take` claimed requests of the batch to the host, in order;
// a flush splits the batch (the transfers before it go first). Stops at the
// first request the host does not take.
static_assert(Request::kFileLocal == platform::kNowLocal &&
                  Request::kFileMayHold == platform::kNowMayHold,
              "Request::file_bits are the file probe's bits");

FAIO_ONE_CALLER int Context::HandOver(const Batch& batch, size_t take, size_t* accepted) {
  int status = FAIO_OK;
  // kSingle (io_uring): a submit of one request, unless a callback of
  // faio_ctx_run makes it - those reach the host together when the callbacks
  // of the batch have returned, as one batch would.
  // (Asked of the thread only while a run is on: most submits make no call.)
  const std::thread::id runner = run_thread_.load(std::memory_order_relaxed);
  const bool in_run = runner != std::thread::id() && runner == std::this_thread::get_id();
  const bool do_now = do_now_ == DoNowPolicy::kAlways ||
                      (do_now_ == DoNowPolicy::kSingle && batch.size() == 1 && !in_run);
  bool flushed = false;  // a flush may have gone to the backend
  std::lock_guard<platform::Lock> lock(submit_mu_);
  Stage stage(this);
  for (size_t i = 0; i < take; ++i) {
    Request* r = batch[i];
    FileState* fs = files_.Get(r->file);
    if (fs == nullptr) {
      status = FAIO_E_NO_MEMORY;
      break;
    }
    r->seq32 = r->NextSeq32();
    r->ctx.store(handle, std::memory_order_relaxed);
    // What the file is, learnt once (three system calls) where it matters: for
    // transfers done at submission, for the threads waiter
    // (Request::LocalFile) and the threads pool (Request::MayHold).
    if (fs->now == 0 && probe_files_) fs->now = platform::ProbeNow(r->file) & probe_mask_;
    r->file_bits = fs->now;
    if (r->op.load(std::memory_order_relaxed) == Op::kFlush) {
      if (!stage.HandOver()) break;
      stage.Accept();
      SubmitFlush(r, fs);
      flushed = true;
      continue;
    }
    // Only while nothing is staged: what the host may refuse is then always
    // the batch's tail (the accepted prefix), and a batch whose first
    // transfers the host takes goes to it in one piece.
    if (do_now && stage.empty() && (fs->now & (platform::kNowRead | platform::kNowWrite)) != 0 &&
        DoNow(r, fs)) {
      stage.Accept();
      continue;
    }
    Epoch* e = FileTable::Track(fs, r);
    if (r->timeout_ms != 0) ArmDeadline(r, true, host_deadlines_);
    r->with_host = true;
    r->Publish();
    if (!stage.Add(r, e)) break;
  }
  if (!stage.HandOver()) status = FAIO_E_INSUFFICIENT_RESOURCES;
  *accepted = stage.accepted();
  // Submits from callbacks of faio_ctx_run reach the host together, once the
  // callbacks of the batch have returned (Run commits them): one system call
  // for a batch of resubmissions, as a plain wait loop would make.
  // Nothing to commit when every transfer was done at submission.
  if (!stage.handed() && !flushed) return status;
  if (in_run) {
    commit_due_ = true;
  } else {
    backend_->Commit();
  }
  return status;
}

// Under submit_mu_: a flush joins its file's barrier and goes to the host once
// the transfers before it are done; with a sticky error (or no memory for the
// barrier) it completes at once.
void Context::SubmitFlush(Request* r, FileState* fs) {
  if (r->timeout_ms != 0) ArmDeadline(r, true, false);
  r->with_host = false;
  int sticky = fs->sticky_status.load(std::memory_order_acquire);
  if (sticky != FAIO_OK || !files_.AddFlush(fs, r)) {
    r->fstate = fs;
    r->epoch = nullptr;
    r->Publish();
    if (sticky != FAIO_OK) {
      CompleteLocally(r, sticky, fs->sticky_host_error.load(std::memory_order_relaxed));
    } else {
      CompleteLocally(r, FAIO_E_NO_MEMORY, 0);
    }
    return;
  }
  r->Publish();
  flush_scratch_.clear();
  files_.Drain(fs, &flush_scratch_);
  IssueFlushes();
}

// Under submit_mu_: hand the flushes in flush_scratch_ to the host.
void Context::IssueFlushes() {
  for (const ReadyFlush& f : flush_scratch_) {
    Request* r = f.req;
    uint64_t w = r->word.load(std::memory_order_acquire);
    // Cancelled (and maybe submitted again) while it waited: not this one.
    if (StateOf(w) != kSubmitted || static_cast<uint32_t>(SeqOf(w)) != f.seq32) continue;
    int sticky = r->fstate->sticky_status.load(std::memory_order_acquire);
    if (sticky != FAIO_OK) {
      CompleteLocally(r, sticky, r->fstate->sticky_host_error.load(std::memory_order_relaxed));
      continue;
    }
    int host_error = 0;
    r->with_host = true;
    if (backend_->Enqueue(&r, 1, &host_error) != 1) {
      r->with_host = false;
      CompleteLocally(r, FAIO_E_INSUFFICIENT_RESOURCES, host_error);
    }
  }
  flush_scratch_.clear();
}

// Under submit_mu_, for a claimed transfer: makes it on this thread when its
// file allows (platform::TransferNow) and queues its completion for the next
// wait. It is never with the host, but it is counted in its file's epoch until
// a wait hands it out (TakeLocal): a flush submitted after it then comes back
// by that wait or a later one, never an earlier one (docs/contract.md, Flush).
bool Context::DoNow(Request* r, FileState* fs) {
  size_t bytes = 0;
  int err = 0;
  faio_buffer one;
  uint32_t nsegs = 0;
  const faio_buffer* segs = SegmentsOf(r, &one, &nsegs);
  const bool write = r->op.load(std::memory_order_relaxed) == Op::kWrite;
  if (!platform::TransferNow(r->file, write, segs, nsegs, r->len, r->offset, &fs->now, &bytes,
                             &err)) {
    return false;
  }
  // FAIO_CTX_FULL_TRANSFERS: a short write goes on here (a read made here is
  // never short: TransferNow leaves a partly cached one to the host).
  while (full_transfers_ && err == 0 && bytes != 0 && bytes < r->len) {
    Advance(r, bytes);
    r->done += bytes;
    bytes = 0;
    segs = SegmentsOf(r, &one, &nsegs);
    if (!platform::TransferNow(r->file, write, segs, nsegs, r->len, r->offset, &fs->now, &bytes,
                               &err)) {
      err = EAGAIN;  // the file stopped taking writes here (a stale probe)
      bytes = 0;
    }
  }
  FileTable::Count(FileTable::Track(fs, r), 1);
  r->with_host = false;
  r->status = err == 0 ? FAIO_OK : platform::StatusFromHostError(err);
  r->host_error = err;
  r->bytes = r->done + bytes;
  r->PublishDone();
  QueueLocal(r);
  return true;
}

void Context::DrainFlushes() {
  std::lock_guard<platform::Lock> lock(submit_mu_);
  flush_scratch_.clear();
  files_.DrainAll(&flush_scratch_);
  if (flush_scratch_.empty()) return;
  IssueFlushes();
  backend_->Commit();
}

void Context::CompleteLocally(Request* r, int status, int host_error, size_t bytes) {
  uint64_t w;
  if (!TakeForCompletion(r, r->seq32, &w)) return;  // a canceller took it
  if (full_transfers_ && status == FAIO_OK && bytes != 0 && bytes < r->len &&
      r->op.load(std::memory_order_relaxed) != Op::kFlush && ContinueLocked(r, bytes)) {
    return;  // FAIO_CTX_FULL_TRANSFERS: a host that finished a part at submission
  }
  r->status = status;
  r->host_error = host_error;
  r->bytes = r->done + (status == FAIO_OK ? bytes : 0);
  if (FileTable::Release(r)) drain_due_.store(true);
  QueueLocal(r);
}

bool Context::Continue(Request* r, size_t bytes) {
  try {
    continuing_.push_back(r);
  } catch (const std::bad_alloc&) {
    return false;
  }
  Advance(r, bytes);
  r->done += bytes;
  return true;
}

// Under submit_mu_ (CompleteLocally from a backend's Enqueue): as Continue, for
// a part the host finished at submission (IOCP's synchronous success, kernel
// AIO's fallback for files without it). The waiting thread submits the next
// part: the wait loop is told (continue_due_) and a blocked reaper woken.
bool Context::ContinueLocked(Request* r, size_t bytes) {
  try {
    continuing_locked_.push_back(r);
  } catch (const std::bad_alloc&) {
    return false;
  }
  Advance(r, bytes);
  r->done += bytes;
  continue_due_.store(true, std::memory_order_seq_cst);
  if (reaper_blocked_.load(std::memory_order_seq_cst)) backend_->Kick();
  Signal();  // an event loop must call a wait for it
  return true;
}

// Waiting thread: the next parts of full transfers go to the host, as one
// submission each under a new sequence number (a late event of the last part
// can never match). A part the host refuses completes the request with that
// refusal and the bytes before it.
void Context::ResubmitContinuing() {
  std::vector<Request*> refused;  // completed after the lock: see below
  {
    std::lock_guard<platform::Lock> lock(submit_mu_);
    if (continue_due_.exchange(false, std::memory_order_seq_cst)) {
      continuing_.insert(continuing_.end(), continuing_locked_.begin(), continuing_locked_.end());
      continuing_locked_.clear();
    }
    const uint64_t handle = this->handle;
    // A part the host finishes inside Enqueue goes to continuing_locked_ (and
    // comes back through the wait loop), never to continuing_.
    for (Request* r : continuing_) {
      r->seq32 = r->NextSeq32();
      r->ctx.store(handle, std::memory_order_relaxed);
      if (r->timeout_ms != 0) ArmDeadline(r, false, host_deadlines_);
      r->with_host = true;
      r->Publish();
      int host_error = 0;
      if (backend_->Enqueue(&r, 1, &host_error) != 1) {
        r->with_host = false;
        r->host_error = host_error;
        refused.push_back(r);
      }
    }
    continuing_.clear();
    backend_->Commit();
  }
  // A canceller may hold a refused part (kCancelling) and need the submit lock
  // for the host's answer (FreeBSD's backend): complete them without it.
  for (Request* r : refused) CompleteLocally(r, FAIO_E_INSUFFICIENT_RESOURCES, r->host_error);
}

FAIO_ONE_CALLER void Context::QueueLocal(Request* r) {
  PushFront(local_, r, &Request::next, std::memory_order_seq_cst);
  // Pairs with WaitHeld's store of reaper_blocked_ and load of local_: either
  // the waiter sees the request before it blocks, or this sees the waiter
  // blocked and kicks it. A drain due needs the waiter too.
  if (reaper_blocked_.load(std::memory_order_seq_cst) ||
      drain_due_.load(std::memory_order_relaxed)) {
    backend_->Kick();
  }
  Signal();
}

// Waiting thread only: hands out up to max requests of the local list, oldest
// first (what is left stays in local_ready_ for the next wait).
FAIO_ONE_CALLER size_t Context::TakeLocal(faio_req** out, size_t max) {
  if (local_ready_ == nullptr) {
    for (Request* r = TakeAll(local_); r != nullptr;) {  // newest first: reverse
      Request* next = r->next;
      r->next = local_ready_;
      local_ready_ = r;
      r = next;
    }
  }
  size_t n = 0;
  while (local_ready_ != nullptr && n < max) {
    Request* r = local_ready_;
    local_ready_ = r->next;
    // A transfer done at submission leaves its epoch now (CompleteLocally's
    // requests left theirs already).
    if (r->epoch != nullptr && FileTable::Release(r)) {
      drain_due_.store(true, std::memory_order_release);
    }
    r->MarkCompleted(r->word.load(std::memory_order_relaxed));
    out[n++] = HandleOf(r);
  }
  return n;
}

void Context::FlushOutcome(Request* r, int* status, int* host_error) {
  FileState* fs = r->fstate;
  if (IsStickyFlushError(*status)) {
    fs->sticky_host_error.store(*host_error, std::memory_order_relaxed);
    fs->sticky_status.store(*status, std::memory_order_release);
  } else if (int sticky = fs->sticky_status.load(std::memory_order_acquire); sticky != FAIO_OK) {
    *status = sticky;  // never a silent success after a lost write
    *host_error = fs->sticky_host_error.load(std::memory_order_relaxed);
  }
}

int Context::WaitHeld(size_t min, uint32_t timeout_ms, faio_req** out, size_t size,
                      uint32_t* count) {
  *count = 0;
  if (min == 0) min = 1;
  if (size > UINT32_MAX) size = UINT32_MAX;  // the count is 32-bit
  // The pollable handle is re-armed by every wait: reset before anything is
  // looked at, so a completion or wakeup that comes later makes it ready again
  // and one that came earlier is found by this wait (docs/contract.md, Event
  // loops and callbacks).
  const bool pollable = notify_on_.load(std::memory_order_acquire);
  if (pollable) {
    if (own_pollable_) {
      backend_->ResetPollable();
    } else {
      platform::ResetNotify(notify_);
    }
    notify_set_.exchange(false, std::memory_order_acq_rel);
  }
  const bool without_pending = (flags_ & FAIO_CTX_WAIT_WITHOUT_PENDING) != 0;
  if (!without_pending && inflight_.load(std::memory_order_acquire) == 0) {
    return FAIO_E_NO_REQUEST;
  }
  // A wait that begins with a wakeup pending reports it before it reaps
  // anything: completions already available stay for the next wait
  // (docs/contract.md, Wakeup). So a stream of completions cannot starve a
  // wakeup. Those completions keep the pollable handle ready.
  if (wakeup_pending_.load(std::memory_order_acquire) &&
      wakeup_pending_.exchange(false, std::memory_order_acq_rel)) {
    if (pollable) Signal();
    return FAIO_E_INTERRUPTED;
  }
  const bool indefinite = timeout_ms == FAIO_WAIT_INDEFINITE;
  const Clock::time_point deadline =
      indefinite ? Clock::time_point::max() : Clock::now() + std::chrono::milliseconds(timeout_ms);
  // Without the flag a wait never waits for more than can still come: what it
  // reaped plus what is still counted (cancels lower it while we wait).
  auto effective_min = [&](size_t reaped) -> size_t {
    if (without_pending) return min;
    size_t can_come = reaped + static_cast<size_t>(inflight_.load(std::memory_order_acquire));
    return std::min(min, can_come);
  };

  // Completions are handed out only with success (docs/contract.md, Wait): a
  // wait that holds reaped completions returns FAIO_OK with them, whatever
  // ended it (the minimum, the deadline or a wakeup, which then stays pending
  // for the next wait); TIMEOUT and INTERRUPTED come only with nothing reaped.
  size_t n = 0;
  int status;
  for (;;) {
    if (local_ready_ != nullptr || local_.load(std::memory_order_acquire) != nullptr) {
      size_t got = TakeLocal(out + n, size - n);
      Uncount(got, false);
      n += got;
    }
    size_t want = effective_min(n);
    // Met by requests done at submission, with nothing left at the host: the
    // host is not asked (one request at a time costs no reap).
    if (n > 0 && n >= want && inflight_.load(std::memory_order_acquire) == 0 &&
        !drain_due_.load(std::memory_order_acquire) && !backend_->OwesEvents()) {
      status = FAIO_OK;
      break;
    }
    bool block = n < want && !wakeup_pending_.load(std::memory_order_acquire) &&
                 (indefinite || Clock::now() < deadline);
    if (block) {
      reaper_blocked_.store(true, std::memory_order_seq_cst);
      if (local_.load(std::memory_order_seq_cst) != nullptr || local_ready_ != nullptr) {
        block = false;
      }
    }
    // The backend hands raw host completions; they are finished here. A full
    // chunk may leave more ready: collected at once, without blocking again.
    size_t got = 0;
    for (;;) {
      const size_t room = std::min(size - n - got, kReapChunk);
      const size_t raw = backend_->Reap(reap_buf_, room, block, deadline);
      block = false;
      for (size_t i = 0; i < raw; ++i) {
        if (Finish(reap_buf_[i])) out[n + got++] = HandleOf(reap_buf_[i].req);
      }
      if (raw < room || n + got == size) break;
    }
    reaper_blocked_.store(false, std::memory_order_relaxed);
    if (!continuing_.empty() || continue_due_.load(std::memory_order_acquire)) {
      ResubmitContinuing();
    }
    Uncount(got, false);
    n += got;
    ApplyReleases();
    if (drain_due_.exchange(false, std::memory_order_acq_rel)) DrainFlushes();
    if (n >= effective_min(n)) {
      // Met (n == 0 here only when every counted request was cancelled).
      status = n == 0 ? FAIO_E_NO_REQUEST : FAIO_OK;
      break;
    }
    if (wakeup_pending_.load(std::memory_order_acquire)) {
      if (n > 0) {
        status = FAIO_OK;  // the wakeup stays pending for the next wait
      } else {
        wakeup_pending_.exchange(false, std::memory_order_acq_rel);
        status = FAIO_E_INTERRUPTED;
      }
      break;
    }
    if (!indefinite && Clock::now() >= deadline) {
      status = n > 0 ? FAIO_OK : FAIO_E_TIMEOUT;
      break;
    }
  }
  *count = static_cast<uint32_t>(n);
  return status;
}

int Context::Run(size_t min, uint32_t timeout_ms, uint32_t* count) {
  if (count == nullptr) return FAIO_E_INVALID_PARAMETER;
  *count = 0;
  // The context counts as waited on while callbacks run: a wait or run on it
  // from a callback (or another thread) is FAIO_E_BUSY, a destroy too.
  bool expected = false;
  if (!waiting_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    return FAIO_E_BUSY;
  }
  if (min == 0) min = 1;
  run_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  const bool indefinite = timeout_ms == FAIO_WAIT_INDEFINITE;
  const Clock::time_point deadline =
      indefinite ? Clock::time_point::max() : Clock::now() + std::chrono::milliseconds(timeout_ms);
  constexpr size_t kBatch = 64;
  faio_req* got[kBatch];
  size_t done = 0;
  int status = FAIO_OK;
  for (;;) {
    uint32_t left_ms = 0;
    if (indefinite) {
      left_ms = FAIO_WAIT_INDEFINITE;
    } else {
      Clock::time_point now = Clock::now();
      if (now < deadline) {
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        left_ms = static_cast<uint32_t>(std::min<int64_t>(ms, FAIO_WAIT_INDEFINITE - 1));
      }
    }
    // One at a time: callbacks run as soon as completions come, not when the
    // whole minimum has (a callback's resubmission may be what the rest needs).
    uint32_t n = 0;
    int st = WaitHeld(1, left_ms, got, kBatch, &n);
    for (uint32_t i = 0; i < n; ++i) {
      Request* r = LookupRequest(got[i]);
      // Read before the call: the callback may set another one.
      faio_req_callback cb = r->callback;
      void* arg = r->callback_arg;
      if (cb != nullptr) cb(got[i], arg);
    }
    if (commit_due_) {
      commit_due_ = false;
      std::lock_guard<platform::Lock> lock(submit_mu_);
      backend_->Commit();
    }
    done += n;
    if (st != FAIO_OK) {
      // Nothing reaped by this round: done with what earlier rounds had. A
      // wakeup this round consumed stays pending for the next wait or run.
      if (st == FAIO_E_INTERRUPTED && done > 0) {
        wakeup_pending_.store(true, std::memory_order_release);
        Signal();
      }
      status = done > 0 ? FAIO_OK : st;
      break;
    }
    if (done >= min) break;
  }
  *count = static_cast<uint32_t>(std::min<size_t>(done, UINT32_MAX));
  run_thread_.store(std::thread::id(), std::memory_order_relaxed);
  waiting_.store(false, std::memory_order_release);
  return status;
}

int Context::Wakeup() {
  wakeup_pending_.store(true, std::memory_order_release);
  backend_->Kick();
  Signal();
  return FAIO_OK;
}

int Context::Pollable(faio_file* out) {
  if (out == nullptr) return FAIO_E_INVALID_PARAMETER;
  std::lock_guard<platform::Lock> lock(submit_mu_);
  if (notify_on_.load(std::memory_order_acquire)) {
    *out = pollable_;
    return FAIO_OK;
  }
  // Requests already with the host were handed over without the notice the
  // handle needs (an eventfd or event in their control block).
  if (!backend_->HasPollable()) return FAIO_E_NOT_SUPPORTED;
  if (inflight_.load(std::memory_order_acquire) != 0) return FAIO_E_BUSY;
  own_pollable_ = backend_->OwnsPollable();
  int err = 0;
  int st = own_pollable_ ? FAIO_OK : platform::OpenNotify(&notify_, &err);
  if (st != FAIO_OK) return st;
  faio_file f = platform::kInvalidFile;
  st = backend_->WatchPollable(notify_, &f);
  if (st != FAIO_OK) {
    if (!own_pollable_) platform::CloseNotify(&notify_);
    return st;
  }
  pollable_ = f;
  notify_on_.store(true, std::memory_order_release);
  // A wakeup may be pending already.
  if (wakeup_pending_.load(std::memory_order_acquire)) Signal();
  *out = f;
  return FAIO_OK;
}

int Context::Cancel(Request* r, uint64_t w) {
  // A flush the core still holds behind its barrier never reached the host.
  // `op` may belong to a newer description by now; then the word has moved on
  // and the compare-and-swap below fails.
  if (r->op.load(std::memory_order_relaxed) == Op::kFlush) {
    std::unique_lock<platform::Lock> lock(submit_mu_);
    uint64_t cur;
    if (!r->HoldForCancel(w, &cur)) {
      return StateOf(cur) == kCancelling ? FAIO_E_IN_PROGRESS : FAIO_E_COMPLETED;
    }
    if (!r->with_host) {
      r->status = FAIO_E_CANCELLED;
      r->host_error = 0;
      r->bytes = r->done;
      bool due = FileTable::Release(r);
      r->MarkCompleted(w);
      Uncount(1, true);
      if (due) {
        flush_scratch_.clear();
        files_.DrainAll(&flush_scratch_);
        IssueFlushes();
        backend_->Commit();
      }
      backend_->Kick();  // a waiter may now wait for one completion fewer
      return FAIO_OK;
    }
    r->Unhold(w);  // with the host: ask it below
  }
  // Hold the request while the host decides, so that a completion racing in
  // (the kernel's -ECANCELED event, say) cannot report it first: a cancelled
  // request is completed by its cancel, never by a wait.
  uint64_t cur;
  if (!r->HoldForCancel(w, &cur)) {
    return StateOf(cur) == kCancelling ? FAIO_E_IN_PROGRESS : FAIO_E_COMPLETED;
  }
  CancelOutcome outcome = backend_->Cancel(r, static_cast<uint32_t>(SeqOf(w)));
  HostHandBack(r);
  if (outcome != CancelOutcome::kCancelled) {
    r->Unhold(w);
    return outcome == CancelOutcome::kNotFound ? FAIO_E_COMPLETED : FAIO_E_IN_PROGRESS;
  }
  r->Finishing(w);
  r->status = FAIO_E_CANCELLED;
  r->host_error = 0;
  r->bytes = r->done;  // FAIO_CTX_FULL_TRANSFERS: what earlier parts moved
  bool due = FileTable::Release(r);
  r->MarkCompleted(w);
  Uncount(1, true);
  if (due) DrainFlushes();
  backend_->Kick();
  return FAIO_OK;
}

// Deadlines (faio_req_set_timeout). The entry names the submission Publish is
// about to make; the timer thread acts on it only after taking the submit lock
// (Expire), so never before the host has the request.
void Context::ArmDeadline(Request* r, bool first_part, bool host) {
  if (first_part) r->deadline_ns = timer::Now() + static_cast<int64_t>(r->timeout_ms) * 1000000;
  if (host) return;
  const uint64_t w = r->word.load(std::memory_order_relaxed);
  timer::Arm(r, MakeWord(SeqOf(w) + 1, kSubmitted), r->deadline_ns);
}

void Context::Expire(Request* r, uint64_t w) {
  uint64_t cur;
  {
    // The submit that armed the deadline holds this lock until the host has
    // the request (or has refused it: the word then no longer matches).
    std::lock_guard<platform::Lock> lock(submit_mu_);
    if (r->op.load(std::memory_order_relaxed) == Op::kFlush) {
      if (!r->HoldForCancel(w, &cur)) return;
      if (!r->with_host) {  // still behind its barrier: the core withdraws it
        TimedOut(r, w);
        return;
      }
      r->Unhold(w);
    }
  }
  // As Cancel: held while the host decides, so a completion racing in cannot
  // report it first.
  if (!r->HoldForCancel(w, &cur)) return;  // completed, or a canceller has it
  CancelOutcome outcome = backend_->Cancel(r, static_cast<uint32_t>(SeqOf(w)));
  HostHandBack(r);
  if (outcome != CancelOutcome::kCancelled) {
    r->Unhold(w);  // the host goes on with it: it completes normally
    return;
  }
  TimedOut(r, w);
}

void Context::TimedOut(Request* r, uint64_t held) {
  r->Finishing(held);
  r->status = FAIO_E_TIMEOUT;
  r->host_error = 0;
  r->bytes = r->done;  // FAIO_CTX_FULL_TRANSFERS: what earlier parts moved
  // A flush behind it may now go (the wait QueueLocal wakes drains it).
  if (FileTable::Release(r)) drain_due_.store(true, std::memory_order_release);
  QueueLocal(r);
}

int Context::AssociateFile(faio_file f) {
  int st = platform::CheckFile(f);
  return st != FAIO_OK ? st : backend_->AssociateFile(f);
}

int Context::RegisterBuffers(const faio_buffer* bufs, size_t count) {
  if (bufs == nullptr || count == 0) return FAIO_E_INVALID_PARAMETER;
  for (size_t i = 0; i < count; ++i) {
    if (bufs[i].base == nullptr || bufs[i].length == 0) return FAIO_E_INVALID_PARAMETER;
  }
  std::lock_guard<platform::Lock> lock(submit_mu_);
  if (buffers_registered_) return FAIO_E_INVALID_STATE;
  if (inflight_.load(std::memory_order_acquire) != 0) return FAIO_E_BUSY;
  int st = backend_->RegisterBuffers(bufs, count);
  if (st == FAIO_OK) buffers_registered_ = true;
  return st;
}

int Context::ClearError(faio_file f) {
  std::lock_guard<platform::Lock> lock(submit_mu_);
  if (FileState* fs = files_.Find(f)) {
    fs->sticky_status.store(FAIO_OK, std::memory_order_release);
    fs->sticky_host_error.store(0, std::memory_order_relaxed);
  }
  return FAIO_OK;
}

}  // namespace faio::detail
