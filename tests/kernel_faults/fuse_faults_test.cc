// fuse_faults_test.cc - real kernel I/O errors from a FUSE file system of our
// own (faio_faultfs), on every compiled-in backend: EIO on read, write and
// fsync, other write errnos, short reads, slow operations, and sticky flush
// errors ("fsyncgate": after a lost write-back, the kernel reports EIO to one
// fsync and then success; faio keeps failing flushes of that file through the
// context until faio_ctx_clear_error).
//
// Each test mounts the injector on a fresh directory (skipping with the reason
// when it cannot: not root, no /dev/fuse) and checks the exact status and host
// error of the exact request. Whether a backend runs an operation on FUSE
// asynchronously or through a synchronous fallback does not matter here: the
// contract is the outcome.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"
#include "kernel_faults.h"

namespace faio_test {
namespace {

class FuseFaults : public BackendTest {
 protected:
  void TearDown() override {
    BackendTest::TearDown();
    for (int fd : fds_) close(fd);
    fds_.clear();
    fs_.Stop();
  }

  // Open opens name under the mount (closed at teardown); -1 and a failure if
  // that fails.
  int Open(const std::string& name, int flags) {
    int fd = open((fs_.mnt() + "/" + name).c_str(), flags | O_CLOEXEC, 0600);
    if (fd < 0) {
      ADD_FAILURE() << "open " << name << " on the FUSE mount: " << std::strerror(errno);
    } else {
      fds_.push_back(fd);
    }
    return fd;
  }

  // Seed writes bytes into the backing file directly (the kernel has never
  // cached them).
  bool Seed(const std::string& name, const Bytes& b) {
    int fd =
        open((fs_.backing() + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    bool ok = pwrite(fd, b.data(), b.size(), 0) == static_cast<ssize_t>(b.size());
    close(fd);
    return ok;
  }

  Bytes Backing(const std::string& name) const {
    std::string s = faio_kf::ReadFileText(fs_.backing() + "/" + name);
    return Bytes(s.begin(), s.end());
  }

  // RunOne submits r and reaps it; returns its result.
  int RunOne(faio_ctx* ctx, faio_req* r, size_t* n = nullptr) {
    int s = Submit1(ctx, r);
    if (s != FAIO_OK) return s;
    std::vector<faio_req*> got = Reap(ctx, 1, milliseconds(20000));
    if (got.size() != 1 || got[0] != r) {
      ADD_FAILURE() << "the request did not come back";
      return FAIO_E_IN_PROGRESS;
    }
    return faio_req_result(r, n);
  }

  int Flush(faio_ctx* ctx, faio_req* r, int fd, uint32_t flags = FAIO_FLUSH_DATA) {
    int s = faio_req_prepare_flush_ex(r, fd, flags, nullptr);
    if (s != FAIO_OK) return s;
    return RunOne(ctx, r);
  }

  faio_kf::FaultFs fs_;
  std::vector<int> fds_;
};

INSTANTIATE_TEST_SUITE_P(KernelFaults, FuseFaults, ::testing::ValuesIn(BackendNames()),
                         BackendParamName);

#define MOUNT_OR_SKIP(...)                     \
  do {                                         \
    std::string why_ = fs_.Start(__VA_ARGS__); \
    if (!why_.empty()) GTEST_SKIP() << why_;   \
  } while (0)

constexpr size_t kLen = 16 * 1024;

TEST_P(FuseFaults, ReadErrorFailsThatRequestOnly) {
  // With direct_io every read reaches the file system: the read of "bad"
  // fails with EIO, the reads of "good" in the same batch do not.
  MOUNT_OR_SKIP({"--direct-io", "--rule", "op=read err=EIO path=bad"});
  Bytes content = RandomBytes(4 * kLen, 1);
  ASSERT_TRUE(Seed("good", content));
  ASSERT_TRUE(Seed("bad", content));
  int good = Open("good", O_RDONLY);
  int bad = Open("bad", O_RDONLY);
  ASSERT_GE(good, 0);
  ASSERT_GE(bad, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  std::vector<faio_req*> reqs = NewReqs(3);
  std::vector<Bytes> bufs(3, Bytes(kLen, 0xee));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[0], good, 0, bufs[0].data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[1], bad, 0, bufs[1].data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[2], good, kLen, bufs[2].data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  ASSERT_TRUE(SameSet(Reap(ctx, 3), reqs));
  size_t n = 77;
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[0], &n));
  EXPECT_EQ(n, kLen);
  EXPECT_TRUE(std::equal(bufs[0].begin(), bufs[0].end(), content.begin()));
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[2], &n));
  EXPECT_EQ(n, kLen);
  EXPECT_TRUE(std::equal(bufs[2].begin(), bufs[2].end(), content.begin() + kLen));
  n = 77;
  EXPECT_ST(FAIO_E_IO, faio_req_result(reqs[1], &n));
  EXPECT_EQ(faio_req_host_error(reqs[1]), EIO);
  EXPECT_EQ(n, 0u) << "a failed read reports no bytes";
  EXPECT_GE(fs_.Fired(0), 1) << fs_.Status();
  // The fault gone, the same request reads the file.
  ASSERT_TRUE(fs_.Control("clear"));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[1], bad, 0, bufs[1].data(), kLen, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, reqs[1], &n));
  EXPECT_EQ(n, kLen);
  EXPECT_TRUE(std::equal(bufs[1].begin(), bufs[1].end(), content.begin()));
}

TEST_P(FuseFaults, ReadErrorThroughThePageCacheIsIoError) {
  // Without direct_io the read goes through the page cache (and readahead);
  // the error of the file system's read still reaches the request.
  MOUNT_OR_SKIP({"--rule", "op=read err=EIO"});
  ASSERT_TRUE(Seed("f", RandomBytes(4 * kLen, 2)));
  int fd = Open("f", O_RDONLY);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* r = NewReq();
  Bytes buf(kLen);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, kLen, buf.data(), kLen, nullptr));
  EXPECT_ST(FAIO_E_IO, RunOne(ctx, r));
  EXPECT_EQ(faio_req_host_error(r), EIO);
  EXPECT_GE(fs_.Fired(0), 1) << fs_.Status();
}

TEST_P(FuseFaults, ShortReadIsSuccessWithTheRealCount) {
  MOUNT_OR_SKIP({"--direct-io", "--rule", "op=read short=1000 times=1"});
  Bytes content = RandomBytes(4 * kLen, 3);
  ASSERT_TRUE(Seed("f", content));
  int fd = Open("f", O_RDONLY);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* r = NewReq();
  Bytes buf(kLen, 0xee);
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 0, buf.data(), kLen, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, 1000u) << "a short read is success with the bytes the kernel gave";
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 1000, content.begin()));
  EXPECT_EQ(buf[1000], 0xee) << "bytes past the short count were written";
  EXPECT_EQ(fs_.Fired(0), 1) << fs_.Status();
  // The rule is spent: the next read is whole.
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 0, buf.data(), kLen, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, kLen);
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), content.begin()));
}

TEST_P(FuseFaults, WriteErrnosMapToTheirStatuses) {
  // Write-through (FUSE's default): each write reaches the file system at once
  // and its errno comes back to the request.
  MOUNT_OR_SKIP({"--rule", "op=write err=EIO path=eio", "--rule", "op=write err=ENOSPC path=nospc",
                 "--rule", "op=write err=EDQUOT path=dquot", "--rule",
                 "op=write err=EFBIG path=fbig"});
  struct Case {
    const char* name;
    int status;
    int host;
  };
  const Case cases[] = {{"good", FAIO_OK, 0},
                        {"eio", FAIO_E_IO, EIO},
                        {"nospc", FAIO_E_DISK_FULL, ENOSPC},
                        {"dquot", FAIO_E_DISK_FULL, EDQUOT},
                        {"fbig", FAIO_E_FILE_TOO_BIG, EFBIG}};
  constexpr size_t kN = sizeof cases / sizeof cases[0];
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Bytes data = RandomBytes(kLen, 4);
  std::vector<faio_req*> reqs = NewReqs(kN);
  for (size_t i = 0; i < kN; i++) {
    int fd = Open(cases[i].name, O_RDWR | O_CREAT);
    ASSERT_GE(fd, 0);
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[i], fd, 0, data.data(), kLen, nullptr));
  }
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), kN));
  ASSERT_TRUE(SameSet(Reap(ctx, kN), reqs));
  for (size_t i = 0; i < kN; i++) {
    SCOPED_TRACE(cases[i].name);
    size_t n = 77;
    EXPECT_ST(cases[i].status, faio_req_result(reqs[i], &n));
    EXPECT_EQ(faio_req_host_error(reqs[i]), cases[i].host);
    EXPECT_EQ(n, cases[i].status == FAIO_OK ? kLen : 0u);
    EXPECT_EQ(Backing(cases[i].name).size(), cases[i].status == FAIO_OK ? kLen : 0u);
  }
  EXPECT_TRUE(Backing("good") == data);
}

TEST_P(FuseFaults, WriteErrorAtAnOffsetAndAfterSomeWrites) {
  // A device that fails past a given byte, and one whose third write fails:
  // each failure lands on the request that met it, and only there.
  MOUNT_OR_SKIP({"--rule", "op=write err=EIO from=65536 path=far", "--rule",
                 "op=write err=EIO skip=2 times=1 path=third"});
  int far = Open("far", O_RDWR | O_CREAT);
  int third = Open("third", O_RDWR | O_CREAT);
  ASSERT_GE(far, 0);
  ASSERT_GE(third, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* r = NewReq();
  Bytes data = RandomBytes(kLen, 9);
  struct Step {
    int fd;
    int64_t off;
    int status;
  };
  const Step steps[] = {{far, 0, FAIO_OK},
                        {far, 65536 - kLen, FAIO_OK},
                        {far, 65536 - 4096, FAIO_E_IO},  // reaches past byte 65536
                        {far, 1 << 20, FAIO_E_IO},
                        {third, 0, FAIO_OK},
                        {third, kLen, FAIO_OK},
                        {third, 2 * kLen, FAIO_E_IO},
                        {third, 2 * kLen, FAIO_OK}};  // the rule fired its one time
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    SCOPED_TRACE(i);
    size_t n = 77;
    ASSERT_ST(FAIO_OK,
              faio_req_prepare_write(r, steps[i].fd, steps[i].off, data.data(), kLen, nullptr));
    EXPECT_ST(steps[i].status, RunOne(ctx, r, &n));
    EXPECT_EQ(faio_req_host_error(r), steps[i].status == FAIO_OK ? 0 : EIO);
    EXPECT_EQ(n, steps[i].status == FAIO_OK ? kLen : 0u);
  }
  EXPECT_EQ(Backing("far").size(), 65536u);
  EXPECT_EQ(Backing("third").size(), 3 * kLen);
}

TEST_P(FuseFaults, FlushErrorIsIoErrorOnThatFile) {
  MOUNT_OR_SKIP({"--rule", "op=fsync err=EIO path=bad"});
  int good = Open("good", O_RDWR | O_CREAT);
  int bad = Open("bad", O_RDWR | O_CREAT);
  int bad2 = Open("bad2", O_RDWR | O_CREAT);
  ASSERT_GE(good, 0);
  ASSERT_GE(bad, 0);
  ASSERT_GE(bad2, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Bytes data = RandomBytes(kLen, 5);
  std::vector<faio_req*> reqs = NewReqs(6);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[0], good, 0, data.data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[1], bad, 0, data.data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[2], bad2, 0, data.data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(reqs[3], good, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(reqs[4], bad, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush_ex(reqs[5], bad2, FAIO_FLUSH_FULL, nullptr));
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
  ASSERT_TRUE(SameSet(Reap(ctx, reqs.size()), reqs));
  for (size_t i = 0; i < 4; i++) EXPECT_ST(FAIO_OK, faio_req_result(reqs[i], nullptr)) << i;
  for (size_t i = 4; i < 6; i++) {
    EXPECT_ST(FAIO_E_IO, faio_req_result(reqs[i], nullptr)) << i;
    EXPECT_EQ(faio_req_host_error(reqs[i]), EIO) << i;
  }
  EXPECT_EQ(fs_.Fired(0), 2) << fs_.Status();
}

TEST_P(FuseFaults, FailedFlushIsStickyUntilClearError) {
  // The file system fails one fsync of "bad" and then heals. The context must
  // keep failing flushes of that file (never a silent success after a failed
  // flush) until faio_ctx_clear_error; other files and other contexts are not
  // affected; a new failure after the acknowledgement is sticky again.
  MOUNT_OR_SKIP({"--rule", "op=fsync err=EIO times=1 path=bad"});
  int bad = Open("bad", O_RDWR | O_CREAT);
  int good = Open("good", O_RDWR | O_CREAT);
  ASSERT_GE(bad, 0);
  ASSERT_GE(good, 0);
  faio_ctx* ctx = NewCtx();
  faio_ctx* other = NewCtx();
  ASSERT_NE(ctx, nullptr);
  ASSERT_NE(other, nullptr);
  faio_req* r = NewReq();
  Bytes data = RandomBytes(kLen, 6);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, bad, 0, data.data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r));
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, good, 0, data.data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r));

  ASSERT_ST(FAIO_E_IO, Flush(ctx, r, bad));
  EXPECT_EQ(faio_req_host_error(r), EIO);
  ASSERT_EQ(fs_.Fired(0), 1) << fs_.Status();
  // The file system has healed: a plain fdatasync of the file succeeds now.
  ASSERT_EQ(fdatasync(bad), 0) << std::strerror(errno);
  for (int i = 0; i < 3; i++) {
    SCOPED_TRACE(i);
    EXPECT_ST(FAIO_E_IO, Flush(ctx, r, bad, i == 1 ? FAIO_FLUSH_FULL : FAIO_FLUSH_DATA));
    EXPECT_EQ(faio_req_host_error(r), EIO);
  }
  // Writes and reads of the file still work; only flushes report the loss.
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, bad, kLen, data.data(), kLen, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r));
  EXPECT_ST(FAIO_E_IO, Flush(ctx, r, bad));
  // Another file of the context, and the file through another context, flush.
  EXPECT_ST(FAIO_OK, Flush(ctx, r, good));
  EXPECT_ST(FAIO_OK, Flush(other, r, bad));
  // Acknowledged: flushes reach the host again.
  long long before = fs_.Ops().fsync;
  EXPECT_ST(FAIO_OK, faio_ctx_clear_error(ctx, bad));
  EXPECT_ST(FAIO_OK, Flush(ctx, r, bad));
  EXPECT_GT(fs_.Ops().fsync, before) << "the flush after clear_error did not reach the host";
  EXPECT_ST(FAIO_OK, Flush(ctx, r, bad));
  // A new failure is sticky again.
  ASSERT_TRUE(fs_.Control("rule op=fsync err=EIO times=1 path=bad"));
  EXPECT_ST(FAIO_E_IO, Flush(ctx, r, bad));
  EXPECT_ST(FAIO_E_IO, Flush(ctx, r, bad));
  EXPECT_EQ(fs_.Fired(1), 1) << fs_.Status();
  EXPECT_ST(FAIO_OK, faio_ctx_clear_error(ctx, bad));
  EXPECT_ST(FAIO_OK, Flush(ctx, r, bad));
  EXPECT_ST(FAIO_OK, faio_ctx_clear_error(ctx, good)) << "clearing a file without error";
}

TEST_P(FuseFaults, LostWriteBackIsNeverASilentSuccess) {
  // fsyncgate. With the kernel's write-back cache the write succeeds into the
  // page cache; write-back then fails, the kernel drops the pages, reports EIO
  // to one fsync and success to the next. Through faio every flush of the file
  // fails until the caller acknowledges the loss.
  MOUNT_OR_SKIP({"--writeback", "--rule", "op=write err=EIO path=bad"});
  int bad = Open("bad", O_RDWR | O_CREAT);
  ASSERT_GE(bad, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* r = NewReq();
  Bytes data = RandomBytes(4 * kLen, 7);
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, bad, 0, data.data(), data.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n)) << "the write should land in the page cache";
  EXPECT_EQ(n, data.size());
  ASSERT_ST(FAIO_E_IO, Flush(ctx, r, bad)) << fs_.Status();
  EXPECT_EQ(faio_req_host_error(r), EIO);
  EXPECT_GE(fs_.Fired(0), 1) << fs_.Status();
  // The kernel has reported the error once; what a plain fdatasync says now
  // (success, on the kernels we know) is recorded, not required.
  int again = fdatasync(bad) == 0 ? 0 : errno;
  RecordProperty("kernel_second_fdatasync_errno", std::to_string(again));
  for (int i = 0; i < 3; i++) {
    EXPECT_ST(FAIO_E_IO, Flush(ctx, r, bad)) << "a flush after the lost write succeeded";
    EXPECT_EQ(faio_req_host_error(r), EIO);
  }
  EXPECT_TRUE(Backing("bad").empty()) << "the write was not lost after all";
  EXPECT_ST(FAIO_OK, faio_ctx_clear_error(ctx, bad));
  ASSERT_TRUE(fs_.Control("clear"));
  // Acknowledged, the caller writes the data again and it becomes durable.
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, bad, 0, data.data(), data.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r));
  EXPECT_ST(FAIO_OK, Flush(ctx, r, bad));
  EXPECT_TRUE(Backing("bad") == data);
}

TEST_P(FuseFaults, SlowReadOutlastsATimedWait) {
  // A read that the file system answers after 400 ms: a 50 ms wait times out
  // without it, a later wait returns it with its data.
  MOUNT_OR_SKIP({"--direct-io", "--rule", "op=read delay=400 times=1"});
  Bytes content = RandomBytes(kLen, 8);
  ASSERT_TRUE(Seed("f", content));
  int fd = Open("f", O_RDONLY);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* r = NewReq();
  Bytes buf(kLen);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 0, buf.data(), kLen, nullptr));
  Clock::time_point t0 = Clock::now();
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  EXPECT_LT(MsSince(t0), 300) << "submit blocked on the slow read";
  faio_req* out[1] = {};
  uint32_t count = 9;
  int s = faio_ctx_wait(ctx, 1, 50, out, 1, &count);
  if (MsSince(t0) < 300) {  // (a submit that blocked has its own failure above)
    EXPECT_ST(FAIO_E_TIMEOUT, s);
    EXPECT_EQ(count, 0u);
  }
  std::vector<faio_req*> got = Reap(ctx, s == FAIO_OK ? 0 : 1, milliseconds(10000));
  EXPECT_GE(MsSince(t0), 350);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
  EXPECT_EQ(n, kLen);
  EXPECT_TRUE(buf == content);
}

// ---- flush ordering, with an earlier write held by the file system ----------------
// (docs/contract.md, Flush.) The injector runs --threaded and holds the first
// write of "f" until the test releases it, so the order is fixed by the file
// system, not by timing. The mount is --direct-io and the file is seeded first:
// each write then reaches the file system as its own request, and FUSE runs
// an asynchronous direct write that does not extend the file without
// blocking the submitter.

constexpr const char* kHoldFirstWrite = "op=write hold=30000 times=1 path=f";

TEST_P(FuseFaults, FlushWaitsForAHeldEarlierWrite) {
  MOUNT_OR_SKIP({"--threaded", "--direct-io", "--rule", kHoldFirstWrite});
  ASSERT_TRUE(Seed("f", RandomBytes(4 * kLen, 9)));
  int fd = Open("f", O_RDWR);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* w = NewReq();
  faio_req* flush = NewReq();
  Bytes data = RandomBytes(kLen, 10);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(w, fd, 0, data.data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, fd, nullptr));
  std::vector<faio_req*> batch = {w, flush};
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, batch.data(), batch.size()));
  ASSERT_TRUE(fs_.WaitHeld(1, 10000))
      << "the write never reached the file system: " << fs_.Status();
  // Held: no wait returns the flush, and it has not reached the file system.
  faio_req* out[2] = {};
  uint32_t count = 9;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 200, out, 2, &count));
  EXPECT_EQ(count, 0u) << "returned while the write was held: "
                       << (count > 0 && out[0] == flush ? "the flush" : "something");
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(flush, nullptr));
  EXPECT_EQ(fs_.Ops().fsync, 0) << "the flush reached the file system before the write ended";
  EXPECT_EQ(fs_.Held(), 1);
  ASSERT_TRUE(fs_.Release());
  // Released: the write comes back, then the flush (never before it).
  std::vector<faio_req*> order = Reap(ctx, 2, milliseconds(20000), 1);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], w) << "the flush came back before the write it waits for";
  EXPECT_EQ(order[1], flush);
  EXPECT_ST(FAIO_OK, faio_req_result(w, nullptr));
  EXPECT_ST(FAIO_OK, faio_req_result(flush, nullptr));
  EXPECT_GE(fs_.Ops().fsync, 1) << fs_.Status();
  Bytes back = Backing("f");
  ASSERT_GE(back.size(), kLen);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), back.begin()));
}

TEST_P(FuseFaults, TransfersAfterAFlushAreNotHeldBack) {
  // A write is held, a flush waits behind it; a read of another region of the
  // same file submitted after the flush completes while both are still held.
  MOUNT_OR_SKIP({"--threaded", "--direct-io", "--rule", kHoldFirstWrite});
  Bytes content = RandomBytes(4 * kLen, 11);
  ASSERT_TRUE(Seed("f", content));
  int fd = Open("f", O_RDWR);
  ASSERT_GE(fd, 0);
  // glibc runs the requests of one descriptor one after another, so on
  // posix_aio a read behind the held write on that descriptor would wait for
  // it inside glibc: there the read goes through a second descriptor of the
  // file (which the flush does not cover; the other backends use the same one).
  int rfd = GetParam() == "posix_aio" ? Open("f", O_RDONLY) : fd;
  ASSERT_GE(rfd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* w = NewReq();
  faio_req* flush = NewReq();
  faio_req* r = NewReq();
  Bytes data = RandomBytes(kLen, 12);
  Bytes buf(kLen);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(w, fd, 0, data.data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, fd, nullptr));
  std::vector<faio_req*> batch = {w, flush};
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, batch.data(), batch.size()));
  ASSERT_TRUE(fs_.WaitHeld(1, 10000)) << fs_.Status();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, rfd, 2 * kLen, buf.data(), kLen, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  std::vector<faio_req*> got = Reap(ctx, 1, milliseconds(10000));
  ASSERT_EQ(got.size(), 1u) << "the read was held back behind the flush";
  EXPECT_EQ(got[0], r);
  EXPECT_EQ(fs_.Held(), 1) << "the write was no longer held when the read came back";
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
  EXPECT_EQ(n, kLen);
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), content.begin() + 2 * kLen));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(flush, nullptr));
  EXPECT_EQ(fs_.Ops().fsync, 0);
  ASSERT_TRUE(fs_.Release());
  std::vector<faio_req*> order = Reap(ctx, 2, milliseconds(20000), 1);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], w);
  EXPECT_EQ(order[1], flush);
  EXPECT_ST(FAIO_OK, faio_req_result(w, nullptr));
  EXPECT_ST(FAIO_OK, faio_req_result(flush, nullptr));
}

TEST_P(FuseFaults, FailedFlushStaysFailedUntilClearError) {
  // Write-back fails (the kernel's write-back cache on, every write of the
  // file system failing): the write lands in the page cache, the first flush
  // fails, and every later one with the same status and host error until
  // faio_ctx_clear_error; the flush after it reaches the host and succeeds.
  MOUNT_OR_SKIP({"--writeback", "--rule", "op=write err=EIO"});
  int fd = Open("f", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Bytes d = RandomBytes(64 * 1024, 8);
  faio_req* r = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, fd, 0, d.data(), d.size(), nullptr));
  (void)RunOne(ctx, r);  // may fail already; the flush must then fail too
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, fd, nullptr));
  int first = RunOne(ctx, r);
  int first_host = faio_req_host_error(r);
  ASSERT_TRUE(first == FAIO_E_IO || first == FAIO_E_DISK_FULL)
      << "the first flush returned " << StatusName(first) << ": " << fs_.Status();
  for (int i = 0; i < 3; i++) {
    SCOPED_TRACE(i);
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, fd, nullptr));
    EXPECT_ST(first, RunOne(ctx, r)) << "a failed flush was followed by another outcome";
    EXPECT_EQ(faio_req_host_error(r), first_host);
  }
  long long before = fs_.Ops().fsync;
  EXPECT_ST(FAIO_OK, faio_ctx_clear_error(ctx, fd));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, fd, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r))
      << "the flush after clear_error: host error " << faio_req_host_error(r);
  EXPECT_GT(fs_.Ops().fsync, before) << "the flush after clear_error did not reach the host";
}

// ---- deadlines and full transfers (issue 14) ------------------------------------

// Reads the file system answers after 800 ms each, with a 100 ms deadline:
// one the host can still withdraw (queued, not yet with the file system)
// times out before the answer with its buffer untouched; one it cannot (the
// file system has it) completes with its data after the answer. Each comes
// back once, and which of the two it was shows in its status and its time.
TEST_P(FuseFaults, DeadlinesOnDelayedReads) {
  MOUNT_OR_SKIP({"--direct-io", "--threaded", "--rule", "op=read delay=800"});
  constexpr size_t kN = 4;
  Bytes content = RandomBytes(kN * kLen, 12);
  ASSERT_TRUE(Seed("f", content));
  int fd = Open("f", O_RDONLY);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  std::vector<faio_req*> reqs = NewReqs(kN);
  std::vector<Bytes> bufs(kN, Bytes(kLen, 0xee));
  for (size_t i = 0; i < kN; i++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[i], fd, static_cast<int64_t>(i * kLen),
                                             bufs[i].data(), kLen, nullptr));
    ASSERT_ST(FAIO_OK, faio_req_set_timeout(reqs[i], 100));
  }
  Clock::time_point t0 = Clock::now();
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), kN));
  size_t timed_out = 0;
  std::vector<faio_req*> all;
  for (size_t k = 0; k < kN; k++) {
    std::vector<faio_req*> got = Reap(ctx, 1, milliseconds(10000));
    ASSERT_EQ(got.size(), 1u);
    int64_t ms = MsSince(t0);
    size_t i = static_cast<size_t>(std::find(reqs.begin(), reqs.end(), got[0]) - reqs.begin());
    ASSERT_LT(i, kN);
    all.push_back(got[0]);
    size_t n = 0;
    int st = faio_req_result(got[0], &n);
    if (st == FAIO_E_TIMEOUT) {
      timed_out++;
      EXPECT_GE(ms, 100) << "read " << i << " timed out early";
      EXPECT_LT(ms, 700) << "read " << i << " timed out only after the file system answered";
      EXPECT_EQ(n, 0u);
      EXPECT_EQ(bufs[i], Bytes(kLen, 0xee)) << "a withdrawn read wrote its buffer";
    } else {
      EXPECT_ST(FAIO_OK, st) << "read " << i;
      EXPECT_GE(ms, 750) << "read " << i;
      EXPECT_EQ(n, kLen);
      EXPECT_TRUE(std::equal(bufs[i].begin(), bufs[i].end(), content.begin() + i * kLen));
    }
  }
  EXPECT_TRUE(SameSet(all, reqs));
  ExpectNoneCounted(ctx);
  std::printf("[ deadline ] %s: %zu of %zu reads the file system delays timed out\n", backend(),
              timed_out, kN);
}

// FAIO_CTX_FULL_TRANSFERS over a file system whose every read returns at most
// 1000 bytes: whole reads (single and vectored) come back whole, each as one
// completion, and a read across the end stops exactly at it.
TEST_P(FuseFaults, FullTransfersCompleteShortReads) {
  MOUNT_OR_SKIP({"--direct-io", "--rule", "op=read short=1000"});
  const size_t size = 4 * kLen + 123;
  Bytes content = RandomBytes(size, 13);
  ASSERT_TRUE(Seed("f", content));
  int fd = Open("f", O_RDONLY);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_FULL_TRANSFERS);
  ASSERT_NE(ctx, nullptr);
  faio_req* r = NewReq();
  Bytes buf(kLen, 0xee);
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 1, buf.data(), kLen, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, kLen);
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), content.begin() + 1));
  // Vectored, three segments of uneven sizes.
  Bytes a(3000, 0xee), b(7, 0xee), c(5000, 0xee);
  faio_buffer segs[] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, fd, 500, segs, 3, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, a.size() + b.size() + c.size());
  Bytes joined = a;
  joined.insert(joined.end(), b.begin(), b.end());
  joined.insert(joined.end(), c.begin(), c.end());
  EXPECT_TRUE(std::equal(joined.begin(), joined.end(), content.begin() + 500));
  // Across the end: success with exactly the bytes up to it.
  std::fill(buf.begin(), buf.end(), 0xee);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, static_cast<int64_t>(size - 4321), buf.data(),
                                           kLen, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, 4321u);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 4321, content.end() - 4321));
  EXPECT_EQ(buf[4321], 0xee);
  EXPECT_GE(fs_.Fired(0), 5 + 8 + 5) << fs_.Status();
  ExpectNoneCounted(ctx);
}

}  // namespace
}  // namespace faio_test
