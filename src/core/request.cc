// request.cc - request handles and the transitions a caller drives directly
// (create, prepare, destroy, result). Submission and completion live in
// context.cc.
#include "core/request.h"

#include "core/context.h"
#include "core/handle_table.h"

namespace faio::detail {
namespace {

// Linux never transfers more than this in one call (MAX_RW_COUNT); we keep the
// same bound everywhere so a request means the same on every host.
constexpr size_t kMaxTransfer = 0x7ffff000;

RequestTable& Table() { return g_requests; }

// Moves a request that is not submitted into kPrepared under the caller's
// description. Returns kInProgress when it is submitted (or racing a submit).
int MoveToPrepared(Request* r, Op op, faio_file f, int64_t off, void* buf, size_t len,
                   uint32_t flush_flags, void* user) {
  // The caller owns a request that is not submitted (faio.h), so no atomic
  // read-modify-write is needed: a load to refuse submitted requests, the
  // description, then a release store that publishes it to a later submit.
  uint64_t w = r->word.load(std::memory_order_acquire);
  State s = StateOf(w);
  if (s != kIdle && s != kPrepared && s != kCompleted) {
    return s == kDead ? FAIO_E_INVALID_HANDLE : FAIO_E_IN_PROGRESS;
  }
  r->op.store(op, std::memory_order_relaxed);
  r->file = f;
  r->offset = off;
  r->buf = buf;
  r->len = len;
  r->flush_flags = flush_flags;
  r->user = user;
  r->status = 0;
  r->host_error = 0;
  r->bytes = 0;
  r->word.store(MakeWord(SeqOf(w), kPrepared), std::memory_order_release);
  return FAIO_OK;
}

}  // namespace

constinit RequestTable g_requests;

int CreateRequest(faio_req** out) {
  if (out == nullptr) return FAIO_E_INVALID_PARAMETER;
  *out = nullptr;
  uint64_t handle = 0;
  auto* slot = Table().Alloc(&handle);
  if (slot == nullptr) return FAIO_E_NO_MEMORY;
  Request* r = &slot->obj;
  // The sequence number survives reuse of the slot, so a stale kernel event of a
  // previous owner can never match a new submission.
  uint64_t seq = SeqOf(r->word.load(std::memory_order_relaxed));
  r->op.store(Op::kNone, std::memory_order_relaxed);
  r->user = nullptr;
  r->callback = nullptr;  // a recycled slot must not call its last owner's
  r->callback_arg = nullptr;
  r->status = 0;
  r->host_error = 0;
  r->bytes = 0;
  r->ctx.store(0, std::memory_order_relaxed);
  r->next = r->prev = nullptr;
  r->handle = handle;
  r->index = RequestTable::IndexOf(handle);
  r->word.store(MakeWord(seq, kIdle), std::memory_order_release);
  *out = reinterpret_cast<faio_req*>(static_cast<uintptr_t>(handle));
  return FAIO_OK;
}

int DestroyRequest(faio_req* h) {
  if (h == nullptr) return FAIO_OK;
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  uint64_t w = r->word.load(std::memory_order_acquire);
  for (;;) {
    State s = StateOf(w);
    if (s == kDead) return FAIO_E_INVALID_HANDLE;
    if (s != kIdle && s != kPrepared && s != kCompleted) return FAIO_E_IN_PROGRESS;
    if (r->word.compare_exchange_weak(w, MakeWord(SeqOf(w), kDead), std::memory_order_acq_rel)) {
      break;
    }
  }
  Table().Free(r->handle);
  return FAIO_OK;
}

int PrepareTransfer(faio_req* h, Op op, faio_file f, int64_t off, void* buf, size_t len,
                    void* user) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  if (len == 0 || len > kMaxTransfer || off < 0 || buf == nullptr) {
    State s = StateOf(r->word.load(std::memory_order_acquire));
    if (s == kClaimed || s == kSubmitted || s == kCancelling || s == kFinishing) {
      return FAIO_E_IN_PROGRESS;
    }
    return FAIO_E_INVALID_PARAMETER;
  }
  return MoveToPrepared(r, op, f, off, buf, len, 0, user);
}

int PrepareFlush(faio_req* h, faio_file f, uint32_t flags, void* user) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  if ((flags & ~FAIO_FLUSH_FULL) != 0) {
    State s = StateOf(r->word.load(std::memory_order_acquire));
    if (s == kClaimed || s == kSubmitted || s == kCancelling || s == kFinishing) {
      return FAIO_E_IN_PROGRESS;
    }
    return FAIO_E_INVALID_PARAMETER;
  }
  return MoveToPrepared(r, Op::kFlush, f, 0, nullptr, 0, flags, user);
}

int RequestResult(const faio_req* h, size_t* transferred) {
  if (transferred != nullptr) *transferred = 0;
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  switch (StateOf(r->word.load(std::memory_order_acquire))) {
    case kIdle:
    case kPrepared:
      return FAIO_E_NOT_SUBMITTED;
    case kCompleted:
      if (transferred != nullptr && r->status == FAIO_OK) *transferred = r->bytes;
      return r->status;
    case kDead:
      return FAIO_E_INVALID_HANDLE;
    default:
      return FAIO_E_IN_PROGRESS;
  }
}

int RequestHostError(const faio_req* h) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return 0;
  if (StateOf(r->word.load(std::memory_order_acquire)) != kCompleted) return 0;
  return r->host_error;
}

void* RequestUser(const faio_req* h) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return nullptr;
  State s = StateOf(r->word.load(std::memory_order_acquire));
  if (s == kIdle || s == kDead || s == kClaimed) return nullptr;
  return r->user;
}

int CancelRequest(faio_req* h) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  uint64_t w = r->word.load(std::memory_order_acquire);
  State s = StateOf(w);
  if (s == kFinishing) return FAIO_E_COMPLETED;
  if (s == kCancelling) return FAIO_E_IN_PROGRESS;  // another cancel is deciding
  if (s != kSubmitted) return s == kDead ? FAIO_E_INVALID_HANDLE : FAIO_E_NOT_SUBMITTED;
  ContextPin pin(r->ctx.load(std::memory_order_relaxed));
  if (!pin) {
    // Its context is gone, so this submission was reaped (a context that
    // counts a request cannot be destroyed) and the request moved on.
    s = StateOf(r->word.load(std::memory_order_acquire));
    if (s == kCancelling) return FAIO_E_IN_PROGRESS;
    if (s == kSubmitted || s == kFinishing) return FAIO_E_COMPLETED;  // a newer submission
    return s == kDead ? FAIO_E_INVALID_HANDLE : FAIO_E_NOT_SUBMITTED;
  }
  return pin->Cancel(r, w);
}

int SetCallback(faio_req* h, faio_req_callback cb, void* arg) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  State s = StateOf(r->word.load(std::memory_order_acquire));
  if (s != kIdle && s != kPrepared && s != kCompleted) return FAIO_E_INVALID_STATE;
  r->callback = cb;
  r->callback_arg = cb == nullptr ? nullptr : arg;
  return FAIO_OK;
}

}  // namespace faio::detail
