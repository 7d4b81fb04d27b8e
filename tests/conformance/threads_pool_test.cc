// threads_pool_test.cc - the threads backend's one process-wide pool
// (src/backend/threads/threads_backend.h): contexts cost no thread of their
// own, a context with many queued requests cannot starve another, a
// context's `threads` option caps its own concurrency, and a forked child
// starts with a pool of its own.
//
// Tests that need a pool of a given size run in a forked child with
// FAIO_THREADS set: the pool reads it when it starts its first worker.
#include <dirent.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "conformance.h"

namespace faio_test {
namespace {

bool HaveThreads() { return FindBackend("threads") != nullptr; }

// Every transfer goes to the pool (FAIO_CTX_HOST_ONLY): without the flag a
// write to a local file would be made by the submitting thread.
faio_ctx* ThreadsContext(uint32_t capacity, uint32_t threads = 0) {
  faio_ctx_options o = FAIO_CTX_OPTIONS_INIT;
  o.backend = "threads";
  o.capacity = capacity;
  o.threads = threads;
  o.flags = FAIO_CTX_HOST_ONLY;
  faio_ctx* c = nullptr;
  return faio_ctx_create_ex(&c, &o) == FAIO_OK ? c : nullptr;
}

int ThreadCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
  }
  return n;
}

// RunInChild runs fn in a forked child with FAIO_THREADS=threads and returns
// its exit code (0: passed) and what it printed on failure.
template <typename Fn>
int RunInChild(const char* threads, std::string* out, Fn fn) {
  int p[2];
  if (pipe(p) != 0) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], 1);
    setenv("FAIO_THREADS", threads, 1);
    int rc = fn();
    fflush(stdout);
    _exit(rc);
  }
  close(p[1]);
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  close(p[0]);
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define CHILD_CHECK(cond)                                       \
  do {                                                          \
    if (!(cond)) {                                              \
      printf("%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                 \
    }                                                           \
  } while (0)

// 5,000 contexts, each with a write in flight at the same time: all made, all
// complete, and the process has no more threads than the pool's maximum
// (64 on this machine's default: max(64, 8 x cores)) plus this one.
TEST(ThreadsPool, FiveThousandContextsEachWithAWriteInFlightShareOnePool) {
  if (!HaveThreads()) GTEST_SKIP() << "the threads backend is not compiled in";
  constexpr int kContexts = 5000;
  constexpr size_t kBlock = 512;
  TempFile file;
  ASSERT_TRUE(file.ok());
  int before = ThreadCount();
  std::vector<faio_ctx*> ctxs(kContexts, nullptr);
  std::vector<faio_req*> reqs(kContexts, nullptr);
  std::vector<std::vector<char>> bufs(kContexts);
  for (int i = 0; i < kContexts; ++i) {
    ctxs[i] = ThreadsContext(4);
    ASSERT_NE(ctxs[i], nullptr) << "context " << i;
    ASSERT_ST(FAIO_OK, faio_req_create(&reqs[i]));
    bufs[i].assign(kBlock, static_cast<char>('a' + i % 26));
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[i], file.fd(), static_cast<int64_t>(i) * kBlock,
                                              bufs[i].data(), kBlock, nullptr));
  }
  for (int i = 0; i < kContexts; ++i) ASSERT_ST(FAIO_OK, faio_ctx_submit(ctxs[i], &reqs[i], 1));
  unsigned cores = std::thread::hardware_concurrency();
  int most = static_cast<int>(std::min(1024u, std::max(64u, 8 * cores)));
  int during = ThreadCount();
  EXPECT_LE(during - before, most)
      << "threads before " << before << ", with 5000 contexts " << during;
  for (int i = 0; i < kContexts; ++i) {
    faio_req* got = nullptr;
    uint32_t n = 0;
    ASSERT_ST(FAIO_OK, faio_ctx_wait(ctxs[i], 1, 10000, &got, 1, &n)) << "context " << i;
    ASSERT_EQ(n, 1u);
    ASSERT_EQ(got, reqs[i]);
    size_t bytes = 0;
    ASSERT_ST(FAIO_OK, faio_req_result(reqs[i], &bytes));
    ASSERT_EQ(bytes, kBlock);
  }
  EXPECT_LE(ThreadCount() - before, most);
  std::vector<char> back(kBlock);
  for (int i = 0; i < kContexts; i += 499) {
    ASSERT_EQ(PRead(file.fd(), back.data(), kBlock, static_cast<int64_t>(i) * kBlock),
              static_cast<int64_t>(kBlock));
    EXPECT_EQ(back, bufs[i]) << "block " << i;
  }
  for (int i = 0; i < kContexts; ++i) {
    ASSERT_ST(FAIO_OK, faio_req_destroy(reqs[i]));
    ASSERT_ST(FAIO_OK, faio_ctx_destroy(ctxs[i]));
  }
}

// One worker, held by a read of an empty pipe. Context A queues 50 writes to
// a log pipe, then context B queues one. When the held read is released, the
// worker runs them one at a time; the order of their bytes in the log is the
// order they ran in. Round robin: A's first, B's, then A's others. One FIFO
// for the whole pool would run B's last.
TEST(ThreadsPool, OneWorkerServesContextsRoundRobin) {
  if (!HaveThreads()) GTEST_SKIP() << "the threads backend is not compiled in";
  std::string out;
  int rc = RunInChild("1", &out, [] {
    Pipe hold, log;
    CHILD_CHECK(IsOpen(hold.r) && IsOpen(log.w));
    faio_ctx* h = ThreadsContext(4);
    faio_ctx* a = ThreadsContext(64);
    faio_ctx* b = ThreadsContext(4);
    CHILD_CHECK(h != nullptr && a != nullptr && b != nullptr);
    char held_byte = 0;
    faio_req* hr = nullptr;
    CHILD_CHECK(faio_req_create(&hr) == FAIO_OK);
    CHILD_CHECK(faio_req_prepare_read(hr, hold.r, 0, &held_byte, 1, nullptr) == FAIO_OK);
    CHILD_CHECK(faio_ctx_submit(h, &hr, 1) == FAIO_OK);
    SleepMs(20);  // the one worker is in the pipe read
    constexpr int kA = 50;
    static const char kAByte = 'A', kBByte = 'B';
    std::vector<faio_req*> ar(kA);
    for (faio_req*& r : ar) {
      CHILD_CHECK(faio_req_create(&r) == FAIO_OK);
      CHILD_CHECK(faio_req_prepare_write(r, log.w, 0, &kAByte, 1, nullptr) == FAIO_OK);
    }
    faio_req* br = nullptr;
    CHILD_CHECK(faio_req_create(&br) == FAIO_OK);
    CHILD_CHECK(faio_req_prepare_write(br, log.w, 0, &kBByte, 1, nullptr) == FAIO_OK);
    CHILD_CHECK(faio_ctx_submit(a, ar.data(), kA) == FAIO_OK);
    CHILD_CHECK(faio_ctx_submit(b, &br, 1) == FAIO_OK);
    CHILD_CHECK(write(hold.w, "x", 1) == 1);
    std::vector<faio_req*> got(kA);
    uint32_t n = 0;
    CHILD_CHECK(faio_ctx_wait(h, 1, 5000, got.data(), 1, &n) == FAIO_OK && n == 1);
    CHILD_CHECK(faio_ctx_wait(b, 1, 5000, got.data(), 1, &n) == FAIO_OK && n == 1);
    uint32_t total = 0;
    while (total < kA) {
      CHILD_CHECK(faio_ctx_wait(a, kA - total, 5000, got.data(), kA - total, &n) == FAIO_OK);
      total += n;
    }
    char order[kA + 1];
    CHILD_CHECK(read(log.r, order, sizeof order) == kA + 1);
    std::string s(order, kA + 1);
    size_t at = s.find('B');
    printf("B ran at position %zu of %d: %s\n", at, kA + 1, s.c_str());
    CHILD_CHECK(at == 1);
    return 0;
  });
  EXPECT_EQ(rc, 0) << out;
}

// With a pool of 8 and a context capped at 2 (`threads`), 6 reads of empty
// pipes hold only 2 workers: the 4 others stay queued and are cancelled, and
// another context still has 6 workers for its own held reads.
TEST(ThreadsPool, ThreadsOptionCapsOneContextNotThePool) {
  if (!HaveThreads()) GTEST_SKIP() << "the threads backend is not compiled in";
  std::string out;
  int rc = RunInChild("8", &out, [] {
    faio_ctx* capped = ThreadsContext(16, 2);
    faio_ctx* other = ThreadsContext(16);
    CHILD_CHECK(capped != nullptr && other != nullptr);
    std::vector<Pipe> pipes(12);
    std::vector<char> bytes(12);
    std::vector<faio_req*> reqs(12);
    for (int i = 0; i < 12; ++i) {
      CHILD_CHECK(faio_req_create(&reqs[i]) == FAIO_OK);
      CHILD_CHECK(faio_req_prepare_read(reqs[i], pipes[i].r, 0, &bytes[i], 1, nullptr) == FAIO_OK);
    }
    CHILD_CHECK(faio_ctx_submit(capped, reqs.data(), 6) == FAIO_OK);
    CHILD_CHECK(faio_ctx_submit(other, reqs.data() + 6, 6) == FAIO_OK);
    SleepMs(50);
    int cancelled[2] = {0, 0};
    for (int i = 0; i < 12; ++i) {
      if (faio_req_cancel(reqs[i]) == FAIO_OK) ++cancelled[i < 6 ? 0 : 1];
    }
    printf("cancelled: capped %d of 6, other %d of 6\n", cancelled[0], cancelled[1]);
    CHILD_CHECK(cancelled[0] == 4);
    CHILD_CHECK(cancelled[1] == 0);
    for (int i = 0; i < 12; ++i) CHILD_CHECK(write(pipes[i].w, "y", 1) == 1);
    faio_req* got[12];
    uint32_t n = 0, total = 0;
    while (total < 2) {
      CHILD_CHECK(faio_ctx_wait(capped, 1, 5000, got, 12, &n) == FAIO_OK);
      total += n;
    }
    total = 0;
    while (total < 6) {
      CHILD_CHECK(faio_ctx_wait(other, 1, 5000, got, 12, &n) == FAIO_OK);
      total += n;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0) << out;
}

// A child forked while the parent's pool has workers gets a pool of its own:
// its contexts' requests run.
TEST(ThreadsPool, ForkedChildHasAPoolOfItsOwn) {
  if (!HaveThreads()) GTEST_SKIP() << "the threads backend is not compiled in";
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan cannot start threads in a child forked from a multi-threaded process";
#endif
  faio_ctx* parent = ThreadsContext(4);
  ASSERT_NE(parent, nullptr);
  TempFile file;
  ASSERT_TRUE(file.ok());
  faio_file fd = file.fd();
  // The parent's pool has just started its workers. Fork once they are up
  // and idle: under ASan a thread still inside the sanitizer's thread start
  // when the process forks leaves the child's runtime unable to start threads
  // (an ASan limitation; glibc itself makes pthread_create fork-safe). The
  // parent's pool serves a request first, then settles.
  {
    faio_req* r = nullptr;
    ASSERT_ST(FAIO_OK, faio_req_create(&r));
    char byte = 0;
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 0, &byte, 1, nullptr));
    ASSERT_ST(FAIO_OK, faio_ctx_submit(parent, &r, 1));
    faio_req* got = nullptr;
    uint32_t n = 0;
    ASSERT_ST(FAIO_OK, faio_ctx_wait(parent, 1, 5000, &got, 1, &n));
    ASSERT_ST(FAIO_OK, faio_req_destroy(r));
    SleepMs(50);
  }
  std::string out;
  int rc = RunInChild("4", &out, [fd] {
    faio_ctx* c = ThreadsContext(4);
    CHILD_CHECK(c != nullptr);
    faio_req* r = nullptr;
    CHILD_CHECK(faio_req_create(&r) == FAIO_OK);
    static const char kData[] = "child";
    CHILD_CHECK(faio_req_prepare_write(r, fd, 0, kData, 5, nullptr) == FAIO_OK);
    CHILD_CHECK(faio_ctx_submit(c, &r, 1) == FAIO_OK);
    faio_req* got = nullptr;
    uint32_t n = 0;
    CHILD_CHECK(faio_ctx_wait(c, 1, 5000, &got, 1, &n) == FAIO_OK && n == 1);
    return 0;
  });
  EXPECT_EQ(rc, 0) << out;
  char back[5];
  ASSERT_EQ(PRead(fd, back, 5, 0), 5);
  EXPECT_EQ(std::string(back, 5), "child");
  ASSERT_ST(FAIO_OK, faio_ctx_destroy(parent));
}

// HeldAndQueued: a threads context whose one worker (FAIO_THREADS=1) is held
// by a read of an empty pipe, with a one-byte read of a file queued behind it;
// Finish releases the pipe and waits for both (a deadline on each wait, so the
// waiting thread never runs the queued read itself).
struct HeldAndQueued {
  Pipe hold;
  faio_ctx* ctx = nullptr;
  faio_req* held = nullptr;
  faio_req* queued = nullptr;
  char held_byte = 0, queued_byte = 0;

  bool Start(faio_file fd, int64_t off) {
    ctx = ThreadsContext(4);
    if (ctx == nullptr || !IsOpen(hold.r)) return false;
    if (faio_req_create(&held) != FAIO_OK || faio_req_create(&queued) != FAIO_OK) return false;
    if (faio_req_prepare_read(held, hold.r, 0, &held_byte, 1, nullptr) != FAIO_OK ||
        faio_req_prepare_read(queued, fd, off, &queued_byte, 1, nullptr) != FAIO_OK) {
      return false;
    }
    if (faio_ctx_submit(ctx, &held, 1) != FAIO_OK) return false;
    SleepMs(50);  // the one worker is in the pipe read
    return faio_ctx_submit(ctx, &queued, 1) == FAIO_OK;
  }

  bool Finish() {
    if (write(hold.w, "x", 1) != 1) return false;
    faio_req* got[2];
    uint32_t n = 0, total = 0;
    while (total < 2) {
      int st = faio_ctx_wait(ctx, 1, 3000, got + total, 2 - total, &n);
      printf("wait: %s, %u\n", faio_status_name(st), n);
      if (st != FAIO_OK) return false;
      total += n;
    }
    return true;
  }
};

// A cancel, in a forked child, of a request the parent had queued must leave
// the child's own pool alone. The parent's context was in the parent's ring of
// contexts with queued work; the child's ring starts empty and holds the
// child's own context when the cancel comes. One worker (FAIO_THREADS=1); a
// deadline on the child's wait keeps the waiter from running the read itself.
TEST(ThreadsPool, CancelInAForkedChildOfAParentsQueuedRequestSparesTheChildsPool) {
  if (!HaveThreads()) GTEST_SKIP() << "the threads backend is not compiled in";
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan cannot start threads in a child forked from a multi-threaded process";
#endif
  TempFile file;
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(PWrite(file.fd(), "abcd", 4, 0), 4);
  faio_file fd = file.fd();
  std::string out;
  int rc = RunInChild("1", &out, [fd] {
    // The parent: its one worker is held by a pipe read; a file read waits
    // in its queue, its context in the ring.
    HeldAndQueued parent;
    CHILD_CHECK(parent.Start(fd, 0));
    faio_req* queued = parent.queued;
    std::string child_out;
    int child_rc = RunInChild("1", &child_out, [fd, queued] {
      // The child: its own context in the same state; then the cancel of the
      // parent's queued read.
      HeldAndQueued own;
      CHILD_CHECK(own.Start(fd, 1));
      int st = faio_req_cancel(queued);
      printf("cancel of the parent's queued read in the child: %s\n", faio_status_name(st));
      CHILD_CHECK(own.Finish());
      CHILD_CHECK(own.queued_byte == 'b');
      return 0;
    });
    printf("%s", child_out.c_str());
    CHILD_CHECK(child_rc == 0);
    // The parent's own requests still complete.
    CHILD_CHECK(parent.Finish());
    CHILD_CHECK(parent.queued_byte == 'a');
    return 0;
  });
  EXPECT_EQ(rc, 0) << out;
}

#ifdef __linux__
// PoolWorkerTids lists the threads of this process named "faio-pool".
std::vector<std::string> PoolWorkerTids() {
  std::vector<std::string> tids;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char comm[32] = {};
      FILE* f = fopen((std::string("/proc/self/task/") + e->d_name + "/comm").c_str(), "r");
      if (f == nullptr) continue;
      bool got = fgets(comm, sizeof comm, f) != nullptr;
      fclose(f);
      if (got && std::string(comm) == "faio-pool\n") tids.emplace_back(e->d_name);
    }
    closedir(d);
  }
  return tids;
}

// PoolWorkers counts the pool's workers and, in *batch, those of them that run
// SCHED_BATCH.
int PoolWorkers(int* batch) {
  std::vector<std::string> tids = PoolWorkerTids();
  *batch = 0;
  for (const std::string& t : tids) {
    if (sched_getscheduler(static_cast<pid_t>(atoi(t.c_str()))) == SCHED_BATCH) ++*batch;
  }
  return static_cast<int>(tids.size());
}

// WorkerBlockedOn: a pool worker is in a system call on descriptor fd
// (/proc/self/task/TID/syscall: the call's number, then its arguments).
bool WorkerBlockedOn(int fd) {
  for (const std::string& t : PoolWorkerTids()) {
    FILE* f = fopen(("/proc/self/task/" + t + "/syscall").c_str(), "r");
    if (f == nullptr) continue;
    long nr = -1;
    unsigned long arg0 = 0;
    bool on_fd = fscanf(f, "%ld %lx", &nr, &arg0) == 2 && nr >= 0 &&
                 arg0 == static_cast<unsigned long>(fd);
    fclose(f);
    if (on_fd) return true;
  }
  return false;
}

// The pool's workers are named "faio-pool" and, on Linux, run SCHED_BATCH
// (threads_backend.cc, SetUpWorkerThread): a worker woken by a submit does
// not preempt the submitter, which is about to run the request itself. A
// worker names itself once its policy is set, so every named one must be
// batch; the workers the first context starts set themselves up meanwhile.
TEST(ThreadsPool, WorkersAreNamedAndDoNotPreemptTheirWaker) {
  if (!HaveThreads()) GTEST_SKIP() << "the threads backend is not compiled in";
  faio_ctx* c = ThreadsContext(4);
  ASSERT_NE(c, nullptr);
  int named = 0, batch = 0;
  Clock::time_point t0 = Clock::now();
  do {
    named = PoolWorkers(&batch);
    if (named > 0 && batch == named) break;
    SleepMs(5);
  } while (MsSince(t0) < 5000);
  EXPECT_GE(named, 1);
  EXPECT_EQ(batch, named) << batch << " of " << named << " workers run SCHED_BATCH";
  ASSERT_ST(FAIO_OK, faio_ctx_destroy(c));
}

// A wait without a deadline that would sleep runs its context's oldest queued
// transfer of a local file itself (PoolClient::RunOwn): the pool's one worker
// (FAIO_THREADS=1) is held by a pipe read, so nothing else can run the O_DIRECT
// read queued behind it. A watchdog releases the pipe after 3 s, so without
// the waiter's run the wait returns only then (and the check below fails).
TEST(ThreadsPool, AWaitWithoutADeadlineRunsItsQueuedTransferItself) {
  if (!HaveThreads()) GTEST_SKIP() << "the threads backend is not compiled in";
  ASSERT_NE(DirectIoDir(), "") << "no directory that takes O_DIRECT (set FAIO_TEST_DIR)";
  TempFile file(DirectIoDir());
  ASSERT_TRUE(file.ok());
  std::vector<char> data(4096, 'd');
  ASSERT_EQ(PWrite(file.fd(), data.data(), data.size(), 0), 4096);
  faio_file direct = file.Open(O_RDWR | kOpenDirect);
  ASSERT_TRUE(IsOpen(direct)) << strerror(errno);
  std::string out;
  int rc = RunInChild("1", &out, [direct] {
    faio_ctx_options o = FAIO_CTX_OPTIONS_INIT;  // not HOST_ONLY: the waiter may run transfers
    o.backend = "threads";
    o.capacity = 4;
    faio_ctx* c = nullptr;
    CHILD_CHECK(faio_ctx_create_ex(&c, &o) == FAIO_OK);
    Pipe hold;
    CHILD_CHECK(IsOpen(hold.r));
    faio_req* held = nullptr;
    faio_req* read = nullptr;
    char held_byte = 0;
    void* mem = nullptr;
    CHILD_CHECK(posix_memalign(&mem, 4096, 4096) == 0);
    CHILD_CHECK(faio_req_create(&held) == FAIO_OK && faio_req_create(&read) == FAIO_OK);
    CHILD_CHECK(faio_req_prepare_read(held, hold.r, 0, &held_byte, 1, nullptr) == FAIO_OK);
    CHILD_CHECK(faio_req_prepare_read(read, direct, 0, mem, 4096, nullptr) == FAIO_OK);
    CHILD_CHECK(faio_ctx_submit(c, &held, 1) == FAIO_OK);
    Clock::time_point t0 = Clock::now();  // until the one worker is in the pipe read
    while (!WorkerBlockedOn(hold.r) && MsSince(t0) < 5000) SleepMs(5);
    CHILD_CHECK(WorkerBlockedOn(hold.r));
    CHILD_CHECK(faio_ctx_submit(c, &read, 1) == FAIO_OK);
    std::atomic<bool> released{false}, returned{false};
    std::thread watchdog([&] {
      Clock::time_point t0 = Clock::now();
      while (!returned.load() && MsSince(t0) < 3000) SleepMs(5);
      released = true;
      (void)!write(hold.w, "w", 1);
    });
    faio_req* got = nullptr;
    uint32_t n = 0;
    int st = faio_ctx_wait(c, 1, FAIO_WAIT_INDEFINITE, &got, 1, &n);
    const bool before_release = !released.load();
    returned = true;
    printf("wait: %s, %u, %s, before the pipe was released: %d\n", faio_status_name(st), n,
           got == read ? "the direct read" : "another request", before_release);
    watchdog.join();
    CHILD_CHECK(st == FAIO_OK && n == 1 && got == read && before_release);
    size_t bytes = 0;
    CHILD_CHECK(faio_req_result(read, &bytes) == FAIO_OK && bytes == 4096);
    CHILD_CHECK(static_cast<char*>(mem)[0] == 'd' && static_cast<char*>(mem)[4095] == 'd');
    CHILD_CHECK(faio_ctx_wait(c, 1, 5000, &got, 1, &n) == FAIO_OK && got == held);
    free(mem);
    return 0;
  });
  EXPECT_EQ(rc, 0) << out;
}
#endif  // __linux__

// The pool's base workers, all idle, are woken by one submit of as many pipe
// reads plus a file read behind them: each woken worker takes a pipe read and
// is held there. The file read must still run - a worker that takes a request
// which may hold it while other work waits brings another (Pool::Spare); a
// push that found the idle workers already woken used to start none, and the
// read waited for a pipe's writer. The wait has a deadline, so the waiting
// thread does not run the read itself.
TEST(ThreadsPool, WorkersHeldByPipeReadsDoNotStrandTheRequestBehindThem) {
  if (!HaveThreads()) GTEST_SKIP() << "the threads backend is not compiled in";
  TempFile file;
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(PWrite(file.fd(), "q", 1, 0), 1);
  faio_file fd = file.fd();
  std::string out;
  int rc = RunInChild("", &out, [fd] {  // the default size: base 8 (2 cores), grows
    unsigned cores = std::thread::hardware_concurrency();
    const int base = static_cast<int>(std::max(8u, 4 * cores));
    faio_ctx* c = ThreadsContext(base + 1, base + 1);
    CHILD_CHECK(c != nullptr);
    SleepMs(50);  // the base workers are up and idle
    std::vector<Pipe> pipes(base);
    std::vector<char> bytes(base + 1);
    std::vector<faio_req*> reqs(base + 1);
    for (int i = 0; i <= base; ++i) {
      CHILD_CHECK(faio_req_create(&reqs[i]) == FAIO_OK);
      if (i < base) {
        CHILD_CHECK(faio_req_prepare_read(reqs[i], pipes[i].r, 0, &bytes[i], 1, nullptr) ==
                    FAIO_OK);
      } else {
        CHILD_CHECK(faio_req_prepare_read(reqs[i], fd, 0, &bytes[i], 1, nullptr) == FAIO_OK);
      }
    }
    CHILD_CHECK(faio_ctx_submit(c, reqs.data(), reqs.size()) == FAIO_OK);
    faio_req* got = nullptr;
    uint32_t n = 0;
    int st = faio_ctx_wait(c, 1, 3000, &got, 1, &n);
    printf("wait with %d pipe reads held: %s, %u\n", base, faio_status_name(st), n);
    CHILD_CHECK(st == FAIO_OK && n == 1 && got == reqs[base] && bytes[base] == 'q');
    for (int i = 0; i < base; ++i) CHILD_CHECK(write(pipes[i].w, "p", 1) == 1);
    uint32_t total = 0;
    std::vector<faio_req*> rest(base);
    while (total < static_cast<uint32_t>(base)) {
      CHILD_CHECK(faio_ctx_wait(c, 1, 3000, rest.data(), base, &n) == FAIO_OK);
      total += n;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0) << out;
}
}  // namespace
}  // namespace faio_test
