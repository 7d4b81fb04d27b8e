// iocp_test.cc - what only the Windows iocp backend has: handles opened without
// FILE_FLAG_OVERLAPPED, a handle shared by two contexts (one port each), and the
// one aborted packet of a cancelled read that must not complete the request's
// next submission. Windows only (tests/CMakeLists.txt).
#include "conformance.h"

namespace faio_test {
namespace {

class Iocp : public ::testing::Test {
 protected:
  void SetUp() override {
    const faio_backend_info* info = FindBackend("iocp");
    ASSERT_NE(info, nullptr) << "iocp is compiled into every Windows build";
    if (!info->available) GTEST_SKIP() << "iocp unavailable: " << info->reason;
  }
  void TearDown() override {
    for (faio_ctx* c : ctxs_) EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
    for (faio_req* r : reqs_) (void)faio_req_destroy(r);
  }
  faio_ctx* NewCtx(const char* backend = "iocp") {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = backend;
    faio_ctx* c = nullptr;
    EXPECT_ST(FAIO_OK, faio_ctx_create_ex(&c, &o));
    if (c != nullptr) ctxs_.push_back(c);
    return c;
  }
  faio_req* NewReq() {
    faio_req* r = nullptr;
    EXPECT_ST(FAIO_OK, faio_req_create(&r));
    if (r != nullptr) reqs_.push_back(r);
    return r;
  }
  // RunOne submits r on c and waits for it; returns its status.
  static int RunOne(faio_ctx* c, faio_req* r, size_t* n = nullptr) {
    int s = faio_ctx_submit(c, &r, 1);
    if (s != FAIO_OK) return s;
    faio_req* out[2];
    uint32_t count = 0;
    s = faio_ctx_wait(c, 1, 10000, out, 2, &count);
    if (s != FAIO_OK) return s;
    EXPECT_EQ(count, 1u);
    EXPECT_EQ(out[0], r);
    return faio_req_result(r, n);
  }

 private:
  std::vector<faio_ctx*> ctxs_;
  std::vector<faio_req*> reqs_;
};

TEST_F(Iocp, HandleWithoutOverlappedFlagIsRefusedForTransfers) {
  TempFile f;
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f.Write(Bytes(4096, 0x5a)));
  HANDLE sync = CreateFileA(f.path().c_str(), GENERIC_READ | GENERIC_WRITE,
                            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                            OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  ASSERT_NE(sync, INVALID_HANDLE_VALUE);
  faio_ctx* c = NewCtx();
  ASSERT_NE(c, nullptr);
  EXPECT_ST(FAIO_E_NOT_SUPPORTED, faio_ctx_associate_file(c, sync));
  faio_req* r = NewReq();
  char buf[64] = {};
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, sync, 0, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_E_NOT_SUPPORTED, RunOne(c, r));
  // A flush needs no overlapped I/O.
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, sync, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(c, r));
  // The threads backend takes the same handle.
  faio_ctx* t = NewCtx("threads");
  ASSERT_NE(t, nullptr);
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, sync, 0, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(t, r, &n));
  EXPECT_EQ(n, sizeof buf);
  EXPECT_EQ(buf[10], 0x5a);
  CloseHandle(sync);
}

TEST_F(Iocp, OneFileInTwoContexts) {
  // A handle joins one completion port for good: the second context serves it
  // through an event. Both read the right bytes.
  TempFile f;
  ASSERT_TRUE(f.ok());
  Bytes d = RandomBytes(8192, 3);
  ASSERT_TRUE(f.Write(d));
  faio_ctx* a = NewCtx();
  faio_ctx* b = NewCtx();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int round = 0; round < 3; round++) {
    for (faio_ctx* c : {a, b}) {
      faio_req* r = NewReq();
      Bytes back(1000);
      size_t n = 0;
      ASSERT_ST(FAIO_OK,
                faio_req_prepare_read(r, f.fd(), 100 * round, back.data(), back.size(), nullptr));
      ASSERT_ST(FAIO_OK, RunOne(c, r, &n));
      ASSERT_EQ(n, back.size());
      EXPECT_TRUE(std::equal(back.begin(), back.end(), d.begin() + 100 * round));
    }
  }
}

TEST_F(Iocp, CancelledPipeReadDoesNotCompleteTheNextSubmission) {
  // Each round: a held read is cancelled (its aborted packet may still be in
  // the port), the same request reads the pipe again at once, and the bytes fed
  // then are what it returns; the stale packet completes nothing.
  faio_ctx* c = NewCtx();
  ASSERT_NE(c, nullptr);
  Pipe p;
  ASSERT_TRUE(p.ok());
  faio_req* r = NewReq();
  char buf[8];
  int cancelled = 0;
  for (int round = 0; round < 50; round++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p.r, 0, buf, sizeof buf, nullptr));
    ASSERT_ST(FAIO_OK, faio_ctx_submit(c, &r, 1));
    int s = faio_req_cancel(r);
    if (s == FAIO_OK) {
      cancelled++;
      EXPECT_ST(FAIO_E_CANCELLED, faio_req_result(r, nullptr));
      ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p.r, 0, buf, sizeof buf, nullptr));
      ASSERT_ST(FAIO_OK, faio_ctx_submit(c, &r, 1));
    } else {
      ASSERT_ST(FAIO_E_IN_PROGRESS, s) << "round " << round;
    }
    std::memset(buf, 0, sizeof buf);
    ASSERT_EQ(p.Feed(3), 3u);
    faio_req* out[4];
    uint32_t count = 0;
    ASSERT_ST(FAIO_OK, faio_ctx_wait(c, 1, 10000, out, 4, &count)) << "round " << round;
    ASSERT_EQ(count, 1u);
    size_t n = 0;
    ASSERT_ST(FAIO_OK, faio_req_result(r, &n)) << "round " << round;
    ASSERT_EQ(n, 3u) << "round " << round;
    EXPECT_EQ(std::string(buf, 3), "ppp");
    // Nothing else comes back: the stale packet was consumed silently.
    count = 0;
    EXPECT_ST(FAIO_E_NO_REQUEST, faio_ctx_wait(c, 1, 0, out, 4, &count));
  }
  EXPECT_GT(cancelled, 25) << "held pipe reads are cancellable on iocp";
  RecordProperty("cancelled", cancelled);
}

TEST_F(Iocp, PipeReadOfWaitingBytesAndEndOfFile) {
  // Bytes already in the pipe (a read that may complete synchronously), then
  // the writer gone: a zero-byte read, not an error (ERROR_BROKEN_PIPE).
  faio_ctx* c = NewCtx();
  ASSERT_NE(c, nullptr);
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p.Feed(5), 5u);
  faio_req* r = NewReq();
  char buf[16] = {};
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p.r, 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, RunOne(c, r, &n));
  EXPECT_EQ(n, 5u);
  p.CloseWriter();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p.r, 0, buf, sizeof buf, nullptr));
  n = 77;
  EXPECT_ST(FAIO_OK, RunOne(c, r, &n));
  EXPECT_EQ(n, 0u);
}

TEST_F(Iocp, ReadAtEndOfFileIsShortNotAnError) {
  faio_ctx* c = NewCtx();
  ASSERT_NE(c, nullptr);
  TempFile f;
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f.Write(Bytes(100, 1)));
  faio_req* r = NewReq();
  char buf[256];
  size_t n = 77;
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f.fd(), 100, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(c, r, &n));
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(faio_req_host_error(r), 0);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f.fd(), 60, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_OK, RunOne(c, r, &n));
  EXPECT_EQ(n, 40u);
}

}  // namespace
}  // namespace faio_test
