// submit_test.cc - faio_ctx_submit (docs/contract.md, Submit): argument checks, the
// all-or-nothing validation of a batch, capacity and partial submission, and
// requests the host rejects on its own.
#include "conformance.h"

namespace faio_test {
namespace {

class Submit : public BackendTest {
 protected:
  // All of reqs are prepared and not submitted.
  static void ExpectAllPrepared(const std::vector<faio_req*>& reqs) {
    for (size_t i = 0; i < reqs.size(); i++) {
      EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(reqs[i], nullptr)) << "request " << i;
    }
  }
  // A capacity small enough to fill in a test.
  static uint32_t SmallCapacity(faio_ctx* c) {
    uint32_t cap = faio_ctx_capacity(c);
    EXPECT_GE(cap, 8u);
    EXPECT_LE(cap, 1024u) << "asked for 8, got a capacity too large to fill in a test";
    return cap;
  }
};
FAIO_INSTANTIATE(Submit);

TEST_P(Submit, CountZeroIsInvalidParameter) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_submit(ctx, reqs.data(), 0));
  ExpectAllPrepared(reqs);
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, NullArrayIsInvalidParameter) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_submit(ctx, nullptr, 1));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_submit(ctx, nullptr, 0));
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, InvalidContextIsInvalidHandle) {
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  EXPECT_ST(FAIO_E_INVALID_HANDLE,
            faio_ctx_submit(reinterpret_cast<faio_ctx*>(uintptr_t{0x1234}), reqs.data(), 1));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_submit(nullptr, reqs.data(), 1));
  ExpectAllPrepared(reqs);
}

TEST_P(Submit, InvalidHandleAnywhereInBatchSubmitsNothing) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  int local = 0;
  faio_req* dead = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&dead));
  ASSERT_ST(FAIO_OK, faio_req_destroy(dead));
  const std::vector<std::pair<faio_req*, const char*>> bad = {
      {reinterpret_cast<faio_req*>(uintptr_t{0x1234}), "0x1234"},
      {reinterpret_cast<faio_req*>(&local), "&local"},
      {dead, "destroyed"},
      {nullptr, "null"},
  };
  std::vector<faio_req*> good = NewReqs(4);
  std::vector<Bytes> bufs;
  PrepareReads(good, f->fd(), &bufs);
  for (const auto& [handle, what] : bad) {
    for (size_t pos : {size_t{0}, size_t{2}, size_t{4}}) {
      SCOPED_TRACE(std::string(what) + " at position " + std::to_string(pos));
      std::vector<faio_req*> batch = good;
      batch.insert(batch.begin() + static_cast<ptrdiff_t>(pos), handle);
      EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_submit(ctx, batch.data(), batch.size()));
      ExpectAllPrepared(good);
      ExpectNoneCounted(ctx);
    }
  }
  EXPECT_EQ(local, 0);
  // Every valid request is still prepared as it was and goes through now.
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, good.data(), good.size()));
  EXPECT_TRUE(SameSet(Reap(ctx, good.size()), good));
  for (size_t i = 0; i < good.size(); i++) {
    size_t n = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(good[i], &n));
    EXPECT_EQ(n, 64u);
    EXPECT_EQ(faio_req_user(good[i]), reinterpret_cast<void*>(i + 1));
  }
}

TEST_P(Submit, IdleRequestInBatchIsInvalidState) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> good = NewReqs(3);
  std::vector<Bytes> bufs;
  PrepareReads(good, f->fd(), &bufs);
  faio_req* idle = NewReq();
  std::vector<faio_req*> batch = {good[0], good[1], idle, good[2]};
  EXPECT_ST(FAIO_E_INVALID_STATE, faio_ctx_submit(ctx, batch.data(), batch.size()));
  ExpectAllPrepared(good);
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(idle, nullptr));
  ExpectNoneCounted(ctx);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, good.data(), good.size()));
  EXPECT_TRUE(SameSet(Reap(ctx, good.size()), good));
}

TEST_P(Submit, DuplicateInBatchIsInvalidState) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> good = NewReqs(3);
  std::vector<Bytes> bufs;
  PrepareReads(good, f->fd(), &bufs);
  for (std::vector<faio_req*> batch :
       {std::vector<faio_req*>{good[0], good[0]},
        std::vector<faio_req*>{good[0], good[1], good[2], good[1]},
        std::vector<faio_req*>{good[2], good[0], good[1], good[2]}}) {
    EXPECT_ST(FAIO_E_INVALID_STATE, faio_ctx_submit(ctx, batch.data(), batch.size()));
    ExpectAllPrepared(good);
    ExpectNoneCounted(ctx);
  }
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, good.data(), good.size()));
  EXPECT_TRUE(SameSet(Reap(ctx, good.size()), good));
}

TEST_P(Submit, AlreadySubmittedInBatchIsInvalidState) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  auto f = NewFile();
  faio_req* held = NewReq();
  char hb[4];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(held, p->r, 0, hb, sizeof hb, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, held));
  std::vector<faio_req*> good = NewReqs(2);
  std::vector<Bytes> bufs;
  PrepareReads(good, f->fd(), &bufs);
  std::vector<faio_req*> batch = {good[0], held, good[1]};
  EXPECT_ST(FAIO_E_INVALID_STATE, faio_ctx_submit(ctx, batch.data(), batch.size()));
  EXPECT_ST(FAIO_E_INVALID_STATE, Submit1(ctx, held));
  ExpectAllPrepared(good);
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(held, nullptr)) << "still submitted, once";
  ASSERT_EQ(p->Feed(sizeof hb), sizeof hb);
  std::vector<faio_req*> got = Reap(ctx, 2, milliseconds(3000));
  ASSERT_EQ(got.size(), 1u) << "only the held read was counted";
  EXPECT_EQ(got[0], held);
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, CompletedRequestWithoutPrepareIsInvalidState) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[0]));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  EXPECT_ST(FAIO_E_INVALID_STATE, Submit1(ctx, reqs[0])) << "completed is not prepared";
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[0], nullptr)) << "the outcome is kept";
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, OverCapacitySubmitsExactPrefix) {
  faio_ctx* ctx = NewCtx(8);
  ASSERT_NE(ctx, nullptr);
  const uint32_t cap = SmallCapacity(ctx);
  ASSERT_FALSE(HasFailure());
  const size_t n = cap + 5;
  auto f = NewFile(64 * n);
  std::vector<faio_req*> reqs = NewReqs(n);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, reqs.data(), n));
  for (size_t i = 0; i < n; i++) {
    EXPECT_ST(i < cap ? FAIO_E_IN_PROGRESS : FAIO_E_NOT_SUBMITTED,
              faio_req_result(reqs[i], nullptr))
        << "request " << i << " of " << n << ", capacity " << cap;
  }
  EXPECT_ST(FAIO_E_BUSY, faio_ctx_destroy(ctx));
  std::vector<faio_req*> prefix(reqs.begin(), reqs.begin() + cap);
  std::vector<faio_req*> rest(reqs.begin() + cap, reqs.end());
  EXPECT_TRUE(SameSet(Reap(ctx, n, milliseconds(5000)), prefix));
  ExpectNoneCounted(ctx);
  // The rest are prepared, unchanged, and can be submitted again.
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, rest.data(), rest.size()));
  EXPECT_TRUE(SameSet(Reap(ctx, rest.size()), rest));
  for (size_t i = 0; i < n; i++) {
    size_t got = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(reqs[i], &got));
    EXPECT_EQ(got, 64u);
    EXPECT_EQ(bufs[i][0], static_cast<unsigned char>(i * 64 * 7 + 3)) << "request " << i;
  }
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, OverCapacityCountsRequestsAlreadyInFlight) {
  faio_ctx* ctx = NewCtx(8);
  ASSERT_NE(ctx, nullptr);
  const uint32_t cap = SmallCapacity(ctx);
  ASSERT_FALSE(HasFailure());
  auto f = NewFile(64 * (cap + 3));
  std::vector<faio_req*> reqs = NewReqs(cap + 3);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  // cap - 3 in flight, then a batch of 6: exactly 3 of them fit.
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), cap - 3));
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, reqs.data() + cap - 3, 6));
  for (size_t i = cap - 3; i < cap + 3; i++) {
    EXPECT_ST(i < cap ? FAIO_E_IN_PROGRESS : FAIO_E_NOT_SUBMITTED,
              faio_req_result(reqs[i], nullptr))
        << "request " << i;
  }
  std::vector<faio_req*> in(reqs.begin(), reqs.begin() + cap);
  EXPECT_TRUE(SameSet(Reap(ctx, cap + 3, milliseconds(5000)), in));
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, FullContextRefusesOneMoreUntilOneIsReaped) {
  faio_ctx* ctx = NewCtx(8);
  ASSERT_NE(ctx, nullptr);
  const uint32_t cap = SmallCapacity(ctx);
  ASSERT_FALSE(HasFailure());
  auto f = NewFile(64 * (cap + 1));
  std::vector<faio_req*> reqs = NewReqs(cap + 1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), cap));
  SleepMs(20);  // finished in the kernel, but not reaped: still counted
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, Submit1(ctx, reqs[cap]));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(reqs[cap], nullptr));
  std::vector<faio_req*> one = Reap(ctx, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_ST(FAIO_OK, Submit1(ctx, reqs[cap]));
  EXPECT_EQ(Reap(ctx, cap).size(), cap);
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, BadDescriptorIsAcceptedAndCompletesWithBadFile) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  const faio_file closed = ClosedFd();
#ifdef _WIN32
  const faio_file never_open = reinterpret_cast<HANDLE>(uintptr_t{0x3FFFFF00});
#else
  const faio_file never_open = 1 << 20;
#endif
  std::vector<faio_req*> reqs = NewReqs(4);
  char b[4][32];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[0], closed, 0, b[0], 32, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[1], never_open, 0, b[1], 32, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[2], f->fd(), 0, b[2], 32, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(reqs[3], closed, nullptr));
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  EXPECT_TRUE(SameSet(Reap(ctx, 4), reqs));
  for (int i : {0, 1, 3}) {
    size_t n = 77;
    EXPECT_ST(FAIO_E_BAD_FILE, faio_req_result(reqs[i], &n)) << "request " << i;
    EXPECT_EQ(faio_req_host_error(reqs[i]), kBadFileError) << "request " << i;
    EXPECT_EQ(n, 0u);
  }
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[2], nullptr));
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, RequestOutlivesItsSubmittingThread) {
  // A submitter thread may end while its requests are in flight: they still
  // complete with their own result (io_uring cancels a task's requests when
  // the task exits unless the backend prevents it).
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  std::vector<faio_req*> reqs = NewReqs(4);
  std::vector<Bytes> bufs(reqs.size(), Bytes(1));
  for (size_t i = 0; i < reqs.size(); i++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[i], p->r, 0, bufs[i].data(), 1, nullptr));
  }
  std::thread([&] { EXPECT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size())); }).join();
  SleepMs(50);
  ASSERT_EQ(p->Feed(reqs.size()), reqs.size());
  EXPECT_TRUE(SameSet(Reap(ctx, reqs.size()), reqs));
  for (faio_req* r : reqs) {
    size_t n = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(faio_req_host_error(r), 0);
  }
}

TEST_P(Submit, LargeBatchAllComplete) {
  faio_ctx* ctx = NewCtx(0);
  ASSERT_NE(ctx, nullptr);
  const size_t n = std::min<size_t>(faio_ctx_capacity(ctx), 2000);
  ASSERT_GE(n, 1u);
  auto f = NewFile(64 * n);
  std::vector<faio_req*> reqs = NewReqs(n);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), n));
  EXPECT_TRUE(SameSet(Reap(ctx, n, milliseconds(20000), 256), reqs));
  for (size_t i = 0; i < n; i++) {
    ASSERT_ST(FAIO_OK, faio_req_result(reqs[i], nullptr));
    ASSERT_EQ(bufs[i][5], static_cast<unsigned char>((i * 64 + 5) * 7 + 3)) << i;
  }
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, ConcurrentSubmittersFromManyThreads) {
  faio_ctx* ctx = NewCtx(0);
  ASSERT_NE(ctx, nullptr);
  constexpr size_t kThreads = 4;
  // 100 each, or as many as the capacity holds at once (FreeBSD's POSIX AIO
  // refuses jobs beyond vfs.aio.max_aio_queue_per_proc, 256): a full context
  // refuses a submit, which is not what this test is about.
  const size_t kPer = std::min<size_t>(100, faio_ctx_capacity(ctx) / kThreads);
  ASSERT_GE(kPer, 1u);
  auto f = NewFile(64 * kPer);
  std::vector<std::vector<faio_req*>> reqs;
  std::vector<std::vector<Bytes>> bufs(kThreads);
  std::vector<faio_req*> all;
  for (size_t t = 0; t < kThreads; t++) {
    reqs.push_back(NewReqs(kPer));
    all.insert(all.end(), reqs[t].begin(), reqs[t].end());
    PrepareReads(reqs[t], f->fd(), &bufs[t]);
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (faio_req* r : reqs[t]) {
        if (Submit1(ctx, r) != FAIO_OK) failures++;
      }
    });
  }
  // Reap while they submit; NO_REQUEST only means "none yet".
  std::vector<faio_req*> got;
  std::vector<faio_req*> out(16);
  Clock::time_point t0 = Clock::now();
  while (got.size() < all.size() && MsSince(t0) < 20000) {
    uint32_t count = 0;
    int s = faio_ctx_wait(ctx, 1, 100, out.data(), out.size(), &count);
    ASSERT_TRUE(s == FAIO_OK || s == FAIO_E_TIMEOUT || s == FAIO_E_NO_REQUEST) << StatusName(s);
    got.insert(got.end(), out.begin(), out.begin() + count);
    if (s == FAIO_E_NO_REQUEST) std::this_thread::yield();
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(SameSet(got, all));
  ExpectNoneCounted(ctx);
}

TEST_P(Submit, MixedReadWriteFlushBatch) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(4096);
  std::vector<faio_req*> reqs = NewReqs(5);
  Bytes w1 = RandomBytes(512, 1);
  Bytes w2 = RandomBytes(512, 2);
  Bytes r1(512);
  Bytes r2(512);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[0], f->fd(), 8192, w1.data(), w1.size(), nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[1], f->fd(), 0, r1.data(), r1.size(), nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(reqs[2], f->fd(), nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[3], f->fd(), 9000, w2.data(), w2.size(), nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[4], f->fd(), 1024, r2.data(), r2.size(), nullptr));
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  EXPECT_TRUE(SameSet(Reap(ctx, reqs.size()), reqs));
  for (size_t i = 0; i < reqs.size(); i++) {
    size_t n = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(reqs[i], &n)) << "request " << i;
    if (i != 2) {
      EXPECT_EQ(n, 512u) << "request " << i;
    }
  }
  Bytes all = f->ReadAll();
  ASSERT_EQ(all.size(), 9000u + 512u);
  EXPECT_TRUE(std::equal(w1.begin(), w1.end(), all.begin() + 8192));
  EXPECT_TRUE(std::equal(w2.begin(), w2.end(), all.begin() + 9000));
  EXPECT_EQ(r1[1], static_cast<unsigned char>(1 * 7 + 3));
  EXPECT_EQ(r2[1], static_cast<unsigned char>(1025 * 7 + 3));
}

}  // namespace
}  // namespace faio_test
