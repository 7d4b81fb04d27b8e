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
// Buffers: std::span views of caller memory. The library never copies or frees
// them; a buffer must outlive the request's submission (until a wait returns the
// request or a cancel succeeds).
#ifndef FAIO_FAIO_HPP_
#define FAIO_FAIO_HPP_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
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

}  // namespace faio

#endif  // FAIO_FAIO_HPP_
