// request.cc - request handles and the transitions a caller drives directly
// (create, prepare, destroy, result). Submission and completion live in
// context.cc.
#include "core/request.h"

#include <algorithm>
#include <new>

#include "core/context.h"
#include "core/handle_table.h"
#include "core/timer.h"

namespace faio::detail {
namespace {

RequestTable& Table() { return g_requests; }

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
  delete[] r->segs;  // the slot may go to a request that never needs one
  r->segs = nullptr;
  r->seg_cap = 0;
  r->nsegs = 0;
  Table().Free(r->handle);
  return FAIO_OK;
}

int PrepareVector(faio_req* h, Op op, faio_file f, int64_t off, const faio_buffer* bufs,
                  size_t count, void* user) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  uint64_t w = r->word.load(std::memory_order_acquire);
  State s = StateOf(w);
  if (!Preparable(s)) return s == kDead ? FAIO_E_INVALID_HANDLE : FAIO_E_IN_PROGRESS;
  if (bufs == nullptr || count == 0 || count > FAIO_MAX_SEGMENTS || off < 0) {
    return FAIO_E_INVALID_PARAMETER;
  }
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    if (bufs[i].base == nullptr || bufs[i].length == 0 || bufs[i].length > kMaxTransfer - total) {
      return FAIO_E_INVALID_PARAMETER;
    }
    total += bufs[i].length;
  }
  if (r->seg_cap < count) {
    // The caller owns a preparable request: nobody else reads segs now.
    uint32_t cap = count < 8 ? 8 : static_cast<uint32_t>(count);
    auto* grown = new (std::nothrow) faio_buffer[cap];
    if (grown == nullptr) return FAIO_E_NO_MEMORY;
    delete[] r->segs;
    r->segs = grown;
    r->seg_cap = cap;
  }
  std::copy(bufs, bufs + count, r->segs);
  return MoveToPrepared(r, op, f, off, nullptr, total, 0, user, static_cast<uint32_t>(count));
}

SegCut Cut(Request* r, size_t len) {
  SegCut c;
  c.len = r->len;
  if (r->nsegs != 0) {
    c.nsegs = r->nsegs;
    size_t at = 0;
    uint32_t i = 0;
    while (at + r->segs[i].length < len) at += r->segs[i++].length;
    c.last = i;
    c.last_len = r->segs[i].length;
    r->segs[i].length = len - at;
    r->nsegs = i + 1;
  }
  r->len = len;
  return c;
}

void Uncut(Request* r, const SegCut& c) {
  if (c.len == 0) return;
  if (c.nsegs != 0) {
    r->segs[c.last].length = c.last_len;
    r->nsegs = c.nsegs;
  }
  r->len = c.len;
}

void Advance(Request* r, size_t bytes) {
  r->offset += static_cast<int64_t>(bytes);
  r->len -= bytes;
  if (r->nsegs == 0) {
    r->buf = static_cast<unsigned char*>(r->buf) + bytes;
    return;
  }
  uint32_t i = 0;
  while (bytes >= r->segs[i].length) bytes -= r->segs[i++].length;
  r->segs[i].base = static_cast<unsigned char*>(r->segs[i].base) + bytes;
  r->segs[i].length -= bytes;
  if (i != 0) {
    std::copy(r->segs + i, r->segs + r->nsegs, r->segs);
    r->nsegs -= i;
  }
}

unsigned char* ByteAt(const Request* r, size_t at) {
  if (r->nsegs == 0) return static_cast<unsigned char*>(r->buf) + at;
  uint32_t i = 0;
  while (at >= r->segs[i].length) at -= r->segs[i++].length;
  return static_cast<unsigned char*>(r->segs[i].base) + at;
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

int SetTimeout(faio_req* h, uint32_t ms) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  State s = StateOf(r->word.load(std::memory_order_acquire));
  if (s == kDead) return FAIO_E_INVALID_HANDLE;
  if (s != kPrepared) return FAIO_E_INVALID_STATE;
  if (ms == 0 || ms == FAIO_WAIT_INDEFINITE) {
    r->timeout_ms = 0;
    return FAIO_OK;
  }
  int host_error = 0;
  if (int st = timer::Reserve(r, &host_error); st != FAIO_OK) return st;
  r->timeout_ms = ms;
  return FAIO_OK;
}

}  // namespace faio::detail
