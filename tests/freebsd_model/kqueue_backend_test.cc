// kqueue_backend_test.cc - the kqueue backend's own source on the FreeBSD model,
// in situations only the model's knobs can set up (the conformance suite runs
// everything else as */kqueue). Regression tests, named after what they caught.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
// sys/types.h first, as on FreeBSD.
#include <sys/sysctl.h>

#include <set>
#include <string>
#include <vector>

#include "faio/faio.h"
#include "faio_model.h"

namespace {

class KqueueOnModel : public ::testing::Test {
 protected:
  void SetUp() override {
    faio_model_reset();
    char path[] = "/tmp/faio-kqmodel-XXXXXX";
    file_ = mkstemp(path);
    ASSERT_GE(file_, 0);
    unlink(path);
    std::vector<unsigned char> data(64 * 1024);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7 + 3);
    ASSERT_EQ(pwrite(file_, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }
  void TearDown() override {
    for (faio_req* r : reqs_) (void)faio_req_destroy(r);
    if (ctx_ != nullptr) {
      EXPECT_EQ(faio_ctx_destroy(ctx_), FAIO_OK);
    }
    if (file_ >= 0) close(file_);
    faio_model_reset();
  }
  void NewCtx(uint32_t capacity) {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = "kqueue";
    o.capacity = capacity;
    ASSERT_EQ(faio_ctx_create_ex(&ctx_, &o), FAIO_OK);
  }
  faio_req* NewReq() {
    faio_req* r = nullptr;
    EXPECT_EQ(faio_req_create(&r), FAIO_OK);
    reqs_.push_back(r);
    return r;
  }
  void SetSysctl(const char* name, int v) {
    ASSERT_EQ(sysctlbyname(name, nullptr, nullptr, &v, sizeof(v)), 0) << name;
  }
  // Reaps until `want` requests came back or 5 s passed.
  std::vector<faio_req*> Reap(size_t want) {
    std::vector<faio_req*> got;
    faio_req* out[32];
    for (int i = 0; i < 500 && got.size() < want; ++i) {
      uint32_t n = 0;
      int s = faio_ctx_wait(ctx_, 1, 10, out, 32, &n);
      if (s != FAIO_OK && s != FAIO_E_TIMEOUT) break;
      got.insert(got.end(), out, out + n);
    }
    return got;
  }

  int file_ = -1;
  faio_ctx* ctx_ = nullptr;
  std::vector<faio_req*> reqs_;
};

// lio_listio failed (EAGAIN at vfs.aio.max_aio_queue_per_proc) after queueing a
// job that had already failed: aio_error answered its I/O error, which the
// backend took for a refusal - it completed the request itself and gave its
// slot back while the kernel still held the job and had posted its event. The
// event then released the slot a second time; two requests later shared one
// aiocb, and one of them never came back.
TEST_F(KqueueOnModel, ListioFailureAfterAQueuedJobFailedKeepsItsSlotUntilItsEvent) {
  NewCtx(8);
  int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  faio_model_complete_at_queue(1);
  SetSysctl("vfs.aio.max_aio_queue_per_proc", 1);
  char dbuf[64], fbuf[64];
  faio_req* bad = NewReq();
  faio_req* good = NewReq();
  ASSERT_EQ(faio_req_prepare_read(bad, dir, 0, dbuf, sizeof dbuf, nullptr), FAIO_OK);
  ASSERT_EQ(faio_req_prepare_read(good, file_, 0, fbuf, sizeof fbuf, nullptr), FAIO_OK);
  faio_req* batch[2] = {bad, good};
  EXPECT_EQ(faio_ctx_submit(ctx_, batch, 2), FAIO_E_INSUFFICIENT_RESOURCES);
  EXPECT_EQ(faio_req_result(good, nullptr), FAIO_E_NOT_SUBMITTED) << "refused at the cap";
  std::vector<faio_req*> got = Reap(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], bad);
  EXPECT_EQ(faio_req_host_error(bad), EISDIR);
  close(dir);

  // Everything after comes back exactly once, with its own data.
  faio_model_complete_at_queue(0);
  SetSysctl("vfs.aio.max_aio_queue_per_proc", 256);
  constexpr size_t kN = 8;
  std::vector<faio_req*> rs;
  std::vector<std::vector<unsigned char>> bufs(kN, std::vector<unsigned char>(64));
  for (size_t i = 0; i < kN; ++i) rs.push_back(NewReq());
  for (int round = 0; round < 40; ++round) {
    SCOPED_TRACE(round);
    for (size_t i = 0; i < kN; ++i) {
      uint64_t off = ((round * kN + i) % 1000) * 64;
      ASSERT_EQ(faio_req_prepare_read(rs[i], file_, off, bufs[i].data(), 64, nullptr), FAIO_OK);
    }
    ASSERT_EQ(faio_ctx_submit(ctx_, rs.data(), kN), FAIO_OK);
    got = Reap(kN);
    ASSERT_EQ(got.size(), kN);
    EXPECT_EQ(std::set<faio_req*>(got.begin(), got.end()),
              std::set<faio_req*>(rs.begin(), rs.end()));
    for (size_t i = 0; i < kN; ++i) {
      ASSERT_EQ(faio_req_result(rs[i], nullptr), FAIO_OK);
      uint64_t off = ((round * kN + i) % 1000) * 64;
      ASSERT_EQ(bufs[i][5], static_cast<unsigned char>((off + 5) * 7 + 3)) << i;
    }
  }
  faio_model_counters c;
  faio_model_get_counters(&c);
  EXPECT_EQ(c.jobs_outstanding, 0u) << "every job was collected with aio_return";
}

// A cancelled job's event stays posted (aio_cancel(2): normal notification
// occurs); the backend collects it with aio_return, without a second
// completion, and the request may be reused meanwhile.
TEST_F(KqueueOnModel, CancelledJobsEventIsCollectedOnce) {
  NewCtx(8);
  faio_model_hold_jobs(1);
  char buf[64];
  faio_req* r = NewReq();
  ASSERT_EQ(faio_req_prepare_read(r, file_, 0, buf, sizeof buf, nullptr), FAIO_OK);
  ASSERT_EQ(faio_ctx_submit(ctx_, &r, 1), FAIO_OK);
  ASSERT_EQ(faio_req_cancel(r), FAIO_OK);
  EXPECT_EQ(faio_req_result(r, nullptr), FAIO_E_CANCELLED);
  ASSERT_EQ(faio_req_prepare_read(r, file_, 64, buf, sizeof buf, nullptr), FAIO_OK);
  ASSERT_EQ(faio_ctx_submit(ctx_, &r, 1), FAIO_OK);
  faio_model_hold_jobs(0);
  std::vector<faio_req*> got = Reap(2);
  ASSERT_EQ(got.size(), 1u) << "the cancelled submission is not returned";
  size_t n = 0;
  EXPECT_EQ(faio_req_result(r, &n), FAIO_OK);
  EXPECT_EQ(n, sizeof buf);
  faio_model_counters c;
  faio_model_get_counters(&c);
  EXPECT_EQ(c.jobs_cancelled, 1u);
  EXPECT_EQ(c.jobs_outstanding, 0u) << "the cancelled job was collected too";
}

// FreeBSD refuses AIO on pipes unless vfs.aio.enable_unsafe (aio(4)): the
// request completes with FAIO_E_NOT_SUPPORTED at submit.
TEST_F(KqueueOnModel, UnsafePipeIsNotSupported) {
  NewCtx(8);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  char buf[8];
  faio_req* r = NewReq();
  ASSERT_EQ(faio_req_prepare_read(r, p[0], 0, buf, sizeof buf, nullptr), FAIO_OK);
  ASSERT_EQ(faio_ctx_submit(ctx_, &r, 1), FAIO_OK);
  std::vector<faio_req*> got = Reap(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(faio_req_result(r, nullptr), FAIO_E_NOT_SUPPORTED);
  EXPECT_EQ(faio_req_host_error(r), EOPNOTSUPP);
  close(p[0]);
  close(p[1]);
}

}  // namespace
