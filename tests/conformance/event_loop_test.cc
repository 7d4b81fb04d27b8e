// event_loop_test.cc - faio_ctx_pollable, faio_req_set_callback and faio_ctx_run
// (docs/contract.md, Event loops and callbacks), on every backend.
//
// The pollable handle's rule: ready while a completion or a wakeup may be
// pending; a wait re-arms it; no completion is ever left behind with the
// handle not ready; it may be ready once with nothing to reap, never forever.
#include <atomic>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#ifndef _WIN32
#include <poll.h>
#endif

#include "conformance.h"
#include "faio/faio.hpp"

namespace faio_test {
namespace {

// The backends with no pollable handle, and why (docs/event-loops.md):
// posix_aio off Linux (its watcher uses the Linux wakeup signal). kqueue runs
// here on tests/freebsd_model, iocp under Wine. The fault backend has its inner
// backend's answer.
bool HasPollable(const std::string& name) {
  if (name == "fault") {
    for (const faio_backend_info& b : BackendInfos()) {
      if (b.automatic && b.available && std::string(b.name) != "fault") return HasPollable(b.name);
    }
    return false;
  }
#ifdef __linux__
  if (name == "posix_aio") return true;
#endif
  return name == "io_uring" || name == "linux_aio" || name == "threads" || name == "kqueue" ||
         name == "iocp";
}

class EventLoop : public BackendTest {
 protected:
  // PollableOf returns the context's handle, or false after checking that a
  // backend without one says FAIO_E_NOT_SUPPORTED (and nothing else).
  bool PollableOf(faio_ctx* ctx, faio_file* h) {
    int s = faio_ctx_pollable(ctx, h);
    if (!HasPollable(GetParam())) {
      EXPECT_ST(FAIO_E_NOT_SUPPORTED, s) << "a backend without a pollable handle";
      return false;
    }
    EXPECT_ST(FAIO_OK, s);
    return s == FAIO_OK;
  }

  // DrainNow waits with timeout 0 until a wait returns no completion, as the
  // rule says, and returns what it reaped.
  static std::vector<faio_req*> DrainNow(faio_ctx* ctx, int* last_status = nullptr) {
    std::vector<faio_req*> got;
    faio_req* out[64];
    for (;;) {
      uint32_t n = 0xdead;
      int s = faio_ctx_wait(ctx, 1, 0, out, 64, &n);
      if (s != FAIO_OK) {
        EXPECT_EQ(n, 0u);
        if (last_status != nullptr) *last_status = s;
        return got;
      }
      got.insert(got.end(), out, out + n);
    }
  }

  // ExpectSettles: after a drain the handle is not ready, or ready once more
  // with nothing to reap and not ready after that wait.
  void ExpectSettles(faio_ctx* ctx, faio_file h) {
    if (!Ready(h, 0)) return;
    std::vector<faio_req*> more = DrainNow(ctx);
    EXPECT_TRUE(more.empty()) << "completions were left behind by a drain";
    EXPECT_FALSE(Ready(h, 0)) << "the handle stays ready with nothing to reap";
  }
};
FAIO_INSTANTIATE(EventLoop);

TEST_P(EventLoop, BadArguments) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_pollable(ctx, nullptr));
  faio_file h;
  EXPECT_ST(FAIO_E_INVALID_HANDLE,
            faio_ctx_pollable(reinterpret_cast<faio_ctx*>(uintptr_t{0x1234}), &h));
  uint32_t n = 7;
  EXPECT_ST(FAIO_E_INVALID_HANDLE,
            faio_ctx_run(reinterpret_cast<faio_ctx*>(uintptr_t{0x1234}), 1, 0, &n));
  EXPECT_EQ(n, 0u);
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_run(ctx, 1, 0, nullptr));
  EXPECT_ST(
      FAIO_E_INVALID_HANDLE,
      faio_req_set_callback(reinterpret_cast<faio_req*>(uintptr_t{0x1234}), nullptr, nullptr));
}

TEST_P(EventLoop, ReadyOnlyAfterACompletionAndRearmedByTheWait) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_file h;
  if (!PollableOf(ctx, &h)) return;
  faio_file again;
  ASSERT_ST(FAIO_OK, faio_ctx_pollable(ctx, &again));
  EXPECT_EQ(again, h) << "a second call returns the same handle";
  EXPECT_FALSE(Ready(h, 0)) << "ready with nothing submitted";

  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char b[1];
  for (int round = 0; round < 3; round++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, b, 1, nullptr));
    ASSERT_ST(FAIO_OK, Submit1(ctx, r));
    EXPECT_FALSE(Ready(h, 50)) << "ready while the only read waits for data";
    ASSERT_EQ(p->Feed(1), 1u);
    ASSERT_TRUE(Ready(h, 5000)) << "not ready after the read completed";
    std::vector<faio_req*> got = DrainNow(ctx);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], r);
    ExpectSettles(ctx, h);
  }
}

TEST_P(EventLoop, FileReadsInABatchAllComeBackThroughTheHandle) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_file h;
  if (!PollableOf(ctx, &h)) return;
  auto f = NewFile(64 * 64);
  faio_file fd = f->Open(0);
  std::vector<faio_req*> reqs = NewReqs(64);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, fd, &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  std::vector<faio_req*> got;
  Clock::time_point t0 = Clock::now();
  while (got.size() < reqs.size() && MsSince(t0) < 10000) {
    if (!Ready(h, 5000)) break;
    std::vector<faio_req*> more = DrainNow(ctx);
    got.insert(got.end(), more.begin(), more.end());
  }
  EXPECT_TRUE(SameSet(got, reqs)) << got.size() << " of " << reqs.size() << " came back";
  for (size_t i = 0; i < bufs.size(); i++) {
    for (size_t j = 0; j < 64; j++) {
      ASSERT_EQ(bufs[i][j], static_cast<unsigned char>((i * 64 + j) * 7 + 3));
    }
  }
  ExpectSettles(ctx, h);
}

TEST_P(EventLoop, ReadyAfterAWakeupWhichTheNextWaitReports) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  faio_file h;
  if (!PollableOf(ctx, &h)) return;
  for (int round = 0; round < 3; round++) {
    EXPECT_FALSE(Ready(h, 0));
    std::thread t([&] { EXPECT_ST(FAIO_OK, faio_ctx_wakeup(ctx)); });
    t.join();
    ASSERT_TRUE(Ready(h, 5000)) << "a wakeup did not make the handle ready";
    int last = 0;
    EXPECT_TRUE(DrainNow(ctx, &last).empty());
    EXPECT_ST(FAIO_E_INTERRUPTED, last);
    last = 0;
    EXPECT_TRUE(DrainNow(ctx, &last).empty());
    EXPECT_ST(FAIO_E_TIMEOUT, last);
    ExpectSettles(ctx, h);
  }
}

// A wakeup on a context that counts no request cannot be reported (the wait
// says no request), so it must not keep the handle ready (docs/contract.md,
// Event loops and callbacks): after the drain the handle settles.
TEST_P(EventLoop, AWakeupWithNothingCountedDoesNotKeepTheHandleReady) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_file h;
  if (!PollableOf(ctx, &h)) return;
  for (int round = 0; round < 3; round++) {
    ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
    int last = 0;
    EXPECT_TRUE(DrainNow(ctx, &last).empty());
    EXPECT_ST(FAIO_E_NO_REQUEST, last);
    last = 0;
    EXPECT_TRUE(DrainNow(ctx, &last).empty());
    EXPECT_FALSE(Ready(h, 0)) << "round " << round << ": ready for good with nothing to reap";
  }
}

// A flush on its own (which some backends run off the host's queue: linux_aio
// on the threads pool, iocp on its worker) makes the handle ready too.
TEST_P(EventLoop, AFlushAloneMakesTheHandleReady) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_file h;
  if (!PollableOf(ctx, &h)) return;
  auto f = NewFile(4096);
  ASSERT_TRUE(f->ok());
  faio_req* r = NewReq();
  for (int round = 0; round < 3; round++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, f->fd(), nullptr));
    ASSERT_ST(FAIO_OK, Submit1(ctx, r));
    ASSERT_TRUE(Ready(h, 5000)) << "round " << round << ": a flush completed unannounced";
    std::vector<faio_req*> got = DrainNow(ctx);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
    ExpectSettles(ctx, h);
  }
}

TEST_P(EventLoop, AWakeupBeforeTheHandleExistsMakesItReady) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  faio_file h;
  if (!PollableOf(ctx, &h)) return;
  EXPECT_TRUE(Ready(h, 0));
  int last = 0;
  EXPECT_TRUE(DrainNow(ctx, &last).empty());
  EXPECT_ST(FAIO_E_INTERRUPTED, last);
}

TEST_P(EventLoop, CompletionsBehindAnInterruptedWaitKeepTheHandleReady) {
  // A wait that begins with a wakeup pending returns INTERRUPTED and leaves the
  // completions: the handle must stay ready for them.
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_file h;
  if (!PollableOf(ctx, &h)) return;
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char b[1];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, b, 1, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(p->Feed(1), 1u);
  ASSERT_TRUE(Ready(h, 5000));
  ASSERT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  faio_req* out[4];
  uint32_t n = 0;
  ASSERT_ST(FAIO_E_INTERRUPTED, faio_ctx_wait(ctx, 1, 0, out, 4, &n));
  ASSERT_TRUE(Ready(h, 0)) << "the completion behind the interrupted wait is stranded";
  std::vector<faio_req*> got = DrainNow(ctx);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], r);
}

TEST_P(EventLoop, FirstCallWithRequestsInFlightIsBusy) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char b[1];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, b, 1, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  faio_file h;
  int s = faio_ctx_pollable(ctx, &h);
  EXPECT_ST(HasPollable(GetParam()) ? FAIO_E_BUSY : FAIO_E_NOT_SUPPORTED, s);
  ASSERT_EQ(p->Feed(1), 1u);
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  if (!PollableOf(ctx, &h)) return;
}

TEST_P(EventLoop, NoCompletionIsStrandedUnderSubmittersAndWakeups) {
  // Two threads submit reads of a cached file and a third sends wakeups (in
  // the first half); this
  // thread only sleeps on the handle and waits with timeout 0. Every request
  // must come back exactly once, and the handle must never sleep through one.
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(ctx, nullptr);
  faio_file h;
  if (!PollableOf(ctx, &h)) return;
  auto f = NewFile(64 * 1024);
  faio_file fd = f->Open(0);
  constexpr int kThreads = 2;
  constexpr size_t kPer = 16;  // requests each submitter keeps in flight
  const int rounds = SlowHost() ? 1000 : 4000;
  struct Submitter {
    std::vector<faio_req*> reqs;
    std::vector<Bytes> bufs;
    FreeList<faio_req> free;
  };
  std::vector<Submitter> subs(kThreads);
  for (int t = 0; t < kThreads; t++) {
    subs[t].reqs = NewReqs(kPer);
    subs[t].bufs.assign(kPer, Bytes(512));
    for (size_t i = 0; i < kPer; i++) {
      ASSERT_ST(FAIO_OK, faio_req_prepare_read(subs[t].reqs[i], fd, static_cast<int64_t>(i * 512),
                                               subs[t].bufs[i].data(), 512,
                                               reinterpret_cast<void*>(uintptr_t(t))));
      subs[t].free.Put(subs[t].reqs[i]);
    }
  }
  std::map<faio_req*, unsigned char*> buf_of;  // read-only once the threads run
  for (Submitter& sub : subs) {
    for (size_t i = 0; i < kPer; i++) buf_of[sub.reqs[i]] = sub.bufs[i].data();
  }
  std::atomic<int64_t> submitted{0};
  std::atomic<int> finished{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> waker_done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < rounds; k++) {
        while (k == rounds / 2 && !waker_done.load() && !stop.load()) std::this_thread::yield();
        std::vector<faio_req*> batch = subs[t].free.Take(1 + (k % 4));
        while (batch.empty() && !stop.load()) {
          std::this_thread::yield();
          batch = subs[t].free.Take(1 + (k % 4));
        }
        if (stop.load()) return;
        for (faio_req* r : batch) {
          ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 512 * (k % 100), buf_of.at(r), 512,
                                                   reinterpret_cast<void*>(uintptr_t(t))));
        }
        ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, batch.data(), batch.size()));
        submitted.fetch_add(static_cast<int64_t>(batch.size()));
      }
      finished.fetch_add(1);
    });
  }
  std::atomic<int> wakeups{0};
  threads.emplace_back([&] {
    // Wakeups during the first half only (the submitters wait for the last
    // one): in the second, a completion left behind with the handle not ready
    // cannot be rescued by a wakeup's readiness, so the 2 s check below sees it.
    for (int i = 0; i < 40 && !stop.load(); i++) {
      EXPECT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
      wakeups.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    waker_done.store(true);
  });
  int64_t reaped = 0;
  int interrupted = 0;
  int sleeps = 0;
  faio_req* out[64];
  Clock::time_point t0 = Clock::now();
  bool stranded = false;
  // Read `finished` before `submitted`: once both submitters are done, the
  // count is final.
  auto all_in = [&] { return finished.load() == kThreads && reaped == submitted.load(); };
  while (!all_in() && MsSince(t0) < 60000) {
    if (!Ready(h, 2000)) {
      // Nothing made the handle ready for 2 s: anything still out is stranded
      // unless a wait finds nothing either.
      uint32_t n = 0;
      int s = faio_ctx_wait(ctx, 1, 0, out, 64, &n);
      if (s == FAIO_OK && n > 0) {
        stranded = true;
        break;
      }
      continue;
    }
    sleeps++;
    for (;;) {
      uint32_t n = 0;
      int s = faio_ctx_wait(ctx, 1, 0, out, 64, &n);
      if (s == FAIO_E_INTERRUPTED) interrupted++;
      if (s != FAIO_OK) break;
      for (uint32_t i = 0; i < n; i++) {
        ASSERT_ST(FAIO_OK, Result(out[i]));
        auto t = reinterpret_cast<uintptr_t>(faio_req_user(out[i]));
        ASSERT_LT(t, uintptr_t(kThreads));
        subs[t].free.Put(out[i]);
      }
      reaped += n;
    }
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  std::printf(
      "[ loop     ] %s: %lld of %lld reaped through the handle, %d wakeups sent, %d seen "
      "interrupted, %d times ready\n",
      backend(), static_cast<long long>(reaped), static_cast<long long>(submitted.load()),
      wakeups.load(), interrupted, sleeps);
  EXPECT_FALSE(stranded) << "a completion waited while the handle was not ready";
  EXPECT_EQ(finished.load(), kThreads);
  EXPECT_EQ(reaped, submitted.load());
  EXPECT_GE(submitted.load(), int64_t{kThreads} * rounds);
  // The last wakeup may still be pending: one wait reports it.
  int last = 0;
  EXPECT_TRUE(DrainNow(ctx, &last).empty());
  if (last == FAIO_E_INTERRUPTED) {
    interrupted++;
    EXPECT_TRUE(DrainNow(ctx).empty());
  }
  EXPECT_GT(interrupted, 0) << "no wakeup reached the loop";
  ExpectSettles(ctx, h);
}

// ---- callbacks and faio_ctx_run ------------------------------------------------

struct Chain {
  faio_ctx* ctx;
  faio_file fd;
  char buf[512];
  int64_t left;
  int64_t done = 0;
  int bad = 0;
};

void ChainStep(faio_req* r, void* arg) {
  auto* c = static_cast<Chain*>(arg);
  size_t n = 0;
  if (faio_req_result(r, &n) != FAIO_OK || n != sizeof(c->buf)) c->bad++;
  c->done++;
  if (--c->left <= 0) return;
  if (faio_req_prepare_read(r, c->fd, (c->left % 64) * 512, c->buf, sizeof(c->buf), nullptr) !=
          FAIO_OK ||
      faio_ctx_submit(c->ctx, &r, 1) != FAIO_OK) {
    c->bad++;
  }
}

TEST_P(EventLoop, CallbacksThatResubmitRunChainsOfAHundredThousand) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(64 * 512);
  faio_file fd = f->Open(0);
  constexpr int kChains = 4;
  const int64_t per = SlowHost() ? 10000 : 25000;  // 10^5 in all without sanitizers
  std::vector<Chain> chains(kChains);
  std::vector<faio_req*> reqs = NewReqs(kChains);
  for (int i = 0; i < kChains; i++) {
    chains[i].ctx = ctx;
    chains[i].fd = fd;
    chains[i].left = per;
    ASSERT_ST(FAIO_OK, faio_req_set_callback(reqs[i], ChainStep, &chains[i]));
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[i], fd, 0, chains[i].buf, 512, nullptr));
  }
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  int64_t total = 0;
  Clock::time_point t0 = Clock::now();
  for (;;) {
    uint32_t n = 0xdead;
    int s = faio_ctx_run(ctx, 1, 5000, &n);
    if (s == FAIO_E_NO_REQUEST) {
      EXPECT_EQ(n, 0u);
      break;
    }
    ASSERT_ST(FAIO_OK, s);
    ASSERT_GT(n, 0u);
    total += n;
    ASSERT_LT(MsSince(t0), 120000);
  }
  EXPECT_EQ(total, int64_t{kChains} * per);
  for (const Chain& c : chains) {
    EXPECT_EQ(c.done, per);
    EXPECT_EQ(c.bad, 0);
  }
}

struct Misuse {
  faio_ctx* ctx;
  int wait = 1;
  int run = 1;
  int destroy = 1;
  int set_own = 1;
  int calls = 0;
};

void MisuseCb(faio_req* r, void* arg) {
  auto* m = static_cast<Misuse*>(arg);
  m->calls++;
  faio_req* out[2];
  uint32_t n = 0;
  m->wait = faio_ctx_wait(m->ctx, 1, 0, out, 2, &n);
  m->run = faio_ctx_run(m->ctx, 1, 0, &n);
  m->destroy = faio_ctx_destroy(m->ctx);
  m->set_own = faio_req_set_callback(r, nullptr, nullptr);  // completed: allowed
}

TEST_P(EventLoop, ACallbackThatWaitsRunsOrDestroysGetsBusy) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(4096);
  faio_file fd = f->Open(0);
  Misuse m{ctx};
  faio_req* r = NewReq();
  char b[64];
  ASSERT_ST(FAIO_OK, faio_req_set_callback(r, MisuseCb, &m));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 0, b, sizeof(b), nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  uint32_t n = 0;
  ASSERT_ST(FAIO_OK, faio_ctx_run(ctx, 1, 5000, &n));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(m.calls, 1);
  EXPECT_ST(FAIO_E_BUSY, m.wait);
  EXPECT_ST(FAIO_E_BUSY, m.run);
  EXPECT_ST(FAIO_E_BUSY, m.destroy);
  EXPECT_ST(FAIO_OK, m.set_own);
  // The callback removed itself: the next completion is not dispatched to it.
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 0, b, sizeof(b), nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_ST(FAIO_OK, faio_ctx_run(ctx, 1, 5000, &n));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(m.calls, 1);
  EXPECT_ST(FAIO_OK, Result(r));
}

void CountCb(faio_req*, void* arg) { static_cast<std::atomic<int>*>(arg)->fetch_add(1); }

TEST_P(EventLoop, ANewRequestHasNoCallbackEvenInARecycledSlot) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(4096);
  faio_file fd = f->Open(0);
  std::atomic<int> calls{0};
  for (int i = 0; i < 64; i++) {  // slots are reused: some of these get one back
    faio_req* old = nullptr;
    ASSERT_ST(FAIO_OK, faio_req_create(&old));
    ASSERT_ST(FAIO_OK, faio_req_set_callback(old, CountCb, &calls));
    ASSERT_ST(FAIO_OK, faio_req_destroy(old));
  }
  std::vector<faio_req*> reqs = NewReqs(64);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, fd, &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  uint32_t total = 0;
  while (total < reqs.size()) {
    uint32_t n = 0;
    ASSERT_ST(FAIO_OK, faio_ctx_run(ctx, reqs.size() - total, 5000, &n));
    total += n;
  }
  EXPECT_EQ(calls.load(), 0) << "a new request called a destroyed one's callback";
}

TEST_P(EventLoop, SettingACallbackWhileSubmittedIsInvalidState) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  std::atomic<int> calls{0};
  char b[1];
  ASSERT_ST(FAIO_OK, faio_req_set_callback(r, CountCb, &calls));  // idle: allowed
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, b, 1, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_set_callback(r, CountCb, &calls));  // prepared: allowed
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  EXPECT_ST(FAIO_E_INVALID_STATE, faio_req_set_callback(r, nullptr, nullptr));
  ASSERT_EQ(p->Feed(1), 1u);
  uint32_t n = 0;
  ASSERT_ST(FAIO_OK, faio_ctx_run(ctx, 1, 5000, &n));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(calls.load(), 1) << "the callback set before the submit was called";
}

TEST_P(EventLoop, RunWithoutCallbacksCompletesRequestsAndReportsTimeoutAndWakeup) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(4096);
  faio_file fd = f->Open(0);
  std::vector<faio_req*> reqs = NewReqs(8);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, fd, &bufs);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  uint32_t total = 0;
  while (total < reqs.size()) {
    uint32_t n = 0;
    ASSERT_ST(FAIO_OK, faio_ctx_run(ctx, reqs.size() - total, 5000, &n));
    total += n;
  }
  for (faio_req* r : reqs) EXPECT_ST(FAIO_OK, Result(r));
  uint32_t n = 7;
  EXPECT_ST(FAIO_E_NO_REQUEST, faio_ctx_run(ctx, 1, 0, &n));
  EXPECT_EQ(n, 0u);

  // A held read: run times out, then a wakeup interrupts it.
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char b[1];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, b, 1, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_run(ctx, 1, 30, &n));
  EXPECT_GE(MsSince(t0), 25);
  std::thread t([&] {
    SleepMs(20);
    EXPECT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  });
  t0 = Clock::now();
  EXPECT_ST(FAIO_E_INTERRUPTED, faio_ctx_run(ctx, 1, FAIO_WAIT_INDEFINITE, &n));
  EXPECT_LT(MsSince(t0), 20 + LateMs());
  t.join();
  ASSERT_EQ(p->Feed(1), 1u);
  std::atomic<int> calls{0};
  EXPECT_ST(FAIO_E_INVALID_STATE, faio_req_set_callback(r, CountCb, &calls));
  ASSERT_ST(FAIO_OK, faio_ctx_run(ctx, 1, 5000, &n));
  EXPECT_EQ(n, 1u);
}

TEST_P(EventLoop, AWakeupThatEndsARunAfterSomeCallbacksStaysPending) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  std::vector<faio_req*> reqs = NewReqs(2);
  std::atomic<int> calls{0};
  char b[2][1];
  for (int i = 0; i < 2; i++) {
    ASSERT_ST(FAIO_OK, faio_req_set_callback(reqs[i], CountCb, &calls));
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[i], p->r, 0, b[i], 1, nullptr));
  }
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), 2));
  ASSERT_EQ(p->Feed(1), 1u);
  std::thread t([&] {
    while (calls.load() == 0) std::this_thread::yield();
    SleepMs(10);
    EXPECT_ST(FAIO_OK, faio_ctx_wakeup(ctx));
  });
  uint32_t n = 0;
  // Asks for both; the one dispatched comes with success, the wakeup stays.
  // Its callback runs as soon as it completes, not when both have.
  Clock::time_point t0 = Clock::now();
  EXPECT_ST(FAIO_OK, faio_ctx_run(ctx, 2, 10000, &n));
  EXPECT_LT(MsSince(t0), 10 + LateMs() * 4) << "the callback waited for the minimum";
  t.join();
  EXPECT_EQ(n, 1u);
  EXPECT_ST(FAIO_E_INTERRUPTED, faio_ctx_run(ctx, 1, 0, &n));
  ASSERT_EQ(p->Feed(1), 1u);
  ASSERT_ST(FAIO_OK, faio_ctx_run(ctx, 1, 5000, &n));
  EXPECT_EQ(calls.load(), 2);
}

TEST_P(EventLoop, CppPollableSetCallbackAndRun) {
  faio::Options o;
  o.backend = backend();
  o.threads = IsThreads() ? kThreadsWorkers : 0;
  faio::Result<faio::Context> made = faio::Context::Create(o);
  ASSERT_TRUE(made.ok()) << faio::ToString(made.status());
  faio::Context ctx = std::move(made.value());
  faio::Result<faio::File> h = ctx.Pollable();
  if (HasPollable(GetParam())) {
    ASSERT_TRUE(h.ok()) << faio::ToString(h.status());
  } else {
    EXPECT_EQ(h.status(), faio::Status::kNotSupported);
  }
  auto f = NewFile(4096);
  faio::Result<faio::Request> rr = faio::Request::Create();
  ASSERT_TRUE(rr.ok());
  faio::Request r = std::move(rr.value());
  std::atomic<int> calls{0};
  ASSERT_EQ(r.SetCallback(CountCb, &calls), faio::Status::kOk);
  std::byte buf[128];
  ASSERT_EQ(r.PrepareRead(f->fd(), 0, buf), faio::Status::kOk);
  ASSERT_EQ(ctx.Submit(r), faio::Status::kOk);
  EXPECT_EQ(r.SetCallback(nullptr, nullptr), faio::Status::kInvalidState);
  if (h.ok()) {
    EXPECT_TRUE(Ready(h.value(), 5000));
  }
  faio::Result<size_t> ran = ctx.Run(1, faio::Millis(5000));
  ASSERT_TRUE(ran.ok()) << faio::ToString(ran.status());
  EXPECT_EQ(ran.value(), 1u);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(r.Outcome().value(), sizeof buf);
  EXPECT_EQ(ctx.Run(1, faio::Millis(0)).status(), faio::Status::kNoRequest);
  EXPECT_EQ(ctx.Destroy(), faio::Status::kOk);
}

}  // namespace
}  // namespace faio_test
