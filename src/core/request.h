// request.h - the library's side of a faio_req: its description, its outcome and
// its state machine.
//
// The state and a submission sequence number share one atomic word so that every
// transition is a single compare-and-swap. That is what lets a cancel on one
// thread and a reap on another race for the same request safely: whoever moves
// it out of kSubmitted owns its completion, and a completion that names an older
// submission (a kernel event for a request that was cancelled and then submitted
// again) no longer matches and is dropped.
#ifndef FAIO_SRC_CORE_REQUEST_H_
#define FAIO_SRC_CORE_REQUEST_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/handle_table.h"
#include "faio/faio.h"

namespace faio::detail {

class Context;
struct Epoch;
struct FileState;

enum class Op : uint8_t { kNone, kRead, kWrite, kFlush };

enum State : uint8_t {
  kIdle,
  kPrepared,
  kClaimed,     // being validated by a submit; reverts to kPrepared or moves on
  kSubmitted,   // owned by a context
  kCancelling,  // a canceller is asking the host to withdraw it
  kFinishing,   // a reaper or a canceller won it and is writing its outcome
  kCompleted,
  kDead,  // destroyed (its handle no longer resolves)
};

inline constexpr uint64_t MakeWord(uint64_t seq, State s) { return (seq << 8) | s; }
inline constexpr State StateOf(uint64_t w) { return static_cast<State>(w & 0xFF); }
inline constexpr uint64_t SeqOf(uint64_t w) { return w >> 8; }

struct Request {
  std::atomic<uint64_t> word{MakeWord(0, kIdle)};

  // Named transitions of the word, each one store (where only one thread can
  // be moving the request: the caller's own, or one a submit has claimed) or
  // one compare-and-swap (where a canceller or a reaper may race):
  //
  //   Claim          kPrepared  -> kClaimed     a submit validates it
  //   Unclaim        kClaimed   -> kPrepared    the submit did not take it
  //   Publish        kClaimed   -> kSubmitted   under the next sequence number
  //   PublishDone    kClaimed   -> kFinishing   ... done by the submitter itself
  //                                             (Context::DoNow), its outcome written
  //   Withdraw       kSubmitted -> kClaimed     the host refused it at once
  //                                             (under the submit lock)
  //   HoldForCancel  kSubmitted -> kCancelling  compare-and-swap
  //   Unhold         kCancelling -> kSubmitted  the host did not withdraw it
  //   Finishing      kCancelling -> kFinishing  it did: the canceller completes it
  //   TakeForCompletion (context.h)             kSubmitted -> kFinishing, CAS
  //   MarkCompleted  (held) -> kCompleted
  void Claim(uint64_t prepared) {
    word.store(MakeWord(SeqOf(prepared), kClaimed), std::memory_order_relaxed);
  }
  void Unclaim() {
    uint64_t w = word.load(std::memory_order_relaxed);
    word.store(MakeWord(SeqOf(w), kPrepared), std::memory_order_release);
  }
  // NextSeq32: the backends' cookie of the submission Publish will make.
  uint32_t NextSeq32() const {
    return static_cast<uint32_t>(SeqOf(word.load(std::memory_order_relaxed)) + 1);
  }
  // Publish: everything a completion reads is written before (a completion may
  // race in on another thread at once).
  void Publish() {
    uint64_t w = word.load(std::memory_order_relaxed);
    word.store(MakeWord(SeqOf(w) + 1, kSubmitted), std::memory_order_release);
  }
  // PublishDone: a submission the submitter made itself; no canceller or
  // reaper can take it (a cancel answers *completed*), the next wait hands it
  // out (MarkCompleted).
  void PublishDone() {
    uint64_t w = word.load(std::memory_order_relaxed);
    word.store(MakeWord(SeqOf(w) + 1, kFinishing), std::memory_order_release);
  }
  void Withdraw() {
    uint64_t w = word.load(std::memory_order_relaxed);
    word.store(MakeWord(SeqOf(w), kClaimed), std::memory_order_relaxed);
  }
  // HoldForCancel moves submission `submitted` to kCancelling; on failure
  // *now holds what the word was.
  bool HoldForCancel(uint64_t submitted, uint64_t* now) {
    *now = submitted;
    return word.compare_exchange_strong(*now, MakeWord(SeqOf(submitted), kCancelling),
                                        std::memory_order_acq_rel);
  }
  // Unhold gives a held request back to its submission (kCancelling ->
  // kSubmitted): the host did not withdraw it.
  void Unhold(uint64_t submitted) { word.store(submitted, std::memory_order_release); }
  // Finishing: a held request is the holder's to complete (kCancelling ->
  // kFinishing).
  void Finishing(uint64_t held) {
    word.store(MakeWord(SeqOf(held), kFinishing), std::memory_order_relaxed);
  }
  void MarkCompleted(uint64_t held) {
    word.store(MakeWord(SeqOf(held), kCompleted), std::memory_order_release);
  }

  // Description (written by prepare, read by the backend while submitted).
  // `op` is atomic because a canceller reads it before it owns the request.
  std::atomic<Op> op{Op::kNone};
  uint32_t flush_flags = 0;
  faio_file file{};
  int64_t offset = 0;
  void* buf = nullptr;  // a single-buffer transfer's memory; null when vectored
  size_t len = 0;       // the transfer's length (a vectored one's total)
  // A vectored transfer (faio_req_prepare_readv/_writev): segs[0..nsegs), the
  // request's own copy (grown, never shrunk, freed when the request is
  // destroyed). nsegs 0: a single buffer, buf/len.
  faio_buffer* segs = nullptr;
  uint32_t nsegs = 0;
  uint32_t seg_cap = 0;
  // FAIO_CTX_FULL_TRANSFERS: bytes the earlier parts of this transfer moved (the
  // description then names what is left: Advance). 0 from every prepare.
  size_t done = 0;
  // faio_req_set_timeout: the deadline in ms after submission (0: none), reset
  // by every prepare; deadline_ns is when it falls (core/timer.h's clock), set
  // by the submit (a full transfer's later parts keep it).
  uint32_t timeout_ms = 0;
  int64_t deadline_ns = 0;
  // The timer's entry for this request (core/timer.cc), guarded by its lock:
  // its place in the heap (-1: none), whether the heap has room for it, the
  // submission it names and when it fires.
  int32_t timer_pos = -1;
  bool timer_reserved = false;
  uint64_t timer_word = 0;
  int64_t timer_at = 0;
  void* user = nullptr;
  // faio_req_set_callback: kept across prepares; changed only while the
  // request is not submitted, read by faio_ctx_run after it completed.
  faio_req_callback callback = nullptr;
  void* callback_arg = nullptr;

  // Outcome (written by the winner of the kSubmitted -> kFinishing transition).
  int32_t status = 0;
  int32_t host_error = 0;
  size_t bytes = 0;

  // While submitted: the context's handle. Atomic: a canceller reads it before
  // it owns the request (a newer submission may be writing it), and pins the
  // context through it (core/context.h, ContextPin) rather than trusting a
  // pointer to a context that may be destroyed meanwhile.
  std::atomic<uint64_t> ctx{0};
  FileState* fstate = nullptr;
  Epoch* epoch = nullptr;
  uint32_t seq32 = 0;      // low 32 bits of the submission sequence (backend cookie)
  bool with_host = false;  // handed to the backend (a flush may wait in the core)
  // What its file is (platform::kNow* bits of the file's probe), stored at
  // each submission: a local one (LocalFile), or one whose transfers may wait
  // on another party indefinitely (MayHold).
  uint8_t file_bits = 0;
  bool LocalFile() const { return (file_bits & kFileLocal) != 0; }
  bool MayHold() const { return (file_bits & kFileMayHold) != 0; }
  static constexpr uint8_t kFileLocal = 8;     // platform::kNowLocal
  static constexpr uint8_t kFileMayHold = 16;  // platform::kNowMayHold

  // Intrusive links for whichever queue currently holds the request (a backend's
  // work queue, the context's local completion list). One owner at a time.
  Request* next = nullptr;
  Request* prev = nullptr;
  std::atomic<uint64_t> backend_data{0};  // free for the backend while submitted
  // Room for a host control block that must live as long as the submission
  // (an iocb, an aiocb, an OVERLAPPED): no allocation per request.
  alignas(16) unsigned char backend_area[192];

  uint64_t handle = 0;  // this request's own handle
  uint32_t index = 0;   // slot index (handle's low 32 bits)
};

// The process-wide request table (request.cc).
// The kernel orders a submitter's reads of a request (while it builds the SQE or
// iocb) before the reaper's completion of it, but ThreadSanitizer cannot see
// that edge. A backend calls HostHandOff once it has read a request and before
// the host can complete it; the core calls HostHandBack when the host says it
// is done (Context::Finish, a successful cancel). No-ops outside TSan builds.
#if defined(__SANITIZE_THREAD__)
#define FAIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FAIO_TSAN 1
#endif
#endif
#ifdef FAIO_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
inline void HostHandOff(Request* r) { __tsan_release(r); }
inline void HostHandBack(Request* r) { __tsan_acquire(r); }
#else
inline void HostHandOff(Request*) {}
inline void HostHandBack(Request*) {}
#endif

using RequestTable = HandleTable<Request, 0xFA>;
extern RequestTable g_requests;

inline Request* LookupRequest(const faio_req* h) {
  return g_requests.Lookup(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h)));
}
// RequestAt resolves an index the library issued (e.g. an io_uring user_data).
inline Request* RequestAt(uint32_t index) { return g_requests.At(index); }

// A submission tag names one submission of one request: (seq32 << 32) | its
// slot index - what a host carries back with a completion (io_uring's
// user_data, kernel AIO's aio_data, an IOCP IoOp's owner). Slot indexes stay
// below 2^24 (core/handle_table.h), so a backend may mark bits 24-31 (io_uring
// does); TagIndex leaves them out.
inline uint64_t SubmissionTag(uint32_t seq32, const Request* r) {
  return (uint64_t{seq32} << 32) | r->index;
}
inline uint32_t TagSeq(uint64_t tag) { return static_cast<uint32_t>(tag >> 32); }
inline uint32_t TagIndex(uint64_t tag) { return static_cast<uint32_t>(tag) & 0xffffffu; }
static_assert(uint64_t{RequestTable::kChunkSize} * RequestTable::kMaxChunks <= (uint64_t{1} << 24),
              "submission tags keep slot indexes in 24 bits");
inline faio_req* HandleOf(const Request* r) {
  return reinterpret_cast<faio_req*>(static_cast<uintptr_t>(r->handle));
}

// Linux never transfers more than this in one call (MAX_RW_COUNT); we keep the
// same bound everywhere so a request means the same on every host.
inline constexpr size_t kMaxTransfer = 0x7ffff000;

// States in which the caller owns the request (it may prepare it again).
inline constexpr bool Preparable(State s) {
  return ((1u << s) & ((1u << kIdle) | (1u << kPrepared) | (1u << kCompleted))) != 0;
}

// MoveToPrepared gives a request that is not submitted the caller's
// description. The caller owns such a request (faio.h), so no atomic
// read-modify-write is needed: a load to refuse submitted requests, the
// description, then a release store that publishes it to a later submit. The
// outcome fields are left as they are: only a completed request's are read,
// and every completion writes all three.
inline int MoveToPrepared(Request* r, Op op, faio_file f, int64_t off, void* buf, size_t len,
                          uint32_t flush_flags, void* user, uint32_t nsegs = 0) {
  uint64_t w = r->word.load(std::memory_order_acquire);
  State s = StateOf(w);
  if (!Preparable(s)) return s == kDead ? FAIO_E_INVALID_HANDLE : FAIO_E_IN_PROGRESS;
  r->op.store(op, std::memory_order_relaxed);
  r->file = f;
  r->offset = off;
  r->buf = buf;
  r->len = len;
  r->nsegs = nsegs;
  r->done = 0;
  r->timeout_ms = 0;
  r->flush_flags = flush_flags;
  r->user = user;
  r->word.store(MakeWord(SeqOf(w), kPrepared), std::memory_order_release);
  return FAIO_OK;
}

// Inline: the C API's prepare and result are on every request's path.
inline int PrepareTransfer(faio_req* h, Op op, faio_file f, int64_t off, void* buf, size_t len,
                           void* user) {
  Request* r = LookupRequest(h);
  if (r == nullptr) return FAIO_E_INVALID_HANDLE;
  if (len - 1 >= kMaxTransfer || off < 0 || buf == nullptr) {  // len 0 wraps
    State s = StateOf(r->word.load(std::memory_order_acquire));
    if (s == kClaimed || s == kSubmitted || s == kCancelling || s == kFinishing) {
      return FAIO_E_IN_PROGRESS;
    }
    return FAIO_E_INVALID_PARAMETER;
  }
  return MoveToPrepared(r, op, f, off, buf, len, 0, user);
}

inline int RequestResult(const faio_req* h, size_t* transferred) {
  Request* r = LookupRequest(h);
  State s = r == nullptr ? kDead : StateOf(r->word.load(std::memory_order_acquire));
  if (s == kCompleted) [[likely]] {
    // 0 after a failure, unless earlier parts of a full transfer moved bytes.
    if (transferred != nullptr) *transferred = r->bytes;
    return r->status;
  }
  if (transferred != nullptr) *transferred = 0;
  if (s == kIdle || s == kPrepared) return FAIO_E_NOT_SUBMITTED;
  return s == kDead ? FAIO_E_INVALID_HANDLE : FAIO_E_IN_PROGRESS;
}

// Segments of r's transfer: its vector, or *one made of buf/len. *n gets the count.
inline const faio_buffer* SegmentsOf(const Request* r, faio_buffer* one, uint32_t* n) {
  if (r->nsegs != 0) {
    *n = r->nsegs;
    return r->segs;
  }
  one->base = r->buf;
  one->length = r->len;
  *n = 1;
  return one;
}

// Cut shortens a transfer to len bytes (0 < len < r->len) and Uncut restores
// it: the fault backend's short transfers. A vectored one loses its tail.
struct SegCut {
  size_t len = 0;  // 0: nothing cut
  uint32_t nsegs = 0;
  uint32_t last = 0;
  size_t last_len = 0;
};
SegCut Cut(Request* r, size_t len);
void Uncut(Request* r, const SegCut& c);
// Advance makes r's description name what is left after `bytes` (< r->len)
// moved: the offset moves on, a buffer or the segments lose their head.
void Advance(Request* r, size_t bytes);
// ByteAt: the byte at position at (< r->len) of r's transfer.
unsigned char* ByteAt(const Request* r, size_t at);

// PrepareVector answers faio_req_prepare_readv/_writev.
int PrepareVector(faio_req* h, Op op, faio_file f, int64_t off, const faio_buffer* bufs,
                  size_t count, void* user);

int CreateRequest(faio_req** out);
int DestroyRequest(faio_req* h);
int PrepareFlush(faio_req* h, faio_file f, uint32_t flags, void* user);
int RequestHostError(const faio_req* h);
void* RequestUser(const faio_req* h);
int CancelRequest(faio_req* h);
int SetCallback(faio_req* h, faio_req_callback cb, void* arg);
// SetTimeout answers faio_req_set_timeout.
int SetTimeout(faio_req* h, uint32_t ms);

}  // namespace faio::detail

#endif  // FAIO_SRC_CORE_REQUEST_H_
