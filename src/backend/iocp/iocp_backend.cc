// iocp_backend.cc - see iocp_backend.h.
//
// Submission: each read or write takes an IoOp (an OVERLAPPED and what its
// completion needs) from a pool the backend owns, and is issued at once with
// ReadFile/WriteFile at the OVERLAPPED's offset. An IoOp never lives in the
// request: after a cancel the aborted packet may still sit in the port while the
// caller already submits the request again, and a second submission must not
// reuse the OVERLAPPED a queued packet points to.
//
// Association. On a file's first submit of each Enqueue call (or through
// faio_ctx_associate_file) the handle is associated with the port; the backend
// then sets FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, so a transfer that completes
// synchronously posts no packet and is completed at once. Where that mode could
// not be set, a synchronous success still posts its packet, which the reaper
// takes like any other. A synchronous failure never posts one. A handle that is
// associated with another port already (another context's, even a destroyed
// one's: an association cannot be undone) is served through an event instead: the
// OVERLAPPED's event (low bit set, so the other port sees nothing) is waited for
// by the system thread pool, which posts the packet to our port.
//
// Completion: GetQueuedCompletionStatusEx on the waiting thread, with the
// deadline as its timeout. A packet's status is the OVERLAPPED's NTSTATUS;
// end of file (ERROR_HANDLE_EOF) and a pipe whose writer closed
// (ERROR_BROKEN_PIPE) are a zero-byte read, as on POSIX hosts.
//
// Wakeup: PostQueuedCompletionStatus with kWakeKey. At most one wake packet is
// in the port (kick_posted_), so kicks coalesce; a packet stays until a Reap
// takes it, so a kick is sticky.
//
// Cancel: CancelIoEx of the one OVERLAPPED, then a bounded wait for the I/O to
// finish. If it ended with STATUS_CANCELLED the request is cancelled and its one
// aborted packet is consumed internally: the IoOp becomes an orphan the reaper
// drops when the packet arrives (or, when the reaper took the packet already,
// the core's Finish of its raw completion finds the request completed by the
// cancel). Otherwise the
// completion is real and a wait reports it.
//
// Pollable handle (faio_ctx_pollable): the core's manual-reset event, set only
// after a completion's packet is in the port. It cannot ride on the transfers'
// OVERLAPPEDs: ReadFile/WriteFile reset an OVERLAPPED's event as they start, which
// would clear the readiness of completions already waiting. So once the handle
// exists, every transfer is served as event-served handles are (its own event,
// low bit set so no packet of the kernel's; the system thread pool's wait posts
// the packet) and the wait's callback sets the handle after posting; the flush
// worker does the same. One thread-pool wait per transfer: the price of the
// handle, paid only by contexts that asked for it.
//
// Flush: FlushFileBuffers on a worker thread (the core issues a flush only once
// the file's earlier transfers completed); the worker posts the result to the
// port with kFlushKey. A queued flush can be cancelled; a running one cannot.
#include "backend/iocp/iocp_backend.h"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <winternl.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backend/backend_util.h"
#include "core/context.h"
#include "core/intrusive_list.h"
#include "core/lockfree_stack.h"
#include "core/stable_array.h"
#include "platform/host.h"

namespace faio::detail {
namespace {

// Completion keys.
constexpr ULONG_PTR kIoKey = 1;     // our ReadFile/WriteFile (and event-served ones)
constexpr ULONG_PTR kWakeKey = 2;   // Kick
constexpr ULONG_PTR kFlushKey = 3;  // the flush worker's result

constexpr ULONG kReapBatch = 64;

#ifndef STATUS_PENDING
constexpr LONG kStatusPending = 0x00000103;
#else
constexpr LONG kStatusPending = static_cast<LONG>(STATUS_PENDING);
#endif
constexpr LONG kStatusCancelled = static_cast<LONG>(0xC0000120);
// FileModeInformation (NtQueryInformationFile): a handle opened without
// FILE_FLAG_OVERLAPPED has one of these modes.
constexpr int kFileModeInformation = 16;
constexpr ULONG kFileSynchronousIoAlert = 0x10;
constexpr ULONG kFileSynchronousIoNonalert = 0x20;
// ... and one opened with FILE_FLAG_NO_BUFFERING this one.
constexpr ULONG kFileNoIntermediateBuffering = 0x8;

// An IoOp's life. kStaged: given to a submission, not issued yet. kInFlight: with
// the host, its packet to come. kOrphaned: cancelled; its packet will be
// dropped. kDone: completed without a packet (synchronously). kFree: in the pool.
enum OpState : uint32_t { kFree, kStaged, kInFlight, kOrphaned, kDone, kCancelledEarly };
// A flush IoOp's phase with the worker (guarded by flush_mu_).
enum FlushPhase : uint32_t { kQueued, kRunning, kPosted };

struct IoOp {
  OVERLAPPED ov = {};  // first: a packet's lpOverlapped is the IoOp
  Request* req = nullptr;
  // (seq32 << 32) | request index of the submission it serves: a canceller
  // checks it before touching the IoOp.
  std::atomic<uint64_t> owner{0};
  std::atomic<uint32_t> state{kFree};
  HANDLE file = nullptr;
  uint32_t seq32 = 0;
  bool read = false;
  bool flush = false;
  // Event-served transfers (a handle associated with another port).
  HANDLE event = nullptr;
  HANDLE wait = nullptr;
  HANDLE port = nullptr;
  HANDLE notify = nullptr;  // the pollable handle's event, set after the packet is posted
  // Flush worker.
  uint32_t phase = kQueued;  // guarded by flush_mu_
  DWORD flush_error = 0;
  IoOp* qnext = nullptr;  // flush queue, guarded by flush_mu_
  IoOp* qprev = nullptr;
  IoOp* pool_next = nullptr;
  uint32_t index = 0;  // in the backend's table (Request::backend_data names it)
  // A vectored transfer. ReadFileScatter/WriteFileGather take a list of whole
  // pages of an unbuffered handle: where every segment is page-aligned and a
  // multiple of the page, `pages` lists them (one element per page, then a null
  // one) and Windows moves the data. Any other vector goes through one
  // contiguous copy (backend_util.h). Both kept for the IoOp's next vector.
  std::vector<FILE_SEGMENT_ELEMENT> pages;
  Bounce bounce;
  bool bounced = false;  // this transfer's data is in `bounce`
};

// Each backend's IoOps are named in Request::backend_data by (id << 32 | index);
// ids are unique in the process, so a value another context (or backend) left in
// a reused request never resolves here.
std::atomic<uint32_t> g_next_backend_id{1};

LONG Status(const OVERLAPPED& ov) {
  return static_cast<LONG>(*reinterpret_cast<const volatile ULONG_PTR*>(&ov.Internal));
}

// HandleMode: the handle's FileModeInformation flags (0 when unknown).
ULONG HandleMode(HANDLE h) {
  IO_STATUS_BLOCK iosb = {};
  ULONG mode = 0;
  NTSTATUS st = NtQueryInformationFile(h, &iosb, &mode, sizeof(mode),
                                       static_cast<FILE_INFORMATION_CLASS>(kFileModeInformation));
  return st >= 0 ? mode : 0;
}
// Opened without FILE_FLAG_OVERLAPPED.
bool IsSynchronous(ULONG mode) {
  return (mode & (kFileSynchronousIoAlert | kFileSynchronousIoNonalert)) != 0;
}

// PageSize: the unit of ReadFileScatter/WriteFileGather.
size_t PageSize() {
  static const size_t page = [] {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return static_cast<size_t>(si.dwPageSize);
  }();
  return page;
}

// PagesOf lists r's vector page by page in *pages (then a null element) when
// every segment is page-aligned and a whole number of pages; false otherwise,
// or when memory is short.
bool PagesOf(const Request* r, std::vector<FILE_SEGMENT_ELEMENT>* pages) {
  const size_t page = PageSize();
  if (r->len % page != 0) return false;
  for (uint32_t i = 0; i < r->nsegs; ++i) {
    const faio_buffer& b = r->segs[i];
    if (b.length % page != 0 || reinterpret_cast<uintptr_t>(b.base) % page != 0) return false;
  }
  try {
    pages->resize(r->len / page + 1);
  } catch (const std::bad_alloc&) {
    return false;
  }
  FILE_SEGMENT_ELEMENT* e = pages->data();
  for (uint32_t i = 0; i < r->nsegs; ++i) {
    const auto* at = static_cast<const unsigned char*>(r->segs[i].base);
    for (size_t k = 0; k < r->segs[i].length; k += page) {
      (e++)->Alignment = static_cast<ULONGLONG>(reinterpret_cast<uintptr_t>(at + k));
    }
  }
  e->Alignment = 0;
  return true;
}

// How a file is served, decided when it is associated.
enum class Mode : uint8_t { kPort, kEvent, kRefused };
struct FileInfo {
  Mode mode = Mode::kRefused;
  bool skip_on_success = false;  // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is ours
  bool unbuffered = false;       // FILE_FLAG_NO_BUFFERING: vectors of whole pages go native
  int status = FAIO_OK;          // kRefused: why
  DWORD error = 0;
};

class IocpBackend final : public Backend {
 public:
  explicit IocpBackend(const BackendParams& p)
      : ctx_(p.ctx),
        submit_mu_(p.submit_mu),
        capacity_(p.capacity == 0 ? FAIO_UNLIMITED : p.capacity),
        id_(g_next_backend_id.fetch_add(1, std::memory_order_relaxed)) {
    // FAIO_IOCP_SKIP_ON_SUCCESS=0 leaves synchronous successes to post their
    // packet (the mode a caller's own handles may be in); for tests.
    const char* skip = getenv("FAIO_IOCP_SKIP_ON_SUCCESS");
    use_skip_ = skip == nullptr || strcmp(skip, "0") != 0;
  }

  ~IocpBackend() override {
    if (worker_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(flush_mu_);
        stop_ = true;
      }
      flush_cv_.notify_all();
      worker_.join();
    }
    // Event-served Ops may have a registered wait whose callback is still to
    // run (an orphan's); wait for each, then drop whatever is in the port.
    uint32_t count = op_count_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < count; ++i) {
      IoOp* op = At(i);
      if (op->wait != nullptr) UnregisterWaitEx(op->wait, INVALID_HANDLE_VALUE);
      op->wait = nullptr;
      if (op->event != nullptr) CloseHandle(op->event);
    }
    if (port_ != nullptr) CloseHandle(port_);
    ops_.FreeAll();
  }

  bool Init(Unavailable* why) {
    port_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    if (port_ == nullptr) {
      DWORD e = GetLastError();
      why->status = FAIO_E_INSUFFICIENT_RESOURCES;
      why->host_error = static_cast<int>(e);
      why->reason = "CreateIoCompletionPort failed (error " + std::to_string(e) + ")";
      return false;
    }
    try {
      worker_ = std::thread([this] { FlushWorker(); });
    } catch (...) {
      why->status = FAIO_E_INSUFFICIENT_RESOURCES;
      why->reason = "could not start the flush thread";
      return false;
    }
    return true;
  }

  const char* name() const override { return "iocp"; }
  uint32_t capacity() const override { return capacity_; }

  size_t Enqueue(Request* const* reqs, size_t n, int* host_error) override {
    HANDLE last = nullptr;
    FileInfo info;
    for (size_t i = 0; i < n; ++i) {
      Request* r = reqs[i];
      IoOp* op = Get();
      if (op == nullptr) {
        *host_error = ERROR_NOT_ENOUGH_MEMORY;
        return i;
      }
      op->req = r;
      op->seq32 = r->seq32;
      op->file = r->file;
      op->flush = r->op == Op::kFlush;
      op->read = r->op == Op::kRead;
      op->owner.store(SubmissionTag(r->seq32, r), std::memory_order_relaxed);
      op->state.store(kStaged, std::memory_order_relaxed);
      r->backend_data.store((uint64_t{id_} << 32) | op->index, std::memory_order_release);
      if (op->flush) {
        QueueFlush(op);
        continue;
      }
      if (i == 0 || r->file != last) {
        last = r->file;
        info = Associate(r->file);
      }
      Issue(op, info);
    }
    return n;
  }

  void Commit() override {}

  size_t Reap(HostCompletion* out, size_t max, bool may_block,
              Clock::time_point deadline) override {
    PoolReaped();
    size_t n = 0;
    bool woken = false;
    OVERLAPPED_ENTRY entries[kReapBatch];
    // GetQueuedCompletionStatusEx returns at once when entries are queued, so
    // the first call may block: it blocks only when there is nothing.
    bool block = may_block && !ctx_->ReapShouldReturn();
    for (;;) {
      DWORD timeout = 0;
      if (block) {
        if (deadline == Clock::time_point::max()) {
          timeout = INFINITE;
        } else {
          auto left = deadline - Clock::now();
          if (left > Clock::duration::zero()) {
            // Round up, so a wait never ends just before its deadline.
            auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
            timeout =
                ms >= static_cast<long long>(INFINITE) ? INFINITE - 1 : static_cast<DWORD>(ms);
          }
        }
      }
      size_t room = max - n;
      ULONG ask = room < kReapBatch ? static_cast<ULONG>(room) : kReapBatch;
      if (ask == 0) break;
      ULONG got = 0;
      if (!GetQueuedCompletionStatusEx(port_, entries, ask, &got, timeout, FALSE)) {
        got = 0;
        if (GetLastError() != WAIT_TIMEOUT) break;  // the core's loop decides
      }
      for (ULONG i = 0; i < got; ++i) Take(entries[i], out, &n, &woken);
      // Fewer than asked: that was all (or the one block ended). A full batch:
      // sweep the rest without blocking.
      if (got < ask || n >= max || woken) break;
      block = false;
    }
    return n;
  }

  bool HasPollable() const override { return true; }
  int WatchPollable(const platform::Notify& n, faio_file* out) override {
    notify_ = n;
    notify_on_.store(true, std::memory_order_release);
    *out = n.wait;
    return FAIO_OK;
  }

  void Kick() override {
    if (kick_posted_.exchange(true, std::memory_order_acq_rel)) return;  // one is queued
    if (!PostQueuedCompletionStatus(port_, 0, kWakeKey, nullptr)) {
      kick_posted_.store(false, std::memory_order_release);
    }
  }

  CancelOutcome Cancel(Request* r, uint32_t seq32) override {
    // The core holds submission seq32 in kCancelling, so its IoOp cannot go back
    // to the pool while we look at it (its completion waits for our verdict).
    IoOp* op = Lookup(r->backend_data.load(std::memory_order_acquire));
    if (op == nullptr || op->owner.load(std::memory_order_acquire) != SubmissionTag(seq32, r)) {
      return CancelOutcome::kInProgress;  // not staged yet: the submit is still under way
    }
    if (op->flush) return CancelFlush(op);
    uint32_t s = kStaged;
    if (op->state.compare_exchange_strong(s, kCancelledEarly, std::memory_order_acq_rel)) {
      return CancelOutcome::kCancelled;  // Enqueue sees it and never issues it
    }
    if (s != kInFlight) return CancelOutcome::kNotFound;  // completed synchronously
    if (!CancelIoEx(op->file, &op->ov)) {
      // ERROR_NOT_FOUND: no longer pending; its packet is queued or taken.
      return GetLastError() == ERROR_NOT_FOUND ? CancelOutcome::kNotFound
                                               : CancelOutcome::kInProgress;
    }
    // Cancellation is asynchronous: wait (briefly) for the I/O to end.
    auto give_up = Clock::now() + std::chrono::seconds(2);
    while (Status(op->ov) == kStatusPending) {
      if (Clock::now() >= give_up) return CancelOutcome::kInProgress;  // a wait reports it
      Sleep(0);
    }
    if (Status(op->ov) != kStatusCancelled) return CancelOutcome::kNotFound;
    // Cancelled. If the reaper has not taken the packet yet, it drops it when it
    // does (orphan); if it has, the core's Finish of its raw completion waits
    // for our verdict and finds the request completed by this cancel. Either
    // way the one aborted packet is consumed without a second completion.
    s = kInFlight;
    op->state.compare_exchange_strong(s, kOrphaned, std::memory_order_acq_rel);
    return CancelOutcome::kCancelled;
  }

  int AssociateFile(faio_file f) override {
    std::lock_guard<platform::Lock> lock(*submit_mu_);
    FileInfo info = Associate(f);
    return info.mode == Mode::kRefused ? info.status : FAIO_OK;
  }

 private:
  // ---- IoOp pool (Get and free_ under the submit lock; returned_ from anywhere) ----
  IoOp* Get() {
    if (free_ == nullptr) free_ = TakeAll(returned_);
    if (free_ != nullptr) {
      IoOp* op = free_;
      free_ = op->pool_next;
      return op;
    }
    uint32_t index = op_count_.load(std::memory_order_relaxed);
    IoOp* op = ops_.Grow(index);
    if (op == nullptr) return nullptr;
    op->index = index;
    op->port = port_;
    op_count_.store(index + 1, std::memory_order_release);
    return op;
  }
  IoOp* At(uint32_t index) const { return ops_.At(index); }
  // Lookup resolves a Request::backend_data value; nullptr when it is not ours.
  IoOp* Lookup(uint64_t data) const {
    if ((data >> 32) != id_) return nullptr;
    uint32_t index = static_cast<uint32_t>(data);
    if (index >= op_count_.load(std::memory_order_acquire)) return nullptr;
    return At(index);
  }
  void PutLocked(IoOp* op) {
    op->state.store(kFree, std::memory_order_relaxed);
    op->pool_next = free_;
    free_ = op;
  }
  void PutAnywhere(IoOp* op) {
    op->state.store(kFree, std::memory_order_relaxed);
    PushFront(returned_, op, &IoOp::pool_next);
  }

  // ---- association (submit lock) ------------------------------------------------
  FileInfo Associate(HANDLE h) {
    FileInfo info;
    if (CreateIoCompletionPort(h, port_, kIoKey, 0) != nullptr) {
      const ULONG mode = HandleMode(h);  // once per handle: the record keeps it
      info.unbuffered = (mode & kFileNoIntermediateBuffering) != 0;
      if (IsSynchronous(mode)) {
        info.mode = Mode::kRefused;
        info.status = FAIO_E_NOT_SUPPORTED;
      } else {
        info.mode = Mode::kPort;
        info.skip_on_success = use_skip_ && SetFileCompletionNotificationModes(
                                                h, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS);
      }
      Remember(h, info);
      return info;
    }
    DWORD e = GetLastError();
    if (e == ERROR_INVALID_PARAMETER) {
      // Associated already: with our port (we did it earlier) or another one.
      auto it = files_.find(h);
      if (it != files_.end() && it->second.mode == Mode::kPort) return it->second;
      const ULONG mode = HandleMode(h);
      info.unbuffered = (mode & kFileNoIntermediateBuffering) != 0;
      if (IsSynchronous(mode)) {
        info.mode = Mode::kRefused;
        info.status = FAIO_E_NOT_SUPPORTED;
      } else {
        info.mode = Mode::kEvent;
      }
      Remember(h, info);
      return info;
    }
    info.mode = Mode::kRefused;
    info.error = e;
    info.status = platform::StatusFromHostError(static_cast<int>(e));
    return info;
  }
  void Remember(HANDLE h, const FileInfo& info) {
    try {
      files_[h] = info;
    } catch (...) {
      // Without the record a later submit asks again: kPort files then look
      // foreign and are served through events. Still correct.
    }
  }

  // ---- issuing a transfer (submit lock) -------------------------------------------
  void Issue(IoOp* op, const FileInfo& info) {
    Request* r = op->req;
    uint32_t s = kStaged;
    if (!op->state.compare_exchange_strong(s, kInFlight, std::memory_order_acq_rel)) {
      PutLocked(op);  // cancelled before we got here; the canceller completed it
      return;
    }
    if (info.mode == Mode::kRefused) {
      Complete(op, info.status, static_cast<int>(info.error), 0);
      return;
    }
    // With a pollable handle every transfer is event-served (file comment).
    const bool pollable = notify_on_.load(std::memory_order_acquire);
    const Mode mode = pollable ? Mode::kEvent : info.mode;
    op->notify = pollable ? notify_.signal : nullptr;
    op->ov = OVERLAPPED{};
    op->ov.Offset = static_cast<DWORD>(static_cast<uint64_t>(r->offset));
    op->ov.OffsetHigh = static_cast<DWORD>(static_cast<uint64_t>(r->offset) >> 32);
    if (mode == Mode::kEvent) {
      if (op->event == nullptr) op->event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
      if (op->event == nullptr) {
        DWORD e = GetLastError();
        Complete(op, platform::StatusFromHostError(static_cast<int>(e)), static_cast<int>(e), 0);
        return;
      }
      ResetEvent(op->event);
      op->ov.hEvent = reinterpret_cast<HANDLE>(reinterpret_cast<uintptr_t>(op->event) | 1);
    }
    void* buf = r->buf;
    const bool native = r->nsegs != 0 && info.unbuffered && PagesOf(r, &op->pages);
    op->bounced = r->nsegs != 0 && !native;
    if (op->bounced) {
      if (!op->bounce.Fit(r->len)) {
        Complete(op, FAIO_E_NO_MEMORY, ERROR_NOT_ENOUGH_MEMORY, 0);
        return;
      }
      if (!op->read) op->bounce.Gather(r);
      buf = op->bounce.data();
    }
    DWORD len = static_cast<DWORD>(r->len);  // the core bounds it (0x7ffff000)
    BOOL ok;
    if (native) {
      ok = op->read ? ReadFileScatter(op->file, op->pages.data(), len, nullptr, &op->ov)
                    : WriteFileGather(op->file, op->pages.data(), len, nullptr, &op->ov);
    } else {
      ok = op->read ? ReadFile(op->file, buf, len, nullptr, &op->ov)
                    : WriteFile(op->file, buf, len, nullptr, &op->ov);
    }
    DWORD e = ok ? ERROR_SUCCESS : GetLastError();
    if (!ok && e == ERROR_IO_PENDING) {
      if (mode == Mode::kEvent) Watch(op);
      return;  // its packet comes to Reap
    }
    if (ok) {
      sync_completions_.fetch_add(1, std::memory_order_relaxed);
      // A synchronous success posts a packet unless the handle skips it.
      if (mode == Mode::kPort && !info.skip_on_success) return;
      size_t bytes = static_cast<size_t>(op->ov.InternalHigh);
      if (op->read && op->bounced) op->bounce.Scatter(r, bytes);
      Complete(op, FAIO_OK, 0, bytes);
      return;
    }
    // A synchronous failure posts nothing.
    int err = Outcome(op->read, e);
    Complete(op, err == 0 ? FAIO_OK : platform::StatusFromHostError(err), err, 0);
  }

  // Complete finishes a transfer that will get no packet (submit lock).
  void Complete(IoOp* op, int status, int err, size_t bytes) {
    op->state.store(kDone, std::memory_order_release);
    ctx_->CompleteLocally(op->req, status, err, bytes);
    PutLocked(op);
  }

  // Watch has the system thread pool post the packet of an event-served IoOp.
  void Watch(IoOp* op) {
    HANDLE wait = nullptr;
    if (RegisterWaitForSingleObject(&wait, op->event, &IocpBackend::OnEvent, op, INFINITE,
                                    WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
      op->wait = wait;
      return;
    }
    // No wait could be registered: wait here. Rare (resources); the transfer is
    // under way and must be reported.
    WaitForSingleObject(op->event, INFINITE);
    OnEvent(op, FALSE);
  }
  static VOID CALLBACK OnEvent(PVOID param, BOOLEAN) {
    auto* op = static_cast<IoOp*>(param);
    HANDLE notify = op->notify;  // read first: once posted, the op may be reused
    while (!PostQueuedCompletionStatus(op->port, 0, kIoKey, &op->ov)) Sleep(1);
    if (notify != nullptr) SetEvent(notify);
  }

  // Outcome turns a transfer's Windows error into the request's result.
  // The host error code of a transfer's outcome (0: success; the end of the
  // file is a short, zero-byte read).
  static int Outcome(bool read, DWORD e) {
    if (e == ERROR_SUCCESS || e == ERROR_HANDLE_EOF || (read && e == ERROR_BROKEN_PIPE)) return 0;
    return static_cast<int>(e);
  }

  // ---- reaping (waiting thread) ------------------------------------------------------
  void Take(const OVERLAPPED_ENTRY& e, HostCompletion* out, size_t* n, bool* woken) {
    if (e.lpCompletionKey == kWakeKey) {
      kick_posted_.store(false, std::memory_order_release);
      *woken = true;
      return;
    }
    auto* op = reinterpret_cast<IoOp*>(e.lpOverlapped);
    if (op == nullptr) return;
    Request* r = op->req;
    uint32_t seq32 = op->seq32;
    int err = 0;
    size_t bytes = 0;
    if (e.lpCompletionKey == kFlushKey) {
      err = static_cast<int>(op->flush_error);
    } else {
      if (op->wait != nullptr) {
        UnregisterWaitEx(op->wait, nullptr);  // its callback has run: it posted this
        op->wait = nullptr;
      }
      LONG st = Status(op->ov);
      DWORD werr = st >= 0 ? ERROR_SUCCESS : RtlNtStatusToDosError(st);
      err = Outcome(op->read, werr);
      if (werr == ERROR_SUCCESS) bytes = static_cast<size_t>(op->ov.InternalHigh);
    }
    uint32_t prev = op->state.exchange(kFree, std::memory_order_acq_rel);
    // A vectored read's data is in the bounce; an orphaned one's request is
    // the caller's again (a cancel took it): its segments are not touched.
    if (prev != kOrphaned && op->read && bytes != 0 && op->bounced) op->bounce.Scatter(r, bytes);
    if (prev != kOrphaned) out[(*n)++] = HostCompletion{r, seq32, HostResult(err, bytes)};
    // Pooled at the next Reap, after the core has finished this completion: a
    // canceller may look at the op until then.
    op->pool_next = reaped_ops_;
    reaped_ops_ = op;
  }
  // Waiting thread: pools the ops of the last Reap's completions.
  void PoolReaped() {
    while (IoOp* op = reaped_ops_) {
      reaped_ops_ = op->pool_next;
      PutAnywhere(op);
    }
  }

  // ---- flushes -------------------------------------------------------------------------
  void QueueFlush(IoOp* op) {
    op->state.store(kInFlight, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(flush_mu_);
      op->phase = kQueued;
      flushes_.PushBack(op);
    }
    flush_cv_.notify_one();
  }

  CancelOutcome CancelFlush(IoOp* op) {
    {
      std::lock_guard<std::mutex> lock(flush_mu_);
      if (op->phase == kRunning) return CancelOutcome::kInProgress;
      if (op->phase == kPosted) return CancelOutcome::kNotFound;
      flushes_.Remove(op);
    }
    PutAnywhere(op);
    return CancelOutcome::kCancelled;
  }

  void FlushWorker() {
    for (;;) {
      IoOp* op;
      {
        std::unique_lock<std::mutex> lock(flush_mu_);
        flush_cv_.wait(lock, [this] { return stop_ || !flushes_.empty(); });
        if (flushes_.empty()) return;  // stopping, and nothing left
        op = flushes_.PopFront();
        op->phase = kRunning;
      }
      op->flush_error = FlushFileBuffers(op->file) ? ERROR_SUCCESS : GetLastError();
      {
        std::lock_guard<std::mutex> lock(flush_mu_);
        op->phase = kPosted;
      }
      while (!PostQueuedCompletionStatus(port_, 0, kFlushKey, &op->ov)) Sleep(1);
      if (notify_on_.load(std::memory_order_acquire)) platform::SignalNotify(notify_);
    }
  }

  Context* const ctx_;
  platform::Lock* const submit_mu_;
  const uint32_t capacity_;
  const uint32_t id_;
  bool use_skip_ = true;
  HANDLE port_ = nullptr;

  // Under the submit lock.
  IoOp* free_ = nullptr;
  std::unordered_map<HANDLE, FileInfo> files_;
  std::atomic<IoOp*> returned_{nullptr};  // IoOps given back by the reaper or a canceller
  IoOp* reaped_ops_ = nullptr;            // waiting thread only: see Take
  // Every IoOp this backend made, in chunks that stay until it is destroyed (a
  // canceller may resolve a stale index at any time).
  StableArray<IoOp, 8, 1u << 14> ops_;  // 4 Mi IoOps per context, never moved
  std::atomic<uint32_t> op_count_{0};

  platform::Notify notify_;  // set once, before notify_on_, with nothing in flight
  std::atomic<bool> notify_on_{false};
  std::atomic<bool> kick_posted_{false};
  // Transfers that completed synchronously (ReadFile/WriteFile returned TRUE).
  std::atomic<uint64_t> sync_completions_{0};

  std::thread worker_;
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  IntrusiveList<IoOp, &IoOp::qnext, &IoOp::qprev> flushes_;  // guarded by flush_mu_
  bool stop_ = false;                                        // guarded by flush_mu_
};

}  // namespace

bool ProbeIocpBackend(Unavailable* why) {
  HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (port == nullptr) {
    DWORD e = GetLastError();
    why->status = FAIO_E_NOT_SUPPORTED;
    why->host_error = static_cast<int>(e);
    why->reason = "CreateIoCompletionPort failed (error " + std::to_string(e) + ")";
    return false;
  }
  CloseHandle(port);
  return true;
}

std::unique_ptr<Backend> CreateIocpBackend(const BackendParams& p, Unavailable* why) {
  return MakeWithInit<IocpBackend>(why, p);
}

}  // namespace faio::detail
