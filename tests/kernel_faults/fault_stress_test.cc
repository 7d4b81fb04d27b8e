// fault_stress_test.cc - the conformance suite's stress test
// (tests/conformance/stress_test.cc: submitters, a waiter, a waker and a
// canceller at once) on files whose operations really fail or stall: reads,
// writes and flushes of "bad" fail with EIO from the FUSE injector, reads of
// "slow" take 2 ms each, "good" works. Every submitted request must come back
// exactly once (by a wait or a successful cancel) with the outcome its file
// dictates, on every backend.
//
//   FAIO_STRESS_SECONDS     how long the submitters run (default 1)
//   FAIO_STRESS_SUBMITTERS  how many submitter threads (default 4)
#include <fcntl.h>
#include <unistd.h>

#include <mutex>
#include <sstream>

#include "conformance.h"
#include "kernel_faults.h"

namespace faio_test {
namespace {

enum class File { kGood, kBad, kSlow };
enum class Op { kRead, kWrite, kFlush };

struct Slot {
  faio_req* req = nullptr;
  size_t owner = 0;
  File file = File::kGood;
  Op op = Op::kRead;
  std::atomic<bool> with_owner{true};
  std::atomic<int> submits{0};
  std::atomic<int> back{0};
  Bytes buf = Bytes(512);
};

struct Failures {
  std::atomic<int> n{0};
  std::mutex mu;
  std::vector<std::string> first;
  template <typename... Args>
  void Report(const Args&... args) {
    if (n++ < 10) {
      std::ostringstream os;
      (os << ... << args);
      std::lock_guard<std::mutex> lock(mu);
      first.push_back(os.str());
    }
  }
};

double EnvDouble(const char* name, double def) {
  const char* v = std::getenv(name);
  double d = v != nullptr ? std::atof(v) : 0;
  return d > 0 ? d : def;
}

// Expected is the status a completed (not cancelled) request must have.
int Expected(File f) { return f == File::kBad ? FAIO_E_IO : FAIO_OK; }

class FaultStress : public BackendTest {
 protected:
  void TearDown() override {
    BackendTest::TearDown();
    for (int fd : fds_) close(fd);
    fs_.Stop();
  }
  faio_kf::FaultFs fs_;
  std::vector<int> fds_;
};

INSTANTIATE_TEST_SUITE_P(KernelFaults, FaultStress, ::testing::ValuesIn(BackendNames()),
                         BackendParamName);

TEST_P(FaultStress, EveryRequestOnceWithItsFilesOutcome) {
  std::string why = fs_.Start({"--direct-io", "--rule", "op=read err=EIO path=bad", "--rule",
                               "op=write err=EIO path=bad", "--rule", "op=fsync err=EIO path=bad",
                               "--rule", "op=read delay=2 path=slow"});
  if (!why.empty()) GTEST_SKIP() << why;
  const double seconds = EnvDouble("FAIO_STRESS_SECONDS", 1.0);
  const size_t submitters = static_cast<size_t>(EnvDouble("FAIO_STRESS_SUBMITTERS", 4));
  constexpr size_t kSlotsPer = 32;
  constexpr size_t kRegion = 1 << 20;
  const char* names[] = {"good", "bad", "slow"};
  int fds[3];
  for (int i = 0; i < 3; i++) {
    std::string p = fs_.backing() + "/" + names[i];
    int b = open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(b, 0);
    ASSERT_EQ(ftruncate(b, static_cast<off_t>(submitters * kRegion)), 0);
    close(b);
    fds[i] = open((fs_.mnt() + "/" + names[i]).c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fds[i], 0) << std::strerror(errno);
    fds_.push_back(fds[i]);
  }
  faio_ctx_options o = Options(64, FAIO_CTX_WAIT_WITHOUT_PENDING);
  if (IsThreads()) o.threads = 4;
  faio_ctx* ctx = NewCtxWith(o);
  ASSERT_NE(ctx, nullptr);

  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<FreeList<Slot>> free_lists(submitters);
  for (size_t t = 0; t < submitters; t++) {
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
  std::atomic<int64_t> n_submitted{0}, n_reaped{0}, n_cancelled{0}, n_failed{0}, n_interrupted{0};
  auto give_back = [&](Slot* s, const char* how) {
    s->back++;
    if (s->with_owner.exchange(true)) {
      fail.Report("a request came back twice (", how, ")");
      return;
    }
    free_lists[s->owner].Put(s);
  };

  std::atomic<bool> stop_submit{false}, stop_others{false}, stop_wait{false};
  std::vector<std::thread> threads;
  std::vector<std::atomic<bool>> done(submitters);
  for (size_t t = 0; t < submitters; t++) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(500 + t));
      while (!stop_submit.load()) {
        std::vector<Slot*> batch = free_lists[t].Take(1 + rng() % 6);
        if (batch.empty()) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        std::vector<faio_req*> reqs;
        for (Slot* s : batch) {
          s->file = static_cast<File>(rng() % 3);
          unsigned roll = rng() % 100;
          s->op = roll < 50 ? Op::kRead : roll < 85 ? Op::kWrite : Op::kFlush;
          int fd = fds[static_cast<int>(s->file)];
          int64_t off = static_cast<int64_t>(t * kRegion + (rng() % (kRegion / 512)) * 512);
          int st = s->op == Op::kRead
                       ? faio_req_prepare_read(s->req, fd, off, s->buf.data(), 512, s)
                   : s->op == Op::kWrite
                       ? faio_req_prepare_write(s->req, fd, off, s->buf.data(), 512, s)
                       : faio_req_prepare_flush(s->req, fd, s);
          if (st != FAIO_OK) fail.Report("prepare returned ", StatusName(st));
          s->with_owner.store(false);
          reqs.push_back(s->req);
        }
        int st = faio_ctx_submit(ctx, reqs.data(), reqs.size());
        size_t k = reqs.size();
        if (st == FAIO_E_INSUFFICIENT_RESOURCES) {
          k = 0;
          while (k < reqs.size() && faio_req_result(reqs[k], nullptr) != FAIO_E_NOT_SUBMITTED) k++;
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
        if (k < reqs.size()) std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      done[t] = true;
    });
  }
  std::atomic<bool> waiter_done{false};
  std::thread waiter([&] {
    std::vector<faio_req*> out(32);
    while (!stop_wait.load()) {
      uint32_t count = 0;
      int st = faio_ctx_wait(ctx, 1, 20, out.data(), out.size(), &count);
      if (st == FAIO_E_INTERRUPTED) n_interrupted++;
      if (st != FAIO_OK && st != FAIO_E_TIMEOUT && st != FAIO_E_INTERRUPTED) {
        fail.Report("wait returned ", StatusName(st));
      }
      for (uint32_t i = 0; i < count && i < out.size(); i++) {
        Slot* s = static_cast<Slot*>(faio_req_user(out[i]));
        if (s == nullptr || s->req != out[i]) {
          fail.Report("wait returned an unknown request");
          continue;
        }
        size_t n = 0;
        int r = faio_req_result(out[i], &n);
        if (r != Expected(s->file)) {
          fail.Report("a request on ", names[static_cast<int>(s->file)], " (op ",
                      static_cast<int>(s->op), ") has result ", StatusName(r), " (host error ",
                      faio_req_host_error(out[i]), "), expected ", StatusName(Expected(s->file)));
        } else if (r == FAIO_OK && s->op != Op::kFlush && n != 512) {
          fail.Report("a transfer moved ", n, " bytes");
        } else if (r == FAIO_E_IO && faio_req_host_error(out[i]) != EIO) {
          fail.Report("an I/O error with host error ", faio_req_host_error(out[i]));
        }
        if (r != FAIO_OK) n_failed++;
        n_reaped++;
        give_back(s, "wait");
      }
    }
    waiter_done = true;
  });
  std::atomic<bool> waker_done{false}, canceller_done{false};
  std::thread waker([&] {
    while (!stop_others.load()) {
      if (int st = faio_ctx_wakeup(ctx); st != FAIO_OK) fail.Report("wakeup ", StatusName(st));
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    waker_done = true;
  });
  std::thread canceller([&] {
    std::mt19937 rng(77);
    while (!stop_others.load()) {
      Slot* s = slots[rng() % slots.size()].get();
      int st = faio_req_cancel(s->req);
      if (st == FAIO_OK) {
        int r = faio_req_result(s->req, nullptr);
        if (r != FAIO_E_CANCELLED) fail.Report("a cancelled request has result ", StatusName(r));
        n_cancelled++;
        give_back(s, "cancel");
      } else if (st != FAIO_E_NOT_SUBMITTED && st != FAIO_E_IN_PROGRESS &&
                 st != FAIO_E_COMPLETED) {
        fail.Report("cancel returned ", StatusName(st));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    canceller_done = true;
  });

  SleepMs(static_cast<int>(seconds * 1000));
  stop_submit = true;
  for (size_t t = 0; t < submitters; t++) {
    Clock::time_point t0 = Clock::now();
    while (!done[t].load() && MsSince(t0) < 20000) SleepMs(1);
    if (!done[t].load()) {
      std::fprintf(stderr, "FATAL: a submitter is stuck in faio_ctx_submit\n");
      std::_Exit(3);
    }
  }
  stop_others = true;
  JoinOrDie(waker, waker_done, std::chrono::seconds(20), "the waker");
  JoinOrDie(canceller, canceller_done, std::chrono::seconds(20), "the canceller");
  Clock::time_point t0 = Clock::now();
  while (n_reaped.load() + n_cancelled.load() < n_submitted.load() && MsSince(t0) < 20000) {
    SleepMs(5);
  }
  stop_wait = true;
  JoinOrDie(waiter, waiter_done, std::chrono::seconds(20), "the waiter");
  for (std::thread& t : threads) t.join();

  std::printf(
      "[ stress   ] %s, %zu submitters, %.1f s: submitted %lld, reaped %lld (failed %lld), "
      "cancelled %lld, interrupted waits %lld\n",
      backend(), submitters, seconds, static_cast<long long>(n_submitted.load()),
      static_cast<long long>(n_reaped.load()), static_cast<long long>(n_failed.load()),
      static_cast<long long>(n_cancelled.load()), static_cast<long long>(n_interrupted.load()));
  RecordProperty("submitted", std::to_string(n_submitted.load()));
  RecordProperty("cancelled", std::to_string(n_cancelled.load()));
  for (const std::string& f : fail.first) ADD_FAILURE() << f;
  EXPECT_EQ(fail.n.load(), 0);
  EXPECT_EQ(n_reaped.load() + n_cancelled.load(), n_submitted.load()) << "requests lost";
  EXPECT_GT(n_submitted.load(), 100);
  EXPECT_GT(n_failed.load(), 0) << "no injected fault was seen";
  int mismatched = 0;
  for (const auto& s : slots) {
    if (s->submits.load() != s->back.load() || !s->with_owner.load()) mismatched++;
  }
  EXPECT_EQ(mismatched, 0) << "requests submitted and returned a different number of times";
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx));
}

}  // namespace
}  // namespace faio_test
