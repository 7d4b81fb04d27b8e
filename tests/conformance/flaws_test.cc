// flaws_test.cc - one test per flaw of the reference implementation (docs/contract.md,
// The reference design's flaws), each named after what it catches.
#ifndef _WIN32
#include <sys/resource.h>
#endif

#include <csignal>

#include "conformance.h"

namespace faio_test {
namespace {

class Flaws : public BackendTest {};
FAIO_INSTANTIATE(Flaws);

// Flaw 1: a batch holding an invalid request loops forever, and the valid requests
// before it are handed to the kernel anyway.
TEST_P(Flaws, InvalidRequestInBatchDoesNotLoop) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  TempFile f;
  ASSERT_TRUE(f.ok());
  std::vector<faio_req*> good = NewReqs(3);
  std::vector<Bytes> data;
  for (size_t i = 0; i < good.size(); i++) {
    data.push_back(RandomBytes(4096, static_cast<uint32_t>(i + 1)));
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(good[i], f.fd(), static_cast<int64_t>(i * 4096),
                                              data[i].data(), 4096, nullptr));
  }
  faio_req* idle = NewReq();
  faio_req* dead = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&dead));
  ASSERT_ST(FAIO_OK, faio_req_destroy(dead));
  struct Case {
    faio_req* bad;
    int expected;
    const char* what;
  };
  const Case cases[] = {
      {dead, FAIO_E_INVALID_HANDLE, "destroyed handle"},
      {reinterpret_cast<faio_req*>(uintptr_t{0x1234}), FAIO_E_INVALID_HANDLE, "0x1234"},
      {idle, FAIO_E_INVALID_STATE, "idle request"},
      {good[0], FAIO_E_INVALID_STATE, "duplicate of the first"},
  };
  for (const Case& c : cases) {
    for (size_t pos : {size_t{0}, size_t{2}, size_t{3}}) {
      SCOPED_TRACE(std::string(c.what) + " at " + std::to_string(pos));
      std::vector<faio_req*> batch = good;
      batch.insert(batch.begin() + static_cast<ptrdiff_t>(pos), c.bad);
      int s = FAIO_OK;
      RunWithDeadline(std::chrono::seconds(10), "faio_ctx_submit of a batch with a bad request",
                      [&] { s = faio_ctx_submit(ctx, batch.data(), batch.size()); });
      EXPECT_ST(c.expected, s);
      for (faio_req* r : good) EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, nullptr));
      ExpectNoneCounted(ctx);
    }
  }
  SleepMs(50);
  EXPECT_EQ(f.Size(), 0) << "a write of a refused batch reached the file";
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, good.data(), good.size()));
  EXPECT_TRUE(SameSet(Reap(ctx, good.size()), good));
  Bytes all = f.ReadAll();
  ASSERT_EQ(all.size(), 3u * 4096u);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_TRUE(std::equal(data[i].begin(), data[i].end(), all.begin() + i * 4096)) << i;
  }
}

// Flaw 2: after a partial submission the requests that reached the kernel are not
// counted (the count later goes negative) and those beyond are treated as if
// they had been handed over.
TEST_P(Flaws, PartialSubmitCountsExactly) {
  faio_ctx* ctx = NewCtx(8);
  ASSERT_NE(ctx, nullptr);
  const uint32_t cap = faio_ctx_capacity(ctx);
  ASSERT_GE(cap, 8u);
  ASSERT_LE(cap, 1024u);
  const size_t n = cap + 5;
  auto f = NewFile(64 * n);
  std::vector<faio_req*> reqs = NewReqs(n);
  std::vector<Bytes> bufs;
  for (int round = 0; round < 3; round++) {
    SCOPED_TRACE(round);
    PrepareReads(reqs, f->fd(), &bufs);
    EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, reqs.data(), n));
    for (size_t i = 0; i < n; i++) {
      EXPECT_ST(i < cap ? FAIO_E_IN_PROGRESS : FAIO_E_NOT_SUBMITTED,
                faio_req_result(reqs[i], nullptr))
          << "request " << i;
      EXPECT_EQ(faio_req_user(reqs[i]), reinterpret_cast<void*>(i + 1));
    }
    EXPECT_ST(FAIO_E_BUSY, faio_ctx_destroy(ctx)) << "the submitted prefix is counted";
    std::vector<faio_req*> prefix(reqs.begin(), reqs.begin() + cap);
    // Exactly the prefix comes back, then nothing: the count is back to zero.
    EXPECT_TRUE(SameSet(Reap(ctx, n, milliseconds(5000)), prefix));
    ExpectNoneCounted(ctx);
    for (size_t i = cap; i < n; i++) {
      EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(reqs[i], nullptr)) << "request " << i;
    }
    // The rest goes through as a batch of its own.
    std::vector<faio_req*> rest(reqs.begin() + cap, reqs.end());
    ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, rest.data(), rest.size()));
    EXPECT_TRUE(SameSet(Reap(ctx, rest.size()), rest));
    ExpectNoneCounted(ctx);
  }
  // No drift: a batch of exactly the capacity fits, one more does not.
  PrepareReads(reqs, f->fd(), &bufs);
  EXPECT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), cap));
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, Submit1(ctx, reqs[cap]));
  EXPECT_EQ(Reap(ctx, cap).size(), cap);
  ExpectNoneCounted(ctx);
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx));
}

// Flaw 3: a failed flush is judged by its return value instead of errno, so
// resource exhaustion on a flush becomes a hard error.
TEST_P(Flaws, FlushResourceExhaustionIsInsufficientResources) {
  faio_ctx* ctx = NewCtx(4);
  ASSERT_NE(ctx, nullptr);
  const uint32_t cap = faio_ctx_capacity(ctx);
  ASSERT_GE(cap, 4u);
  ASSERT_LE(cap, 1024u);
  Pipe* p = NewPipe();
  auto f = NewFile(4096);
  // Fill the context with held pipe reads.
  std::vector<faio_req*> held = NewReqs(cap);
  std::vector<Bytes> hb(cap, Bytes(1));
  for (size_t i = 0; i < cap; i++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(held[i], p->r, 0, hb[i].data(), 1, nullptr));
  }
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, held.data(), cap));
  faio_req* flush = NewReq();
  int tag = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, f->fd(), &tag));
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, Submit1(ctx, flush));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(flush, nullptr)) << "still prepared";
  EXPECT_EQ(faio_req_host_error(flush), 0);
  EXPECT_EQ(faio_req_user(flush), &tag);
  // A flush inside an over-capacity batch: the transfers before it fit, it does not.
  p->Feed(cap);
  ASSERT_EQ(Reap(ctx, cap).size(), cap);
  std::vector<faio_req*> writes = NewReqs(cap);
  Bytes w = RandomBytes(256, 9);
  for (size_t i = 0; i < cap; i++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(writes[i], f->fd(), static_cast<int64_t>(i * 256),
                                              w.data(), w.size(), nullptr));
  }
  std::vector<faio_req*> batch = writes;
  batch.push_back(flush);
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, batch.data(), batch.size()));
  for (faio_req* r : writes) EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(flush, nullptr));
  EXPECT_TRUE(SameSet(Reap(ctx, cap), writes));
  // With room, the same flush goes through and succeeds.
  ASSERT_ST(FAIO_OK, Submit1(ctx, flush));
  EXPECT_TRUE(SameSet(Reap(ctx, 1), {flush}));
  EXPECT_ST(FAIO_OK, faio_req_result(flush, nullptr));
  ExpectNoneCounted(ctx);
}

// Flaw 4: the wait loop asks the kernel for more events than its array holds.
TEST_P(Flaws, WaitNeverReturnsMoreThanSize) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  constexpr size_t kN = 64;
  auto f = NewFile(64 * kN);
  std::vector<faio_req*> reqs = NewReqs(kN);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), kN));
  SleepMs(50);  // everything is ready at once
  faio_req* const sentinel = reinterpret_cast<faio_req*>(uintptr_t{0x5e47});
  std::vector<faio_req*> got;
  for (int round = 0; round < 200 && got.size() < kN; round++) {
    const size_t size = (round % 2 == 0) ? 4 : 1;
    std::vector<faio_req*> out(kN + 8, sentinel);
    uint32_t count = 0;
    int s = faio_ctx_wait(ctx, size, 5000, out.data(), size, &count);
    ASSERT_ST(FAIO_OK, s);
    ASSERT_LE(count, size) << "round " << round;
    for (size_t i = size; i < out.size(); i++) {
      ASSERT_EQ(out[i], sentinel) << "round " << round << ": wrote entry " << i << " of size "
                                  << size;
    }
    got.insert(got.end(), out.begin(), out.begin() + count);
  }
  EXPECT_TRUE(SameSet(got, reqs)) << "the completions beyond size were kept for later";
  ExpectNoneCounted(ctx);
}

// Flaw 5: a failed transfer's error is taken from the byte count (-1 → EPERM)
// instead of the real error code.
TEST_P(Flaws, ErrorCodeIsRealErrno) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  TempFile f;
  ASSERT_TRUE(f.ok());
  faio_file wronly = f.Open(O_WRONLY);
  faio_file rdonly = f.Open(O_RDONLY);
  ASSERT_TRUE(IsOpen(wronly));
  ASSERT_TRUE(IsOpen(rdonly));
  std::vector<faio_req*> reqs = NewReqs(3);
  char buf[64] = {};
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[0], wronly, 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[1], rdonly, 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[2], ClosedFd(), 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  EXPECT_TRUE(SameSet(Reap(ctx, 3), reqs));
  // The wrong direction (the first two) and a closed file (the third): on
  // POSIX all EBADF; on Windows ERROR_ACCESS_DENIED twice, then
  // ERROR_INVALID_HANDLE.
  for (size_t i = 0; i < reqs.size(); i++) {
    faio_req* r = reqs[i];
    const int want_status = i < 2 ? kWrongDirectionStatus : FAIO_E_BAD_FILE;
    const int want_error = i < 2 ? kWrongDirectionError : kBadFileError;
    size_t n = 77;
    EXPECT_ST(want_status, faio_req_result(r, &n));
    EXPECT_EQ(faio_req_host_error(r), want_error) << "host error " << faio_req_host_error(r) << " ("
                                                  << ErrorText(faio_req_host_error(r)) << ")";
    EXPECT_EQ(n, 0u);
  }
#ifndef _WIN32
  // (Windows has no per-process file size limit to provoke EFBIG with.)
  // EFBIG: a write beyond RLIMIT_FSIZE (SIGXFSZ ignored for the test).
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 1 << 20;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  faio_req* big = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(big, f.fd(), 2 << 20, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, big));
  std::vector<faio_req*> got = Reap(ctx, 1);
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_ST(FAIO_E_FILE_TOO_BIG, faio_req_result(big, nullptr));
  EXPECT_EQ(faio_req_host_error(big), EFBIG);
#endif
  // The context is still fine.
  faio_req* ok = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(ok, f.fd(), 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, ok));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  EXPECT_ST(FAIO_OK, faio_req_result(ok, nullptr));
  EXPECT_EQ(faio_req_host_error(ok), 0);
}

// Flaw 6: a wakeup that arrives just before the waiter blocks is not seen until a
// completion or the timeout (a lost wakeup).
TEST_P(Flaws, WakeupJustBeforeBlockingIsSeen) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  constexpr int kRounds = 1000;
  constexpr uint32_t kTimeoutMs = 1000;
  std::atomic<int> go{-1};
  std::atomic<int> done{-1};
  std::atomic<bool> stop{false};
  std::vector<int> status(kRounds, 1);
  std::vector<int64_t> elapsed(kRounds, 0);
  std::thread waiter([&] {
    for (int i = 0; i < kRounds && !stop.load(); i++) {
      while (go.load(std::memory_order_acquire) < i && !stop.load()) {
      }
      Clock::time_point t0 = Clock::now();
      faio_req* out[2];
      uint32_t count = 0;
      status[i] = faio_ctx_wait(ctx, 1, kTimeoutMs, out, 2, &count);
      elapsed[i] = MsSince(t0);
      done.store(i, std::memory_order_release);
    }
  });
  int lost = 0;
  int extra = 0;
  for (int i = 0; i < kRounds; i++) {
    if (i % 2 == 0) {
      // Release the waiter and wake it in the same instant it enters the wait.
      go.store(i, std::memory_order_release);
      EXPECT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
    } else {
      EXPECT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
      go.store(i, std::memory_order_release);
    }
    while (done.load(std::memory_order_acquire) < i) std::this_thread::yield();
    if (status[i] != FAIO_E_INTERRUPTED || elapsed[i] >= static_cast<int64_t>(kTimeoutMs) / 2) {
      ADD_FAILURE() << "round " << i << ": wait returned " << StatusName(status[i]) << " after "
                    << elapsed[i] << " ms (lost wakeup)";
      if (++lost >= 5) break;
    }
    faio_req* out[2];
    uint32_t count = 0;
    int s = faio_ctx_wait(ctx, 1, 0, out, 2, &count);
    if (s != FAIO_E_TIMEOUT) {
      ADD_FAILURE() << "round " << i << ": a second interrupt (" << StatusName(s) << ")";
      if (++extra >= 5) break;
    }
  }
  stop = true;
  waiter.join();
}

// Flaw 7: a cancelled request is accounted twice (once by cancel, once by its
// completion event), driving the context's count below the truth.
TEST_P(Flaws, CancelledRequestAccountedOnce) {
  faio_ctx* ctx = NewCtx(4);
  ASSERT_NE(ctx, nullptr);
  const uint32_t cap = faio_ctx_capacity(ctx);
  ASSERT_GE(cap, 4u);
  ASSERT_LE(cap, 1024u);
  size_t total_cancelled = 0;
  for (int round = 0; round < 10; round++) {
    SCOPED_TRACE(round);
    Pipe* p = NewPipe();
    std::vector<faio_req*> held = NewReqs(cap);
    std::vector<Bytes> bufs(cap, Bytes(2));
    for (size_t i = 0; i < cap; i++) {
      ASSERT_ST(FAIO_OK, faio_req_prepare_read(held[i], p->r, 0, bufs[i].data(), 2, nullptr));
    }
    ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, held.data(), cap));
    SleepMs(5);
    std::vector<faio_req*> in_progress;
    for (size_t i = cap; i-- > 0;) {
      int s = faio_req_cancel(held[i]);
      if (s == FAIO_OK) {
        total_cancelled++;
        EXPECT_ST(FAIO_E_CANCELLED, faio_req_result(held[i], nullptr));
      } else {
        EXPECT_ST(FAIO_E_IN_PROGRESS, s);
        in_progress.push_back(held[i]);
      }
    }
    if (in_progress.empty()) {
      ExpectNoneCounted(ctx);
      EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx)) << "everything was cancelled";
      ctx = NewCtx(4);
      ASSERT_NE(ctx, nullptr);
      continue;
    }
    EXPECT_ST(FAIO_E_BUSY, faio_ctx_destroy(ctx));
    p->Feed(2 * cap);
    EXPECT_TRUE(SameSet(Reap(ctx, cap, milliseconds(5000)), in_progress));
    ExpectNoneCounted(ctx);
  }
  EXPECT_GE(total_cancelled, 1u);
  // The count is exact: the capacity holds exactly cap requests again.
  Pipe* p = NewPipe();
  std::vector<faio_req*> fill = NewReqs(cap + 1);
  std::vector<Bytes> bufs(cap + 1, Bytes(1));
  for (size_t i = 0; i <= cap; i++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(fill[i], p->r, 0, bufs[i].data(), 1, nullptr));
  }
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, fill.data(), cap + 1));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(fill[cap], nullptr));
  p->Feed(cap);
  EXPECT_EQ(Reap(ctx, cap + 1, milliseconds(5000)).size(), cap);
  ExpectNoneCounted(ctx);
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx));
}

}  // namespace
}  // namespace faio_test
