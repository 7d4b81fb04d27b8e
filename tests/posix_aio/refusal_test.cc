// refusal_test.cc - posix_aio on glibc when the host itself refuses a request.
//
// glibc's aio_read / aio_write / aio_fsync fail with EAGAIN when glibc cannot
// allocate its request record (or start a first worker thread), and then leave
// the aiocb untouched - its error code is whatever it held, so a refused aiocb
// that were ever polled could read as a success. Real exhaustion of glibc's
// allocator cannot be arranged in a test, so this binary is linked with
// -Wl,--wrap=aio_read,--wrap=aio_write,--wrap=aio_fsync (tests/CMakeLists.txt;
// the library is linked in statically): the wrappers below refuse the Nth call
// the way glibc does and pass every other call to glibc. The rules checked
// (docs/contract.md, Submit): a refusal for resources is *insufficient
// resources*, the requests that reached the host are a prefix of the batch and
// are counted and come back exactly once, the rest are *prepared* again and can
// be submitted later; any other synchronous refusal completes that request with
// its error.
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "faio/faio.h"

extern "C" {
int __real_aio_read(struct aiocb* cb);
int __real_aio_write(struct aiocb* cb);
int __real_aio_fsync(int op, struct aiocb* cb);
}

namespace {

std::atomic<int> g_calls{0};      // host submissions seen since Arm
std::atomic<int> g_refuse_at{0};  // 1-based call to refuse; 0: none
std::atomic<int> g_errno{EAGAIN};
std::atomic<int> g_refused{0};

void Arm(int at, int err = EAGAIN) {
  g_calls = 0;
  g_refused = 0;
  g_errno = err;
  g_refuse_at = at;
}

// Refuse reports whether this call is the one to refuse, as glibc does: -1
// with errno set and the aiocb left as it was.
bool Refuse() {
  int n = ++g_calls;
  if (g_refuse_at.load() != 0 && n >= g_refuse_at.load()) {
    g_refused++;
    errno = g_errno.load();
    return true;
  }
  return false;
}

}  // namespace

extern "C" {
int __wrap_aio_read(struct aiocb* cb) { return Refuse() ? -1 : __real_aio_read(cb); }
int __wrap_aio_write(struct aiocb* cb) { return Refuse() ? -1 : __real_aio_write(cb); }
int __wrap_aio_fsync(int op, struct aiocb* cb) { return Refuse() ? -1 : __real_aio_fsync(op, cb); }
}

namespace {

class Refusal : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char path[] = "/tmp/faio-refusal-XXXXXX";
    fd_ = mkstemp(path);
    ASSERT_GE(fd_, 0);
    unlink(path);
    std::vector<unsigned char> b(kFile);
    for (size_t i = 0; i < kFile; i++) b[i] = static_cast<unsigned char>(i * 7 + 3);
    ASSERT_EQ(pwrite(fd_, b.data(), kFile, 0), static_cast<ssize_t>(kFile));
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = GetParam().c_str();
    ASSERT_EQ(faio_ctx_create_ex(&ctx_, &o), FAIO_OK);
    for (int i = 0; i < kReqs; i++) ASSERT_EQ(faio_req_create(&reqs_[i]), FAIO_OK);
  }
  void TearDown() override {
    Arm(0);
    if (ctx_ != nullptr) {
      EXPECT_EQ(faio_ctx_destroy(ctx_), FAIO_OK);
    }
    for (faio_req* r : reqs_) faio_req_destroy(r);
    if (fd_ >= 0) close(fd_);
  }
  void PrepareReads(int n) {
    for (int i = 0; i < n; i++) {
      ASSERT_EQ(faio_req_prepare_read(reqs_[i], fd_, i * 64, bufs_[i], 64, nullptr), FAIO_OK);
    }
  }
  // Reap waits for exactly n completions and returns them.
  std::vector<faio_req*> Reap(size_t n) {
    std::vector<faio_req*> got;
    faio_req* out[kReqs];
    for (int tries = 0; got.size() < n && tries < 100; tries++) {
      uint32_t count = 0;
      int s = faio_ctx_wait(ctx_, n - got.size(), 5000, out, kReqs, &count);
      got.insert(got.end(), out, out + count);
      if (s != FAIO_OK && s != FAIO_E_TIMEOUT) break;
    }
    return got;
  }
  void ExpectNoneCounted() {
    faio_req* out[1];
    uint32_t count = 0;
    EXPECT_EQ(faio_ctx_wait(ctx_, 1, 1000, out, 1, &count), FAIO_E_NO_REQUEST);
  }

  static constexpr size_t kFile = 4096;
  static constexpr int kReqs = 8;
  int fd_ = -1;
  faio_ctx* ctx_ = nullptr;
  faio_req* reqs_[kReqs] = {};
  unsigned char bufs_[kReqs][64] = {};
};

INSTANTIATE_TEST_SUITE_P(Glibc, Refusal, ::testing::Values(std::string("posix_aio")),
                         [](const auto& info) { return info.param; });

TEST_P(Refusal, HostRefusalMidBatchKeepsThePrefixAndCountsExactly) {
  PrepareReads(kReqs);
  Arm(4);  // the 4th request is refused: 3 reach the host
  EXPECT_EQ(faio_ctx_submit(ctx_, reqs_, kReqs), FAIO_E_INSUFFICIENT_RESOURCES);
  EXPECT_EQ(g_refused.load(), 1) << "nothing after the refused request is offered to the host";
  Arm(0);
  for (int i = 3; i < kReqs; i++) {
    EXPECT_EQ(faio_req_result(reqs_[i], nullptr), FAIO_E_NOT_SUBMITTED) << i << " is prepared";
  }
  std::vector<faio_req*> got = Reap(3);
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; i++) {
    size_t n = 0;
    EXPECT_EQ(faio_req_result(reqs_[i], &n), FAIO_OK);
    EXPECT_EQ(n, 64u);
    EXPECT_EQ(bufs_[i][0], static_cast<unsigned char>(i * 64 * 7 + 3));
  }
  ExpectNoneCounted();  // the refused ones are not counted, and none came back as a success
  // The rest, still prepared, go through now.
  EXPECT_EQ(faio_ctx_submit(ctx_, reqs_ + 3, kReqs - 3), FAIO_OK);
  EXPECT_EQ(Reap(kReqs - 3).size(), static_cast<size_t>(kReqs - 3));
  for (int i = 3; i < kReqs; i++) {
    EXPECT_EQ(faio_req_result(reqs_[i], nullptr), FAIO_OK);
    EXPECT_EQ(bufs_[i][0], static_cast<unsigned char>(i * 64 * 7 + 3));
  }
  ExpectNoneCounted();
}

TEST_P(Refusal, HostRefusalOfTheFirstRequestSubmitsNothing) {
  PrepareReads(2);
  Arm(1);
  EXPECT_EQ(faio_ctx_submit(ctx_, reqs_, 2), FAIO_E_INSUFFICIENT_RESOURCES);
  Arm(0);
  EXPECT_EQ(faio_req_result(reqs_[0], nullptr), FAIO_E_NOT_SUBMITTED);
  EXPECT_EQ(faio_req_result(reqs_[1], nullptr), FAIO_E_NOT_SUBMITTED);
  ExpectNoneCounted();
}

TEST_P(Refusal, RefusedFlushCompletesWithInsufficientResources) {
  // A flush is held behind the file's barrier by the core and handed to the
  // host when its turn comes, maybe after submit returned: a refusal then
  // completes it with *insufficient resources* and the host's EAGAIN (the
  // reference design's flaw 3: judged by errno, not a hard error).
  ASSERT_EQ(faio_req_prepare_flush(reqs_[0], fd_, nullptr), FAIO_OK);
  Arm(1);
  EXPECT_EQ(faio_ctx_submit(ctx_, reqs_, 1), FAIO_OK);
  Arm(0);
  ASSERT_EQ(Reap(1).size(), 1u);
  EXPECT_EQ(faio_req_result(reqs_[0], nullptr), FAIO_E_INSUFFICIENT_RESOURCES);
  EXPECT_EQ(faio_req_host_error(reqs_[0]), EAGAIN);
  ExpectNoneCounted();
  ASSERT_EQ(faio_req_prepare_flush(reqs_[0], fd_, nullptr), FAIO_OK);
  EXPECT_EQ(faio_ctx_submit(ctx_, reqs_, 1), FAIO_OK);
  ASSERT_EQ(Reap(1).size(), 1u);
  EXPECT_EQ(faio_req_result(reqs_[0], nullptr), FAIO_OK);
}

TEST_P(Refusal, OtherSynchronousRefusalCompletesThatRequestWithItsError) {
  PrepareReads(3);
  Arm(2, EINVAL);  // the 2nd call and later fail with EINVAL: not a resource shortage
  EXPECT_EQ(faio_ctx_submit(ctx_, reqs_, 3), FAIO_OK);
  Arm(0);
  std::vector<faio_req*> got = Reap(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(faio_req_result(reqs_[0], nullptr), FAIO_OK);
  for (int i = 1; i < 3; i++) {
    EXPECT_EQ(faio_req_result(reqs_[i], nullptr), FAIO_E_INVALID_PARAMETER) << i;
    EXPECT_EQ(faio_req_host_error(reqs_[i]), EINVAL) << i;
  }
  ExpectNoneCounted();
}

}  // namespace
