// wakeup_test.cc - faio_ctx_wakeup (docs/contract.md, Wakeup): a blocked waiter
// returns INTERRUPTED promptly, a wakeup with no waiter is remembered, several
// count as one, none is lost or invented when wakeup races with wait, and a
// wakeup never costs a completion: completions come only with success.
#ifndef _WIN32
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
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
  std::thread::native_handle_type native_handle() { return thread_.native_handle(); }
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
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(w.returned_at() - woken).count(), PromptMs())
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
  EXPECT_LT(MsSince(t0), PromptMs());
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

// A wait that begins with a wakeup pending reports it before it reaps: count 0,
// the finished requests stay in progress, and the next wait returns them.
TEST_P(Wakeup, PendingWakeupInterruptsBeforeReaping) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(2);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  SleepMs(50);  // both finished in the kernel
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  faio_req* const sentinel = reinterpret_cast<faio_req*>(uintptr_t{0xbad0});
  faio_req* out[4] = {sentinel, sentinel, sentinel, sentinel};
  uint32_t count = 99;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_E_INTERRUPTED, faio_ctx_wait(ctx, 2, 5000, out, 4, &count));
  EXPECT_LT(MsSince(t0), PromptMs()) << "a pending wakeup is reported at once";
  EXPECT_EQ(count, 0u) << "no completion is handed out beside a failure status";
  for (faio_req* o : out) EXPECT_EQ(o, sentinel) << "the output array was written";
  for (faio_req* r : reqs) {
    EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr)) << "reaped by an interrupted wait";
  }
  // The next wait returns both, with success.
  count = 0;
  ASSERT_ST(FAIO_OK, faio_ctx_wait(ctx, 2, 5000, out, 4, &count));
  ASSERT_EQ(count, 2u);
  EXPECT_TRUE(SameSet(std::vector<faio_req*>(out, out + 2), reqs));
  for (faio_req* r : reqs) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  ExpectNoneCounted(ctx);
}

// A wakeup into a wait that already holds a completion: the wait returns success
// with it at once (fewer than its minimum), the wakeup stays pending, and the
// next wait returns INTERRUPTED at once with nothing.
TEST_P(Wakeup, WakeupIntoAPartialReapReturnsItThenInterrupts) {
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
  SleepMs(50);  // the file read is done before the waiter starts
  BlockedWaiter w(ctx, 2, 20000);
  SleepMs(100);  // the waiter holds the file read and blocks for the pipe read
  ASSERT_FALSE(w.done()) << "returned without its minimum, before any wakeup";
  Clock::time_point woken = Clock::now();
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  w.Join();
  EXPECT_ST(FAIO_OK, w.status()) << "a wait holding completions returns them with success";
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(w.returned_at() - woken).count(), PromptMs())
      << "the wakeup was not prompt";
  ASSERT_EQ(w.count(), 1u);
  EXPECT_EQ(w.returned()[0], reqs[0]);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[0], &n)) << "returned means completed";
  EXPECT_EQ(n, 64u);
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(reqs[1], nullptr));
  // The wakeup stayed pending: the next wait reports it at once, with nothing.
  faio_req* out[4];
  uint32_t count = 99;
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_E_INTERRUPTED, faio_ctx_wait(ctx, 1, 5000, out, 4, &count));
  EXPECT_LT(MsSince(t0), PromptMs());
  EXPECT_EQ(count, 0u);
  // And it was consumed: the one after that waits for the pipe read.
  count = 99;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 20, out, 4, &count));
  EXPECT_EQ(count, 0u);
  p->Feed(sizeof pb);
  EXPECT_TRUE(SameSet(Reap(ctx, 1), {reqs[1]}));
  ExpectNoneCounted(ctx);
}

// A wakeup into a wait that holds nothing: INTERRUPTED, count 0, consumed.
TEST_P(Wakeup, WakeupIntoAnEmptyWaitInterruptsAndIsConsumed) {
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
  faio_req* out[2];
  uint32_t count = 99;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 20, out, 2, &count)) << "not consumed";
  EXPECT_EQ(count, 0u);
  p->Feed(sizeof pb);
  EXPECT_TRUE(SameSet(Reap(ctx, 1), {held}));
}

// A wakeup storm during a steady stream of completions: every wakeup is seen
// as INTERRUPTED by some wait (the waker sends the next only once the last was
// seen, so none coalesce), no wait hands out a completion beside a failure
// status, and every request comes back exactly once.
TEST_P(Wakeup, StormDuringACompletionStreamLosesNothing) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  constexpr size_t kSlots = 16;
  constexpr int kWakeups = 200;
  auto f = NewFile(64 * kSlots);
  std::vector<faio_req*> reqs = NewReqs(kSlots);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  // The waiting thread owns the requests: it resubmits each one it reaps.
  std::atomic<int> interrupts{0};
  std::atomic<bool> stop{false};
  int64_t reaped = 0, submitted = 0, bad = 0, partial = 0;
  std::atomic<int64_t> flowed{0};  // reaped, for this thread to watch
  std::vector<int> outstanding(kSlots, 0);
  std::thread waiter([&] {
    for (size_t i = 0; i < kSlots; ++i) {
      if (Submit1(ctx, reqs[i]) == FAIO_OK) {
        ++submitted;
        ++outstanding[i];
      }
    }
    std::vector<faio_req*> out(kSlots);
    while (!stop.load()) {
      uint32_t count = 99;
      int s = faio_ctx_wait(ctx, kSlots, 1000, out.data(), out.size(), &count);
      if (s == FAIO_E_INTERRUPTED) {
        if (count != 0) ++bad;
        interrupts.fetch_add(1);
        continue;
      }
      if (s != FAIO_OK) {
        if (s != FAIO_E_TIMEOUT || count != 0) ++bad;
        continue;
      }
      if (count < kSlots) ++partial;
      for (uint32_t i = 0; i < count; ++i) {
        auto it = std::find(reqs.begin(), reqs.end(), out[i]);
        if (it == reqs.end() || faio_req_result(out[i], nullptr) != FAIO_OK) {
          ++bad;
          continue;
        }
        ++reaped;
        flowed.fetch_add(1, std::memory_order_relaxed);
        --outstanding[it - reqs.begin()];
        if (faio_req_prepare_read(out[i], f->fd(), 64 * (it - reqs.begin()),
                                  bufs[it - reqs.begin()].data(), 64, nullptr) == FAIO_OK &&
            Submit1(ctx, out[i]) == FAIO_OK) {
          ++submitted;
          ++outstanding[it - reqs.begin()];
        }
      }
    }
  });
  int unseen = 0;
  for (int i = 0; i < kWakeups && unseen == 0; ++i) {
    int before = interrupts.load();
    std::this_thread::sleep_for(std::chrono::microseconds(50 + (i * 37) % 400));
    ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
    Clock::time_point t0 = Clock::now();
    while (interrupts.load() == before && MsSince(t0) < 5000) std::this_thread::yield();
    if (interrupts.load() == before) {
      ADD_FAILURE() << "wakeup " << i << " was not seen within 5 s";
      ++unseen;
    }
  }
  // The stream still flows after the storm: every request comes back twice
  // more (a stream stalled by the wakeups gives nothing more; a slow host,
  // such as the threads backend under Wine, only takes longer).
  const int64_t after_storm = flowed.load();
  Clock::time_point t0 = Clock::now();
  while (flowed.load() < after_storm + 2 * static_cast<int64_t>(kSlots) && MsSince(t0) < 5000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const int64_t since_storm = flowed.load() - after_storm;
  stop = true;
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));  // the waiter's last wait returns
  waiter.join();
  // Drain what is still in flight.
  std::vector<faio_req*> rest = Reap(ctx, static_cast<size_t>(submitted - reaped));
  for (faio_req* r : rest) {
    auto it = std::find(reqs.begin(), reqs.end(), r);
    ASSERT_NE(it, reqs.end());
    --outstanding[it - reqs.begin()];
    ++reaped;
  }
  RecordProperty("interrupts", std::to_string(interrupts.load()));
  RecordProperty("reaped", std::to_string(reaped));
  RecordProperty("partial_waits", std::to_string(partial));
  std::printf(
      "[ storm    ] %s: %d wakeups sent, %d interrupted waits, %lld completions, "
      "%lld waits returned fewer than their minimum\n",
      GetParam().c_str(), kWakeups, interrupts.load(), static_cast<long long>(reaped),
      static_cast<long long>(partial));
  EXPECT_EQ(bad, 0) << "a wait returned completions beside a failure status, or a bad one";
  EXPECT_GE(interrupts.load(), kWakeups) << "every wakeup is seen";
  EXPECT_LE(interrupts.load(), kWakeups + 1) << "a wakeup was seen twice";
  EXPECT_EQ(reaped, submitted) << "every submitted request comes back once";
  // The stream flows through the storm and after it: more completions than
  // the 16 first submits, and every request twice more within 5 s of the last
  // wakeup.
  EXPECT_GT(reaped, static_cast<int64_t>(kSlots)) << "the stream did not flow";
  EXPECT_GE(since_storm, 2 * static_cast<int64_t>(kSlots))
      << "the stream stopped after the storm: " << since_storm << " completions in 5 s";
  for (size_t i = 0; i < kSlots; ++i) EXPECT_EQ(outstanding[i], 0) << "request " << i;
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx)) << "the context still counts requests";
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
// POSIX signals. faio.h promises an async-signal-safe wakeup on every POSIX
// backend but threads (an atomic store and a write to a descriptor); the
// fault backend's wakeup is its inner backend's ("auto": not threads where
// another is available). Windows has no signal handlers to wake from.
std::atomic<faio_ctx*> g_signal_ctx{nullptr};
std::atomic<int> g_signal_wakeups{0};
void WakeFromSignal(int) {
  int saved = errno;
  if (faio_ctx_wakeup(g_signal_ctx.load()) == FAIO_OK) g_signal_wakeups.fetch_add(1);
  errno = saved;
}
void IgnoreSignal(int) {}

bool SignalSafeWakeup(const std::string& backend) { return backend != "threads"; }

// Installs handler for sig without SA_RESTART (so system calls fail with EINTR)
// for the life of the object.
class ScopedHandler {
 public:
  ScopedHandler(int sig, void (*handler)(int)) : sig_(sig) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    ok_ = sigaction(sig, &sa, &old_) == 0;
  }
  ~ScopedHandler() {
    if (ok_) sigaction(sig_, &old_, nullptr);
  }
  bool ok() const { return ok_; }

 private:
  int sig_;
  bool ok_;
  struct sigaction old_;
};

// The handler runs on the thread that is blocked inside faio_ctx_wait.
TEST_P(Wakeup, FromASignalHandlerOnTheWaitingThread) {
  if (!SignalSafeWakeup(GetParam())) {
    GTEST_SKIP() << "the threads backend's wakeup notifies a condition variable, which is "
                    "not async-signal-safe (faio.h)";
  }
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  g_signal_ctx = ctx;
  ScopedHandler wake(SIGUSR1, WakeFromSignal);
  ScopedHandler idle(SIGUSR2, IgnoreSignal);
  ASSERT_TRUE(wake.ok() && idle.ok());
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    BlockedWaiter w(ctx, 1, 20000);
    ASSERT_TRUE(w.WaitUntilBlocked());
    // A signal whose handler does nothing: EINTR inside the wait is absorbed,
    // the wait goes on.
    ASSERT_EQ(pthread_kill(w.native_handle(), SIGUSR2), 0);
    SleepMs(20);
    EXPECT_FALSE(w.done()) << "a signal without a wakeup ended the wait";
    Clock::time_point sent = Clock::now();
    ASSERT_EQ(pthread_kill(w.native_handle(), SIGUSR1), 0);
    w.Join();
    EXPECT_ST(FAIO_E_INTERRUPTED, w.status());
    EXPECT_EQ(w.count(), 0u);
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(w.returned_at() - sent).count(), PromptMs());
  }
  g_signal_ctx = nullptr;
}

// A timer signal lands on whichever thread runs: submitters inside submit, the
// waiter inside wait, a waker inside wakeup. Its handler wakes the context.
// Nothing is lost, nothing deadlocks, every completion comes with success.
TEST_P(Wakeup, TimerSignalsDuringSubmitWaitAndWakeup) {
  if (!SignalSafeWakeup(GetParam())) {
    GTEST_SKIP() << "the threads backend's wakeup notifies a condition variable, which is "
                    "not async-signal-safe (faio.h)";
  }
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  constexpr size_t kPerSubmitter = 8;
  constexpr int kSubmitters = 2;
  auto f = NewFile(64 * kPerSubmitter * kSubmitters);
  std::vector<faio_req*> reqs = NewReqs(kPerSubmitter * kSubmitters);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  g_signal_ctx = ctx;
  g_signal_wakeups = 0;
  ScopedHandler wake(SIGALRM, WakeFromSignal);
  ASSERT_TRUE(wake.ok());
  // Submitters own their requests while prepared; the waiter hands reaped ones
  // back through a queue.
  std::mutex mu;
  std::vector<faio_req*> free_list(reqs.begin(), reqs.end());
  std::atomic<bool> stop{false};
  std::atomic<bool> submitters_done{false};  // set once `submitted` is final
  std::atomic<int64_t> submitted{0}, reaped{0}, bad{0}, interrupts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kSubmitters; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        faio_req* r = nullptr;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!free_list.empty()) {
            r = free_list.back();
            free_list.pop_back();
          }
        }
        if (r == nullptr) {
          std::this_thread::yield();
          continue;
        }
        int s = Submit1(ctx, r);
        if (s == FAIO_OK) {
          submitted++;
        } else {
          bad++;
          std::lock_guard<std::mutex> lock(mu);
          free_list.push_back(r);
        }
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      EXPECT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::thread waiter([&] {
    std::vector<faio_req*> out(16);
    while (!submitters_done.load() || reaped.load() < submitted.load()) {
      uint32_t count = 99;
      int s = faio_ctx_wait(ctx, 4, 50, out.data(), out.size(), &count);
      if (s == FAIO_E_INTERRUPTED || s == FAIO_E_TIMEOUT) {
        if (count != 0) bad++;
        if (s == FAIO_E_INTERRUPTED) interrupts++;
        continue;
      }
      if (s != FAIO_OK) {
        bad++;
        continue;
      }
      for (uint32_t i = 0; i < count; ++i) {
        auto it = std::find(reqs.begin(), reqs.end(), out[i]);
        if (it == reqs.end() || faio_req_result(out[i], nullptr) != FAIO_OK) {
          bad++;
          continue;
        }
        reaped++;
        size_t k = static_cast<size_t>(it - reqs.begin());
        if (faio_req_prepare_read(out[i], f->fd(), static_cast<int64_t>(64 * k), bufs[k].data(), 64,
                                  nullptr) != FAIO_OK) {
          bad++;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        free_list.push_back(out[i]);
      }
    }
  });
  struct itimerval it;
  std::memset(&it, 0, sizeof it);
  it.it_interval.tv_usec = 200;
  it.it_value.tv_usec = 200;
  ASSERT_EQ(setitimer(ITIMER_REAL, &it, nullptr), 0);
  SleepMs(1000);
  std::memset(&it, 0, sizeof it);
  setitimer(ITIMER_REAL, &it, nullptr);
  stop = true;
  for (std::thread& t : threads) t.join();
  submitters_done = true;
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  waiter.join();
  g_signal_ctx = nullptr;
  std::printf(
      "[ signals  ] %s: %d timer wakeups, %lld interrupted waits, %lld submitted, "
      "%lld reaped\n",
      GetParam().c_str(), g_signal_wakeups.load(), static_cast<long long>(interrupts.load()),
      static_cast<long long>(submitted.load()), static_cast<long long>(reaped.load()));
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(reaped.load(), submitted.load()) << "every submitted request comes back once";
  EXPECT_GT(g_signal_wakeups.load(), 100) << "the timer hardly ran";
  EXPECT_GT(interrupts.load(), 0);
  EXPECT_GT(submitted.load(), 1000) << "the submitters hardly ran";
}
#endif  // _WIN32

}  // namespace
}  // namespace faio_test
