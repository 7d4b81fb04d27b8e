// linux_aio_refusal_test.cc - the kernel refusing or cutting short the
// linux_aio backend's io_submit (docs/contract.md, Submit and Flush).
//
// Each case runs in a child process (tests/fallback/child.h) whose test thread
// has a seccomp filter sending every io_submit to a supervisor thread of the
// same process (SECCOMP_RET_USER_NOTIF; the supervisor was started before the
// filter, so its own calls are not filtered). The supervisor answers the calls
// that carry requests from a script: let the call through unchanged
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE), refuse it with EAGAIN as the kernel does
// when the context has no event slot left, or cut it short - it calls
// io_submit itself on the same kernel AIO context (a context belongs to the
// process, not the thread) with the first k iocbs, so the kernel really takes
// exactly those k, and answers the caller with the count the kernel returned.
// The wakeup's poll iocbs always go through.
#include <linux/aio_abi.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <deque>
#include <mutex>
#include <thread>

#include "child.h"
#include "host_refusal.h"

namespace faio_test {
namespace {

// ReadCaller copies len bytes at addr of this process into out, through the
// kernel (process_vm_readv).
bool ReadCaller(const void* addr, void* out, size_t len) {
  struct iovec local = {out, len};
  struct iovec remote = {const_cast<void*>(addr), len};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

class IoSubmitSupervisor {
 public:
  enum Kind { kPass, kRefuse, kPartial };
  struct Answer {
    Kind kind;
    long count;  // kPartial: how many the kernel gets
  };
  struct Call {
    long nr;        // iocbs the caller handed to io_submit
    Kind kind;      // the answer
    long returned;  // what the caller got (a count, or -errno)
  };

  ~IoSubmitSupervisor() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    if (filter_ != nullptr) seccomp_release(filter_);
  }

  // Install starts the supervisor and puts the calling thread (and the threads
  // it starts later) under the filter. "" or why not. no_threads: clone and
  // clone3 answer EAGAIN too (the threads pool cannot start a worker).
  std::string Install(bool no_threads = false) {
    thread_ = std::thread([this] { Run(); });
    filter_ = seccomp_init(SCMP_ACT_ALLOW);
    if (filter_ == nullptr) return "seccomp_init failed";
    if (seccomp_rule_add(filter_, SCMP_ACT_NOTIFY, SCMP_SYS(io_submit), 0) != 0) {
      return "seccomp_rule_add(io_submit, SCMP_ACT_NOTIFY) failed";
    }
    if (no_threads && (seccomp_rule_add(filter_, SCMP_ACT_ERRNO(EAGAIN), SCMP_SYS(clone), 0) != 0 ||
                       seccomp_rule_add(filter_, SCMP_ACT_ERRNO(EAGAIN), SCMP_SYS(clone3), 0) != 0)) {
      return "seccomp_rule_add(clone, EAGAIN) failed";
    }
    int rc = seccomp_load(filter_);
    if (rc != 0) return std::string("seccomp_load failed: ") + strerror(-rc);
    int fd = seccomp_notify_fd(filter_);
    if (fd < 0) return "no seccomp notification descriptor";
    fd_.store(fd);
    return "";
  }

  // Script queues answers for the next calls that carry requests; a call
  // finding the script empty goes through.
  void Script(std::initializer_list<Answer> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.insert(script_.end(), answers.begin(), answers.end());
  }

  // Calls returns (and forgets) the calls that carried requests so far.
  std::vector<Call> TakeCalls() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Call> c;
    c.swap(calls_);
    return c;
  }

  size_t ScriptLeft() {
    std::lock_guard<std::mutex> lock(mu_);
    return script_.size();
  }

 private:
  void Run() {
    while (fd_.load() < 0 && !stop_.load()) std::this_thread::sleep_for(milliseconds(1));
    struct seccomp_notif* req = nullptr;
    struct seccomp_notif_resp* resp = nullptr;
    if (seccomp_notify_alloc(&req, &resp) != 0) return;
    int fd = fd_.load();
    while (!stop_.load()) {
      struct pollfd p = {fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      memset(req, 0, sizeof(*req));  // the kernel refuses a dirty buffer (EINVAL)
      if (seccomp_notify_receive(fd, req) != 0) continue;
      resp->id = req->id;
      resp->error = 0;
      resp->val = 0;
      resp->flags = 0;
      auto actx = static_cast<aio_context_t>(req->data.args[0]);
      auto nr = static_cast<long>(req->data.args[1]);
      auto** cbs = reinterpret_cast<iocb**>(req->data.args[2]);
      // The caller is blocked in the call: its array and iocbs stay put. They
      // are read as a supervisor reads another process's memory, through the
      // kernel, which is also what orders these reads after the caller's
      // writes (a plain load would be a race to TSan, which cannot see that).
      iocb* first = nullptr;
      uint64_t data = 0;
      bool wake = nr >= 1 && ReadCaller(cbs, &first, sizeof first) &&
                  ReadCaller(&first->aio_data, &data, sizeof data) && data == ~uint64_t{0};
      Answer a = {kPass, 0};
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!wake && !script_.empty()) {
          a = script_.front();
          script_.pop_front();
        }
      }
      long returned = nr;
      switch (a.kind) {
        case kPass:
          resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
          break;
        case kRefuse:
          resp->error = -EAGAIN;
          returned = -EAGAIN;
          break;
        case kPartial: {
          long got = syscall(SYS_io_submit, actx, std::min(a.count, nr), cbs);
          returned = got < 0 ? -errno : got;
          if (got < 0) {
            resp->error = -errno;
          } else {
            resp->val = got;
          }
          break;
        }
      }
      if (!wake) {
        std::lock_guard<std::mutex> lock(mu_);
        calls_.push_back({nr, a.kind, a.kind == kPass ? nr : returned});
      }
      (void)seccomp_notify_respond(fd, resp);
    }
    seccomp_notify_free(req, resp);
  }

  scmp_filter_ctx filter_ = nullptr;
  std::thread thread_;
  std::atomic<int> fd_{-1};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::deque<Answer> script_;  // under mu_
  std::vector<Call> calls_;    // under mu_
};

std::string Describe(const std::vector<IoSubmitSupervisor::Call>& calls) {
  static const char* const kKinds[] = {"pass", "refuse", "partial"};
  std::string s;
  for (const auto& c : calls) {
    s += "[nr " + std::to_string(c.nr) + " " + kKinds[c.kind] + " -> " +
         std::to_string(c.returned) + "] ";
  }
  return s;
}

class LinuxAioRefusal : public RefusalTest {
 protected:
  // Where the flush goes: the threads pool (a buffered descriptor), the kernel
  // because no thread can be started, or the kernel because the descriptor is
  // open O_DIRECT (the pool is there).
  enum class FlushRoute { kPool, kKernelNoThreads, kKernelDirect };
  void RefusalAroundAFlush(IoSubmitSupervisor& sup, FlushRoute route);
  // InSupervisedChild runs body in a child under the supervisor; the child's
  // gtest failures are printed there and fail the test here.
  template <typename Body>
  void InSupervisedChild(Body body, bool no_threads = false) {
    ChildResult r = InChild(std::vector<Denied>{}, [&]() -> int {
      alarm(50);  // a child stuck in a call the supervisor never answered dies
      IoSubmitSupervisor sup;
      std::string why = sup.Install(no_threads);
      if (!why.empty()) {
        printf("SETUP %s\n", why.c_str());
        return 3;
      }
      body(sup);
      return ::testing::Test::HasFailure() ? 1 : 0;
    });
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
};
FAIO_INSTANTIATE_ON(LinuxAioRefusal, "linux_aio");

using Sup = IoSubmitSupervisor;

TEST_P(LinuxAioRefusal, PartialIoSubmitKeepsThePrefix) {
  // The kernel takes 3 of 8, then refuses the retry with EAGAIN: submit says
  // insufficient resources with exactly 3 submitted; they complete through
  // wait; the other 5 are prepared and go through when submitted again.
  InSupervisedChild([&](Sup& sup) {
    faio_ctx* ctx = NewCtx();
    ASSERT_NE(ctx, nullptr);
    ASSERT_NE(DirectIoDir(), "") << "no directory that takes O_DIRECT (set FAIO_TEST_DIR)";
    TempFile f(DirectIoDir());
    ASSERT_TRUE(f.ok());
    faio_file fd = DirectFd(f);
    ASSERT_GE(fd, 0);
    std::vector<faio_req*> reqs = WriteBatch(fd, 8);
    sup.Script({{Sup::kPartial, 3}, {Sup::kRefuse, 0}});
    EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
    std::vector<Sup::Call> calls = sup.TakeCalls();
    ASSERT_EQ(calls.size(), 2u) << Describe(calls);
    EXPECT_EQ(calls[0].nr, 8);
    EXPECT_EQ(calls[0].returned, 3) << "the kernel did not take 3: " << Describe(calls);
    EXPECT_EQ(calls[1].nr, 5) << "the retry did not start after the 3 taken";
    ExpectPrefixAccepted(reqs, 3);
    std::vector<faio_req*> taken(reqs.begin(), reqs.begin() + 3);
    std::vector<faio_req*> rest(reqs.begin() + 3, reqs.end());
    ReapExactly(ctx, taken);
    for (faio_req* r : taken) {
      size_t n = 0;
      EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
      EXPECT_EQ(n, kBlock);
    }
    ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, rest.data(), rest.size()));
    ReapExactly(ctx, rest);
    for (faio_req* r : rest) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
    ExpectFileHoldsBatch(f, 8);
    calls = sup.TakeCalls();
    ASSERT_EQ(calls.size(), 1u) << Describe(calls);
    EXPECT_EQ(calls[0].nr, 5);
  });
}

TEST_P(LinuxAioRefusal, FirstIoSubmitRefusedSubmitsNothing) {
  InSupervisedChild([&](Sup& sup) {
    faio_ctx* ctx = NewCtx();
    ASSERT_NE(ctx, nullptr);
    ASSERT_NE(DirectIoDir(), "") << "no directory that takes O_DIRECT (set FAIO_TEST_DIR)";
    TempFile f(DirectIoDir());
    ASSERT_TRUE(f.ok());
    faio_file fd = DirectFd(f);
    ASSERT_GE(fd, 0);
    std::vector<faio_req*> reqs = WriteBatch(fd, 4);
    sup.Script({{Sup::kRefuse, 0}});
    EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
    EXPECT_EQ(sup.TakeCalls().size(), 1u);
    ExpectPrefixAccepted(reqs, 0);
    ExpectNoneCounted(ctx);
    ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
    ReapExactly(ctx, reqs);
    ExpectFileHoldsBatch(f, 4);
  });
}

// [w0 w1 w2 flush w3 w4]: the writes before the flush go in one io_submit,
// which passes; the one after it is refused: accepted are w0..w2 and the flush
// (prefix 4), w3 and w4 are prepared. kPool: the flush names a buffered
// descriptor of the file (which has no writes of its own to wait for: a
// flush's barrier is its descriptor's) and goes to the threads pool (fdatasync
// on a worker): no io_submit carries it, and it succeeds. The other routes name
// the O_DIRECT descriptor, and the flush is issued once the writes are reaped:
// kKernelNoThreads: no thread can be started (clone answers EAGAIN), so the pool
// has no worker; kKernelDirect: the pool is there (a buffered flush first has
// attached it), but a flush of an O_DIRECT descriptor goes to the kernel
// (linux_aio_backend.cc). Either way the flush is an IOCB_CMD_FDSYNC whose
// io_submit is refused too: it completes with insufficient resources, host
// error EAGAIN (docs/contract.md, Flush). Every way the next flush succeeds.
void LinuxAioRefusal::RefusalAroundAFlush(Sup& sup, FlushRoute route) {
  const bool pool = route == FlushRoute::kPool;
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  ASSERT_NE(DirectIoDir(), "") << "no directory that takes O_DIRECT (set FAIO_TEST_DIR)";
  TempFile f(DirectIoDir());
  ASSERT_TRUE(f.ok());
  faio_file fd = DirectFd(f);
  ASSERT_GE(fd, 0);
  const faio_file flush_fd = pool ? f.fd() : fd;
  faio_req* flush = NewReq();
  if (route == FlushRoute::kKernelDirect) {  // attach the pool: a buffered flush
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, f.fd(), nullptr));
    ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, &flush, 1));
    ReapExactly(ctx, {flush});
    ASSERT_ST(FAIO_OK, faio_req_result(flush, nullptr));
    ASSERT_EQ(sup.TakeCalls().size(), 0u) << "an io_submit carried the buffered flush";
  }
  std::vector<faio_req*> w = WriteBatch(fd, 5);
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, flush_fd, nullptr));
  std::vector<faio_req*> batch = {w[0], w[1], w[2], flush, w[3], w[4]};
  if (pool) {
    sup.Script({{Sup::kPass, 0}, {Sup::kRefuse, 0}});
  } else {
    sup.Script({{Sup::kPass, 0}, {Sup::kRefuse, 0}, {Sup::kRefuse, 0}});
  }
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, batch.data(), batch.size()));
  ExpectPrefixAccepted(batch, 4);
  ReapExactly(ctx, {w[0], w[1], w[2], flush});
  for (int i = 0; i < 3; i++) EXPECT_ST(FAIO_OK, faio_req_result(w[i], nullptr));
  std::vector<Sup::Call> calls = sup.TakeCalls();
  if (pool) {
    EXPECT_ST(FAIO_OK, faio_req_result(flush, nullptr));
    ASSERT_EQ(calls.size(), 2u) << "an io_submit carried the flush: " << Describe(calls);
  } else {
    EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_req_result(flush, nullptr));
    EXPECT_EQ(faio_req_host_error(flush), EAGAIN);
    ASSERT_EQ(calls.size(), 3u) << Describe(calls);
    EXPECT_EQ(calls[2].nr, 1) << "the third call is not the flush: " << Describe(calls);
  }
  EXPECT_EQ(calls[0].nr, 3) << Describe(calls);
  EXPECT_EQ(calls[1].nr, 2) << Describe(calls);
  EXPECT_EQ(sup.ScriptLeft(), 0u);
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, flush_fd, nullptr));
  std::vector<faio_req*> again = {w[3], w[4], flush};
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, again.data(), again.size()));
  ReapExactly(ctx, again);
  for (faio_req* r : again) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  ExpectFileHoldsBatch(f, 5);
}

TEST_P(LinuxAioRefusal, RefusalAfterAFlushKeepsThePrefixAndTheFlushGoesToThePool) {
  InSupervisedChild([&](Sup& sup) { RefusalAroundAFlush(sup, FlushRoute::kPool); });
}

TEST_P(LinuxAioRefusal, RefusalAfterAFlushKeepsThePrefixAndRefusedFlushCompletes) {
  InSupervisedChild([&](Sup& sup) { RefusalAroundAFlush(sup, FlushRoute::kKernelNoThreads); },
                    /*no_threads=*/true);
}

TEST_P(LinuxAioRefusal, RefusalAfterAFlushOfADirectDescriptorGoesToTheKernel) {
  InSupervisedChild([&](Sup& sup) { RefusalAroundAFlush(sup, FlushRoute::kKernelDirect); });
}

}  // namespace
}  // namespace faio_test
