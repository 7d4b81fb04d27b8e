// context_test.cc - the context's life (docs/contract.md, Contexts; The C interface) and the
// process-wide queries (backends, limits, alignment, strerror, version).
#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
#include <sys/types.h>
// sys/types.h first: FreeBSD's sys/sysctl.h needs it.
#include <sys/sysctl.h>
#endif

#include "conformance.h"

namespace faio_test {
namespace {

class Context : public BackendTest {};
FAIO_INSTANTIATE(Context);

TEST_P(Context, CreateNullOutIsInvalidParameter) {
  faio_ctx_options o = Options();
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_create_ex(nullptr, &o));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_create(nullptr, 0, 0));
}

TEST_P(Context, UnknownFlagsAreInvalidParameter) {
  for (uint32_t flags : {2u, 4u, 0x80000000u, 0xffffffffu, FAIO_CTX_WAIT_WITHOUT_PENDING | 8u}) {
    SCOPED_TRACE(flags);
    faio_ctx_options o = Options(8, flags);
    faio_ctx* c = nullptr;
    int s = faio_ctx_create_ex(&c, &o);
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, s);
    if (s == FAIO_OK) (void)faio_ctx_destroy(c);
    faio_ctx* d = nullptr;
    s = faio_ctx_create(&d, 8, flags);
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, s);
    if (s == FAIO_OK) (void)faio_ctx_destroy(d);
  }
}

TEST_P(Context, KnownFlagIsAccepted) {
  faio_ctx* c = NewCtx(8, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(c, nullptr);
  EXPECT_STREQ(faio_ctx_backend(c), backend());
}

TEST_P(Context, DestroyNullIsNoOpSuccess) { EXPECT_ST(FAIO_OK, faio_ctx_destroy(nullptr)); }

TEST_P(Context, DestroyForeignHandleIsInvalidHandle) {
  int local = 7;
  EXPECT_ST(FAIO_E_INVALID_HANDLE,
            faio_ctx_destroy(reinterpret_cast<faio_ctx*>(uintptr_t{0x1234})));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_destroy(reinterpret_cast<faio_ctx*>(&local)));
  faio_req* r = NewReq();
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_destroy(reinterpret_cast<faio_ctx*>(r)))
      << "a request handle used as a context";
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, nullptr)) << "the request is unharmed";
  EXPECT_EQ(local, 7);
}

TEST_P(Context, DestroyedHandleIsInvalidEverywhere) {
  faio_ctx_options o = Options();
  faio_ctx* c = nullptr;
  ASSERT_ST(FAIO_OK, faio_ctx_create_ex(&c, &o));
  ASSERT_ST(FAIO_OK, faio_ctx_destroy(c));
  auto f = NewFile();
  faio_req* r = NewReq();
  char buf[8];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, nullptr));
  faio_req* out[4];
  uint32_t count = 99;
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_submit(c, &r, 1));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_wait(c, 1, 0, out, 4, &count));
  EXPECT_EQ(count, 0u) << "the count is written also on failure";
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_wakeup(c));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_associate_file(c, f->fd()));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_clear_error(c, f->fd()));
  EXPECT_EQ(faio_ctx_capacity(c), 0u);
  EXPECT_EQ(faio_ctx_backend(c), nullptr);
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_destroy(c));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, nullptr)) << "nothing was submitted";
  // Null is not a live context either (only destroy treats it as a no-op).
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_submit(nullptr, &r, 1));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_wakeup(nullptr));
  EXPECT_EQ(faio_ctx_backend(nullptr), nullptr);
  EXPECT_EQ(faio_ctx_capacity(nullptr), 0u);
}

TEST_P(Context, DestroyBusyIsBusyAndContextStaysUsable) {
  faio_ctx* c = NewCtx();
  ASSERT_NE(c, nullptr);
  Pipe* p = NewPipe();
  auto f = NewFile();
  std::vector<faio_req*> reqs = NewReqs(2);
  char b0[4];
  char b1[16];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[0], p->r, 0, b0, sizeof b0, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(c, reqs[0]));
  EXPECT_ST(FAIO_E_BUSY, faio_ctx_destroy(c));
  // Nothing was freed: the context still submits, reaps and names its backend.
  EXPECT_STREQ(faio_ctx_backend(c), backend());
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[1], f->fd(), 0, b1, sizeof b1, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(c, reqs[1]));
  std::vector<faio_req*> got = Reap(c, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], reqs[1]);
  EXPECT_ST(FAIO_E_BUSY, faio_ctx_destroy(c)) << "the pipe read is still counted";
  ASSERT_EQ(p->Feed(sizeof b0), sizeof b0);
  got = Reap(c, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], reqs[0]);
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
}

TEST_P(Context, DestroyWhileAThreadWaitsIsBusy) {
  faio_ctx* c = NewCtx(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
  ASSERT_NE(c, nullptr);
  std::atomic<int> status{1};
  std::thread waiter([&] {
    faio_req* out[2];
    uint32_t count = 0;
    int s;
    do {
      s = faio_ctx_wait(c, 1, 10000, out, 2, &count);
    } while (s == FAIO_E_BUSY);
    status = s;
  });
  // Wait until the waiter is inside the wait: a poll of ours is then BUSY.
  Clock::time_point t0 = Clock::now();
  int probe;
  do {
    faio_req* out[2];
    uint32_t count = 0;
    probe = faio_ctx_wait(c, 1, 0, out, 2, &count);
  } while (probe != FAIO_E_BUSY && MsSince(t0) < 5000);
  EXPECT_ST(FAIO_E_BUSY, probe) << "the waiter never seemed to block";
  EXPECT_ST(FAIO_E_BUSY, faio_ctx_destroy(c)) << "a thread waits on the context";
  EXPECT_ST(FAIO_OK, faio_ctx_wakeup(c));
  waiter.join();
  EXPECT_ST(FAIO_E_INTERRUPTED, status.load());
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
}

// The contract allows rounding up; every backend here gives exactly what was
// asked for (docs/backends.md, "capacity"): the core counts against it, so a
// backend's ring or iocb array may be larger without showing.
// A caller bug the library must survive: faio_ctx_destroy racing calls on the
// same context from other threads (submit, wait, wakeup, cancel, capacity,
// backend). Destroy answers *busy* while a call is inside the context; once it
// succeeds, every later call answers *invalid handle*; nothing touches freed
// memory (the ASan build runs this too). Each round counts both outcomes.
TEST_P(Context, DestroyRacingCallsOnOtherThreadsAnswersAStatus) {
  auto f = NewFile();
  constexpr int kRounds = 100;
  int64_t busy = 0, invalid_after = 0, ok_before = 0;
  for (int round = 0; round < kRounds; ++round) {
    faio_ctx_options o = Options(0, FAIO_CTX_WAIT_WITHOUT_PENDING);
    faio_ctx* c = nullptr;
    ASSERT_ST(FAIO_OK, faio_ctx_create_ex(&c, &o));
    std::atomic<bool> go{false};
    std::atomic<bool> destroying{false};  // set before the first destroy call
    std::atomic<int64_t> calls_ok{0}, calls_invalid{0}, calls_bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        faio_req* r = nullptr;
        char buf[64];
        if (faio_req_create(&r) != FAIO_OK) {
          calls_bad++;
          return;
        }
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < 200; ++i) {
          int s = FAIO_OK;
          switch ((t + i) % 4) {
            case 0:
              s = faio_ctx_wakeup(c);
              break;
            case 1: {
              faio_req* out[4];
              uint32_t n = 0;
              // 1 ms: a call that stays inside the context for a while.
              s = faio_ctx_wait(c, 1, 1, out, 4, &n);
              if (s == FAIO_E_TIMEOUT || s == FAIO_E_INTERRUPTED || s == FAIO_E_BUSY ||
                  s == FAIO_E_NO_REQUEST) {
                s = FAIO_OK;
              }
              break;
            }
            case 2:
              s = faio_ctx_capacity(c) != 0 && faio_ctx_backend(c) != nullptr
                      ? FAIO_OK
                      : FAIO_E_INVALID_HANDLE;
              break;
            case 3:
              // A submit that the batch check refuses (r is idle): it enters the
              // context but leaves nothing counted, so destroy can win.
              s = faio_ctx_submit(c, &r, 1);
              if (s == FAIO_E_INVALID_STATE) s = FAIO_OK;
              break;
          }
          if (s == FAIO_OK) {
            calls_ok++;
          } else if (s == FAIO_E_INVALID_HANDLE) {
            calls_invalid++;
            if (!destroying.load()) calls_bad++;  // invalid before any destroy
          } else {
            calls_bad++;
          }
        }
        (void)buf;
        (void)faio_req_destroy(r);
      });
    }
    go = true;
    // Destroy after a varying number of calls, so that it meets calls inside
    // the context (busy) and calls come after it (invalid handle).
    const int64_t after = round % 7 * 40;
    while (calls_ok.load() < after && calls_bad.load() == 0) std::this_thread::yield();
    destroying = true;
    int s;
    do {
      s = faio_ctx_destroy(c);
      if (s == FAIO_E_BUSY) busy++;
    } while (s == FAIO_E_BUSY);
    for (std::thread& t : threads) t.join();
    ASSERT_ST(FAIO_OK, s);
    EXPECT_EQ(calls_bad.load(), 0) << "round " << round;
    ok_before += calls_ok.load();
    invalid_after += calls_invalid.load();
    EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_wakeup(c));
    EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_destroy(c));
  }
  std::printf(
      "[ destroy  ] %s: %d rounds, %lld busy destroys, %lld calls before, %lld calls "
      "answered invalid handle after\n",
      GetParam().c_str(), kRounds, static_cast<long long>(busy), static_cast<long long>(ok_before),
      static_cast<long long>(invalid_after));
  EXPECT_GT(busy, 0) << "destroy never met a call inside the context";
  EXPECT_GT(invalid_after, 0) << "no call came after the destroy";
}

TEST_P(Context, CapacityIsWhatWasAsked) {
  for (uint32_t want : {1u, 2u, 7u, 8u, 100u, 1000u, 5000u}) {
    SCOPED_TRACE(want);
    faio_ctx* c = NewCtx(want);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(faio_ctx_capacity(c), want);
    EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
  }
}

// Capacity 0: as many as the host allows. docs/backends.md: unlimited, except
// linux_aio, whose io_setup needs a number (4096) out of fs.aio-max-nr, and
// FreeBSD's POSIX AIO, which refuses jobs beyond the smaller of
// vfs.aio.max_aio_queue_per_proc and vfs.aio.max_aio_queue.
TEST_P(Context, CapacityZeroMeansHostMaximum) {
  faio_ctx* c = NewCtx(0);
  ASSERT_NE(c, nullptr);
  uint32_t cap = faio_ctx_capacity(c);
  RecordProperty("capacity_zero", std::to_string(cap));
  uint32_t want = backend() == std::string("linux_aio") ? 4096u : FAIO_UNLIMITED;
#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
  if (backend() == std::string("kqueue") || backend() == std::string("posix_aio")) {
    int per_proc = 0, global = 0;
    size_t len = sizeof(int);
    ASSERT_EQ(sysctlbyname("vfs.aio.max_aio_queue_per_proc", &per_proc, &len, nullptr, 0), 0);
    ASSERT_EQ(sysctlbyname("vfs.aio.max_aio_queue", &global, &len, nullptr, 0), 0);
    want = static_cast<uint32_t>(per_proc < global ? per_proc : global);
  }
#endif
  EXPECT_EQ(cap, want);
}

TEST_P(Context, BackendNameIsTheOneAskedFor) {
  faio_ctx* c = NewCtx();
  ASSERT_NE(c, nullptr);
  ASSERT_NE(faio_ctx_backend(c), nullptr);
  EXPECT_STREQ(faio_ctx_backend(c), backend());
  EXPECT_EQ(faio_ctx_backend(c), faio_ctx_backend(c)) << "static storage";
}

TEST_P(Context, BadOptionsSizeIsInvalidParameter) {
  for (uint32_t size : {0u, 1u, 4u, 8u}) {
    SCOPED_TRACE(size);
    faio_ctx_options o = Options();
    o.size = size;
    faio_ctx* c = nullptr;
    int s = faio_ctx_create_ex(&c, &o);
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, s);
    if (s == FAIO_OK) (void)faio_ctx_destroy(c);
  }
}

TEST_P(Context, NullOptionsDoNotCrash) {
  faio_ctx* c = nullptr;
  int s = faio_ctx_create_ex(&c, nullptr);
  EXPECT_TRUE(s == FAIO_E_INVALID_PARAMETER || s == FAIO_OK) << StatusName(s);
  if (s == FAIO_OK) {
    EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
  }
}

TEST_P(Context, UnknownBackendNameIsInvalidParameter) {
  for (const char* name : {"nosuch", "no_such_backend", "io_uring_x", "thread"}) {
    SCOPED_TRACE(name);
    faio_ctx_options o = Options();
    o.backend = name;
    faio_ctx* c = nullptr;
    int s = faio_ctx_create_ex(&c, &o);
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, s);
    if (s == FAIO_OK) (void)faio_ctx_destroy(c);
  }
}

TEST_P(Context, EmptyBackendNameIsInvalidParameter) {
  // faio.h: "NULL or \"auto\"" choose automatically; "" names no backend.
  faio_ctx_options o = Options();
  o.backend = "";
  faio_ctx* c = nullptr;
  int s = faio_ctx_create_ex(&c, &o);
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, s);
  if (s == FAIO_OK) (void)faio_ctx_destroy(c);
}

TEST_P(Context, EnvironmentVariableSelectsBackend) {
  const char* old = std::getenv("FAIO_BACKEND");
  std::string saved = old ? old : "";
  ASSERT_TRUE(SetEnv("FAIO_BACKEND", backend()));
  faio_ctx* c = nullptr;
  int s = faio_ctx_create(&c, 4, 0);
  EXPECT_ST(FAIO_OK, s);
  if (s == FAIO_OK) {
    EXPECT_STREQ(faio_ctx_backend(c), backend());
    EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
  }
  // An explicit backend in the options wins over the environment.
  ASSERT_TRUE(SetEnv("FAIO_BACKEND", "nosuch-backend"));
  faio_ctx_options o = Options(4);
  c = nullptr;
  s = faio_ctx_create_ex(&c, &o);
  EXPECT_ST(FAIO_OK, s);
  if (s == FAIO_OK) {
    EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
  }
  if (old) {
    SetEnv("FAIO_BACKEND", saved.c_str());
  } else {
    UnsetEnv("FAIO_BACKEND");
  }
}

TEST_P(Context, AssociateFile) {
  faio_ctx* c = NewCtx();
  ASSERT_NE(c, nullptr);
  auto f = NewFile(4096);
  EXPECT_ST(FAIO_OK, faio_ctx_associate_file(c, f->fd()));
  EXPECT_ST(FAIO_E_BAD_FILE, faio_ctx_associate_file(c, kInvalidFile));
  const faio_file closed = ClosedFd();
  EXPECT_ST(FAIO_E_BAD_FILE, faio_ctx_associate_file(c, closed));
  // Submits on the associated file work.
  faio_req* r = NewReq();
  char buf[64];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(c, r));
  ASSERT_EQ(Reap(c, 1).size(), 1u);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
  EXPECT_EQ(n, sizeof buf);
}

TEST_P(Context, ClearErrorWithoutErrorIsOk) {
  faio_ctx* c = NewCtx();
  ASSERT_NE(c, nullptr);
  auto f = NewFile();
  EXPECT_ST(FAIO_OK, faio_ctx_clear_error(c, f->fd()));
  EXPECT_ST(FAIO_E_INVALID_HANDLE,
            faio_ctx_clear_error(reinterpret_cast<faio_ctx*>(uintptr_t{0x1234}), f->fd()));
}

TEST_P(Context, ManyContextsAtOnceAreIndependent) {
  constexpr int kN = 16;
  auto f = NewFile(kN * 64);
  std::vector<faio_ctx*> ctxs;
  std::vector<faio_req*> reqs = NewReqs(kN);
  std::vector<Bytes> bufs(kN, Bytes(64));
  for (int i = 0; i < kN; i++) {
    ctxs.push_back(NewCtx(4));
    ASSERT_NE(ctxs.back(), nullptr);
    ASSERT_ST(FAIO_OK,
              faio_req_prepare_read(reqs[i], f->fd(), i * 64, bufs[i].data(), 64, nullptr));
    ASSERT_ST(FAIO_OK, Submit1(ctxs[i], reqs[i]));
  }
  for (int i = kN - 1; i >= 0; i--) {
    std::vector<faio_req*> got = Reap(ctxs[i], 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], reqs[i]) << "a completion came back through another context";
    EXPECT_EQ(bufs[i][0], static_cast<unsigned char>(i * 64 * 7 + 3));
    EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctxs[i]));
  }
}

TEST_P(Context, SixtyFourContextsEachWithAReadInFlightAllComplete) {
  // Regression (issue 19, item 1): on posix_aio each context's wakeup parked a
  // read on one of glibc's 20 AIO threads, so from the 20th context on no
  // request completed. 64 contexts, each with a pipe read in flight at the same
  // time; then each pipe is fed and every read must come back through its own
  // context (docs/contract.md, Context lifetime: a context that is made serves
  // I/O).
  constexpr size_t kN = 64;
  constexpr size_t kLen = 8;
  std::vector<faio_ctx*> ctxs;
  std::vector<Pipe*> pipes;
  std::vector<faio_req*> reqs = NewReqs(kN);
  std::vector<Bytes> bufs(kN, Bytes(kLen));
  for (size_t i = 0; i < kN; i++) {
    ctxs.push_back(NewCtx(4));
    ASSERT_NE(ctxs.back(), nullptr) << "context " << i;
    pipes.push_back(NewPipe());
    ASSERT_ST(FAIO_OK,
              faio_req_prepare_read(reqs[i], pipes[i]->r, 0, bufs[i].data(), kLen, nullptr));
    ASSERT_ST(FAIO_OK, Submit1(ctxs[i], reqs[i]));
  }
  for (size_t i = 0; i < kN; i++) EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(reqs[i], nullptr));
  for (size_t i = 0; i < kN; i++) ASSERT_EQ(pipes[i]->Feed(kLen), kLen);
  // The last context first: it is the one that starved.
  for (size_t i = kN; i-- > 0;) {
    SCOPED_TRACE(i);
    std::vector<faio_req*> got = Reap(ctxs[i], 1, milliseconds(10000));
    ASSERT_EQ(got.size(), 1u) << "the read through context " << i << " of " << kN
                              << " did not complete";
    EXPECT_EQ(got[0], reqs[i]);
    size_t n = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(reqs[i], &n));
    EXPECT_EQ(n, kLen);
    EXPECT_EQ(bufs[i], Bytes(kLen, 'p'));
  }
}

TEST_P(Context, FiveThousandContextsEachWithAReadInFlightAllComplete) {
  // Issue 19, item 1 (docs/contract.md, Context lifetime: contexts are cheap,
  // a context that is made serves I/O): 5,000 contexts of capacity 4 in one
  // process, each with a read handed to the host (FAIO_CTX_HOST_ONLY: none is
  // made at submission) before any is reaped; all are made and all complete,
  // each through its own context. On this machine's default limits (20,000
  // descriptors, fs.aio-max-nr 65,536) that is 10,000 descriptors on io_uring
  // and 45,000 kernel AIO slots on linux_aio (docs/backends.md, "What a context
  // costs").
  size_t kN = 5000;
  // Under Wine every handle of an IOCP context is a descriptor of the Unix
  // process, and 5,000 contexts use them up (CreateThread fails with
  // ERROR_TOO_MANY_OPEN_FILES): Windows itself allows millions of handles.
  if (RunningUnderWine()) kN = 1000;
#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
  // FreeBSD's kernel admits at most vfs.aio.max_aio_queue_per_proc (256 by
  // default) requests in flight per process; past that a submit is *insufficient
  // resources* (docs/backends.md). As many contexts as it admits there.
  {
    int per_proc = 0, global = 0;
    size_t len = sizeof(int);
    ASSERT_EQ(sysctlbyname("vfs.aio.max_aio_queue_per_proc", &per_proc, &len, nullptr, 0), 0);
    ASSERT_EQ(sysctlbyname("vfs.aio.max_aio_queue", &global, &len, nullptr, 0), 0);
    kN = std::min<size_t>(kN, static_cast<size_t>(per_proc < global ? per_proc : global));
  }
#endif
  constexpr size_t kLen = 64;
  auto f = NewFile(kN * kLen);
  std::vector<faio_ctx*> ctxs;
  ctxs.reserve(kN);
  std::vector<faio_req*> reqs = NewReqs(kN);
  std::vector<Bytes> bufs(kN, Bytes(kLen));
  for (size_t i = 0; i < kN; i++) {
    faio_ctx* c = NewCtx(4, FAIO_CTX_HOST_ONLY);
    ASSERT_NE(c, nullptr) << "context " << i << " of " << kN;
    ctxs.push_back(c);
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[i], f->fd(), static_cast<int64_t>(i * kLen),
                                             bufs[i].data(), kLen, nullptr));
    ASSERT_ST(FAIO_OK, Submit1(c, reqs[i]));
  }
  // The last context first: on posix_aio it was the one that starved.
  for (size_t i = kN; i-- > 0;) {
    std::vector<faio_req*> got = Reap(ctxs[i], 1, milliseconds(10000));
    ASSERT_EQ(got.size(), 1u) << "the read through context " << i << " did not complete";
    ASSERT_EQ(got[0], reqs[i]) << "a completion came back through another context";
    size_t n = 0;
    ASSERT_ST(FAIO_OK, faio_req_result(reqs[i], &n));
    ASSERT_EQ(n, kLen);
    for (size_t k = 0; k < kLen; k++) {
      ASSERT_EQ(bufs[i][k], static_cast<unsigned char>((i * kLen + k) * 7 + 3)) << i << " " << k;
    }
  }
  // Destroyed from many threads at once: past the 16 idle kernel contexts it
  // keeps (docs/backends.md), linux_aio's io_destroy waits for the kernel to
  // retire the AIO context (~32 ms each on the development VM, an RCU grace
  // period), so 5,000 one after another would take minutes.
  constexpr size_t kDestroyers = 50;
  std::atomic<int> not_ok{0};
  std::vector<std::thread> ts;
  for (size_t t = 0; t < kDestroyers; t++) {
    ts.emplace_back([&, t] {
      for (size_t i = t; i < kN; i += kDestroyers) {
        if (faio_ctx_destroy(ctxs[i]) != FAIO_OK) not_ok.fetch_add(1);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(not_ok.load(), 0) << "idle contexts that did not destroy";
}

TEST_P(Context, ContextsOneAfterAnotherWithIoDestroyPromptly) {
  // Regression: on posix_aio the second context that did I/O hung forever in
  // faio_ctx_destroy (its notifier's aio_suspend never returned).
  auto f = NewFile(4096);
  faio_req* r = NewReq();
  char buf[64];
  for (int round = 0; round < 4; round++) {
    SCOPED_TRACE(round);
    faio_ctx_options o = Options();
    faio_ctx* c = nullptr;
    ASSERT_ST(FAIO_OK, faio_ctx_create_ex(&c, &o));
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, nullptr));
    ASSERT_ST(FAIO_OK, Submit1(c, r));
    faio_req* out[2];
    uint32_t count = 0;
    EXPECT_ST(FAIO_OK, faio_ctx_wait(c, 1, 5000, out, 2, &count));
    EXPECT_EQ(count, 1u);
    int s = FAIO_E_BUSY;
    RunWithDeadline(std::chrono::seconds(10), "faio_ctx_destroy of an idle context",
                    [&] { s = faio_ctx_destroy(c); });
    EXPECT_ST(FAIO_OK, s);
  }
}

TEST_P(Context, CppContextWrapper) {
  faio::Options o;
  o.capacity = 8;
  o.backend = backend();
  o.threads = IsThreads() ? kThreadsWorkers : 0;
  faio::Result<faio::Context> made = faio::Context::Create(o);
  ASSERT_TRUE(made.ok()) << faio::ToString(made.status());
  faio::Context ctx = std::move(made.value());
  EXPECT_STREQ(ctx.Backend(), backend());
  EXPECT_GE(ctx.Capacity(), 8u);
  auto f = NewFile(4096);
  faio::Result<faio::Request> rr = faio::Request::Create();
  ASSERT_TRUE(rr.ok());
  faio::Request r = std::move(rr.value());
  std::byte buf[128];
  ASSERT_EQ(r.PrepareRead(f->fd(), 0, buf), faio::Status::kOk);
  ASSERT_EQ(ctx.Submit(r), faio::Status::kOk);
  EXPECT_EQ(ctx.Destroy(), faio::Status::kBusy);
  faio_req* out[4];
  faio::Result<faio::WaitOutcome> w = ctx.Wait(1, out, faio::Millis(5000));
  EXPECT_TRUE(w.ok()) << faio::ToString(w.status());
  EXPECT_EQ(w.value().count, 1u);
  EXPECT_EQ(r.Outcome().value(), sizeof buf);
  w = ctx.Wait(1, out, faio::Millis(0));
  EXPECT_EQ(w.status(), faio::Status::kNoRequest);
  EXPECT_EQ(ctx.Wakeup(), faio::Status::kOk);
  faio::Options bad;
  bad.flags = 0x80;  // no such flag
  bad.backend = backend();
  EXPECT_EQ(faio::Context::Create(bad).status(), faio::Status::kInvalidParameter);
  EXPECT_EQ(ctx.Destroy(), faio::Status::kOk);
  EXPECT_FALSE(static_cast<bool>(ctx));
}

// ---- process-wide queries (not per backend) -------------------------------------

TEST(Library, GetBackendsListsEveryCompiledInBackend) {
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_get_backends(nullptr, 0, &n));
  ASSERT_GE(n, 1u);
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_get_backends(nullptr, 1, &n));
  EXPECT_ST(FAIO_OK, faio_get_backends(nullptr, 0, nullptr));
  std::vector<faio_backend_info> v(n + 2);
  size_t m = 0;
  ASSERT_ST(FAIO_OK, faio_get_backends(v.data(), v.size(), &m));
  EXPECT_EQ(m, n);
  std::set<std::string> names;
  for (size_t i = 0; i < m; i++) {
    ASSERT_NE(v[i].name, nullptr);
    names.insert(v[i].name);
    if (v[i].available) {
      EXPECT_EQ(v[i].status, FAIO_OK) << v[i].name;
      EXPECT_STREQ(v[i].reason, "") << v[i].name;
    } else {
      EXPECT_NE(v[i].status, FAIO_OK) << v[i].name;
      EXPECT_GT(std::strlen(v[i].reason), 0u) << v[i].name << " gives no reason";
    }
  }
  EXPECT_EQ(names.size(), m) << "a backend is listed twice";
  // Only one entry asked for: still the full count.
  faio_backend_info one;
  m = 0;
  ASSERT_ST(FAIO_OK, faio_get_backends(&one, 1, &m));
  EXPECT_EQ(m, n);
  EXPECT_STREQ(one.name, v[0].name) << "the same preference order every time";
}

TEST(Library, NamedBackendNotHereIsNotSupported) {
  std::set<std::string> here;
  for (const std::string& n : BackendNames()) {
    const faio_backend_info* b = FindBackend(n);
    if (b && b->available) here.insert(n);
  }
  for (const char* name : {"io_uring", "linux_aio", "posix_aio", "kqueue", "threads", "iocp"}) {
    if (here.count(name)) continue;
    SCOPED_TRACE(name);
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = name;
    faio_ctx* c = nullptr;
    int s = faio_ctx_create_ex(&c, &o);
    EXPECT_ST(FAIO_E_NOT_SUPPORTED, s);
    if (s == FAIO_OK) (void)faio_ctx_destroy(c);
  }
}

TEST(Library, GetBackendsListsWhatThisBuildCompiledIn) {
  // FAIO_TEST_EXPECTED_BACKENDS: the configure step's list, in preference order.
  std::vector<std::string> expected;
  std::string list = FAIO_TEST_EXPECTED_BACKENDS;
  for (size_t pos = 0; pos <= list.size();) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    if (comma > pos) expected.push_back(list.substr(pos, comma - pos));
    pos = comma + 1;
  }
  std::vector<std::string> got;
  for (const faio_backend_info& b : BackendInfos()) got.emplace_back(b.name);
  EXPECT_EQ(got, expected) << "faio_get_backends does not list what this build compiled in";
}

// "auto" tries the backends marked automatic, in the list's order: every one
// but posix_aio (glibc's is slower than threads) and fault (a test decorator).
TEST(Library, AutoPicksTheFirstAvailableAutomaticBackend) {
  const char* env = std::getenv("FAIO_BACKEND");
  if (env != nullptr && *env != '\0') GTEST_SKIP() << "FAIO_BACKEND is set";
  std::string first;
  for (const faio_backend_info& b : BackendInfos()) {
    const std::string name = b.name;
    EXPECT_EQ(b.automatic != 0, name != "posix_aio" && name != "fault") << name;
    if (first.empty() && b.available && b.automatic) first = name;
  }
  ASSERT_FALSE(first.empty()) << "no automatic backend is available here";
  for (const char* name : {static_cast<const char*>(nullptr), "auto"}) {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = name;
    faio_ctx* c = nullptr;
    ASSERT_ST(FAIO_OK, faio_ctx_create_ex(&c, &o));
    EXPECT_EQ(first, faio_ctx_backend(c));
    EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
  }
  faio_ctx* c = nullptr;
  ASSERT_ST(FAIO_OK, faio_ctx_create(&c, 0, 0));
  EXPECT_EQ(first, faio_ctx_backend(c));
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
}

TEST(Library, EnvironmentNamingAMissingBackendIsNotSupported) {
  std::string missing;
  for (const char* name : {"iocp", "kqueue", "posix_aio", "linux_aio", "io_uring", "threads"}) {
    const faio_backend_info* b = FindBackend(name);
    if (b == nullptr || !b->available) {
      missing = name;
      break;
    }
  }
  if (missing.empty()) GTEST_SKIP() << "every backend is available here";
  const char* old = std::getenv("FAIO_BACKEND");
  std::string saved = old ? old : "";
  ASSERT_TRUE(SetEnv("FAIO_BACKEND", missing.c_str()));
  faio_ctx* c = nullptr;
  int s = faio_ctx_create(&c, 0, 0);
  EXPECT_ST(FAIO_E_NOT_SUPPORTED, s) << "FAIO_BACKEND=" << missing;
  if (s == FAIO_OK) (void)faio_ctx_destroy(c);
  faio_limits lim;
  EXPECT_ST(FAIO_E_NOT_SUPPORTED, faio_get_limits(&lim)) << "FAIO_BACKEND=" << missing;
  ASSERT_TRUE(SetEnv("FAIO_BACKEND", "auto"));
  EXPECT_ST(FAIO_OK, faio_get_limits(&lim));
  s = faio_ctx_create(&c, 0, 0);
  EXPECT_ST(FAIO_OK, s) << "FAIO_BACKEND=auto";
  if (s == FAIO_OK) (void)faio_ctx_destroy(c);
  if (old) {
    SetEnv("FAIO_BACKEND", saved.c_str());
  } else {
    UnsetEnv("FAIO_BACKEND");
  }
}

TEST(Library, Limits) {
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_get_limits(nullptr));
  faio_limits lim;
  std::memset(&lim, 0, sizeof lim);
  ASSERT_ST(FAIO_OK, faio_get_limits(&lim));
  EXPECT_GT(lim.max_requests, 0u);
  if (lim.buffer_alignment != 0) {
    EXPECT_EQ(lim.buffer_alignment & (lim.buffer_alignment - 1), 0u) << "a power of two";
  }
}

TEST(Library, FileAlignment) {
  faio_alignment a;
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_file_alignment(0, nullptr));
  EXPECT_ST(FAIO_E_BAD_FILE, faio_file_alignment(kInvalidFile, &a));
  std::string dir = DirectIoDir();
  if (dir.empty()) GTEST_SKIP() << "no directory outside tmpfs";
  TempFile f(dir);
  ASSERT_TRUE(f.ok());
  std::memset(&a, 0, sizeof a);
  int s = faio_file_alignment(f.fd(), &a);
  if (s == FAIO_E_NOT_SUPPORTED) GTEST_SKIP() << dir << " does not do direct I/O";
  ASSERT_ST(FAIO_OK, s);
  EXPECT_GE(a.memory, 1u);
  EXPECT_GE(a.offset, 1u);
  EXPECT_EQ(a.memory & (a.memory - 1), 0u);
  EXPECT_EQ(a.offset & (a.offset - 1), 0u);
  EXPECT_LE(a.offset, 65536u);
  // A pipe does no direct I/O.
  Pipe p;
  ASSERT_TRUE(p.ok());
  s = faio_file_alignment(p.r, &a);
  EXPECT_TRUE(s == FAIO_E_NOT_SUPPORTED || s == FAIO_OK) << StatusName(s);
}

TEST(Library, StrerrorIsDistinctForEveryStatus) {
  std::set<std::string> seen;
  for (int s : AllStatuses()) {
    const char* m = faio_strerror(s);
    ASSERT_NE(m, nullptr) << StatusName(s);
    EXPECT_GT(std::strlen(m), 0u) << StatusName(s);
    EXPECT_TRUE(seen.insert(m).second) << StatusName(s) << " shares its phrase: " << m;
    EXPECT_EQ(m, faio_strerror(s)) << "constant storage";
  }
  for (int s : {1, -22, -1000, INT32_MIN, INT32_MAX}) {
    ASSERT_NE(faio_strerror(s), nullptr) << s;
  }
  // Statuses are negative and distinct.
  std::set<int> values(AllStatuses().begin(), AllStatuses().end());
  EXPECT_EQ(values.size(), AllStatuses().size());
  for (int s : AllStatuses()) EXPECT_LE(s, 0);
}

TEST(Library, Version) {
  EXPECT_EQ(faio_version(),
            FAIO_VERSION_MAJOR * 10000 + FAIO_VERSION_MINOR * 100 + FAIO_VERSION_PATCH);
}

TEST(Library, OptionsInit) {
  faio_ctx_options o;
  std::memset(&o, 0xab, sizeof o);
  faio_ctx_options_init(&o);
  EXPECT_EQ(o.size, sizeof(faio_ctx_options));
  EXPECT_EQ(o.capacity, 0u);
  EXPECT_EQ(o.flags, 0u);
  EXPECT_EQ(o.threads, 0u);
  EXPECT_EQ(o.backend, nullptr);
  faio_ctx_options i = FAIO_CTX_OPTIONS_INIT;
  EXPECT_EQ(i.size, o.size);
}

}  // namespace
}  // namespace faio_test
