// deadline_test.cc - per-request deadlines (faio_req_set_timeout;
// docs/contract.md, Deadlines), on every backend.
//
// A request still running at its deadline is withdrawn where the host can
// withdraw it and completes with FAIO_E_TIMEOUT, returned by a wait, once;
// where the host cannot (a blocking read already on a worker thread) it
// completes normally. Which of the two a backend does for a read held in an
// empty pipe is asked of the backend the way the library asks it (a cancel,
// WithdrawsHeldRead), and each test then demands that outcome exactly.
#include "conformance.h"

namespace faio_test {
namespace {

constexpr uint32_t kDeadlineMs = 60;

class Deadline : public BackendTest {
 protected:
  // WithdrawsHeldRead: a fresh context's only read, held in an empty pipe long
  // enough to have reached the host, can be cancelled.
  bool WithdrawsHeldRead(uint32_t flags = 0) {
    faio_ctx* ctx = NewCtx(0, flags);
    Pipe* p = NewPipe();
    faio_req* r = NewReq();
    if (ctx == nullptr || r == nullptr || !p->ok()) return false;
    char buf[4];
    EXPECT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, buf, sizeof buf, nullptr));
    EXPECT_ST(FAIO_OK, Submit1(ctx, r));
    SleepMs(static_cast<int>(PromptMs()));
    int s = faio_req_cancel(r);
    if (s == FAIO_OK) return true;
    EXPECT_ST(FAIO_E_IN_PROGRESS, s) << "a held pipe read is either withdrawn or running";
    EXPECT_EQ(p->Feed(sizeof buf), sizeof buf);
    EXPECT_EQ(Reap(ctx, 1).size(), 1u);
    return false;
  }

  // ReadWithEveryOtherDeadline reads `count` 64-byte pieces of a file through
  // ctx, every other one with a deadline far off, submitted as one batch:
  // each completes once with its own bytes, none times out. A host with a
  // bounded AIO queue (FreeBSD's) takes a prefix and answers insufficient
  // resources: what it took is then reaped one at a time until the rest is in.
  void ReadWithEveryOtherDeadline(faio_ctx* ctx, size_t count) {
    auto f = NewFile();
    std::vector<faio_req*> reqs = NewReqs(count);
    std::vector<Bytes> bufs;
    PrepareReads(reqs, f->fd(), &bufs);
    for (size_t i = 0; i < reqs.size(); i += 2) {
      ASSERT_ST(FAIO_OK, faio_req_set_timeout(reqs[i], 10000));
    }
    std::vector<faio_req*> got;
    size_t at = 0;
    while (at < reqs.size()) {
      size_t accepted = 0;
      int s = faio_ctx_submit_ex(ctx, reqs.data() + at, reqs.size() - at, &accepted);
      at += accepted;
      if (s == FAIO_OK) {
        EXPECT_EQ(at, reqs.size());
        break;
      }
      ASSERT_ST(FAIO_E_INSUFFICIENT_RESOURCES, s);
      ASSERT_LT(got.size(), at) << "refused with nothing in flight";
      std::vector<faio_req*> one = Reap(ctx, 1);
      ASSERT_EQ(one.size(), 1u);
      got.push_back(one[0]);
    }
    std::vector<faio_req*> rest = Reap(ctx, reqs.size() - got.size());
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_TRUE(SameSet(got, reqs));
    Bytes want = f->ReadAll();
    for (size_t i = 0; i < reqs.size(); i++) {
      size_t n = 0;
      EXPECT_ST(FAIO_OK, faio_req_result(reqs[i], &n)) << "read " << i;
      EXPECT_EQ(n, 64u);
      EXPECT_EQ(0, std::memcmp(bufs[i].data(), want.data() + 64 * i, 64)) << "read " << i;
    }
    ExpectNoneCounted(ctx);
  }

  // HeldRead prepares r as a read of `len` bytes of p into buf, with a deadline.
  static void PrepareHeld(faio_req* r, Pipe* p, Bytes* buf, size_t len, uint32_t ms) {
    buf->assign(len, 0);
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, buf->data(), len, nullptr));
    if (ms != 0) {
      ASSERT_ST(FAIO_OK, faio_req_set_timeout(r, ms));
    }
  }

  // WaitOne waits up to limit_ms for one completion: the request, or null.
  static faio_req* WaitOne(faio_ctx* ctx, uint32_t limit_ms) {
    faio_req* out[2] = {};
    uint32_t n = 0;
    int s = faio_ctx_wait(ctx, 1, limit_ms, out, 2, &n);
    if (s != FAIO_OK) {
      EXPECT_ST(FAIO_E_TIMEOUT, s);
      return nullptr;
    }
    EXPECT_EQ(n, 1u);
    return out[0];
  }
};
FAIO_INSTANTIATE(Deadline);

TEST_P(Deadline, SetTimeoutOnlyOnPreparedRequests) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  faio_req* r = NewReq();
  EXPECT_ST(FAIO_E_INVALID_STATE, faio_req_set_timeout(r, 10));  // idle
  char buf[16];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_OK, faio_req_set_timeout(r, 10));
  EXPECT_ST(FAIO_OK, faio_req_set_timeout(r, 0));                      // none
  EXPECT_ST(FAIO_OK, faio_req_set_timeout(r, FAIO_WAIT_INDEFINITE));  // none
  EXPECT_ST(FAIO_OK, faio_req_set_timeout(r, 10000));
  Pipe* p = NewPipe();
  faio_req* held = NewReq();
  char held_buf[1];  // its own: two transfers in flight never share a buffer
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(held, p->r, 0, held_buf, 1, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, held));
  EXPECT_ST(FAIO_E_INVALID_STATE, faio_req_set_timeout(held, 10));  // submitted
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  EXPECT_ST(FAIO_E_INVALID_STATE, faio_req_set_timeout(r, 10));  // completed
  EXPECT_EQ(p->Feed(1), 1u);
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_set_timeout(nullptr, 10));
  faio_req* dead = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&dead));
  ASSERT_ST(FAIO_OK, faio_req_destroy(dead));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_set_timeout(dead, 10));
  // C++: the same call.
  faio::Request cr = faio::Request::Create().value();
  EXPECT_EQ(cr.Timeout(std::chrono::milliseconds(10)), faio::Status::kInvalidState);
  ASSERT_EQ(cr.PrepareRead(f->fd(), 0, std::as_writable_bytes(std::span(buf))), faio::Status::kOk);
  EXPECT_EQ(cr.Timeout(std::chrono::milliseconds(10)), faio::Status::kOk);
  EXPECT_EQ(cr.Timeout(std::chrono::milliseconds(-1)), faio::Status::kInvalidParameter);
  EXPECT_EQ(cr.Timeout(std::chrono::hours(24 * 60)), faio::Status::kOutOfRange);
}

// The deadline fires on a read the host holds: TIMEOUT, not early, returned by
// one wait, and (withdrawn) it took nothing from the pipe. Where the host
// cannot withdraw it, it completes with the data.
TEST_P(Deadline, FiresOnAHeldPipeRead) {
  const bool withdraws = WithdrawsHeldRead();
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  Bytes buf;
  PrepareHeld(r, p, &buf, 4, kDeadlineMs);
  Clock::time_point t0 = Clock::now();
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  if (withdraws) {
    EXPECT_EQ(WaitOne(ctx, 10000), r);
    int64_t ms = MsSince(t0);
    size_t n = 99;
    EXPECT_ST(FAIO_E_TIMEOUT, faio_req_result(r, &n));
    EXPECT_EQ(n, 0u);
    EXPECT_GE(ms, kDeadlineMs) << "the deadline fired early";
    EXPECT_LE(ms, kDeadlineMs + 4 * LateMs()) << "the deadline fired late";
    ExpectNoneCounted(ctx);
    EXPECT_EQ(p->Feed(1), 1u);
    EXPECT_TRUE(p->TakeOne()) << "the withdrawn read took the byte";
  } else {
    EXPECT_EQ(WaitOne(ctx, kDeadlineMs + static_cast<uint32_t>(LateMs())), nullptr)
        << "completed although the host could not withdraw it and had no data";
    EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr));
    EXPECT_EQ(p->Feed(4), 4u);
    EXPECT_EQ(WaitOne(ctx, 10000), r);
    size_t n = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
    EXPECT_EQ(n, 4u);
  }
  std::printf("[ deadline ] %s: a held pipe read %s\n", backend(),
              withdraws ? "timed out" : "is not withdrawn: it completed with its data");
}

// Deadlines that do not fire change nothing: every read completes with its
// data, once, and nothing comes later.
TEST_P(Deadline, UnexpiredDeadlinesChangeNothing) {
  faio_ctx* ctx = NewCtx(128);
  ASSERT_NE(ctx, nullptr);
  ReadWithEveryOtherDeadline(ctx, 128);
}

// A batch larger than the host's submission queue (io_uring's has 256
// entries on an unlimited context, and a request with a deadline takes two),
// requests with and without one mixed so that one with a deadline meets the
// queue's last free entry (every other one: 85 pairs fill 255 entries, and
// the next request, with a deadline, finds one): every request is handed over
// once, reads its own bytes, and nothing times out.
TEST_P(Deadline, BatchLargerThanTheQueueMixesDeadlines) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  ReadWithEveryOtherDeadline(ctx, 1000);
}

// A deadline belongs to one submission: a prepare removes it, and the entry of
// a submission that completed never fires on the request's next one.
TEST_P(Deadline, BelongsToOneSubmission) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char buf[64];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_set_timeout(r, kDeadlineMs));
  ASSERT_EQ(RunOne(ctx, r), FAIO_OK);  // done long before its deadline
  // Prepared again (no deadline) as a held read: its old entry is still due.
  Bytes held;
  PrepareHeld(r, p, &held, 4, 0);
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  // Set and then prepared over: no deadline either.
  Pipe* p2 = NewPipe();
  faio_req* r2 = NewReq();
  Bytes held2;
  PrepareHeld(r2, p2, &held2, 4, kDeadlineMs / 2);
  PrepareHeld(r2, p2, &held2, 4, 0);
  ASSERT_ST(FAIO_OK, Submit1(ctx, r2));
  EXPECT_EQ(WaitOne(ctx, kDeadlineMs + static_cast<uint32_t>(LateMs())), nullptr)
      << "a deadline fired on a submission that had none";
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r2, nullptr));
  EXPECT_EQ(p->Feed(4), 4u);
  EXPECT_EQ(p2->Feed(4), 4u);
  EXPECT_TRUE(SameSet(Reap(ctx, 2), {r, r2}));
  EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  EXPECT_ST(FAIO_OK, faio_req_result(r2, nullptr));
}

// Held reads with and without deadlines, each in its own pipe: exactly those
// with one time out (all of them where the host withdraws a held read; never
// one without), the rest complete with their data once fed, each once.
TEST_P(Deadline, ExactCountsAmongHeldReads) {
  const bool withdraws = WithdrawsHeldRead();
  constexpr size_t kN = 8;
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  std::vector<faio_req*> reqs = NewReqs(2 * kN);
  std::vector<Pipe*> pipes;
  std::vector<Bytes> bufs(reqs.size());
  for (size_t i = 0; i < reqs.size(); i++) {
    pipes.push_back(NewPipe());
    PrepareHeld(reqs[i], pipes[i], &bufs[i], 4, i % 2 == 0 ? kDeadlineMs : 0);
  }
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  SleepMs(static_cast<int>(kDeadlineMs + LateMs()));
  std::vector<faio_req*> timed_out;
  faio_req* out[64];
  uint32_t n = 0;
  while (faio_ctx_wait(ctx, 1, static_cast<uint32_t>(LateMs()), out, 64, &n) == FAIO_OK) {
    timed_out.insert(timed_out.end(), out, out + n);
  }
  for (faio_req* r : timed_out) {
    size_t i = static_cast<size_t>(std::find(reqs.begin(), reqs.end(), r) - reqs.begin());
    ASSERT_LT(i, reqs.size());
    EXPECT_EQ(i % 2, 0u) << "request " << i << " had no deadline";
    EXPECT_ST(FAIO_E_TIMEOUT, faio_req_result(r, nullptr)) << "request " << i;
  }
  if (withdraws) {
    EXPECT_EQ(timed_out.size(), kN);
  }
  for (Pipe* p : pipes) EXPECT_EQ(p->Feed(4), 4u);
  std::vector<faio_req*> rest = Reap(ctx, reqs.size() - timed_out.size());
  for (faio_req* r : rest) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  std::vector<faio_req*> all = timed_out;
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_TRUE(SameSet(all, reqs));
  ExpectNoneCounted(ctx);
  std::printf("[ deadline ] %s: %zu of %zu held reads with a deadline timed out\n", backend(),
              timed_out.size(), kN);
}

// A flush the core still holds behind its file's barrier never reached the
// host: its deadline withdraws it on every backend.
TEST_P(Deadline, FlushBehindItsBarrierTimesOut) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* read = NewReq();
  faio_req* flush = NewReq();
  Bytes buf;
  PrepareHeld(read, p, &buf, 4, 0);
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, p->r, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_set_timeout(flush, kDeadlineMs));
  faio_req* both[] = {read, flush};
  Clock::time_point t0 = Clock::now();
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, both, 2));
  EXPECT_EQ(WaitOne(ctx, 10000), flush);
  EXPECT_GE(MsSince(t0), kDeadlineMs);
  EXPECT_ST(FAIO_E_TIMEOUT, faio_req_result(flush, nullptr));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(read, nullptr));
  EXPECT_EQ(p->Feed(4), 4u);
  EXPECT_EQ(WaitOne(ctx, 10000), read);
  EXPECT_ST(FAIO_OK, faio_req_result(read, nullptr));
  ExpectNoneCounted(ctx);
}

// An event loop learns of a deadline without a waiting thread: the pollable
// handle becomes ready when a held read times out.
TEST_P(Deadline, PollableHandleIsReadyAtTheDeadline) {
  const bool withdraws = WithdrawsHeldRead();
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_file h{};
  int s = faio_ctx_pollable(ctx, &h);
  if (s == FAIO_E_NOT_SUPPORTED || !withdraws) {
    std::printf("[ deadline ] %s: no pollable handle, or no withdrawn held read: nothing to see\n",
                backend());
    return;
  }
  ASSERT_ST(FAIO_OK, s);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  Bytes buf;
  PrepareHeld(r, p, &buf, 4, kDeadlineMs);
  Clock::time_point t0 = Clock::now();
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  // A first ready may be a spurious one (allowed once); after a wait re-arms
  // it, the deadline's completion must make it ready.
  ASSERT_TRUE(Ready(h, 10000)) << "the handle never became ready";
  faio_req* got = WaitOne(ctx, 0);
  if (got == nullptr) {
    ASSERT_TRUE(Ready(h, 10000)) << "the handle never became ready at the deadline";
    got = WaitOne(ctx, 0);
  }
  EXPECT_EQ(got, r);
  EXPECT_GE(MsSince(t0), kDeadlineMs);
  EXPECT_ST(FAIO_E_TIMEOUT, faio_req_result(r, nullptr));
}

// FAIO_CTX_FULL_TRANSFERS: a deadline covers the whole transfer, its parts
// included; one that fires between parts reports the bytes before it.
TEST_P(Deadline, CoversEveryPartOfAFullTransfer) {
  const bool withdraws = WithdrawsHeldRead(FAIO_CTX_FULL_TRANSFERS);
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_FULL_TRANSFERS);
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  Bytes buf;
  PrepareHeld(r, p, &buf, 8, 2 * kDeadlineMs);
  ASSERT_EQ(p->Feed(3), 3u);  // the first part moves 3, the next is held
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  if (withdraws) {
    EXPECT_EQ(WaitOne(ctx, 10000), r);
    size_t n = 0;
    EXPECT_ST(FAIO_E_TIMEOUT, faio_req_result(r, &n));
    EXPECT_EQ(n, 3u) << "the bytes of the first part";
  } else {
    EXPECT_EQ(WaitOne(ctx, 2 * kDeadlineMs + static_cast<uint32_t>(LateMs())), nullptr);
    EXPECT_EQ(p->Feed(5), 5u);
    EXPECT_EQ(WaitOne(ctx, 10000), r);
    size_t n = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
    EXPECT_EQ(n, 8u);
  }
  ExpectNoneCounted(ctx);
}

// The same through the C++ interface: a vectored read with a Timeout on a
// context made with kFullTransfers.
TEST_P(Deadline, CppVectoredReadWithATimeout) {
  const bool withdraws = WithdrawsHeldRead(FAIO_CTX_FULL_TRANSFERS);
  faio::Options o;
  o.flags = faio::kFullTransfers;
  o.backend = backend();
  o.threads = IsThreads() ? kThreadsWorkers : 0;
  faio::Result<faio::Context> made = faio::Context::Create(o);
  ASSERT_EQ(made.status(), faio::Status::kOk);
  faio::Context& ctx = made.value();
  Pipe* p = NewPipe();
  faio::Request r = faio::Request::Create().value();
  unsigned char a[2] = {}, b[6] = {};
  const faio_buffer segs[] = {{a, sizeof a}, {b, sizeof b}};
  ASSERT_EQ(r.PrepareReadv(p->r, 0, segs), faio::Status::kOk);
  ASSERT_EQ(r.Timeout(std::chrono::milliseconds(2 * kDeadlineMs)), faio::Status::kOk);
  ASSERT_EQ(p->Feed(3), 3u);
  ASSERT_EQ(ctx.Submit(r), faio::Status::kOk);
  faio_req* out[2] = {};
  if (!withdraws) {
    EXPECT_EQ(ctx.Wait(1, out, std::chrono::milliseconds(2 * kDeadlineMs + LateMs())).status(),
              faio::Status::kTimeout);
    ASSERT_EQ(p->Feed(5), 5u);
  }
  faio::Result<faio::WaitOutcome> w = ctx.Wait(1, out, std::chrono::milliseconds(10000));
  ASSERT_EQ(w.status(), faio::Status::kOk);
  ASSERT_EQ(w.value().count, 1u);
  EXPECT_EQ(out[0], r.native());
  faio::Result<size_t> got = r.Outcome();
  EXPECT_EQ(got.status(), withdraws ? faio::Status::kTimeout : faio::Status::kOk);
  EXPECT_EQ(got.value(), withdraws ? 3u : 8u);
  EXPECT_EQ(a[0], 'p');
  EXPECT_EQ(b[0], 'p');
}

}  // namespace
}  // namespace faio_test
