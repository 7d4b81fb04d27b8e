// space_faults_test.cc - the kernel's own resource errors on every compiled-in
// backend: ENOSPC from a full tmpfs and from a full ext4 file system on a loop
// device (buffered and O_DIRECT), EFBIG from RLIMIT_FSIZE (with SIGXFSZ
// ignored, as a server would), and short writes at those limits.
//
// Each test makes its own small file system (skipping with the reason when it
// cannot: not root, no loop device, no mkfs.ext4) and checks the exact status
// and host error of the exact request.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conformance.h"
#include "kernel_faults.h"

namespace faio_test {
namespace {

class SpaceFaults : public BackendTest {
 protected:
  void TearDown() override {
    BackendTest::TearDown();
    for (int fd : fds_) close(fd);
    fds_.clear();
    loop_.Stop();  // first: its image may live on the tmpfs
    tmpfs_.Stop();
  }

  int Open(const std::string& path, int flags) {
    int fd = open(path.c_str(), flags | O_CLOEXEC, 0600);
    if (fd < 0) {
      ADD_FAILURE() << "open " << path << ": " << std::strerror(errno);
    } else {
      fds_.push_back(fd);
    }
    return fd;
  }

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

  // Fill appends to fd with plain pwrite from off until the file system says
  // ENOSPC; returns the new end, or -1 (and a failure) on another error.
  static int64_t Fill(int fd, int64_t off, size_t chunk) {
    Bytes b(chunk, 0x5a);
    for (;;) {
      ssize_t n = pwrite(fd, b.data(), b.size(), off);
      if (n > 0) {
        off += n;
        continue;
      }
      if (n < 0 && errno == ENOSPC) return off;
      ADD_FAILURE() << "filling: pwrite returned " << n << ": " << std::strerror(errno);
      return -1;
    }
  }

  faio_kf::Tmpfs tmpfs_;
  faio_kf::LoopExt4 loop_;
  std::vector<int> fds_;
};

INSTANTIATE_TEST_SUITE_P(KernelFaults, SpaceFaults, ::testing::ValuesIn(BackendNames()),
                         BackendParamName);

TEST_P(SpaceFaults, FullTmpfsIsDiskFull) {
  std::string why = tmpfs_.Start(1 << 20);
  if (!why.empty()) GTEST_SKIP() << why;
  int fd = Open(tmpfs_.mnt() + "/f", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* r = NewReq();
  // A write larger than the whole file system stops short at the limit: a
  // short write is success with the bytes that fit.
  const size_t big = 2 << 20;
  Bytes data = RandomBytes(big, 1);
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, fd, 0, data.data(), big, nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n)) << "host error " << faio_req_host_error(r);
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, big);
  int64_t end = Fill(fd, static_cast<int64_t>(n), 4096);
  ASSERT_GE(end, 0);
  // Full: a write fails with ENOSPC; a read in the same batch is untouched.
  std::vector<faio_req*> reqs = NewReqs(2);
  Bytes back(4096);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[0], fd, end, data.data(), 4096, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[1], fd, 0, back.data(), back.size(), nullptr));
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), 2));
  ASSERT_TRUE(SameSet(Reap(ctx, 2), reqs));
  n = 77;
  EXPECT_ST(FAIO_E_DISK_FULL, faio_req_result(reqs[0], &n));
  EXPECT_EQ(faio_req_host_error(reqs[0]), ENOSPC);
  EXPECT_EQ(n, 0u);
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[1], &n));
  EXPECT_EQ(n, back.size());
  EXPECT_TRUE(std::equal(back.begin(), back.end(), data.begin()));
  // Space freed, the same request writes.
  ASSERT_EQ(ftruncate(fd, 0), 0);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[0], fd, 0, data.data(), 4096, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, reqs[0], &n));
  EXPECT_EQ(n, 4096u);
}

TEST_P(SpaceFaults, FullExt4OnALoopDeviceIsDiskFull) {
  std::string why = loop_.Start(16);
  if (!why.empty()) GTEST_SKIP() << why;
  int fd = Open(loop_.mnt() + "/fill", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  int64_t end = Fill(fd, 0, 1 << 20);
  ASSERT_GT(end, 0);
  end = Fill(fd, end, 4096);
  ASSERT_GT(end, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  // Buffered: ext4 reserves blocks at write time (delayed allocation), so the
  // write itself fails.
  faio_req* r = NewReq();
  Bytes data = RandomBytes(64 * 1024, 2);
  size_t n = 77;
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, fd, end, data.data(), data.size(), nullptr));
  EXPECT_ST(FAIO_E_DISK_FULL, RunOne(ctx, r, &n));
  EXPECT_EQ(faio_req_host_error(r), ENOSPC);
  EXPECT_EQ(n, 0u);
  // What did fit is flushed without error.
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, fd, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r));
  // O_DIRECT, no page cache: the block allocation fails.
  int dfd = Open(loop_.mnt() + "/direct", O_RDWR | O_CREAT | O_DIRECT);
  ASSERT_GE(dfd, 0);
  AlignedBuffer buf(64 * 1024, 4096);
  ASSERT_NE(buf.data(), nullptr);
  std::memcpy(buf.data(), data.data(), buf.size());
  n = 77;
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, dfd, 0, buf.data(), buf.size(), nullptr));
  EXPECT_ST(FAIO_E_DISK_FULL, RunOne(ctx, r, &n));
  EXPECT_EQ(faio_req_host_error(r), ENOSPC);
  EXPECT_EQ(n, 0u);
  // Space freed, the same O_DIRECT request writes and reads back.
  ASSERT_EQ(ftruncate(fd, 0), 0);
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, dfd, 0, buf.data(), buf.size(), nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, buf.size());
}

TEST_P(SpaceFaults, ThinDeviceOutOfSpaceFlushFailsAndStaysFailed) {
  // 64 MiB of ext4 on 12 MiB of real space: the 24 MiB write lands in the
  // page cache; write-back then fails in the block layer (ENOSPC from the
  // loop device, EIO from ext4). The kernel reports that to one or two
  // fsyncs and then success; faio must keep failing the file's flushes.
  std::string why = tmpfs_.Start(12 << 20);
  if (why.empty()) {
    why = loop_.Start(64, {"-E", "nodiscard"}, tmpfs_.mnt(), "errors=continue");
  }
  if (!why.empty()) GTEST_SKIP() << why;
  int fd = Open(loop_.mnt() + "/f", O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  faio_req* r = NewReq();
  Bytes data(24 << 20, 0x5a);  // (content irrelevant: it is lost)
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, fd, 0, data.data(), data.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n)) << "host error " << faio_req_host_error(r);
  ASSERT_EQ(n, data.size());
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, fd, nullptr));
  int first = RunOne(ctx, r);
  int first_host = faio_req_host_error(r);
  ASSERT_TRUE(first == FAIO_E_DISK_FULL || first == FAIO_E_IO)
      << "the flush after a failed write-back returned " << StatusName(first);
  EXPECT_EQ(first_host, first == FAIO_E_DISK_FULL ? ENOSPC : EIO);
  RecordProperty("first_flush", StatusName(first));
  // What the kernel says to plain fdatasync calls now (EIO once, then
  // success, on the kernels we know) is recorded, not required.
  std::string kernel;
  for (int i = 0; i < 3; i++) kernel += std::to_string(fdatasync(fd) == 0 ? 0 : errno) + " ";
  RecordProperty("kernel_fdatasync_errnos", kernel);
  for (int i = 0; i < 3; i++) {
    SCOPED_TRACE(i);
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush_ex(r, fd, i == 1 ? FAIO_FLUSH_FULL : FAIO_FLUSH_DATA,
                                                 nullptr));
    EXPECT_ST(first, RunOne(ctx, r)) << "the kernel said: " << kernel;
    EXPECT_EQ(faio_req_host_error(r), first_host);
  }
  // Acknowledged: the next flush reaches the host, which has nothing left to
  // report (the lost pages are gone).
  EXPECT_ST(FAIO_OK, faio_ctx_clear_error(ctx, fd));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, fd, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, r)) << "the flush after clear_error: host error "
                                     << faio_req_host_error(r) << "; the kernel said: " << kernel;
}

// FsizeLimit sets RLIMIT_FSIZE (soft) and ignores SIGXFSZ for its lifetime.
class FsizeLimit {
 public:
  explicit FsizeLimit(rlim_t bytes) {
    ok_ = getrlimit(RLIMIT_FSIZE, &old_) == 0;
    prev_ = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old_;
    lim.rlim_cur = bytes;
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < bytes) lim.rlim_cur = lim.rlim_max;
    ok_ = ok_ && setrlimit(RLIMIT_FSIZE, &lim) == 0;
  }
  ~FsizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    signal(SIGXFSZ, prev_);
  }
  FsizeLimit(const FsizeLimit&) = delete;
  FsizeLimit& operator=(const FsizeLimit&) = delete;
  bool ok() const { return ok_; }

 private:
  struct rlimit old_ {};
  sighandler_t prev_ = SIG_DFL;
  bool ok_ = false;
};

TEST_P(SpaceFaults, FileSizeLimitIsFileTooBig) {
  TempFile f;
  ASSERT_TRUE(f.ok());
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  std::vector<faio_req*> reqs = NewReqs(3);
  Bytes data = RandomBytes(8192, 3);
  constexpr int64_t kLimit = 1 << 20;
  {
    FsizeLimit limit(kLimit);
    ASSERT_TRUE(limit.ok()) << "setrlimit(RLIMIT_FSIZE): " << std::strerror(errno);
    // At the limit: EFBIG. Across it: a short write up to it. Below: whole.
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[0], f.fd(), kLimit, data.data(), 4096, nullptr));
    ASSERT_ST(FAIO_OK,
              faio_req_prepare_write(reqs[1], f.fd(), kLimit - 4096, data.data(), 8192, nullptr));
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[2], f.fd(), 0, data.data(), 8192, nullptr));
    ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
    ASSERT_TRUE(SameSet(Reap(ctx, reqs.size()), reqs));
  }
  size_t n = 77;
  EXPECT_ST(FAIO_E_FILE_TOO_BIG, faio_req_result(reqs[0], &n));
  EXPECT_EQ(faio_req_host_error(reqs[0]), EFBIG);
  EXPECT_EQ(n, 0u);
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[1], &n));
  EXPECT_EQ(n, 4096u) << "a write across the limit stops at it";
  EXPECT_ST(FAIO_OK, faio_req_result(reqs[2], &n));
  EXPECT_EQ(n, 8192u);
  EXPECT_EQ(f.Size(), kLimit);
  // The limit lifted, the same request writes past it.
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[0], f.fd(), kLimit, data.data(), 4096, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx, reqs[0], &n));
  EXPECT_EQ(n, 4096u);
}

}  // namespace
}  // namespace faio_test
