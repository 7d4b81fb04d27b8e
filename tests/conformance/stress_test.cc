// stress_test.cc - every thread role at once for about two seconds: four
// submitters (reads, writes, flushes and held pipe reads, in batches that may
// exceed the capacity), one waiter, one waker and one canceller. Every submitted
// request must come back exactly once, through a wait or a successful cancel,
// and the context must end empty (docs/contract.md, Wait: "never both, never twice,
// never lost").
#include <mutex>
#include <sstream>

#include "conformance.h"

namespace faio_test {
namespace {

class Stress : public BackendTest {};
FAIO_INSTANTIATE(Stress);

enum class Kind { kRead, kWrite, kFlush, kPipeRead };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kRead:
      return "file read";
    case Kind::kWrite:
      return "file write";
    case Kind::kFlush:
      return "flush";
    case Kind::kPipeRead:
      return "pipe read";
  }
  return "?";
}

// Slot is one request of the pool and its ledger.
struct Slot {
  faio_req* req = nullptr;
  size_t owner = 0;
  Kind kind = Kind::kRead;
  std::atomic<bool> with_owner{true};  // false from submit until it comes back
  std::atomic<int> submits{0};
  std::atomic<int> reaped{0};
  std::atomic<int> cancelled{0};
  Bytes buf = Bytes(512);
};

// Failures counts problems seen on worker threads, reporting the first few.
struct Failures {
  std::atomic<int> n{0};
  template <typename... Args>
  void Report(const Args&... args) {
    if (n++ < 10) {
      std::ostringstream os;
      (os << ... << args);
      ADD_FAILURE() << os.str();
    }
  }
};

// EnvCount reads a positive whole number from the environment, else `fallback`.
size_t EnvCount(const char* name, size_t fallback, size_t max) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  unsigned long n = std::strtoul(v, &end, 10);
  return *end == '\0' && n > 0 && n <= max ? static_cast<size_t>(n) : fallback;
}

// Runs for FAIO_STRESS_SECONDS (default 2) with FAIO_STRESS_SUBMITTERS (default 4)
// submitter threads; a longer soak is the same test with larger values.
TEST_P(Stress, SubmitWaitWakeupCancel) {
  const size_t kSubmitters = EnvCount("FAIO_STRESS_SUBMITTERS", 4, 64);
  const size_t seconds = EnvCount("FAIO_STRESS_SECONDS", 2, 24 * 3600);
  constexpr size_t kSlotsPer = 64;
  constexpr size_t kRegion = 1 << 20;
  faio_ctx_options o = Options(128, FAIO_CTX_WAIT_WITHOUT_PENDING);
  if (IsThreads()) o.threads = 8;  // held pipe reads occupy workers
  faio_ctx* ctx = NewCtxWith(o);
  ASSERT_NE(ctx, nullptr);
  TempFile file;
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(Truncate(file.fd(), kSubmitters * kRegion));
  Pipe* pipe = NewPipe();

  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<FreeList<Slot>> free_lists(kSubmitters);
  for (size_t t = 0; t < kSubmitters; t++) {
    for (size_t i = 0; i < kSlotsPer; i++) {
      auto s = std::make_unique<Slot>();
      s->req = NewReq();
      ASSERT_NE(s->req, nullptr);
      s->owner = t;
      free_lists[t].Put(s.get());
      slots.push_back(std::move(s));
    }
  }
  Failures fail;
  std::atomic<int64_t> n_submitted{0};
  std::atomic<int64_t> n_reaped{0};
  std::atomic<int64_t> n_cancelled{0};
  std::atomic<int64_t> n_partial{0};
  std::atomic<int64_t> n_interrupted{0};

  // GiveBack returns a request that came back (by wait or cancel) to its owner.
  auto give_back = [&](Slot* s, const char* how) {
    if (s->with_owner.exchange(true)) {
      fail.Report("request ", static_cast<const void*>(s->req), " came back twice (", how, ")");
      return;
    }
    free_lists[s->owner].Put(s);
  };

  std::atomic<bool> stop_submit{false};
  std::atomic<bool> may_exit{false};
  std::vector<std::thread> submitters;
  std::vector<std::atomic<bool>> submitter_done(kSubmitters);
  for (size_t t = 0; t < kSubmitters; t++) {
    submitters.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(1000 + t));
      while (!stop_submit.load()) {
        std::vector<Slot*> batch = free_lists[t].Take(1 + rng() % 8);
        if (batch.empty()) {
          Pause(std::chrono::microseconds(100));
          continue;
        }
        std::vector<faio_req*> reqs;
        for (Slot* s : batch) {
          unsigned roll = rng() % 100;
          int64_t off = static_cast<int64_t>(t * kRegion + (rng() % (kRegion / 512 - 1)) * 512);
          int st;
          if (roll < 55) {
            s->kind = Kind::kRead;
            st = faio_req_prepare_read(s->req, file.fd(), off, s->buf.data(), 512, s);
          } else if (roll < 80) {
            s->kind = Kind::kWrite;
            st = faio_req_prepare_write(s->req, file.fd(), off, s->buf.data(), 512, s);
          } else if (roll < 85) {
            s->kind = Kind::kFlush;
            st = faio_req_prepare_flush(s->req, file.fd(), s);
          } else {
            s->kind = Kind::kPipeRead;
            st = faio_req_prepare_read(s->req, pipe->r, 0, s->buf.data(), 1, s);
          }
          if (st != FAIO_OK) fail.Report("prepare returned ", StatusName(st));
          s->with_owner.store(false);
          reqs.push_back(s->req);
        }
        int st = faio_ctx_submit(ctx, reqs.data(), reqs.size());
        size_t k = reqs.size();
        if (st == FAIO_E_INSUFFICIENT_RESOURCES) {
          n_partial++;
          k = 0;
          while (k < reqs.size() && faio_req_result(reqs[k], nullptr) != FAIO_E_NOT_SUBMITTED) k++;
          for (size_t i = k; i < reqs.size(); i++) {
            int r = faio_req_result(reqs[i], nullptr);
            if (r != FAIO_E_NOT_SUBMITTED) {
              fail.Report("partial submit: request ", i, " of ", reqs.size(),
                          " is not in the prefix but has result ", StatusName(r));
            }
          }
        } else if (st != FAIO_OK) {
          fail.Report("submit returned ", StatusName(st));
          k = 0;
        }
        for (size_t i = 0; i < batch.size(); i++) {
          if (i < k) {
            batch[i]->submits++;
            n_submitted++;
          } else {
            batch[i]->with_owner.store(true);
            free_lists[t].Put(batch[i]);
          }
        }
        if (k < reqs.size()) Pause(std::chrono::microseconds(200));
      }
      submitter_done[t] = true;
      // Stay alive until everything came back: a submitter's exit must not
      // touch its requests, but that has its own test
      // (Submit.RequestOutlivesItsSubmittingThread); here it would blur the ledger.
      while (!may_exit.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }

  // Diagnostics for a waiter that does not come back: the phase the test is in
  // (the waiter's current call began in), when that call began, and the
  // longest call that did return (each asks for at most 20 ms).
  const Clock::time_point test_start = Clock::now();
  std::atomic<int> phase{0};  // index into kPhases
  static constexpr const char* kPhases[] = {"running", "stopping the submitters", "draining",
                                            "joining the waiter"};
  std::atomic<int64_t> call_began_ms{-1};  // since test_start; -1: not in a call
  std::atomic<int> call_began_phase{0};
  std::atomic<int64_t> longest_call_ms{0};
  std::atomic<bool> stop_wait{false};
  std::atomic<bool> waiter_done{false};
  std::thread waiter([&] {
    std::vector<faio_req*> out(32);
    while (!stop_wait.load()) {
      uint32_t count = 0;
      call_began_phase = phase.load();
      call_began_ms = MsSince(test_start);
      int st = faio_ctx_wait(ctx, 1, 20, out.data(), out.size(), &count);
      int64_t took = MsSince(test_start) - call_began_ms.load();
      call_began_ms = -1;
      if (took > longest_call_ms.load()) longest_call_ms = took;
      if (st == FAIO_E_INTERRUPTED) n_interrupted++;
      if (st != FAIO_OK && st != FAIO_E_TIMEOUT && st != FAIO_E_INTERRUPTED) {
        fail.Report("wait returned ", StatusName(st));
      }
      if (count > out.size()) {
        fail.Report("wait count ", count, " > size");
        count = static_cast<uint32_t>(out.size());
      }
      for (uint32_t i = 0; i < count; i++) {
        Slot* s = static_cast<Slot*>(faio_req_user(out[i]));
        if (s == nullptr || s->req != out[i]) {
          fail.Report("wait returned an unknown request");
          continue;
        }
        size_t n = 0;
        int r = faio_req_result(out[i], &n);
        if (r != FAIO_OK) {
          fail.Report("a returned ", KindName(s->kind), " has result ", StatusName(r),
                      " (host error ", faio_req_host_error(out[i]), ")");
        } else if (s->kind == Kind::kPipeRead ? n != 1 : (s->kind != Kind::kFlush && n != 512)) {
          fail.Report("a returned request transferred ", n, " bytes");
        }
        s->reaped++;
        n_reaped++;
        give_back(s, "wait");
      }
    }
    waiter_done = true;
  });

  std::atomic<bool> stop_others{false};
  std::atomic<bool> waker_done{false};
  std::atomic<bool> canceller_done{false};
  std::thread waker([&] {
    while (!stop_others.load()) {
      int st = faio_ctx_wakeup(ctx);
      if (st != FAIO_OK) fail.Report("wakeup returned ", StatusName(st));
      Pause(std::chrono::microseconds(300));
    }
    waker_done = true;
  });
  std::thread canceller([&] {
    std::mt19937 rng(99);
    while (!stop_others.load()) {
      Slot* s = slots[rng() % slots.size()].get();
      int st = faio_req_cancel(s->req);
      if (st == FAIO_OK) {
        int r = faio_req_result(s->req, nullptr);
        if (r != FAIO_E_CANCELLED) fail.Report("a cancelled request has result ", StatusName(r));
        s->cancelled++;
        n_cancelled++;
        give_back(s, "cancel");
      } else if (st != FAIO_E_NOT_SUBMITTED && st != FAIO_E_IN_PROGRESS && st != FAIO_E_COMPLETED) {
        fail.Report("cancel returned ", StatusName(st));
      }
      Pause(std::chrono::microseconds(50));
    }
    canceller_done = true;
  });
  std::atomic<bool> stop_feed{false};
  std::atomic<size_t> feed_rate{4};
  std::thread feeder([&] {
    while (!stop_feed.load()) {
      pipe->Feed(feed_rate.load());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  // The test is about interleavings, not speed: on a loaded machine (or under
  // Wine) two seconds may not give enough of them, so it runs on, up to 30 s
  // more, until the floors asserted below are reached.
  SleepMs(static_cast<int>(seconds * 1000));
  for (Clock::time_point t0 = Clock::now();
       (n_submitted.load() <= 1000 || n_interrupted.load() == 0 || n_cancelled.load() == 0 ||
        n_partial.load() == 0) &&
       MsSince(t0) < 30000;) {
    SleepMs(10);
  }
  stop_submit = true;
  phase = 1;
  for (size_t t = 0; t < kSubmitters; t++) {
    Clock::time_point t0 = Clock::now();
    while (!submitter_done[t].load() && MsSince(t0) < 20000) SleepMs(1);
    if (!submitter_done[t].load()) {
      std::fprintf(stderr, "FATAL: a submitter is stuck in faio_ctx_submit\n");
      std::_Exit(3);
    }
  }
  stop_others = true;
  phase = 2;
  JoinOrDie(waker, waker_done, std::chrono::seconds(20), "the waker");
  JoinOrDie(canceller, canceller_done, std::chrono::seconds(20), "the canceller");
  // Drain: feed the held pipe reads until everything came back.
  feed_rate = 256;
  Clock::time_point t0 = Clock::now();
  while (n_reaped.load() + n_cancelled.load() < n_submitted.load() && MsSince(t0) < 10000) {
    SleepMs(5);
  }
  // Nothing is left to read the pipe: stop feeding it now. (On Windows the
  // feeder's write blocks once the pipe's buffer is full, and the join below
  // would never return.)
  stop_feed = true;
  feeder.join();
  stop_wait = true;
  phase = 3;
  for (Clock::time_point t1 = Clock::now(); !waiter_done.load() && MsSince(t1) < 20000;) SleepMs(1);
  if (!waiter_done.load()) {
    int64_t began = call_began_ms.load();
    std::fprintf(stderr,
                 "FATAL: the waiter (faio_ctx_wait) is stuck (no return within 20 s): its "
                 "current call began %lld ms ago (%s); the longest call that returned took "
                 "%lld ms; submitted %lld, reaped %lld, cancelled %lld\n",
                 static_cast<long long>(began < 0 ? -1 : MsSince(test_start) - began),
                 kPhases[call_began_phase.load()], static_cast<long long>(longest_call_ms.load()),
                 static_cast<long long>(n_submitted.load()),
                 static_cast<long long>(n_reaped.load()),
                 static_cast<long long>(n_cancelled.load()));
    std::fflush(stderr);
    std::_Exit(3);
  }
  waiter.join();
  may_exit = true;
  for (std::thread& t : submitters) t.join();

  RecordProperty("submitted", std::to_string(n_submitted.load()));
  RecordProperty("reaped", std::to_string(n_reaped.load()));
  RecordProperty("cancelled", std::to_string(n_cancelled.load()));
  RecordProperty("partial_submits", std::to_string(n_partial.load()));
  RecordProperty("interrupted_waits", std::to_string(n_interrupted.load()));
  RecordProperty("longest_wait_call_ms", std::to_string(longest_call_ms.load()));
  std::printf(
      "[ stress   ] %s: submitted %lld, reaped %lld, cancelled %lld, partial %lld, "
      "interrupted %lld, longest wait call %lld ms\n",
      backend(), static_cast<long long>(n_submitted.load()),
      static_cast<long long>(n_reaped.load()), static_cast<long long>(n_cancelled.load()),
      static_cast<long long>(n_partial.load()), static_cast<long long>(n_interrupted.load()),
      static_cast<long long>(longest_call_ms.load()));
  EXPECT_EQ(fail.n.load(), 0);
  EXPECT_EQ(n_reaped.load() + n_cancelled.load(), n_submitted.load())
      << "requests lost or returned twice";
  EXPECT_GT(n_submitted.load(), 1000);
  EXPECT_GT(n_interrupted.load(), 0);
  // Both ways back and the prefix rule were exercised: successful cancels, and
  // submits cut short by the capacity (4 x 64 slots against a capacity of 128).
  EXPECT_GT(n_cancelled.load(), 0) << "no cancel succeeded";
  EXPECT_GT(n_partial.load(), 0) << "no submit was cut short";
  int mismatched = 0;
  for (const auto& s : slots) {
    if (s->submits.load() != s->reaped.load() + s->cancelled.load() || !s->with_owner.load()) {
      if (mismatched++ < 5) {
        ADD_FAILURE() << KindName(s->kind) << " " << static_cast<const void*>(s->req)
                      << ": submitted " << s->submits.load() << ", reaped " << s->reaped.load()
                      << ", cancelled " << s->cancelled.load() << "; its result now is "
                      << StatusName(faio_req_result(s->req, nullptr));
      }
    }
  }
  EXPECT_EQ(mismatched, 0);
  // Nothing is left: the context can be destroyed.
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx));
}

}  // namespace
}  // namespace faio_test
