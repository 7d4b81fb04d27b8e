// cancel_test.cc - faio_req_cancel (docs/contract.md, Cancel): NOT_SUBMITTED, a
// successful cancel of a request held in flight, IN_PROGRESS for one the host
// cannot stop, COMPLETED for one finished but not reaped, and exact accounting.
#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
#include <sys/types.h>
// sys/types.h first: FreeBSD's sys/sysctl.h needs it.
#include <sys/sysctl.h>
#endif

#include "conformance.h"

namespace faio_test {
namespace {

class Cancel : public BackendTest {
 protected:
  // HoldPipeReads submits n reads of an empty pipe (len bytes each, into bufs).
  std::vector<faio_req*> HoldPipeReads(faio_ctx* ctx, Pipe* p, size_t n, size_t len,
                                       std::vector<Bytes>* bufs) {
    std::vector<faio_req*> reqs = NewReqs(n);
    bufs->assign(n, Bytes(len));
    for (size_t i = 0; i < n; i++) {
      EXPECT_ST(FAIO_OK, faio_req_prepare_read(reqs[i], p->r, 0, (*bufs)[i].data(), len,
                                               reinterpret_cast<void*>(i + 1)));
    }
    EXPECT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), n));
    return reqs;
  }
};
FAIO_INSTANTIATE(Cancel);

TEST_P(Cancel, InvalidHandle) {
  int local = 0;
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_cancel(nullptr));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_cancel(reinterpret_cast<faio_req*>(uintptr_t{0x1234})));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_cancel(reinterpret_cast<faio_req*>(&local)));
  faio_req* dead = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&dead));
  ASSERT_ST(FAIO_OK, faio_req_destroy(dead));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_cancel(dead));
}

TEST_P(Cancel, NotSubmittedRequestIsNotSubmitted) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  faio_req* r = NewReq();
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_cancel(r));  // idle
  char buf[16];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_cancel(r));  // prepared
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, nullptr)) << "cancel changed nothing";
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_cancel(r));  // completed and reaped
  EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr)) << "its outcome is kept";
}

TEST_P(Cancel, CancelHeldPipeReads) {
  // Two workers on the threads backend (and on an inner threads backend), so
  // the number it cannot cancel is known.
  constexpr uint32_t kWorkers = 2;
  faio_ctx_options o = Options();
  o.threads = kWorkers;
  faio_ctx* ctx = NewCtxWith(o);
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  constexpr size_t kN = 64;
  constexpr size_t kLen = 8;
  std::vector<Bytes> bufs;
  std::vector<faio_req*> reqs = HoldPipeReads(ctx, p, kN, kLen, &bufs);
  ASSERT_FALSE(HasFailure());
  SleepMs(20);  // let the backend hand them to the kernel / its workers
  std::vector<faio_req*> cancelled;
  std::vector<faio_req*> in_progress;
  for (size_t i = kN; i-- > 0;) {
    int s = faio_req_cancel(reqs[i]);
    if (s == FAIO_OK) {
      cancelled.push_back(reqs[i]);
    } else if (s == FAIO_E_IN_PROGRESS) {
      in_progress.push_back(reqs[i]);
    } else {
      ADD_FAILURE() << "cancel of held read " << i << " returned " << StatusName(s)
                    << " (expected FAIO_OK or FAIO_E_IN_PROGRESS)";
      in_progress.push_back(reqs[i]);
    }
  }
  RecordProperty("cancelled", static_cast<int>(cancelled.size()));
  std::printf("[ cancel   ] %s: %zu of %zu held pipe reads cancelled\n", GetParam().c_str(),
              cancelled.size(), kN);
  // Every read the host has not started can be cancelled: all of them where a
  // held read waits in the kernel (io_uring's poll, linux_aio's poll phase);
  // all but the one running on glibc's POSIX AIO (one request per descriptor
  // at a time); all but those its busy workers run on threads; on FreeBSD all
  // but those running in AIO daemons, at most vfs.aio.max_aio_per_proc of the
  // process's jobs at once (aio(4); aio_cancel(2) cannot stop a running job).
  const std::string b = faio_ctx_backend(ctx);
  size_t can = b == "posix_aio" ? kN - 1 : b == "threads" ? kN - kWorkers : kN;
#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
  if (b == "kqueue") {
    int running = 0;
    size_t len = sizeof running;
    ASSERT_EQ(sysctlbyname("vfs.aio.max_aio_per_proc", &running, &len, nullptr, 0), 0);
    can = kN - std::min<size_t>(kN, static_cast<size_t>(running));
  }
#endif
  EXPECT_GE(cancelled.size(), can) << "held pipe reads that could be cancelled were not";
  for (faio_req* r : cancelled) {
    size_t n = 77;
    EXPECT_ST(FAIO_E_CANCELLED, faio_req_result(r, &n));
    EXPECT_EQ(n, 0u);
    EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_cancel(r)) << "a cancelled request is completed";
  }
  for (faio_req* r : in_progress) EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr));
  // Feed every read its bytes: exactly the IN_PROGRESS ones come back.
  ASSERT_EQ(p->Feed(kN * kLen), kN * kLen);
  std::vector<faio_req*> got = Reap(ctx, kN, milliseconds(5000));
  EXPECT_TRUE(SameSet(got, in_progress))
      << "got " << got.size() << ", in progress " << in_progress.size() << ", cancelled "
      << cancelled.size();
  for (faio_req* r : got) {
    EXPECT_TRUE(std::find(cancelled.begin(), cancelled.end(), r) == cancelled.end())
        << "a cancelled request was returned by wait";
    size_t n = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
    EXPECT_GE(n, 1u);
  }
  ExpectNoneCounted(ctx);
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx)) << "cancelled requests are no longer counted";
}

TEST_P(Cancel, FinishedButNotReapedIsCompleted) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(1);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[0]));
  SleepMs(200);  // a 64-byte read of a cached file is long done
  EXPECT_ST(FAIO_E_COMPLETED, faio_req_cancel(reqs[0]));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(reqs[0], nullptr)) << "not reaped yet";
  EXPECT_ST(FAIO_E_COMPLETED, faio_req_cancel(reqs[0])) << "asking twice changes nothing";
  faio_req* out[4];
  uint32_t count = 0;
  EXPECT_ST(FAIO_OK, faio_ctx_wait(ctx, 1, 5000, out, 4, &count));
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0], reqs[0]);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[0], &n));
  EXPECT_EQ(n, 64u);
  ExpectNoneCounted(ctx);  // returned exactly once
}

TEST_P(Cancel, CancelledRequestCanBeReused) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  auto f = NewFile();
  std::vector<Bytes> bufs;
  std::vector<faio_req*> reqs = HoldPipeReads(ctx, p, 8, 4, &bufs);
  ASSERT_FALSE(HasFailure());
  SleepMs(20);
  faio_req* victim = nullptr;
  for (size_t i = reqs.size(); i-- > 0 && victim == nullptr;) {
    if (faio_req_cancel(reqs[i]) == FAIO_OK) victim = reqs[i];
  }
  ASSERT_NE(victim, nullptr) << "no held pipe read could be cancelled";
  EXPECT_ST(FAIO_E_CANCELLED, faio_req_result(victim, nullptr));
  EXPECT_EQ(faio_req_host_error(victim), 0) << "a cancel is not a host error";
  char buf[32];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(victim, f->fd(), 0, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(victim, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, victim));
  // The reused request comes back once, as a success; the rest after feeding.
  p->Feed(64);
  std::vector<faio_req*> got = Reap(ctx, reqs.size(), milliseconds(5000));
  EXPECT_EQ(std::count(got.begin(), got.end(), victim), 1);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(victim, &n));
  EXPECT_EQ(n, sizeof buf);
  // Every other request (none was cancelled) came back too.
  size_t others = 0;
  for (faio_req* r : reqs) {
    if (r == victim) continue;
    int s = faio_req_result(r, nullptr);
    if (s == FAIO_OK) others++;
  }
  EXPECT_EQ(others + 1, got.size());
  ExpectNoneCounted(ctx);
}

TEST_P(Cancel, CancelledRequestsFreeTheirCapacityOnce) {
  faio_ctx* ctx = NewCtx(4);
  ASSERT_NE(ctx, nullptr);
  const uint32_t cap = faio_ctx_capacity(ctx);
  ASSERT_GE(cap, 4u);
  ASSERT_LE(cap, 1024u);
  Pipe* p = NewPipe();
  std::vector<Bytes> bufs;
  std::vector<faio_req*> held = HoldPipeReads(ctx, p, cap, 4, &bufs);
  ASSERT_FALSE(HasFailure());
  SleepMs(20);
  size_t cancelled = 0;
  for (size_t i = held.size(); i-- > 0;) {
    if (faio_req_cancel(held[i]) == FAIO_OK) cancelled++;
  }
  ASSERT_GE(cancelled, 1u);
  // Exactly `cancelled` slots came free: one batch of cancelled + 1 fits a prefix.
  auto f = NewFile();
  std::vector<faio_req*> more = NewReqs(cancelled + 1);
  std::vector<Bytes> mbufs;
  PrepareReads(more, f->fd(), &mbufs);
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, more.data(), more.size()));
  for (size_t i = 0; i < more.size(); i++) {
    EXPECT_ST(i < cancelled ? FAIO_E_IN_PROGRESS : FAIO_E_NOT_SUBMITTED,
              faio_req_result(more[i], nullptr))
        << "request " << i << " after " << cancelled << " cancels";
  }
  p->Feed(4 * cap);
  std::vector<faio_req*> got = Reap(ctx, cap + 1, milliseconds(5000));
  EXPECT_EQ(got.size(), cap) << "the cancelled ones are not returned, the rest are";
  ExpectNoneCounted(ctx);
}

TEST_P(Cancel, CancelRacingWithCompletionCountsOnce) {
  // Cancel a request while its data arrives: whichever wins, the request comes
  // back exactly once (cancel OK xor returned by wait). Each round submits two
  // 1-byte reads of an empty pipe, A then B, feeds 2 bytes and cancels B. A
  // goes first so that on a backend that runs one request per descriptor at a
  // time (glibc's POSIX AIO) B is still queued behind it when the data comes:
  // the cancel then races B's start, not a read already in the kernel that
  // cannot be cancelled. The two sides start after random delays, adapted so
  // that both outcomes happen on every backend; rounds go on until each was
  // seen kMinEach times and kMinRounds ran (or the limits below).
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  constexpr int kMinEach = 10;
  constexpr int kMinRounds = 200;
  constexpr int kMaxRounds = 20000;
  int by_cancel = 0;
  int by_wait = 0;
  int rounds = 0;
  faio_req* a = NewReq();
  faio_req* b = NewReq();
  char abuf[1];
  char bbuf[1];
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(GetParam())));
  // While cancels win, the feeder goes first more often, and the other way round.
  int feed_first_pct = 50;
  Clock::time_point t0 = Clock::now();
  for (; rounds < kMaxRounds &&
         (rounds < kMinRounds || by_cancel < kMinEach || by_wait < kMinEach) && MsSince(t0) < 60000;
       rounds++) {
    const bool feed_first = static_cast<int>(rng() % 100) < feed_first_pct;
    const auto spin = std::chrono::microseconds(rng() % 200);
    // The feeder runs before the submit, so the cancel can follow the submit
    // at once.
    std::atomic<bool> go{false};
    std::thread feeder([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      if (!feed_first) {
        Clock::time_point until = Clock::now() + spin;
        while (Clock::now() < until) {
        }
      }
      p->Feed(2);
    });
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(a, p->r, 0, abuf, 1, nullptr));
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(b, p->r, 0, bbuf, 1, nullptr));
    faio_req* batch[2] = {a, b};
    int sub = faio_ctx_submit(ctx, batch, 2);
    go.store(true, std::memory_order_release);
    if (sub != FAIO_OK) feeder.join();
    ASSERT_ST(FAIO_OK, sub);
    if (feed_first) {
      Clock::time_point until = Clock::now() + spin;
      while (Clock::now() < until) {
      }
    }
    int s = faio_req_cancel(b);
    feeder.join();
    ASSERT_TRUE(s == FAIO_OK || s == FAIO_E_IN_PROGRESS || s == FAIO_E_COMPLETED) << StatusName(s);
    if (s == FAIO_OK) {
      by_cancel++;
      EXPECT_ST(FAIO_E_CANCELLED, faio_req_result(b, nullptr));
      std::vector<faio_req*> got = Reap(ctx, 2, milliseconds(5000));
      ASSERT_TRUE(SameSet(got, {a})) << "round " << rounds << ": B was cancelled";
      ExpectNoneCounted(ctx);
      // B's byte is still in the pipe (a cancelled read consumed nothing):
      // drain it so the next round starts empty.
      ASSERT_TRUE(p->TakeOne()) << "round " << rounds
                                << ": cancel succeeded but the byte was consumed";
      feed_first_pct = std::min(95, feed_first_pct + 5);
    } else {
      by_wait++;
      std::vector<faio_req*> got = Reap(ctx, 2, milliseconds(5000));
      ASSERT_TRUE(SameSet(got, {a, b})) << "round " << rounds << ": cancel said " << StatusName(s);
      EXPECT_ST(FAIO_OK, faio_req_result(b, nullptr));
      ExpectNoneCounted(ctx);
      feed_first_pct = std::max(5, feed_first_pct - 5);
    }
    if (HasFatalFailure()) return;
  }
  RecordProperty("by_cancel", by_cancel);
  RecordProperty("by_wait", by_wait);
  std::printf("[ race     ] %s: %d rounds, cancel won %d, the completion won %d\n",
              GetParam().c_str(), rounds, by_cancel, by_wait);
  EXPECT_GE(by_cancel, kMinEach) << "the race never went to the cancel";
  EXPECT_GE(by_wait, kMinEach) << "the race never went to the completion";
}

#ifndef _WIN32
// Not built for Windows: a regression test of glibc's per-descriptor queue,
// whose hundreds of rounds of pipe reads outlast the Wine leg's 60 s timeout.
TEST_P(Cancel, CancelRacingWithCompletionOfThePreviousRequestLosesNothing) {
  // Regression (issue 15, item 1): on glibc's POSIX AIO, cancelling B - the
  // head of its descriptor's queue once A ahead of it finished - stranded C
  // behind it: C never ran, and the stress test ended with requests still in
  // progress. Each round submits three 1-byte reads of an empty pipe, A, B, C;
  // one byte (in some rounds two, so that B itself can finish: on io_uring a
  // pipe read waiting for data is always cancellable) is fed while B is
  // cancelled (in half the rounds C is cancelled first). Then one byte is fed
  // for every read that was not cancelled and has none yet, and each of those
  // must come back through a wait: every request accounted for exactly once,
  // nothing lost, and no cancelled read took a byte. Both outcomes of B's
  // cancel must occur.
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  constexpr int kMinEach = 10;
  constexpr int kMinRounds = 200;
  constexpr int kMaxRounds = 20000;
  int b_cancelled = 0;
  int b_by_wait = 0;
  int c_cancelled = 0;
  int rounds = 0;
  faio_req* a = NewReq();
  faio_req* b = NewReq();
  faio_req* c = NewReq();
  char bufs[3][1];
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(GetParam())) ^ 0x5eed);
  int feed_first_pct = 50;
  // One feeder thread for all rounds, told to go by the round number: a thread
  // started per round takes longer to start (under ASan, far longer) than the
  // window it must hit.
  struct Order {
    size_t bytes = 0;
    bool after_spin = false;
    std::chrono::microseconds spin{0};
  };
  Order order;
  std::atomic<int> go{-1};
  std::atomic<int> fed{-1};
  std::atomic<bool> quit{false};
  std::thread feeder([&] {
    for (int seen = -1;;) {
      int n = 0;
      int g;
      while ((g = go.load(std::memory_order_acquire)) == seen && !quit.load()) {
        if (++n > 1000) std::this_thread::yield();
      }
      if (g == seen) return;
      seen = g;
      if (order.after_spin) {
        Clock::time_point until = Clock::now() + order.spin;
        while (Clock::now() < until) {
        }
      }
      p->Feed(order.bytes);
      fed.store(g, std::memory_order_release);
    }
  });
  struct Stop {
    std::atomic<bool>* quit;
    std::thread* t;
    ~Stop() {
      quit->store(true);
      t->join();
    }
  } stop{&quit, &feeder};
  Clock::time_point t0 = Clock::now();
  for (; rounds < kMaxRounds &&
         (rounds < kMinRounds || b_cancelled < kMinEach || b_by_wait < kMinEach) &&
         MsSince(t0) < 60000;
       rounds++) {
    const bool feed_first = static_cast<int>(rng() % 100) < feed_first_pct;
    const bool cancel_c_first = (rng() & 1) != 0;
    const auto spin = std::chrono::microseconds(rng() % 200);
    // Two bytes first in a share of the rounds that grows while B has gone to
    // the completion less often than to the cancel: on io_uring a pipe read
    // waiting for data stays cancellable, and one byte goes to C, not B.
    const size_t first_bytes =
        static_cast<int>(rng() % 100) < (b_by_wait < b_cancelled ? 50 : 10) ? 2 : 1;
    // In half of those the feeder starts before the submit and races it too.
    const bool go_before_submit = first_bytes == 2 && (rng() & 1) != 0;
    // While B has rarely finished, some of those rounds feed before the submit
    // from this thread: the far end of the window, where B's data is there
    // when it is submitted (slow builds such as TSan otherwise rarely get it).
    const bool feed_now = go_before_submit && b_by_wait < kMinEach && (rng() & 1) != 0;
    if (feed_now) {
      ASSERT_EQ(p->Feed(first_bytes), first_bytes);
    }
    order.bytes = feed_now ? 0 : first_bytes;
    order.after_spin = !feed_first;
    order.spin = spin;
    if (go_before_submit) go.store(rounds, std::memory_order_release);
    faio_req* batch[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
      ASSERT_ST(FAIO_OK, faio_req_prepare_read(batch[i], p->r, 0, bufs[i], 1, nullptr));
    }
    int sub = faio_ctx_submit(ctx, batch, 3);
    go.store(rounds, std::memory_order_release);
    ASSERT_ST(FAIO_OK, sub);
    if (feed_first) {
      Clock::time_point until = Clock::now() + spin;
      while (Clock::now() < until) {
      }
    }
    int sc = cancel_c_first ? faio_req_cancel(c) : FAIO_E_IN_PROGRESS;
    int sb = faio_req_cancel(b);
    while (fed.load(std::memory_order_acquire) != rounds) std::this_thread::yield();
    for (int s : {sb, sc}) {
      ASSERT_TRUE(s == FAIO_OK || s == FAIO_E_IN_PROGRESS || s == FAIO_E_COMPLETED)
          << StatusName(s);
    }
    std::vector<faio_req*> left = {a};
    if (sb == FAIO_OK) {
      b_cancelled++;
      EXPECT_ST(FAIO_E_CANCELLED, faio_req_result(b, nullptr));
    } else {
      b_by_wait++;
      left.push_back(b);
    }
    if (sc == FAIO_OK) {
      c_cancelled++;
      EXPECT_ST(FAIO_E_CANCELLED, faio_req_result(c, nullptr));
    } else {
      left.push_back(c);
    }
    // first_bytes came already; one more for each other read still out.
    const size_t more = left.size() > first_bytes ? left.size() - first_bytes : 0;
    ASSERT_EQ(p->Feed(more), more);
    std::vector<faio_req*> got = Reap(ctx, left.size(), milliseconds(5000));
    ASSERT_TRUE(SameSet(got, left))
        << "round " << rounds << ": B's cancel said " << StatusName(sb) << ", C's "
        << StatusName(sc) << "; a request that was not cancelled never came back";
    for (faio_req* r : got) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
    // A byte no read took is still in the pipe: a cancelled read took nothing.
    for (size_t i = left.size(); i < first_bytes; i++) {
      ASSERT_TRUE(p->TakeOne()) << "round " << rounds << ": a cancelled read took a byte";
    }
    ExpectNoneCounted(ctx);
    feed_first_pct =
        sb == FAIO_OK ? std::min(95, feed_first_pct + 5) : std::max(5, feed_first_pct - 5);
    if (HasFatalFailure()) return;
  }
  std::printf("[ race     ] %s: %d rounds, B cancelled %d, B by wait %d, C cancelled %d\n",
              GetParam().c_str(), rounds, b_cancelled, b_by_wait, c_cancelled);
  EXPECT_GE(b_cancelled, kMinEach) << "the race never went to the cancel";
  EXPECT_GE(b_by_wait, kMinEach) << "the race never went to the completion";
}
#endif  // _WIN32

}  // namespace
}  // namespace faio_test
