// wait_test.cc - faio_ctx_wait (docs/contract.md, Wait): argument checks,
// NO_REQUEST, the minimum and its cap, the output size, timeouts, the single
// waiter, and completions handed out only with success.
#include "conformance.h"

namespace faio_test {
namespace {

class Wait : public BackendTest {
 protected:
  // HoldPipeRead submits a read of an empty pipe, which stays in flight.
  faio_req* HoldPipeRead(faio_ctx* ctx, Pipe* p, char* buf, size_t len) {
    faio_req* r = NewReq();
    if (r == nullptr) return nullptr;
    EXPECT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, buf, len, nullptr));
    EXPECT_ST(FAIO_OK, Submit1(ctx, r));
    return r;
  }
};
FAIO_INSTANTIATE(Wait);

TEST_P(Wait, SizeZeroIsInvalidParameter) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* out[4];
  uint32_t count = 99;
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_wait(ctx, 0, 0, out, 0, &count));
  EXPECT_EQ(count, 0u) << "the count is written also on failure";
  count = 99;
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_wait(ctx, 1, 1000, out, 0, &count));
  EXPECT_EQ(count, 0u);
}

TEST_P(Wait, NullOutputIsInvalidParameter) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  uint32_t count = 99;
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_wait(ctx, 1, 1000, nullptr, 4, &count));
  EXPECT_EQ(count, 0u);
}

TEST_P(Wait, NullCountIsInvalidParameter) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* out[4];
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_wait(ctx, 1, 1000, out, 4, nullptr));
}

TEST_P(Wait, MinGreaterThanSizeIsOutOfRange) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* out[4];
  uint32_t count = 99;
  // Checked before NO_REQUEST: the context is empty.
  EXPECT_ST(FAIO_E_OUT_OF_RANGE, faio_ctx_wait(ctx, 5, 1000, out, 4, &count));
  EXPECT_EQ(count, 0u);
  // And with a request in flight, which is neither reaped nor lost.
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[0]));
  SleepMs(10);
  count = 99;
  EXPECT_ST(FAIO_E_OUT_OF_RANGE, faio_ctx_wait(ctx, 2, 1000, out, 1, &count));
  EXPECT_EQ(count, 0u);
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(reqs[0], nullptr));
  EXPECT_EQ(Reap(ctx, 1).size(), 1u);
}

TEST_P(Wait, InvalidContextIsInvalidHandle) {
  faio_req* out[4];
  uint32_t count = 99;
  EXPECT_ST(FAIO_E_INVALID_HANDLE,
            faio_ctx_wait(reinterpret_cast<faio_ctx*>(uintptr_t{0x1234}), 1, 0, out, 4, &count));
  EXPECT_EQ(count, 0u);
  count = 99;
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_wait(nullptr, 1, 0, out, 4, &count));
  EXPECT_EQ(count, 0u);
}

TEST_P(Wait, NoRequestReturnsAtOnce) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* out[4];
  uint32_t count = 99;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_E_NO_REQUEST, faio_ctx_wait(ctx, 1, FAIO_WAIT_INDEFINITE, out, 4, &count));
  EXPECT_EQ(count, 0u);
  EXPECT_LT(MsSince(t0), PromptMs()) << "NO_REQUEST must not wait for the timeout";
}

TEST_P(Wait, WithoutPendingFlagTimesOut) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  faio_req* out[4];
  uint32_t count = 99;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 200, out, 4, &count));
  int64_t ms = MsSince(t0);
  EXPECT_EQ(count, 0u);
  EXPECT_GE(ms, 199) << "returned before the timeout";
  EXPECT_LT(ms, 200 + LateMs()) << "returned far after the timeout";
}

TEST_P(Wait, WithoutPendingFlagSeesRequestsSubmittedMeanwhile) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  LateSubmit w = WaitWhileSubmittedLater(ctx, reqs[0]);
  int64_t ms = w.ms;
  EXPECT_ST(FAIO_OK, w.status);
  ASSERT_EQ(w.count, 1u);
  EXPECT_EQ(w.first, reqs[0]);
  // The submit on the other thread ends the blocked wait: a backend that
  // completes a cached read at submit (threads, linux_aio) must wake it.
  EXPECT_LT(ms, 100 + LateMs()) << "the wait did not see the submitted request promptly";
}

// A timeout after a partial reap: success with what was reaped (fewer than the
// minimum), not before the timeout; the rest stays in flight.
TEST_P(Wait, TimeoutAfterAPartialReapReturnsItWithSuccess) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  Pipe* p = NewPipe();
  char pb[4];
  faio_req* held = HoldPipeRead(ctx, p, pb, sizeof pb);
  std::vector<faio_req*> reqs = NewReqs(1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[0]));
  faio_req* const sentinel = reinterpret_cast<faio_req*>(uintptr_t{0xbad0});
  faio_req* out[4] = {sentinel, sentinel, sentinel, sentinel};
  uint32_t count = 99;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_OK, faio_ctx_wait(ctx, 2, 300, out, 4, &count))
      << "completions come only with success";
  int64_t ms = MsSince(t0);
  EXPECT_GE(ms, 299) << "returned before the timeout with fewer than the minimum";
  EXPECT_LT(ms, 300 + LateMs()) << "returned far after the timeout";
  ASSERT_EQ(count, 1u) << "exactly the finished request";
  EXPECT_EQ(out[0], reqs[0]);
  EXPECT_EQ(out[1], sentinel) << "wrote past the count";
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[0], &n)) << "returned means completed";
  EXPECT_EQ(n, 64u);
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(held, nullptr));
  // With nothing reaped, the timeout is TIMEOUT with count 0.
  count = 99;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 20, out, 4, &count));
  EXPECT_EQ(count, 0u);
  ASSERT_EQ(p->Feed(sizeof pb), sizeof pb);
  count = 0;
  EXPECT_ST(FAIO_OK, faio_ctx_wait(ctx, 1, 5000, out, 4, &count));
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0], held);
  ExpectNoneCounted(ctx);
}

TEST_P(Wait, MinMetReturnsSuccess) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(4);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  faio_req* out[8];
  uint32_t count = 0;
  EXPECT_ST(FAIO_OK, faio_ctx_wait(ctx, 4, FAIO_WAIT_INDEFINITE, out, 8, &count));
  ASSERT_EQ(count, 4u);
  EXPECT_TRUE(SameSet(std::vector<faio_req*>(out, out + count), reqs));
}

TEST_P(Wait, MinZeroMeansOne) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[0]));
  faio_req* out[4];
  uint32_t count = 0;
  EXPECT_ST(FAIO_OK, faio_ctx_wait(ctx, 0, 5000, out, 4, &count));
  EXPECT_EQ(count, 1u);
  // With nothing finished, min 0 waits (for one) instead of returning empty.
  Pipe* p = NewPipe();
  char pb[4];
  faio_req* held = HoldPipeRead(ctx, p, pb, sizeof pb);
  count = 99;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 0, 150, out, 4, &count));
  EXPECT_GE(MsSince(t0), 149);
  EXPECT_EQ(count, 0u);
  p->Feed(sizeof pb);
  EXPECT_TRUE(SameSet(Reap(ctx, 1), {held}));
}

TEST_P(Wait, MinIsCappedAtRequestsInFlight) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(2);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  faio_req* out[8];
  uint32_t count = 0;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_OK, faio_ctx_wait(ctx, 8, 10000, out, 8, &count));
  EXPECT_LT(MsSince(t0), 5000) << "waited for completions that cannot come";
  EXPECT_EQ(count, 2u);
  ExpectNoneCounted(ctx);
}

TEST_P(Wait, NeverMoreThanSizeAndTheRestIsKept) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(10);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  SleepMs(50);  // all finished in the kernel
  faio_req* const sentinel = reinterpret_cast<faio_req*>(uintptr_t{0xbad0});
  std::vector<faio_req*> got;
  for (int round = 0; round < 20 && got.size() < reqs.size(); round++) {
    faio_req* out[16];
    std::fill(std::begin(out), std::end(out), sentinel);
    uint32_t count = 99;
    int s = faio_ctx_wait(ctx, 1, 5000, out, 3, &count);
    ASSERT_ST(FAIO_OK, s);
    ASSERT_GE(count, 1u);
    ASSERT_LE(count, 3u) << "wait returned more than size";
    for (int i = 3; i < 16; i++) ASSERT_EQ(out[i], sentinel) << "wrote past size at " << i;
    got.insert(got.end(), out, out + count);
  }
  EXPECT_TRUE(SameSet(got, reqs));
  ExpectNoneCounted(ctx);
}

TEST_P(Wait, SecondConcurrentWaiterIsBusy) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  char pb[4];
  faio_req* held = HoldPipeRead(ctx, p, pb, sizeof pb);
  std::atomic<int> first{1};
  std::atomic<uint32_t> first_count{99};
  std::thread waiter([&] {
    faio_req* out[4];
    uint32_t count = 0;
    int s;
    do {
      s = faio_ctx_wait(ctx, 1, 10000, out, 4, &count);
    } while (s == FAIO_E_BUSY);  // our probe may hold the wait for an instant
    first_count = count;
    first = s;
  });
  Clock::time_point t0 = Clock::now();
  int s;
  uint32_t count;
  do {
    faio_req* out[4];
    count = 99;
    s = faio_ctx_wait(ctx, 1, 0, out, 4, &count);
  } while (s == FAIO_E_TIMEOUT && MsSince(t0) < 5000);
  EXPECT_ST(FAIO_E_BUSY, s);
  EXPECT_EQ(count, 0u);
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(held, nullptr));
  // The first waiter is not disturbed: it gets the completion.
  p->Feed(sizeof pb);
  waiter.join();
  EXPECT_ST(FAIO_OK, first.load());
  EXPECT_EQ(first_count.load(), 1u);
  ExpectNoneCounted(ctx);
}

TEST_P(Wait, TimeoutIsHonoured) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  char pb[4];
  faio_req* held = HoldPipeRead(ctx, p, pb, sizeof pb);
  for (uint32_t t : {1u, 50u, 250u}) {
    SCOPED_TRACE(t);
    faio_req* out[4];
    uint32_t count = 99;
    Clock::time_point t0 = Clock::now();
    EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, t, out, 4, &count));
    int64_t ms = MsSince(t0);
    EXPECT_EQ(count, 0u);
    EXPECT_GE(ms, static_cast<int64_t>(t) - 1);
    EXPECT_LT(ms, static_cast<int64_t>(t) + LateMs());
  }
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(held, nullptr));
  p->Feed(sizeof pb);
  EXPECT_TRUE(SameSet(Reap(ctx, 1), {held}));
}

TEST_P(Wait, TimeoutZeroPolls) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  char pb[4];
  faio_req* held = HoldPipeRead(ctx, p, pb, sizeof pb);
  faio_req* out[4];
  uint32_t count = 99;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 0, out, 4, &count));
  EXPECT_LT(MsSince(t0), 500);
  EXPECT_EQ(count, 0u);
  p->Feed(sizeof pb);
  // A poll eventually sees the completion.
  t0 = Clock::now();
  int s;
  do {
    count = 0;
    s = faio_ctx_wait(ctx, 1, 0, out, 4, &count);
  } while (s == FAIO_E_TIMEOUT && MsSince(t0) < 5000);
  EXPECT_ST(FAIO_OK, s);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0], held);
}

TEST_P(Wait, IndefiniteWaitReturnsWhenACompletionArrives) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  char pb[4];
  faio_req* held = HoldPipeRead(ctx, p, pb, sizeof pb);
  std::thread feeder([&] {
    SleepMs(100);
    p->Feed(sizeof pb);
  });
  faio_req* out[4];
  uint32_t count = 0;
  Clock::time_point t0 = Clock::now();
  int s = faio_ctx_wait(ctx, 1, FAIO_WAIT_INDEFINITE, out, 4, &count);
  int64_t ms = MsSince(t0);
  feeder.join();
  EXPECT_ST(FAIO_OK, s);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0], held);
  EXPECT_GE(ms, 90);
  EXPECT_LT(ms, 100 + LateMs()) << "returned long after the completion";
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(held, &n));
  EXPECT_EQ(n, sizeof pb);
}

TEST_P(Wait, ReturnedRequestsAreCompletedAndNoLongerCounted) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(3);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  std::vector<faio_req*> got = Reap(ctx, 3);
  ASSERT_TRUE(SameSet(got, reqs));
  for (faio_req* r : got) {
    EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
    EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_cancel(r));
    EXPECT_ST(FAIO_OK, faio_req_destroy(r));
  }
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx)) << "nothing is counted after the wait";
}

TEST_P(Wait, EveryRequestIsReturnedExactlyOnce) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  constexpr size_t kN = 200;
  auto f = NewFile(64 * kN);
  std::vector<faio_req*> reqs = NewReqs(kN);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), kN / 2));
  std::vector<faio_req*> got;
  const size_t sizes[] = {1, 2, 3, 5, 7, 16};
  size_t round = 0;
  bool second_half = false;
  Clock::time_point t0 = Clock::now();
  while (got.size() < kN && MsSince(t0) < 10000) {
    if (!second_half && got.size() >= kN / 4) {
      ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data() + kN / 2, kN / 2));
      second_half = true;
    }
    size_t size = sizes[round++ % 6];
    std::vector<faio_req*> out(size);
    uint32_t count = 0;
    int s = faio_ctx_wait(ctx, 1, 5000, out.data(), size, &count);
    ASSERT_TRUE(s == FAIO_OK || s == FAIO_E_TIMEOUT) << StatusName(s);
    ASSERT_LE(count, size);
    got.insert(got.end(), out.begin(), out.begin() + count);
  }
  EXPECT_TRUE(SameSet(got, reqs));
  ExpectNoneCounted(ctx);
}

}  // namespace
}  // namespace faio_test
