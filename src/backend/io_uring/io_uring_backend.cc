// io_uring_backend.cc - io_uring through liburing.
//
// Submission: requests become SQEs whose user_data is (seq32 << 32 | slot
// index); one io_uring_enter per submit call (Commit), unless the SQ ring fills
// mid-batch. IORING_SETUP_SUBMIT_ALL (5.18) keeps the kernel consuming a batch
// after one SQE fails, so a bad descriptor becomes that request's completion,
// as the contract wants.
//
// Completion: the one waiter reads the CQ ring without a lock and waits with
// io_uring_wait_cqes and an EXT_ARG timeout (5.11), which needs no SQE.
//
// Wakeup: a read of an eventfd is always armed in the ring. Kick() writes the
// eventfd (async-signal-safe), the read completes, and the waiting
// io_uring_enter returns; the reaper re-arms it. An eventfd counter is sticky,
// so a kick that lands while no read is armed completes the next read at once.
//
// Registered resources: faio_ctx_register_buffers becomes fixed buffers (a
// transfer whose buffer lies inside one uses READ_FIXED/WRITE_FIXED); with
// FAIO_CTX_FIXED_FILES, faio_ctx_associate_file puts the descriptor in a sparse
// fixed-file table and later requests on it use IOSQE_FIXED_FILE. Both only
// change how the kernel finds the pages and the file, not what a request does.
//
// Pollable handle (faio_ctx_pollable): the core's eventfd, registered with
// IORING_REGISTER_EVENTFD.
//
// Cancel: IORING_REGISTER_SYNC_CANCEL (6.0) by user_data, which names the
// submission, so a stale cancel can never hit a newer submission. A cancelled
// request's -ECANCELED CQE still arrives; Context::Finish drops it.
#include "backend/io_uring/io_uring_backend.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend_util.h"
#include "core/context.h"
#include "core/timer.h"
#include "platform/host.h"

namespace faio::detail {
namespace {

constexpr uint64_t kWakeTag = ~uint64_t{0};
constexpr uint64_t kLinkTimeoutTag = ~uint64_t{0} - 1;
constexpr uint64_t kLinkedBit = uint64_t{1} << 31;
constexpr uint32_t kMaxSq = 4096;
constexpr uint32_t kMaxCq = 65536;
constexpr uint32_t kUnlimitedSq = 256;
constexpr uint32_t kUnlimitedCq = 8192;
constexpr uint32_t kFixedFiles = 1024;          // slots of the sparse fixed-file table
constexpr size_t kMaxFixedBuffers = 16384;      // the kernel's limit (UIO_MAXIOV * 16)
constexpr size_t kMaxFixedBufferLen = size_t{1} << 30;  // the kernel's limit per buffer

uint32_t Pow2Ceil(uint32_t v) {
  uint32_t p = 1;
  while (p < v && p < (1u << 30)) p <<= 1;
  return p;
}

// Explains a failed io_uring_setup. The host lacking or forbidding io_uring is
// FAIO_E_NOT_SUPPORTED; the host out of what a ring needs (a descriptor, memory)
// is FAIO_E_INSUFFICIENT_RESOURCES, which "auto" does not take for absence
// (docs/contract.md, "Context lifetime").
void Explain(int err, Unavailable* why) {
  bool exhausted = err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN;
  why->status = exhausted ? FAIO_E_INSUFFICIENT_RESOURCES : FAIO_E_NOT_SUPPORTED;
  why->host_error = err;
  switch (err) {
    case ENOSYS:
      why->reason =
          "io_uring_setup returned ENOSYS: the kernel lacks io_uring (before 5.1, or "
          "CONFIG_IO_URING=n) or a seccomp filter denies it";
      break;
    case EPERM: {
      std::string v = ReadProcValue("/proc/sys/kernel/io_uring_disabled");
      if (v == "2") {
        why->reason = "io_uring is disabled by sysctl kernel.io_uring_disabled=2 (EPERM)";
      } else if (v == "1") {
        why->reason =
            "kernel.io_uring_disabled=1 and this process is not in "
            "kernel.io_uring_group (EPERM)";
      } else {
        why->reason = "io_uring_setup denied with EPERM (a seccomp filter or an LSM)";
      }
      break;
    }
    case ENOMEM: {
      struct rlimit rl = {};
      getrlimit(RLIMIT_MEMLOCK, &rl);
      why->reason =
          "io_uring_setup returned ENOMEM: out of memory or locked memory "
          "(RLIMIT_MEMLOCK ";
      why->reason += rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                  : std::to_string(rl.rlim_cur / 1024) + " KiB";
      why->reason += "; raise ulimit -l on kernels before 5.12)";
      break;
    }
    case EMFILE:
      why->reason =
          "io_uring_setup returned EMFILE: this process has no descriptor left for the "
          "ring (RLIMIT_NOFILE " +
          NofileLimit() + "; a context takes 2)";
      break;
    case ENFILE:
      why->reason =
          "io_uring_setup returned ENFILE: the system's open-file table is full (fs.file-max)";
      break;
    default:
      why->reason = std::string("io_uring_setup failed: ") + strerror(err);
      break;
  }
}

// Sets up a ring with the flags we want, dropping the ones an older kernel
// rejects. Returns 0 or -errno.
int SetUpRing(uint32_t sq, uint32_t cq, io_uring* ring, unsigned* features) {
  io_uring_params p = {};
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
  p.cq_entries = cq;
  int ret = io_uring_queue_init_params(sq, ring, &p);
  if (ret == -EINVAL) {  // before 5.18: no SUBMIT_ALL
    p = {};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    p.cq_entries = cq;
    ret = io_uring_queue_init_params(sq, ring, &p);
  }
  if (ret == 0) *features = p.features;
  return ret;
}

// Checks what we need beyond a ring: features and opcodes.
bool CheckRing(io_uring* ring, unsigned features, Unavailable* why) {
  if ((features & IORING_FEAT_EXT_ARG) == 0 || (features & IORING_FEAT_NODROP) == 0) {
    why->status = FAIO_E_NOT_SUPPORTED;
    why->reason = "kernel too old: io_uring lacks IORING_FEAT_EXT_ARG/NODROP (needs 5.11)";
    return false;
  }
  io_uring_probe* probe = io_uring_get_probe_ring(ring);
  if (probe == nullptr) {
    why->status = FAIO_E_NOT_SUPPORTED;
    why->reason = "io_uring opcode probe failed (IORING_REGISTER_PROBE needs 5.6)";
    return false;
  }
  const struct {
    int op;
    const char* name;
  } needed[] = {{IORING_OP_READ, "READ"},
                {IORING_OP_WRITE, "WRITE"},
                {IORING_OP_READV, "READV"},
                {IORING_OP_WRITEV, "WRITEV"},
                {IORING_OP_FSYNC, "FSYNC"},
                {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}};
  for (const auto& n : needed) {
    if (!io_uring_opcode_supported(probe, n.op)) {
      why->status = FAIO_E_NOT_SUPPORTED;
      why->reason = std::string("io_uring lacks opcode IORING_OP_") + n.name;
      io_uring_free_probe(probe);
      return false;
    }
  }
  io_uring_free_probe(probe);
  return true;
}

class IoUringBackend final : public Backend {
 public:
  explicit IoUringBackend(const BackendParams& p)
      : ctx_(p.ctx),
        submit_mu_(p.submit_mu),
        asked_(p.capacity),
        fixed_files_wanted_((p.flags & FAIO_CTX_FIXED_FILES) != 0) {}

  ~IoUringBackend() override {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    platform::CloseNotify(&wake_);
  }

  bool Init(Unavailable* why) {
    uint32_t sq, cq;
    if (asked_ == 0) {
      capacity_ = FAIO_UNLIMITED;  // CQ overflow is buffered by the kernel (NODROP)
      sq = kUnlimitedSq;
      cq = kUnlimitedCq;
    } else {
      capacity_ = asked_;
      uint32_t p2 = Pow2Ceil(asked_);
      sq = p2 < kMaxSq ? p2 : kMaxSq;
      // Room for every request in flight, the armed eventfd read and as many
      // stale completions of cancelled requests again; beyond that NODROP.
      cq = p2 >= kMaxCq / 2 ? kMaxCq : p2 * 2;
      if (sq < 8) sq = 8;
      if (cq < 16) cq = 16;
    }
    unsigned features = 0;
    int ret = SetUpRing(sq, cq, &ring_, &features);
    if (ret < 0) {
      Explain(-ret, why);
      return false;
    }
    ring_ok_ = true;
    if (!CheckRing(&ring_, features, why)) return false;
    if (!OpenWakeup(&wake_, 2, why)) return false;
    ArmWake();
    ret = io_uring_submit(&ring_);
    if (ret < 0) {
      why->status = FAIO_E_INSUFFICIENT_RESOURCES;
      why->host_error = -ret;
      why->reason = std::string("could not arm the wakeup read: ") + strerror(-ret);
      return false;
    }
    return true;
  }

  const char* name() const override { return "io_uring"; }
  uint32_t capacity() const override { return capacity_; }

  size_t Enqueue(Request* const* reqs, size_t n, int* host_error) override {
    const bool fixed_buffers = !registered_.empty();
    const bool fixed_files = !fixed_slot_.empty();
    size_t i = 0;
    while (i < n) {
      // Room for a run of SQEs at once (liburing's io_uring_get_sqe checks it
      // per SQE): the SQ ring full in the middle of a big batch hands over
      // what is there first. A request with a deadline takes two.
      unsigned room = io_uring_sq_space_left(&ring_);
      if (room < SqesOf(reqs[i])) {
        int ret = SubmitPending();
        room = io_uring_sq_space_left(&ring_);
        if (room < SqesOf(reqs[i])) {
          *host_error = ret < 0 ? -ret : EAGAIN;
          return i;
        }
      }
      // The loop costs a request without a deadline what it did before
      // deadlines: one test of timeout_ms; the linked case is out of line.
      unsigned tail = ring_.sq.sqe_tail;
      const unsigned stop = tail + room;
      size_t end = i + std::min<size_t>(n - i, room);
      for (; i < end; ++i) {
        Request* r = reqs[i];
        io_uring_sqe* sqe = &ring_.sq.sqes[tail & ring_.sq.ring_mask];
        if (Linked(r)) [[unlikely]] {
          if (stop - tail < 2) break;  // the outer loop makes room
          PrepLinked(sqe, &ring_.sq.sqes[(tail + 1) & ring_.sq.ring_mask], r, fixed_buffers,
                     fixed_files);
          tail += 2;
          end = std::min<size_t>(end, i + 1 + (stop - tail));
        } else {
          Prep(sqe, r, fixed_buffers);
          if (fixed_files && r->op != Op::kNone) UseFixedFile(sqe, r->file);
          sqe->user_data = SubmissionTag(r->seq32, r);
          ++tail;
        }
        HostHandOff(r);
      }
      ring_.sq.sqe_tail = tail;
    }
    return n;
  }

  // Deadlines (faio_req_set_timeout): a transfer with one is followed by an
  // IORING_OP_LINK_TIMEOUT for the time left, so the kernel withdraws it when
  // that passes - the request's CQE is then -ECANCELED (-EINTR for one an
  // io-wq worker was running), which Drain turns into FAIO_E_TIMEOUT. The
  // timeout's own CQE (kLinkTimeoutTag) carries nothing. Flushes keep the
  // core's timer: they wait behind their barrier in the core first.
  bool OwnsDeadlines() const override { return true; }
  static bool Linked(const Request* r) {
    return r->timeout_ms != 0 && r->op.load(std::memory_order_relaxed) != Op::kFlush;
  }
  static unsigned SqesOf(const Request* r) { return Linked(r) ? 2 : 1; }
  // CookieOf: the request's user_data - the submission (seq32) and its slot,
  // with kLinkedBit when a linked timeout follows it (slot indexes stay below
  // 2^24: core/handle_table.h).
  static uint64_t CookieOf(const Request* r) {
    return SubmissionTag(r->seq32, r) | (Linked(r) ? kLinkedBit : 0);
  }
  // PrepLinked fills sqe for r and link for its linked timeout.
  [[gnu::noinline]] void PrepLinked(io_uring_sqe* sqe, io_uring_sqe* link, Request* r,
                                    bool fixed_buffers, bool fixed_files) const {
    Prep(sqe, r, fixed_buffers);
    if (fixed_files && r->op != Op::kNone) UseFixedFile(sqe, r->file);
    sqe->user_data = CookieOf(r);
    sqe->flags |= IOSQE_IO_LINK;
    LinkTimeout(link, r);
  }
  // LinkTimeout fills sqe with r's linked timeout: the time left until its
  // deadline (at least 1 ns: a later part of a full transfer may be past it).
  // The timespec lives in r's backend area, read by the kernel when the SQE is
  // submitted; backend_data keeps the deadline for Drain.
  static void LinkTimeout(io_uring_sqe* sqe, Request* r) {
    int64_t left = r->deadline_ns - timer::Now();
    if (left < 1) left = 1;
    auto* ts = reinterpret_cast<__kernel_timespec*>(r->backend_area);
    ts->tv_sec = left / 1000000000;
    ts->tv_nsec = left % 1000000000;
    r->backend_data.store(static_cast<uint64_t>(r->deadline_ns), std::memory_order_relaxed);
    io_uring_prep_link_timeout(sqe, ts, 0);
    sqe->user_data = kLinkTimeoutTag;
  }
  // DeadlinePassed: a CQE of -ECANCELED/-EINTR for a submission sent with a
  // linked timeout came from that timeout (not from the submitting thread's
  // exit, which Resubmit undoes). The core's Finish then decides, as for any
  // completion, whether the submission is still current: a stale CQE, or one a
  // canceller withdrew, is dropped there - so the deadline of a newer
  // submission read here changes nothing for it.
  static bool DeadlinePassed(const Request* r) {
    return timer::Now() >= static_cast<int64_t>(r->backend_data.load(std::memory_order_relaxed));
  }

  // Prep fills sqe for r (fixed buffers when the buffer lies in a registered one).
  void Prep(io_uring_sqe* sqe, const Request* r, bool fixed_buffers) const {
    const Op op = r->op.load(std::memory_order_relaxed);
    if (r->nsegs != 0 && (op == Op::kRead || op == Op::kWrite)) {
      // The request's faio_buffer array is an iovec array; it lives as long as
      // the submission. (READV_FIXED, kernel 6.15, is not used.)
      const auto* iov = reinterpret_cast<const iovec*>(r->segs);
      if (op == Op::kRead) {
        io_uring_prep_readv(sqe, r->file, iov, r->nsegs, static_cast<uint64_t>(r->offset));
      } else {
        io_uring_prep_writev(sqe, r->file, iov, r->nsegs, static_cast<uint64_t>(r->offset));
      }
      return;
    }
    switch (op) {
      case Op::kRead: {
        int b = fixed_buffers ? FixedBuffer(r->buf, r->len) : -1;
        if (b < 0) {
          io_uring_prep_read(sqe, r->file, r->buf, static_cast<unsigned>(r->len),
                             static_cast<uint64_t>(r->offset));
        } else {
          io_uring_prep_read_fixed(sqe, r->file, r->buf, static_cast<unsigned>(r->len),
                                   static_cast<uint64_t>(r->offset), b);
        }
        break;
      }
      case Op::kWrite: {
        int b = fixed_buffers ? FixedBuffer(r->buf, r->len) : -1;
        if (b < 0) {
          io_uring_prep_write(sqe, r->file, r->buf, static_cast<unsigned>(r->len),
                              static_cast<uint64_t>(r->offset));
        } else {
          io_uring_prep_write_fixed(sqe, r->file, r->buf, static_cast<unsigned>(r->len),
                                    static_cast<uint64_t>(r->offset), b);
        }
        break;
      }
      case Op::kFlush:
        io_uring_prep_fsync(sqe, r->file,
                            (r->flush_flags & FAIO_FLUSH_FULL) ? 0 : IORING_FSYNC_DATASYNC);
        break;
      case Op::kNone:
        io_uring_prep_nop(sqe);
        break;
    }
  }

  void Commit() override { SubmitPending(); }

  // One request per submit call (one at a time): a cached read costs a bare
  // pread, and a buffered write to ext4 (which io_uring hands to an io-wq
  // worker) a bare pwrite, as io_uring itself does for XFS. Batches go to the
  // ring whole.
  DoNowPolicy do_now() const override { return DoNowPolicy::kSingle; }

  size_t Reap(HostCompletion* out, size_t max, bool block, Clock::time_point deadline) override {
    size_t n = 0;
    bool woken = false;
    Drain(out, max, &n, &woken);
    if (n == 0 && block && !woken && !ctx_->ReapShouldReturn()) {
      if (backlog_.load(std::memory_order_acquire)) {
        std::lock_guard<platform::Lock> lock(*submit_mu_);
        SubmitPending();
      }
      if (deadline == Clock::time_point::max() || Clock::now() < deadline) {
        // One CQE ends the block: a wakeup is one CQE too. -ETIME, -EINTR:
        // the core's loop decides.
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts;
        io_uring_wait_cqes(&ring_, &cqe, 1, TimeLeft(deadline, &ts), nullptr);
        Drain(out, max, &n, &woken);
      }
    }
    if (rearm_) {
      std::lock_guard<platform::Lock> lock(*submit_mu_);
      ArmWake();
      SubmitPending();
    }
    return n;
  }

  // (A full counter, EAGAIN, has a kick pending anyway.)
  void Kick() override { platform::SignalNotify(wake_); }

  // The kernel signals a registered eventfd after it posts each CQE (the
  // wakeup's too), so a wait that resets it before looking at the ring misses
  // nothing.
  bool HasPollable() const override { return true; }
  int WatchPollable(const platform::Notify& n, faio_file* out) override {
    int ret = io_uring_register_eventfd(&ring_, n.signal);
    if (ret < 0) return platform::StatusFromHostError(-ret);
    *out = n.wait;
    return FAIO_OK;
  }

  CancelOutcome Cancel(Request* r, uint32_t seq32) override {
    io_uring_sync_cancel_reg reg;
    memset(&reg, 0, sizeof(reg));
    // Held by the canceller: r's description is that of submission seq32.
    reg.addr = SubmissionTag(seq32, r) | (CookieOf(r) & kLinkedBit);
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    int ret;
    do {
      ret = io_uring_register_sync_cancel(&ring_, &reg);
    } while (ret == -EINTR);
    // The core holds the request in kCancelling, so a reaper that reads its CQE
    // waits without advancing the CQ head (Drain, AwaitCancelVerdict): the CQE
    // stays visible to us here.
    int res = 0;
    if (ret == 0) {
      // 0 means "found and cancelled", but also "was running, and is finished
      // now" (the kernel retries an -EALREADY until the request is gone). Only
      // the request's own CQE tells which; it is posted by the time the call
      // returns, or very soon after.
      // A cancelled poll posts its CQE through task work of the submitting
      // thread, which runs at that thread's next system call; the sleep here is
      // one for our own. Bounded only as a safety net.
      auto give_up = Clock::now() + std::chrono::seconds(5);
      do {
        if (InCompletionRing(reg.addr, &res)) {
          // -EINTR: an io-wq worker interrupted by the cancel.
          return res == -ECANCELED || res == -EINTR ? CancelOutcome::kCancelled
                                                    : CancelOutcome::kNotFound;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(10));
      } while (Clock::now() < give_up);
      return CancelOutcome::kInProgress;  // it will come through a wait
    }
    // -ENOENT: finished already (its CQE is in the ring) or a transfer the kernel
    // cannot stop; -EALREADY: running; -EINVAL: no sync cancel (before 6.0).
    return InCompletionRing(reg.addr, &res) ? CancelOutcome::kNotFound : CancelOutcome::kInProgress;
  }

 private:
  // InCompletionRing looks for a CQE with this user_data between the ring's head
  // and tail, reading only (the reaper may advance the head meanwhile; a stale
  // answer is still a true statement about an instant).
  bool InCompletionRing(uint64_t user_data, int* res) const {
    unsigned head = io_uring_smp_load_acquire(ring_.cq.khead);
    unsigned tail = io_uring_smp_load_acquire(ring_.cq.ktail);
    for (unsigned i = head; i != tail; ++i) {
      const io_uring_cqe& c = ring_.cq.cqes[i & ring_.cq.ring_mask];
      if (c.user_data == user_data) {
        *res = c.res;
        return true;
      }
    }
    return false;
  }

  // Resubmit: io_uring cancels a task's pending requests (poll-armed, io-wq)
  // when the submitting thread exits. A request cancelled that way, without a
  // faio_req_cancel (which would hold it in kCancelling), is handed to the
  // kernel again from this thread, so it completes with its own result.
  bool Resubmit(Request* r, uint32_t seq32) {
    uint64_t w = r->word.load(std::memory_order_acquire);
    if (StateOf(w) != kSubmitted || static_cast<uint32_t>(SeqOf(w)) != seq32) return false;
    // Hold it as a canceller would, so that a faio_req_cancel meanwhile answers
    // "in progress" instead of cancelling what we are about to resubmit.
    uint64_t now;
    if (!r->HoldForCancel(w, &now)) return false;
    bool ok;
    {
      std::lock_guard<platform::Lock> lock(*submit_mu_);
      int unused = 0;
      ok = Enqueue(&r, 1, &unused) == 1;
      if (ok) SubmitPending();
    }
    r->Unhold(w);
    return ok;
  }

  // Under the submit lock (or during Init).
  void ArmWake() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      SubmitPending();
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return;  // stays pending; rearm_ stays set
    }
    io_uring_prep_read(sqe, wake_.wait, &wake_buf_, sizeof(wake_buf_), 0);
    sqe->user_data = kWakeTag;
    rearm_ = false;
  }

  // Under the submit lock. Returns io_uring_submit's result.
  int SubmitPending() {
    int ret;
    do {
      ret = io_uring_submit(&ring_);
    } while (ret == -EINTR);
    // -EAGAIN/-EBUSY: the SQEs stay in the ring (already published); the next
    // submit or the waiter hands them over. They count as submitted.
    backlog_.store(ret < 0, std::memory_order_release);
    return ret;
  }

  // Reaper only. Collects CQEs until out is full. The tail is read once (one
  // acquire) and the CQEs between head and tail are walked directly: this
  // ring has 16-byte CQEs (no IORING_SETUP_CQE32).
  void Drain(HostCompletion* out, size_t max, size_t* n, bool* woken) {
    const unsigned mask = ring_.cq.ring_mask;
    const unsigned head = *ring_.cq.khead;  // only this thread advances it
    const unsigned tail = io_uring_smp_load_acquire(ring_.cq.ktail);
    unsigned seen = 0;
    size_t k = *n;
    for (unsigned i = head; i != tail; ++i) {
      const io_uring_cqe* cqe = &ring_.cq.cqes[i & mask];
      const uint64_t user_data = cqe->user_data;
      if (user_data >= kLinkTimeoutTag) [[unlikely]] {
        // The wakeup read's, or a linked timeout's own (which carries nothing).
        ++seen;
        if (user_data == kWakeTag) {
          *woken = true;
          rearm_ = true;
        }
        continue;
      }
      if (k >= max) break;
      ++seen;
      Request* r = RequestAt(TagIndex(user_data));
      const uint32_t seq32 = TagSeq(user_data);
      const int res = cqe->res;
      // A canceller of this submission looks for this CQE in the ring (Cancel):
      // the head does not move past it before the canceller has decided.
      AwaitCancelVerdict(r, seq32);
      if (res >= 0 || (res != -ECANCELED && res != -EINTR)) [[likely]] {
        out[k++] = HostCompletion{r, seq32, res};
        continue;
      }
      if ((user_data & kLinkedBit) != 0 && DeadlinePassed(r)) {
        out[k++] = HostCompletion{r, seq32, kHostTimedOut};
        continue;
      }
      if (res == -ECANCELED && Resubmit(r, seq32)) continue;
      out[k++] = HostCompletion{r, seq32, res};
    }
    *n = k;
    if (seen != 0) io_uring_cq_advance(&ring_, seen);
  }

  // One registered buffer, by address; registered_ is sorted by start.
  struct Fixed {
    uintptr_t start;
    uintptr_t end;
    int index;
  };

  // FixedBuffer returns the index of the registered buffer holding [buf,
  // buf+len), or -1.
  int FixedBuffer(const void* buf, size_t len) const {
    uintptr_t a = reinterpret_cast<uintptr_t>(buf);
    auto it = std::upper_bound(registered_.begin(), registered_.end(), a,
                               [](uintptr_t v, const Fixed& f) { return v < f.start; });
    if (it == registered_.begin()) return -1;
    --it;
    return a + len <= it->end && a + len >= a ? it->index : -1;
  }

  void UseFixedFile(io_uring_sqe* sqe, int fd) const {
    if (fd < 0 || static_cast<size_t>(fd) >= fixed_slot_.size()) return;
    int slot = fixed_slot_[static_cast<size_t>(fd)];
    if (slot < 0) return;
    sqe->fd = slot;
    sqe->flags |= IOSQE_FIXED_FILE;
  }

 public:
  int RegisterBuffers(const faio_buffer* bufs, size_t count) override {
    if (count > kMaxFixedBuffers) return FAIO_E_INVALID_PARAMETER;
    std::vector<iovec> iov(count);
    std::vector<Fixed> fixed(count);
    for (size_t i = 0; i < count; ++i) {
      if (bufs[i].length > kMaxFixedBufferLen) return FAIO_E_INVALID_PARAMETER;
      iov[i].iov_base = bufs[i].base;
      iov[i].iov_len = bufs[i].length;
      uintptr_t start = reinterpret_cast<uintptr_t>(bufs[i].base);
      fixed[i] = {start, start + bufs[i].length, static_cast<int>(i)};
    }
    int ret = io_uring_register_buffers(&ring_, iov.data(), static_cast<unsigned>(count));
    if (ret < 0) {
      return ret == -ENOMEM || ret == -EAGAIN || ret == -EPERM ? FAIO_E_INSUFFICIENT_RESOURCES
             : ret == -EFAULT || ret == -EINVAL || ret == -EOVERFLOW
                 ? FAIO_E_INVALID_PARAMETER
                 : platform::StatusFromHostError(-ret);
    }
    std::sort(fixed.begin(), fixed.end(),
              [](const Fixed& a, const Fixed& b) { return a.start < b.start; });
    registered_ = std::move(fixed);
    return FAIO_OK;
  }

  int AssociateFile(faio_file fd) override {
    if (!fixed_files_wanted_) return FAIO_OK;
    std::lock_guard<platform::Lock> lock(*submit_mu_);
    if (static_cast<size_t>(fd) < fixed_slot_.size() && fixed_slot_[static_cast<size_t>(fd)] >= 0) {
      return FAIO_OK;  // already registered
    }
    if (!fixed_table_) {
      int ret = io_uring_register_files_sparse(&ring_, kFixedFiles);
      if (ret < 0) return FAIO_OK;  // a kernel without sparse tables: plain descriptors
      fixed_table_ = true;
    }
    if (next_fixed_ >= kFixedFiles) return FAIO_OK;  // table full: plain descriptor
    int slot = static_cast<int>(next_fixed_);
    int ret = io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &fd, 1);
    if (ret != 1) return FAIO_OK;  // the kernel said no: the plain descriptor still works
    ++next_fixed_;
    if (static_cast<size_t>(fd) >= fixed_slot_.size()) {
      fixed_slot_.resize(static_cast<size_t>(fd) + 1, -1);
    }
    fixed_slot_[static_cast<size_t>(fd)] = slot;
    return FAIO_OK;
  }

 private:
  Context* const ctx_;
  platform::Lock* const submit_mu_;
  const uint32_t asked_;
  const bool fixed_files_wanted_;
  std::vector<Fixed> registered_;  // written with nothing in flight, under submit_mu_
  std::vector<int> fixed_slot_;    // fd -> fixed-file slot or -1; under submit_mu_
  uint32_t next_fixed_ = 0;
  bool fixed_table_ = false;
  uint32_t capacity_ = 0;
  io_uring ring_ = {};
  bool ring_ok_ = false;
  platform::Notify wake_;  // Kick's eventfd; the ring keeps a read of it armed
  uint64_t wake_buf_ = 0;
  bool rearm_ = false;  // reaper only (and ArmWake under the lock from it)
  std::atomic<bool> backlog_{false};
};

}  // namespace

bool ProbeIoUringBackend(Unavailable* why) {
  io_uring ring;
  unsigned features = 0;
  int ret = SetUpRing(4, 8, &ring, &features);
  if (ret < 0) {
    Explain(-ret, why);
    return false;
  }
  bool ok = CheckRing(&ring, features, why);
  // A context needs the wakeup's eventfd too: no descriptor for it is
  // exhaustion as well.
  if (ok) {
    platform::Notify wake;
    ok = OpenWakeup(&wake, 2, why);
    platform::CloseNotify(&wake);
  }
  io_uring_queue_exit(&ring);
  return ok;
}

std::unique_ptr<Backend> CreateIoUringBackend(const BackendParams& p, Unavailable* why) {
  return MakeWithInit<IoUringBackend>(why, p);
}

}  // namespace faio::detail
