// one_at_a_time_test.cc - the way a database's file layer uses faio: many
// threads, each owning contexts of its own (one per open file), each doing
// prepare -> submit -> wait for that one request; another thread sends
// wakeups, and some requests are cancelled. Every request must come back
// exactly once (through a wait, or as cancelled), every context must end
// empty, and the data must be right (docs/contract.md, Contexts, Wait,
// Cancel).
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "conformance.h"

namespace faio_test {
namespace {

using OneAtATime = BackendTest;

struct Tally {
  uint64_t submitted = 0;
  uint64_t returned = 0;     // handed out by a wait
  uint64_t cancelled = 0;    // faio_req_cancel answered 0
  uint64_t interrupted = 0;  // waits ended by a wakeup
  std::string failure;       // the first thing that went wrong
};

TEST_P(OneAtATime, SixtyFourThreadsEachOwningSixteenContexts) {
  constexpr int kThreads = 64;
  constexpr int kContextsEach = 16;
  constexpr int kOpsEach = kSanitized ? 60 : 150;
  constexpr size_t kBlock = 4096;
  auto f = NewFile();
  ASSERT_TRUE(Truncate(f->fd(), int64_t{kThreads} * kContextsEach * kBlock));

  // The contexts are made here and destroyed by their threads at the end, in
  // parallel: a linux_aio context's io_destroy waits for the kernel (tens of
  // milliseconds each).
  std::vector<faio_ctx*> ctxs;
  std::vector<Pipe*> pipes;
  faio_ctx_options o = Options(4);
  for (int i = 0; i < kThreads * kContextsEach; ++i) {
    faio_ctx* c = nullptr;
    ASSERT_ST(FAIO_OK, faio_ctx_create_ex(&c, &o)) << "context " << i;
    ctxs.push_back(c);
    pipes.push_back(NewPipe());
  }

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> wakeups{0};
  // The context each worker is waiting on (null: none), so that wakeups aim
  // at waits in progress: aimed at random among 1,024 contexts, a slow run
  // (ASan) sent 15 and none met a wait.
  std::vector<std::atomic<faio_ctx*>> waiting_on(kThreads);
  std::thread waker([&] {
    std::mt19937 rng(7);
    while (!stop.load(std::memory_order_relaxed)) {
      faio_ctx* c = waiting_on[rng() % kThreads].load(std::memory_order_relaxed);
      if (c == nullptr) c = ctxs[rng() % ctxs.size()];
      if (faio_ctx_wakeup(c) == FAIO_OK) wakeups.fetch_add(1, std::memory_order_relaxed);
      Pause(std::chrono::microseconds(50));
    }
  });

  std::vector<Tally> tallies(kThreads);
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      Tally& tally = tallies[t];
      auto fail = [&](const std::string& what) {
        if (tally.failure.empty()) tally.failure = what;
      };
      faio_req* req = nullptr;
      if (faio_req_create(&req) != FAIO_OK) return fail("faio_req_create");
      std::mt19937 rng(1000 + t);
      std::vector<unsigned char> buf(kBlock), want(kBlock);
      std::vector<bool> written(kContextsEach, false);
      std::vector<unsigned char> stamp(kContextsEach, 0);
      // Waits for req, retrying waits a wakeup ends; false on anything else.
      auto wait_for_it = [&](faio_ctx* c) {
        waiting_on[t].store(c, std::memory_order_relaxed);
        struct Clear {
          std::atomic<faio_ctx*>& slot;
          ~Clear() { slot.store(nullptr, std::memory_order_relaxed); }
        } clear{waiting_on[t]};
        for (;;) {
          faio_req* got = nullptr;
          uint32_t n = 0;
          int s = faio_ctx_wait(c, 1, 10000, &got, 1, &n);
          if (s == FAIO_E_INTERRUPTED && n == 0) {
            ++tally.interrupted;
            continue;
          }
          if (s != FAIO_OK || n != 1 || got != req) {
            fail(std::string("wait returned ") + StatusName(s) + " with " + std::to_string(n));
            return false;
          }
          ++tally.returned;
          return true;
        }
      };
      for (int op = 0; op < kOpsEach && tally.failure.empty(); ++op) {
        int ci = static_cast<int>(rng() % kContextsEach);
        faio_ctx* c = ctxs[t * kContextsEach + ci];
        int64_t off = (int64_t{t} * kContextsEach + ci) * static_cast<int64_t>(kBlock);
        unsigned kind = rng() % 8;
        if (kind < 4 || !written[ci]) {  // write this context's block
          stamp[ci] = static_cast<unsigned char>(rng());
          std::fill(buf.begin(), buf.end(), stamp[ci]);
          if (faio_req_prepare_write(req, f->fd(), off, buf.data(), kBlock, nullptr) != FAIO_OK) {
            return fail("prepare_write");
          }
          if (faio_ctx_submit(c, &req, 1) != FAIO_OK) return fail("submit write");
          ++tally.submitted;
          if (!wait_for_it(c)) return;
          size_t bytes = 0;
          if (faio_req_result(req, &bytes) != FAIO_OK || bytes != kBlock)
            return fail("write result");
          written[ci] = true;
        } else if (kind < 7) {  // read it back
          if (faio_req_prepare_read(req, f->fd(), off, buf.data(), kBlock, nullptr) != FAIO_OK) {
            return fail("prepare_read");
          }
          if (faio_ctx_submit(c, &req, 1) != FAIO_OK) return fail("submit read");
          ++tally.submitted;
          if (!wait_for_it(c)) return;
          size_t bytes = 0;
          if (faio_req_result(req, &bytes) != FAIO_OK || bytes != kBlock)
            return fail("read result");
          std::fill(want.begin(), want.end(), stamp[ci]);
          if (buf != want) return fail("read back other data than was written");
        } else {  // a read of the context's empty pipe, cancelled
          Pipe* p = pipes[t * kContextsEach + ci];
          if (faio_req_prepare_read(req, p->r, 0, buf.data(), 1, nullptr) != FAIO_OK) {
            return fail("prepare pipe read");
          }
          if (faio_ctx_submit(c, &req, 1) != FAIO_OK) return fail("submit pipe read");
          ++tally.submitted;
          if (rng() % 2) Pause(std::chrono::microseconds(rng() % 200));
          int s = faio_req_cancel(req);
          if (s == FAIO_OK) {
            ++tally.cancelled;
            int st = faio_req_result(req, nullptr);
            if (st != FAIO_E_CANCELLED) return fail(std::string("cancelled: ") + StatusName(st));
          } else if (s == FAIO_E_IN_PROGRESS || s == FAIO_E_COMPLETED) {
            p->Feed(1);  // it completes normally, through the wait
            if (!wait_for_it(c)) return;
          } else {
            return fail(std::string("cancel returned ") + StatusName(s));
          }
        }
      }
      (void)faio_req_destroy(req);
    });
  }
  for (std::thread& w : workers) w.join();
  stop.store(true);
  waker.join();
  // Nothing is left in any context: a wait answers that there is no request.
  for (faio_ctx* c : ctxs) {
    faio_req* got = nullptr;
    uint32_t n = 0;
    EXPECT_ST(FAIO_E_NO_REQUEST, faio_ctx_wait(c, 1, 0, &got, 1, &n));
  }
  std::vector<std::thread> destroyers;
  std::atomic<int> destroyed{0};
  for (int t = 0; t < kThreads; ++t) {
    destroyers.emplace_back([&, t] {
      for (int i = 0; i < kContextsEach; ++i) {
        if (faio_ctx_destroy(ctxs[t * kContextsEach + i]) == FAIO_OK) destroyed.fetch_add(1);
      }
    });
  }
  for (std::thread& d : destroyers) d.join();
  EXPECT_EQ(destroyed.load(), kThreads * kContextsEach);

  Tally all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(tallies[t].failure.empty()) << "thread " << t << ": " << tallies[t].failure;
    all.submitted += tallies[t].submitted;
    all.returned += tallies[t].returned;
    all.cancelled += tallies[t].cancelled;
    all.interrupted += tallies[t].interrupted;
  }
  // Each request once: returned by a wait or cancelled, never both, never lost.
  EXPECT_EQ(all.submitted, all.returned + all.cancelled);
  EXPECT_EQ(all.submitted, uint64_t{kThreads} * kOpsEach);
  std::printf(
      "[          ] %s: %d contexts, %llu requests: %llu returned by a wait, %llu cancelled; "
      "%llu wakeups sent, %llu waits interrupted\n",
      backend(), kThreads * kContextsEach, static_cast<unsigned long long>(all.submitted),
      static_cast<unsigned long long>(all.returned), static_cast<unsigned long long>(all.cancelled),
      static_cast<unsigned long long>(wakeups.load()),
      static_cast<unsigned long long>(all.interrupted));
  EXPECT_GT(all.interrupted, 0u) << "no wait was ever interrupted: the wakeups did not reach one";
}

FAIO_INSTANTIATE(OneAtATime);

}  // namespace
}  // namespace faio_test
