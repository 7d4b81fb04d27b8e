// wakeup_test.cc - faio_ctx_wakeup (SPEC.md §2 "Wakeup"): a blocked waiter
// returns INTERRUPTED promptly, a wakeup with no waiter is remembered, several
// count as one, and none is lost or invented when wakeup races with wait.
#ifndef _WIN32
#include <signal.h>
#endif

#include "conformance.h"

namespace faio_test {
namespace {

// BlockedWaiter runs one faio_ctx_wait on its own thread (retrying while another
// thread holds the wait, which only our probes do) and records how it returned.
class BlockedWaiter {
 public:
  BlockedWaiter(faio_ctx* ctx, size_t min, uint32_t timeout_ms, size_t size = 8)
      : ctx_(ctx), out_(size) {
    thread_ = std::thread([this, min, timeout_ms] {
      int s;
      uint32_t count = 0;
      do {
        count = 0;
        s = faio_ctx_wait(ctx_, min, timeout_ms, out_.data(), out_.size(), &count);
      } while (s == FAIO_E_BUSY);
      count_ = count;
      returned_at_ = Clock::now();
      status_ = s;
      done_ = true;
    });
  }
  ~BlockedWaiter() { Join(); }

  // WaitUntilBlocked polls the context until a poll answers BUSY, i.e. the
  // waiter is inside its wait. Only for contexts whose polls reap nothing.
  bool WaitUntilBlocked() {
    Clock::time_point t0 = Clock::now();
    while (MsSince(t0) < 5000 && !done_.load()) {
      faio_req* out[2];
      uint32_t count = 0;
      int s = faio_ctx_wait(ctx_, 1, 0, out, 2, &count);
      if (s == FAIO_E_BUSY) return true;
      EXPECT_TRUE(s == FAIO_E_TIMEOUT) << "probe got " << StatusName(s);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_.load(); }
  int status() const { return status_; }
  uint32_t count() const { return count_; }
  Clock::time_point returned_at() const { return returned_at_; }
  std::vector<faio_req*> returned() const {
    return std::vector<faio_req*>(out_.begin(), out_.begin() + count_);
  }

 private:
  faio_ctx* ctx_;
  std::vector<faio_req*> out_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  int status_ = 1;
  uint32_t count_ = 0;
  Clock::time_point returned_at_;
};

class Wakeup : public BackendTest {};
FAIO_INSTANTIATE(Wakeup);

TEST_P(Wakeup, InvalidHandle) {
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_wakeup(reinterpret_cast<faio_ctx*>(uintptr_t{0x1234})));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_wakeup(nullptr));
  faio_ctx_options o = Options();
  faio_ctx* c = nullptr;
  ASSERT_ST(FAIO_OK, faio_ctx_create_ex(&c, &o));
  ASSERT_ST(FAIO_OK, faio_ctx_destroy(c));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_wakeup(c));
}

TEST_P(Wakeup, WakesABlockedWaiterPromptly) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  BlockedWaiter w(ctx, 1, FAIO_WAIT_INDEFINITE);
  ASSERT_TRUE(w.WaitUntilBlocked());
  SleepMs(20);
  Clock::time_point woken = Clock::now();
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  RunWithDeadline(std::chrono::seconds(10), "a woken indefinite wait", [&] { w.Join(); });
  EXPECT_ST(FAIO_E_INTERRUPTED, w.status());
  EXPECT_EQ(w.count(), 0u);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(w.returned_at() - woken).count(), 500)
      << "the wakeup was not prompt";
  // The wakeup was consumed.
  faio_req* out[2];
  uint32_t count = 0;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 0, out, 2, &count));
}

TEST_P(Wakeup, WakesAWaiterWithRequestsInFlight) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* held = NewReq();
  char pb[4];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(held, p->r, 0, pb, sizeof pb, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, held));
  BlockedWaiter w(ctx, 1, 20000);
  ASSERT_TRUE(w.WaitUntilBlocked());
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  w.Join();
  EXPECT_ST(FAIO_E_INTERRUPTED, w.status());
  EXPECT_EQ(w.count(), 0u);
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(held, nullptr));
  p->Feed(sizeof pb);
  EXPECT_TRUE(SameSet(Reap(ctx, 1), {held}));
}

TEST_P(Wakeup, WakeupBeforeWaitInterruptsAtOnce) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  faio_req* out[2];
  uint32_t count = 99;
  Clock::time_point t0 = Clock::now();
  int s = FAIO_OK;
  RunWithDeadline(std::chrono::seconds(10), "a wait after a wakeup",
                  [&] { s = faio_ctx_wait(ctx, 1, FAIO_WAIT_INDEFINITE, out, 2, &count); });
  EXPECT_ST(FAIO_E_INTERRUPTED, s);
  EXPECT_EQ(count, 0u);
  EXPECT_LT(MsSince(t0), 500);
}

TEST_P(Wakeup, SeveralWakeupsCountAsOne) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  for (int i = 0; i < 5; i++) ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  faio_req* out[2];
  uint32_t count = 99;
  EXPECT_ST(FAIO_E_INTERRUPTED, faio_ctx_wait(ctx, 1, 5000, out, 2, &count));
  count = 99;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 100, out, 2, &count));
  EXPECT_GE(MsSince(t0), 99);
  EXPECT_EQ(count, 0u);
}

TEST_P(Wakeup, PendingWakeupWithMinMetStillInterrupts) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(2);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  SleepMs(50);  // both finished in the kernel
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  faio_req* out[4] = {};
  uint32_t count = 99;
  EXPECT_ST(FAIO_E_INTERRUPTED, faio_ctx_wait(ctx, 2, 5000, out, 4, &count));
  EXPECT_EQ(count, 2u) << "the completions already available come with the interrupt";
  std::vector<faio_req*> got(out, out + std::min<uint32_t>(count, 4));
  std::vector<faio_req*> rest = Reap(ctx, 2 - std::min<size_t>(got.size(), 2));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_TRUE(SameSet(got, reqs));
  for (faio_req* r : reqs) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  ExpectNoneCounted(ctx);
}

TEST_P(Wakeup, InterruptedWaitKeepsTheCompletionsItReaped) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  Pipe* p = NewPipe();
  std::vector<faio_req*> reqs = NewReqs(2);
  std::vector<Bytes> bufs;
  PrepareReads({reqs[0]}, f->fd(), &bufs);
  char pb[4];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[1], p->r, 0, pb, sizeof pb, nullptr));
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), 2));
  BlockedWaiter w(ctx, 2, 20000);
  SleepMs(100);  // the file read is done; the waiter waits for the pipe read
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  w.Join();
  EXPECT_ST(FAIO_E_INTERRUPTED, w.status());
  std::vector<faio_req*> got = w.returned();
  EXPECT_LE(got.size(), 1u);
  for (faio_req* r : got) {
    EXPECT_EQ(r, reqs[0]);
    EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr)) << "returned means completed";
  }
  p->Feed(sizeof pb);
  std::vector<faio_req*> rest = Reap(ctx, 2 - got.size());
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_TRUE(SameSet(got, reqs)) << "each request comes back exactly once";
  ExpectNoneCounted(ctx);
}

TEST_P(Wakeup, WakeupIsPerContext) {
  faio_ctx* a = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  faio_ctx* b = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(a));
  faio_req* out[2];
  uint32_t count = 0;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(b, 1, 50, out, 2, &count));
  EXPECT_ST(FAIO_E_INTERRUPTED, faio_ctx_wait(a, 1, 5000, out, 2, &count));
}

TEST_P(Wakeup, CrossThreadRaceNoLostOrExtraInterrupt) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  std::mt19937 rng(12345);
  int lost = 0;
  int extra = 0;
  for (int i = 0; i < 500 && lost + extra < 3; i++) {
    int waiter_delay = static_cast<int>(rng() % 150);
    int waker_delay = static_cast<int>(rng() % 150);
    std::atomic<int> status{1};
    std::thread waiter([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(waiter_delay));
      faio_req* out[2];
      uint32_t count = 0;
      status = faio_ctx_wait(ctx, 1, 2000, out, 2, &count);
    });
    std::this_thread::sleep_for(std::chrono::microseconds(waker_delay));
    ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
    waiter.join();
    if (status.load() != FAIO_E_INTERRUPTED) {
      ADD_FAILURE() << "iteration " << i << ": waiter got " << StatusName(status.load())
                    << " (lost wakeup)";
      lost++;
    }
    faio_req* out[2];
    uint32_t count = 0;
    int s = faio_ctx_wait(ctx, 1, 0, out, 2, &count);
    if (s != FAIO_E_TIMEOUT) {
      ADD_FAILURE() << "iteration " << i << ": follow-up poll got " << StatusName(s)
                    << " (a wakeup counted twice)";
      extra++;
    }
  }
}

TEST_P(Wakeup, StormFromManyThreadsLeavesAtMostOnePending) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> interrupts{0};
  std::thread waiter([&] {
    // At least one wait, even if every wakeup lands before this thread runs
    // (then that wait finds the one pending wakeup).
    do {
      faio_req* out[2];
      uint32_t count = 0;
      int s = faio_ctx_wait(ctx, 1, 100, out, 2, &count);
      if (s == FAIO_E_INTERRUPTED) interrupts++;
      EXPECT_TRUE(s == FAIO_E_INTERRUPTED || s == FAIO_E_TIMEOUT) << StatusName(s);
    } while (!stop.load());
  });
  std::vector<std::thread> wakers;
  for (int t = 0; t < 6; t++) {
    wakers.emplace_back([&] {
      for (int i = 0; i < 2000; i++) EXPECT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
    });
  }
  for (std::thread& t : wakers) t.join();
  stop = true;
  waiter.join();
  EXPECT_GT(interrupts.load(), 0);
  faio_req* out[2];
  uint32_t count = 0;
  int s = faio_ctx_wait(ctx, 1, 0, out, 2, &count);
  EXPECT_TRUE(s == FAIO_E_INTERRUPTED || s == FAIO_E_TIMEOUT) << StatusName(s);
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 0, out, 2, &count)) << "at most one pending";
}

#ifndef _WIN32
// POSIX signals (faio.h promises async-signal safety on io_uring only; Windows
// has no signal handlers to wake from).
faio_ctx* g_signal_ctx = nullptr;
void WakeFromSignal(int) { (void)faio_ctx_wakeup(g_signal_ctx); }

TEST_P(Wakeup, FromASignalHandler) {
  if (GetParam() != "io_uring") {
    GTEST_SKIP() << "faio.h promises async-signal safety on io_uring only";
  }
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  g_signal_ctx = ctx;
  struct sigaction sa;
  struct sigaction old;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = WakeFromSignal;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  BlockedWaiter w(ctx, 1, 20000);
  EXPECT_TRUE(w.WaitUntilBlocked());
  raise(SIGUSR1);  // the handler runs on this thread
  w.Join();
  EXPECT_ST(FAIO_E_INTERRUPTED, w.status());
  sigaction(SIGUSR1, &old, nullptr);
  g_signal_ctx = nullptr;
}
#endif  // _WIN32

}  // namespace
}  // namespace faio_test
