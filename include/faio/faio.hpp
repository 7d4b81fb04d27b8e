// faio/faio.hpp - the C++20 interface of faio, a thin inline layer over faio.h.
//
// Context and Request own their C handles (RAII, move-only). Every control call
// returns a [[nodiscard]] Status or Result<T>; nothing throws. Timeouts and
// wakeups are ordinary statuses (Status::kTimeout, Status::kInterrupted).
//
// Threads: as in faio.h. A Context may be used from several threads at once
// (submit, cancel, wakeup), with one waiter at a time; a Request belongs to one
// thread at a time while it is not submitted.
//
// Coroutines: co_await ctx.Read/Write/Flush in a faio::Task, driven by
// faio::Drive or faio::Dispatch (see "Coroutines" below, and docs/event-loops.md).
//
// Buffers: std::span views of caller memory. The library never copies or frees
// them; a buffer must outlive the request's submission (until a wait returns the
// request or a cancel succeeds).
#ifndef FAIO_FAIO_HPP_
#define FAIO_FAIO_HPP_

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <thread>
#include <type_traits>
#include <utility>

#include "faio/faio.h"

namespace faio {

// Status mirrors the FAIO_E_* values of faio.h.
enum class Status : int {
  kOk = FAIO_OK,
  kInvalidParameter = FAIO_E_INVALID_PARAMETER,
  kInvalidHandle = FAIO_E_INVALID_HANDLE,
  kInvalidState = FAIO_E_INVALID_STATE,
  kNoMemory = FAIO_E_NO_MEMORY,
  kNotSupported = FAIO_E_NOT_SUPPORTED,
  kInProgress = FAIO_E_IN_PROGRESS,
  kNotSubmitted = FAIO_E_NOT_SUBMITTED,
  kCompleted = FAIO_E_COMPLETED,
  kCancelled = FAIO_E_CANCELLED,
  kBusy = FAIO_E_BUSY,
  kNoRequest = FAIO_E_NO_REQUEST,
  kTimeout = FAIO_E_TIMEOUT,
  kInterrupted = FAIO_E_INTERRUPTED,
  kInsufficientResources = FAIO_E_INSUFFICIENT_RESOURCES,
  kOutOfRange = FAIO_E_OUT_OF_RANGE,
  kIo = FAIO_E_IO,
  kDiskFull = FAIO_E_DISK_FULL,
  kFileTooBig = FAIO_E_FILE_TOO_BIG,
  kAccessDenied = FAIO_E_ACCESS_DENIED,
  kBadFile = FAIO_E_BAD_FILE,
  kHost = FAIO_E_HOST,
};

// ToString returns faio_strerror's constant phrase for s.
inline const char* ToString(Status s) noexcept { return faio_strerror(static_cast<int>(s)); }

// Result carries a status and, when ok(), a value.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(Status s) noexcept : status_(s), value_() {}  // NOLINT: implicit by design
  Result(Status s, T v) noexcept : status_(s), value_(std::move(v)) {}
  bool ok() const noexcept { return status_ == Status::kOk; }
  Status status() const noexcept { return status_; }
  // value() is the value when ok(); otherwise a value-initialized T.
  T& value() & noexcept { return value_; }
  T&& value() && noexcept { return std::move(value_); }
  const T& value() const& noexcept { return value_; }

 private:
  Status status_;
  T value_;
};

using File = faio_file;
using Millis = std::chrono::milliseconds;
// kIndefinite as a wait timeout never expires.
inline constexpr Millis kIndefinite{FAIO_WAIT_INDEFINITE};

// Request is an owned faio_req. Destroying a Request that is still submitted
// first tries to cancel it; if the host cannot cancel it the request's slot is
// leaked (never freed while the kernel may write into its buffer). Wait for or
// cancel your requests before they go out of scope.
class Request {
 public:
  // Create makes an idle request. Status: kOk, kNoMemory.
  static Result<Request> Create() noexcept {
    faio_req* r = nullptr;
    int s = faio_req_create(&r);
    if (s != FAIO_OK) return Result<Request>(static_cast<Status>(s));
    return Result<Request>(Status::kOk, Request(r));
  }

  Request() noexcept = default;
  // Adopt takes ownership of a C handle (which must come from faio_req_create).
  static Request Adopt(faio_req* r) noexcept { return Request(r); }
  Request(Request&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Request& operator=(Request&& o) noexcept {
    if (this != &o) {
      Reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request() { Reset(); }

  // PrepareRead/PrepareWrite/PrepareFlush: see faio_req_prepare_*.
  // Status: kOk, kInvalidParameter, kInProgress (submitted), kInvalidHandle.
  [[nodiscard]] Status PrepareRead(File f, int64_t off, std::span<std::byte> buf,
                                   void* user = nullptr) noexcept {
    return static_cast<Status>(faio_req_prepare_read(h_, f, off, buf.data(), buf.size(), user));
  }
  [[nodiscard]] Status PrepareWrite(File f, int64_t off, std::span<const std::byte> buf,
                                    void* user = nullptr) noexcept {
    return static_cast<Status>(faio_req_prepare_write(h_, f, off, buf.data(), buf.size(), user));
  }
  // PrepareReadv/PrepareWritev: one transfer through the segments in order (see
  // faio_req_prepare_readv); the span is copied, its memory must stay valid until
  // the request completes. Status as PrepareRead, and kNoMemory.
  [[nodiscard]] Status PrepareReadv(File f, int64_t off, std::span<const faio_buffer> segs,
                                    void* user = nullptr) noexcept {
    return static_cast<Status>(faio_req_prepare_readv(h_, f, off, segs.data(), segs.size(), user));
  }
  [[nodiscard]] Status PrepareWritev(File f, int64_t off, std::span<const faio_buffer> segs,
                                     void* user = nullptr) noexcept {
    return static_cast<Status>(faio_req_prepare_writev(h_, f, off, segs.data(), segs.size(), user));
  }
  // PrepareFlush with full=true asks for fsync (metadata) instead of fdatasync.
  [[nodiscard]] Status PrepareFlush(File f, void* user = nullptr, bool full = false) noexcept {
    return static_cast<Status>(
        faio_req_prepare_flush_ex(h_, f, full ? FAIO_FLUSH_FULL : FAIO_FLUSH_DATA, user));
  }
  // Cancel: kOk (cancelled), kCompleted, kInProgress, kNotSubmitted, kInvalidHandle.
  [[nodiscard]] Status Cancel() noexcept { return static_cast<Status>(faio_req_cancel(h_)); }
  // Outcome: the operation's status and the bytes transferred (see faio_req_result).
  [[nodiscard]] Result<size_t> Outcome() const noexcept {
    size_t n = 0;
    int s = faio_req_result(h_, &n);
    return Result<size_t>(static_cast<Status>(s), n);
  }
  // HostError: errno / Windows error of a failed request, else 0.
  int HostError() const noexcept { return faio_req_host_error(h_); }
  void* User() const noexcept { return faio_req_user(h_); }
  // SetCallback: faio_req_set_callback (for Context::Run). kInvalidState while
  // submitted. The callback must not throw (it is called from C).
  [[nodiscard]] Status SetCallback(faio_req_callback cb, void* arg) noexcept {
    return static_cast<Status>(faio_req_set_callback(h_, cb, arg));
  }
  // Timeout: faio_req_set_timeout - a deadline after submission, set after
  // prepare (every prepare removes it); zero: none. A request that passes it
  // completes with kTimeout where the host can withdraw it. Deadlines longer
  // than FAIO_WAIT_INDEFINITE - 1 ms are kOutOfRange, negative ones
  // kInvalidParameter.
  [[nodiscard]] Status Timeout(std::chrono::milliseconds d) noexcept {
    if (d.count() < 0) return Status::kInvalidParameter;
    if (d.count() >= static_cast<int64_t>(FAIO_WAIT_INDEFINITE)) return Status::kOutOfRange;
    return static_cast<Status>(faio_req_set_timeout(h_, static_cast<uint32_t>(d.count())));
  }
  faio_req* native() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  explicit Request(faio_req* r) noexcept : h_(r) {}
  void Reset() noexcept {
    if (h_ == nullptr) return;
    if (faio_req_destroy(h_) == FAIO_E_IN_PROGRESS && faio_req_cancel(h_) == FAIO_OK) {
      (void)faio_req_destroy(h_);
    }
    h_ = nullptr;
  }
  faio_req* h_ = nullptr;
};

// ---- Coroutines (C++20) ------------------------------------------------------
//
// `co_await ctx.Read(file, offset, span)` (and Write, Flush) suspends the calling
// coroutine until the request completes and yields the same Result<size_t> as
// Request::Outcome. A driver resumes the coroutines their completions wake:
// Drive(ctx, task) blocks in Context::Run until the task finishes; Dispatch(ctx)
// takes what is ready without blocking (call it when ctx.Pollable() is ready).
// docs/event-loops.md, "Coroutines", has the rules; in short:
//   - one thread drives a context's coroutines: they await, resume and are
//     destroyed on the thread that calls Drive/Dispatch/ResumeReady;
//   - coroutines resume after faio_ctx_run returns, never inside a faio callback,
//     and the operations they start while being resumed reach the host as one
//     batch per context (one submit) when the round ends;
//   - a coroutine destroyed while it awaits an operation cancels it; if the host
//     cannot withdraw it, the destructor drives the context until the operation is
//     over (its buffer must not be freed while the host may still write it);
//   - no allocation per operation once warm: each thread keeps its idle requests.
// Nothing here throws; a status is the operation's Result.

class IoOp;

namespace detail {

// OpList is an intrusive doubly linked FIFO of operations (ready or pending).
struct OpList {
  IoOp* head = nullptr;
  IoOp* tail = nullptr;
  bool empty() const noexcept { return head == nullptr; }
  inline void PushBack(IoOp* op) noexcept;
  inline IoOp* PopFront() noexcept;
  inline void Remove(IoOp* op) noexcept;
};

// CoThread is one thread's coroutine state: operations whose coroutine waits to
// be resumed (ready), operations prepared during a round and not yet handed to
// their context (pending), and idle requests to reuse.
struct CoThread {
  OpList ready;
  OpList pending;
  int rounds = 0;  // > 0 while ResumeReady/Start batch the operations they start
  faio_req* idle[64] = {};
  size_t idle_count = 0;

  faio_req* TakeRequest() noexcept {
    if (idle_count > 0) return idle[--idle_count];
    faio_req* r = nullptr;
    return faio_req_create(&r) == FAIO_OK ? r : nullptr;
  }
  void GiveRequest(faio_req* r) noexcept {
    if (idle_count < sizeof(idle) / sizeof(idle[0])) {
      idle[idle_count++] = r;
    } else {
      (void)faio_req_destroy(r);
    }
  }
  ~CoThread() {
    while (idle_count > 0) (void)faio_req_destroy(idle[--idle_count]);
  }
};

inline CoThread& ThisThread() noexcept {
  static thread_local CoThread t;
  return t;
}

}  // namespace detail

// IoOp is the awaitable that Context::Read/Write/Flush return; co_await it at
// once (it is neither copyable nor movable: its address is its request's
// callback argument).
class [[nodiscard]] IoOp {
 public:
  enum class Kind : uint8_t { kRead, kWrite, kFlush };

  IoOp(faio_ctx* ctx, Kind kind, File f, int64_t off, void* buf, size_t len, bool full) noexcept
      : ctx_(ctx), buf_(buf), len_(len), off_(off), file_(f), kind_(kind), full_(full) {}
  IoOp(const IoOp&) = delete;
  IoOp& operator=(const IoOp&) = delete;
  ~IoOp() {
    if (state_ != State::kIdle && state_ != State::kDone) Abandon();
  }

  bool await_ready() const noexcept { return false; }

  // Prepares the request and submits it (or, during a round, queues it for the
  // round's batch). Returns false - resume at once with the status - when the
  // request cannot be made, prepared or submitted.
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    detail::CoThread& t = detail::ThisThread();
    status_ = FAIO_OK;
    req_ = t.TakeRequest();
    if (req_ == nullptr) return Fail(FAIO_E_NO_MEMORY);
    int s = kind_ == Kind::kRead ? faio_req_prepare_read(req_, file_, off_, buf_, len_, nullptr)
            : kind_ == Kind::kWrite
                ? faio_req_prepare_write(req_, file_, off_, buf_, len_, nullptr)
                : faio_req_prepare_flush_ex(req_, file_, full_ ? FAIO_FLUSH_FULL : FAIO_FLUSH_DATA,
                                            nullptr);
    if (s == FAIO_OK) s = faio_req_set_callback(req_, &IoOp::OnDone, this);
    if (s != FAIO_OK) return Fail(s);
    waiter_ = h;
    if (t.rounds > 0) {
      state_ = State::kPending;
      t.pending.PushBack(this);
      return true;
    }
    s = faio_ctx_submit(ctx_, &req_, 1);
    if (s != FAIO_OK) return Fail(s);
    state_ = State::kSubmitted;
    return true;
  }

  Result<size_t> await_resume() noexcept {
    if (req_ == nullptr) {  // failed before the host had it
      state_ = State::kDone;
      return Result<size_t>(static_cast<Status>(status_));
    }
    size_t n = 0;
    int s = status_ != FAIO_OK ? status_ : faio_req_result(req_, &n);
    detail::ThisThread().GiveRequest(req_);
    req_ = nullptr;
    state_ = State::kDone;
    return Result<size_t>(static_cast<Status>(s), s == FAIO_OK ? n : 0);
  }

 private:
  friend struct detail::OpList;
  friend size_t ResumeReady();
  friend class Round;
  enum class State : uint8_t { kIdle, kPending, kSubmitted, kReady, kAbandoned, kDone };

  bool Fail(int s) noexcept {
    if (req_ != nullptr) detail::ThisThread().GiveRequest(req_);
    req_ = nullptr;
    status_ = s;
    state_ = State::kDone;
    return false;
  }

  // OnDone is the request's callback, called by faio_ctx_run: queue the
  // coroutine to be resumed (never resume it here), or tell an abandoning
  // destructor that the request is over.
  static void OnDone(faio_req*, void* arg) noexcept {
    auto* op = static_cast<IoOp*>(arg);
    if (op->state_ == State::kAbandoned) {
      op->state_ = State::kDone;
      return;
    }
    op->state_ = State::kReady;
    detail::ThisThread().ready.PushBack(op);
  }

  // Abandon: the awaiting coroutine is being destroyed before it resumed.
  void Abandon() noexcept {
    detail::CoThread& t = detail::ThisThread();
    if (state_ == State::kPending || state_ == State::kReady) {
      (state_ == State::kPending ? t.pending : t.ready).Remove(this);
    } else if (state_ == State::kSubmitted && faio_req_cancel(req_) != FAIO_OK) {
      // Completed or running: only a wait can end it. Drive the context (other
      // operations' callbacks only queue their coroutines) until it has.
      state_ = State::kAbandoned;
      const bool others_ready = !t.ready.empty();
      bool interrupted = false;
      while (state_ == State::kAbandoned) {
        uint32_t n = 0;
        int s = faio_ctx_run(ctx_, 1, FAIO_WAIT_INDEFINITE, &n);
        if (s == FAIO_E_BUSY) {
          // Another thread waits on the context (outside this layer's rules):
          // let it run the callback, then try again; do not free the buffer
          // before the operation is over.
          std::this_thread::yield();
        } else if (s == FAIO_E_INTERRUPTED) {
          interrupted = true;  // the caller's wakeup: given back below
        } else if (s != FAIO_OK && s != FAIO_E_TIMEOUT) {
          break;  // no request counted: nothing more can come
        }
      }
      // The runs above reset the context's pollable handle and may have taken
      // other coroutines' completions (now in the ready queue) or a wakeup: a
      // wakeup makes the handle ready again, so an event loop comes back to
      // resume them (and still sees its wakeup).
      if (interrupted || (!others_ready && !t.ready.empty())) (void)faio_ctx_wakeup(ctx_);
    }
    t.GiveRequest(req_);
    req_ = nullptr;
    state_ = State::kDone;
  }

  faio_ctx* ctx_;
  void* buf_;
  size_t len_;
  int64_t off_;
  File file_;
  Kind kind_;
  bool full_;
  // Atomic: OnDone may run on another thread's faio_ctx_run while a destructor
  // here waits for it (outside the one-thread rule, but never a data race).
  std::atomic<State> state_{State::kIdle};
  int status_ = FAIO_OK;
  faio_req* req_ = nullptr;
  std::coroutine_handle<> waiter_;
  IoOp* prev_ = nullptr;
  IoOp* next_ = nullptr;
};

namespace detail {
inline void OpList::PushBack(IoOp* op) noexcept {
  op->prev_ = tail;
  op->next_ = nullptr;
  (tail != nullptr ? tail->next_ : head) = op;
  tail = op;
}
inline IoOp* OpList::PopFront() noexcept {
  IoOp* op = head;
  if (op != nullptr) Remove(op);
  return op;
}
inline void OpList::Remove(IoOp* op) noexcept {
  (op->prev_ != nullptr ? op->prev_->next_ : head) = op->next_;
  (op->next_ != nullptr ? op->next_->prev_ : tail) = op->prev_;
  op->prev_ = op->next_ = nullptr;
}
}  // namespace detail

// Round batches the operations coroutines start while it lives: at its end each
// context gets its pending operations in one submit (requests it does not accept
// resume their coroutines with the submit's status in the next round). Drive,
// Dispatch and ResumeReady open one; open your own around code that starts
// several coroutines outside them.
class Round {
 public:
  // SubmitPending hands what this thread's open rounds have prepared to the
  // contexts now (Drive and Dispatch call it before they wait).
  static void SubmitPending() noexcept {
    detail::CoThread& t = detail::ThisThread();
    if (!t.pending.empty()) Flush(t);
  }
  Round() noexcept { ++detail::ThisThread().rounds; }
  Round(const Round&) = delete;
  Round& operator=(const Round&) = delete;
  ~Round() {
    detail::CoThread& t = detail::ThisThread();
    if (--t.rounds == 0) Flush(t);
  }

 private:
  static void Flush(detail::CoThread& t) noexcept {
    faio_req* batch[64];
    IoOp* ops[64];
    while (!t.pending.empty()) {
      faio_ctx* ctx = t.pending.head->ctx_;
      size_t n = 0;
      for (IoOp* op = t.pending.head; op != nullptr && n < 64;) {
        IoOp* next = op->next_;
        if (op->ctx_ == ctx) {
          t.pending.Remove(op);
          ops[n] = op;
          batch[n++] = op->req_;
        }
        op = next;
      }
      size_t accepted = 0;
      int s = faio_ctx_submit_ex(ctx, batch, n, &accepted);
      for (size_t i = 0; i < n; ++i) {
        if (i < accepted) {
          ops[i]->state_ = IoOp::State::kSubmitted;
        } else {  // resumes with the status next round
          ops[i]->status_ = s == FAIO_OK ? FAIO_E_INSUFFICIENT_RESOURCES : s;
          ops[i]->state_ = IoOp::State::kReady;
          t.ready.PushBack(ops[i]);
        }
      }
      // Refused ones wait in the ready queue: a wakeup brings the driver (or an
      // event loop, through the pollable handle) back to resume them.
      if (accepted < n) (void)faio_ctx_wakeup(ctx);
    }
  }
};

// ResumeReady resumes, on this thread, every coroutine whose operation a run on
// this thread has completed (oldest first); the operations they start go to
// their contexts as one batch each when it returns. Returns how many it resumed.
// An exception a resumed coroutine lets out (one that is not a Task's, which
// keeps it) passes through.
inline size_t ResumeReady() {
  detail::CoThread& t = detail::ThisThread();
  size_t resumed = 0;
  Round round;
  // Those queued now; what this round's submit refuses waits for the next pass
  // (a coroutine that retries at once would be refused again: nothing frees a
  // slot until the driver runs the context).
  IoOp* last = t.ready.tail;
  while (last != nullptr) {
    IoOp* op = t.ready.PopFront();
    if (op == nullptr) break;
    if (op == last) last = nullptr;
    op->waiter_.resume();
    ++resumed;
  }
  return resumed;
}

// Context flags (FAIO_CTX_*), or-ed into Options::flags; see faio.h.
inline constexpr uint32_t kWaitWithoutPending = FAIO_CTX_WAIT_WITHOUT_PENDING;
inline constexpr uint32_t kFixedFiles = FAIO_CTX_FIXED_FILES;
inline constexpr uint32_t kHostOnly = FAIO_CTX_HOST_ONLY;
inline constexpr uint32_t kFullTransfers = FAIO_CTX_FULL_TRANSFERS;

// Options for Context::Create; see faio_ctx_options.
struct Options {
  uint32_t capacity = 0;
  uint32_t flags = 0;
  uint32_t threads = 0;
  const char* backend = nullptr;  // nullptr/"auto": automatic (or FAIO_BACKEND)
};

// WaitOutcome: how many completions a successful wait wrote into the caller's
// array.
struct WaitOutcome {
  size_t count = 0;
};

// Context is an owned faio_ctx.
class Context {
 public:
  // Create: see faio_ctx_create_ex. Status: kOk, kInvalidParameter, kNotSupported,
  // kNoMemory, kInsufficientResources.
  static Result<Context> Create(const Options& o = {}) noexcept {
    faio_ctx_options opts;
    faio_ctx_options_init(&opts);
    opts.capacity = o.capacity;
    opts.flags = o.flags;
    opts.threads = o.threads;
    opts.backend = o.backend;
    faio_ctx* c = nullptr;
    int s = faio_ctx_create_ex(&c, &opts);
    if (s != FAIO_OK) return Result<Context>(static_cast<Status>(s));
    return Result<Context>(Status::kOk, Context(c));
  }

  Context() noexcept = default;
  Context(Context&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Context& operator=(Context&& o) noexcept {
    if (this != &o) {
      (void)Destroy();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  // The destructor destroys the context if it is idle; a context that still
  // counts requests is leaked rather than freed under the kernel's feet.
  ~Context() { (void)Destroy(); }

  // Destroy frees the context now. kOk, kBusy (requests in flight; still owned).
  [[nodiscard]] Status Destroy() noexcept {
    int s = faio_ctx_destroy(h_);
    if (s == FAIO_OK) h_ = nullptr;
    return static_cast<Status>(s);
  }

  // Submit a batch of prepared requests; see faio_ctx_submit.
  [[nodiscard]] Status Submit(std::span<faio_req* const> reqs) noexcept {
    return static_cast<Status>(
        faio_ctx_submit(h_, const_cast<faio_req**>(reqs.data()), reqs.size()));
  }
  [[nodiscard]] Status Submit(Request& r) noexcept {
    faio_req* h = r.native();
    return static_cast<Status>(faio_ctx_submit(h_, &h, 1));
  }

  // SubmitCounted is Submit that also says how many it took (the accepted
  // prefix: all of them with kOk, fewer with kInsufficientResources, none on
  // any other status); see faio_ctx_submit_ex.
  struct Submitted {
    Status status;
    size_t accepted;
  };
  [[nodiscard]] Submitted SubmitCounted(std::span<faio_req* const> reqs) noexcept {
    size_t accepted = 0;
    int s = faio_ctx_submit_ex(h_, const_cast<faio_req**>(reqs.data()), reqs.size(), &accepted);
    return {static_cast<Status>(s), accepted};
  }

  // Wait reaps at least `min` completions into `out` (no allocation); see
  // faio_ctx_wait. Completions come only with kOk (possibly fewer than `min`,
  // when the timeout or a wakeup ended the wait after some were reaped); every
  // other status carries a count of 0 (docs/contract.md, Wait).
  [[nodiscard]] Result<WaitOutcome> Wait(size_t min, std::span<faio_req*> out,
                                         Millis timeout = kIndefinite) noexcept {
    uint32_t n = 0;
    uint32_t ms = timeout.count() < 0 ? 0
                  : timeout.count() >= static_cast<int64_t>(FAIO_WAIT_INDEFINITE)
                      ? FAIO_WAIT_INDEFINITE
                      : static_cast<uint32_t>(timeout.count());
    int s = faio_ctx_wait(h_, min, ms, out.data(), out.size(), &n);
    if (s != FAIO_OK) return Result<WaitOutcome>(static_cast<Status>(s));
    return Result<WaitOutcome>(Status::kOk, WaitOutcome{n});
  }

  // Run: faio_ctx_run - a wait that calls each completed request's callback;
  // the value is how many it dispatched (kOk), else a status with 0.
  [[nodiscard]] Result<size_t> Run(size_t min, Millis timeout = kIndefinite) noexcept {
    uint32_t n = 0;
    uint32_t ms = timeout.count() < 0 ? 0
                  : timeout.count() >= static_cast<int64_t>(FAIO_WAIT_INDEFINITE)
                      ? FAIO_WAIT_INDEFINITE
                      : static_cast<uint32_t>(timeout.count());
    int s = faio_ctx_run(h_, min, ms, &n);
    return Result<size_t>(static_cast<Status>(s), s == FAIO_OK ? n : 0);
  }

  // Pollable: faio_ctx_pollable - the handle an event loop watches; when it is
  // ready, Wait or Run with timeout 0 until one returns no completion.
  [[nodiscard]] Result<File> Pollable() noexcept {
    File f{};
    int s = faio_ctx_pollable(h_, &f);
    return Result<File>(static_cast<Status>(s), f);
  }

  // Read, Write, Flush: awaitable operations for coroutines (see IoOp above):
  //   Result<size_t> r = co_await ctx.Read(file, offset, span);
  // The buffer must stay valid until the co_await returns.
  IoOp Read(File f, int64_t off, std::span<std::byte> buf) noexcept {
    return IoOp(h_, IoOp::Kind::kRead, f, off, buf.data(), buf.size(), false);
  }
  IoOp Write(File f, int64_t off, std::span<const std::byte> buf) noexcept {
    return IoOp(h_, IoOp::Kind::kWrite, f, off, const_cast<std::byte*>(buf.data()), buf.size(),
                false);
  }
  // Flush with full=true asks for fsync (metadata) instead of fdatasync.
  IoOp Flush(File f, bool full = false) noexcept {
    return IoOp(h_, IoOp::Kind::kFlush, f, 0, nullptr, 0, full);
  }

  // Wakeup interrupts the waiter (or the next wait). Any thread; never blocks.
  [[nodiscard]] Status Wakeup() noexcept { return static_cast<Status>(faio_ctx_wakeup(h_)); }
  [[nodiscard]] Status AssociateFile(File f) noexcept {
    return static_cast<Status>(faio_ctx_associate_file(h_, f));
  }
  // RegisterBuffers: faio_ctx_register_buffers (kNotSupported where the backend
  // has no such notion; carry on without).
  [[nodiscard]] Status RegisterBuffers(std::span<const faio_buffer> bufs) noexcept {
    return static_cast<Status>(faio_ctx_register_buffers(h_, bufs.data(), bufs.size()));
  }
  [[nodiscard]] Status ClearError(File f) noexcept {
    return static_cast<Status>(faio_ctx_clear_error(h_, f));
  }
  uint32_t Capacity() const noexcept { return faio_ctx_capacity(h_); }
  const char* Backend() const noexcept { return faio_ctx_backend(h_); }
  faio_ctx* native() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }

 private:
  explicit Context(faio_ctx* c) noexcept : h_(c) {}
  faio_ctx* h_ = nullptr;
};

// ---- Tasks and the driver ------------------------------------------------------

template <typename T = void>
class Task;

namespace detail {

struct PromiseBase {
  std::coroutine_handle<> continuation;
  std::exception_ptr error;
  bool started = false;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct Final {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      std::coroutine_handle<> c = h.promise().continuation;
      return c ? c : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  Final final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <typename T>
struct Promise : PromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace detail

// Task<T> is a lazy coroutine: it starts when first awaited or Start()ed, and
// resumes its awaiter when it finishes. Destroying a Task destroys its coroutine
// (an operation it awaits is cancelled; see IoOp). Start several Tasks, then
// co_await each, to run them at the same time. An exception the coroutine lets
// out is kept and thrown again by co_await / Get.
template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(Handle h) noexcept : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool Done() const noexcept { return !h_ || h_.done(); }
  // Start runs the task until it first suspends (once; later calls do nothing).
  void Start() {
    if (h_ && !h_.promise().started) {
      h_.promise().started = true;
      Round round;
      h_.resume();
    }
  }
  // Get is what the finished task returned (it throws what the task let out).
  T Get() {
    if (h_.promise().error) std::rethrow_exception(h_.promise().error);
    if constexpr (!std::is_void_v<T>) return std::move(*h_.promise().value);
  }

  auto operator co_await() noexcept {
    struct Awaiter {
      Handle h;
      // The awaiting coroutine destroyed while this task runs: the task must
      // not resume it when it finishes.
      ~Awaiter() {
        if (h && !h.done() && h.promise().continuation) h.promise().continuation = nullptr;
      }
      bool await_ready() const noexcept { return h.done(); }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> waiter) noexcept {
        h.promise().continuation = waiter;
        if (h.promise().started) return std::noop_coroutine();
        h.promise().started = true;
        return h;
      }
      T await_resume() {
        if (h.promise().error) std::rethrow_exception(h.promise().error);
        if constexpr (!std::is_void_v<T>) return std::move(*h.promise().value);
      }
    };
    return Awaiter{h_};
  }

 private:
  Handle h_;
};

namespace detail {
template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

// Drive starts task (if it has not started) and runs ctx on this thread -
// Context::Run, then ResumeReady - until the task is done. kOk when it is done;
// kNoRequest when it is not but nothing is counted on ctx (it awaits something
// else); otherwise the failing Run's status (kBusy: another thread waits on ctx).
// Coroutines awaiting operations on other contexts are resumed only when those
// contexts are driven (Dispatch them from the same thread).
template <typename T>
Status Drive(Context& ctx, Task<T>& task) {
  task.Start();
  detail::CoThread& t = detail::ThisThread();
  for (;;) {
    (void)ResumeReady();
    if (task.Done()) return Status::kOk;
    Round::SubmitPending();  // Drive called inside a round: its operations go now
    // Coroutines still queued (refused by a full context): look, do not block.
    Result<size_t> r = ctx.Run(1, t.ready.empty() ? kIndefinite : Millis(0));
    if (!r.ok() && r.status() != Status::kInterrupted && r.status() != Status::kTimeout &&
        !(r.status() == Status::kNoRequest && !t.ready.empty())) {
      return r.status();
    }
  }
}

// Dispatch takes every completion ctx has now (Context::Run with timeout 0
// until none comes, the rule for a ready pollable handle) and resumes the
// coroutines they wake. Returns how many completions it took, or the failing
// Run's status (not kTimeout / kInterrupted / kNoRequest, which end the drain).
inline Result<size_t> Dispatch(Context& ctx) {
  Round::SubmitPending();
  size_t n = 0;
  Status failed = Status::kOk;
  for (;;) {
    Result<size_t> r = ctx.Run(1, Millis(0));
    if (r.ok()) {
      n += r.value();
      continue;
    }
    if (r.status() != Status::kTimeout && r.status() != Status::kInterrupted &&
        r.status() != Status::kNoRequest) {
      failed = r.status();
    }
    break;
  }
  (void)ResumeReady();  // what the runs took is resumed whatever ended them
  if (failed != Status::kOk) return Result<size_t>(failed);
  return Result<size_t>(Status::kOk, n);
}

}  // namespace faio

#endif  // FAIO_FAIO_HPP_
