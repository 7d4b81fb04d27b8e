// request_test.cc - the request's life (docs/contract.md, Requests; Bad input and faults):
// creation, destruction, preparation, results, user values and handle checks.
#include "conformance.h"

namespace faio_test {
namespace {

class Request : public BackendTest {};
FAIO_INSTANTIATE(Request);

// Every call taking a request answers INVALID_HANDLE (or its documented neutral
// value) for a handle that is not a live request.
void ExpectInvalidEverywhere(faio_ctx* ctx, faio_req* bad, faio_file fd, const char* what) {
  SCOPED_TRACE(what);
  char buf[16];
  size_t n = 77;
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_prepare_read(bad, fd, 0, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_prepare_write(bad, fd, 0, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_prepare_flush(bad, fd, nullptr));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_prepare_flush_ex(bad, fd, FAIO_FLUSH_FULL, nullptr));
  EXPECT_EQ(faio_req_user(bad), nullptr);
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_cancel(bad));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_result(bad, &n));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_result(bad, nullptr));
  EXPECT_EQ(faio_req_host_error(bad), 0);
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_submit(ctx, &bad, 1));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_destroy(bad));
}

TEST_P(Request, CreateNullOutIsInvalidParameter) {
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_create(nullptr));
}

TEST_P(Request, DestroyNullIsNoOpSuccess) { EXPECT_ST(FAIO_OK, faio_req_destroy(nullptr)); }

TEST_P(Request, NewRequestIsIdle) {
  faio_req* r = NewReq();
  ASSERT_NE(r, nullptr);
  size_t n = 77;
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, &n));
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(faio_req_user(r), nullptr);
  EXPECT_EQ(faio_req_host_error(r), 0);
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_cancel(r));
  EXPECT_ST(FAIO_OK, faio_req_destroy(r));
}

TEST_P(Request, ForeignAndDestroyedHandlesAreInvalidEverywhere) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  int local = 42;
  ExpectInvalidEverywhere(ctx, reinterpret_cast<faio_req*>(static_cast<uintptr_t>(0x1234)), f->fd(),
                          "(faio_req*)0x1234");
  ExpectInvalidEverywhere(ctx, reinterpret_cast<faio_req*>(&local), f->fd(),
                          "pointer to a local variable");
  EXPECT_EQ(local, 42) << "the library wrote through a foreign handle";
  ExpectInvalidEverywhere(ctx, reinterpret_cast<faio_req*>(ctx), f->fd(),
                          "a context handle used as a request");

  faio_req* dead = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&dead));
  ASSERT_ST(FAIO_OK, faio_req_destroy(dead));
  ExpectInvalidEverywhere(ctx, dead, f->fd(), "a destroyed request");
  ExpectNoneCounted(ctx);
}

TEST_P(Request, StaleHandleStaysInvalidAfterSlotReuse) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  faio_req* dead = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&dead));
  ASSERT_ST(FAIO_OK, faio_req_destroy(dead));
  // The next creations may reuse the slot; the generation must tell them apart.
  std::vector<faio_req*> fresh = NewReqs(8);
  for (faio_req* r : fresh) EXPECT_NE(r, dead) << "a new request got a destroyed handle's value";
  ExpectInvalidEverywhere(ctx, dead, f->fd(), "a destroyed request whose slot was reused");
  for (faio_req* r : fresh) {
    EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, nullptr));
    EXPECT_ST(FAIO_OK, faio_req_destroy(r));
  }
}

TEST_P(Request, DestroyTwiceIsInvalidHandle) {
  faio_req* r = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&r));
  EXPECT_ST(FAIO_OK, faio_req_destroy(r));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_destroy(r));
}

TEST_P(Request, PrepareRejectsZeroLength) {
  faio_req* r = NewReq();
  char buf[8];
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_read(r, 0, 0, buf, 0, nullptr));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_write(r, 0, 0, buf, 0, nullptr));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, nullptr));
}

TEST_P(Request, PrepareRejectsNegativeOffset) {
  faio_req* r = NewReq();
  char buf[8];
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_read(r, 0, -1, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER,
            faio_req_prepare_write(r, 0, INT64_MIN, buf, sizeof buf, nullptr));
}

TEST_P(Request, PrepareRejectsNullBuffer) {
  faio_req* r = NewReq();
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_read(r, 0, 0, nullptr, 8, nullptr));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_write(r, 0, 0, nullptr, 8, nullptr));
}

TEST_P(Request, PrepareRejectsLengthOverLinuxMaximum) {
  faio_req* r = NewReq();
  char buf[8];
  // faio.h: len over 0x7ffff000 → INVALID_PARAMETER (the buffer is never touched).
  EXPECT_ST(FAIO_E_INVALID_PARAMETER,
            faio_req_prepare_read(r, 0, 0, buf, static_cast<size_t>(0x7ffff001), nullptr));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_write(r, 0, 0, buf, SIZE_MAX, nullptr));
}

TEST_P(Request, PrepareFlushExRejectsUnknownFlags) {
  faio_req* r = NewReq();
  auto f = NewFile();
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_flush_ex(r, f->fd(), 2, nullptr));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_flush_ex(r, f->fd(), 0x80000000u, nullptr));
  EXPECT_ST(FAIO_OK, faio_req_prepare_flush_ex(r, f->fd(), FAIO_FLUSH_FULL, nullptr));
  EXPECT_ST(FAIO_OK, faio_req_prepare_flush_ex(r, f->fd(), FAIO_FLUSH_DATA, nullptr));
}

TEST_P(Request, PreparedIsNotSubmitted) {
  faio_req* r = NewReq();
  auto f = NewFile();
  char buf[16];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, nullptr));
  size_t n = 77;
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, &n));
  EXPECT_EQ(n, 0u);
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_cancel(r));
  // A prepared request may be prepared again and destroyed.
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, f->fd(), 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, f->fd(), nullptr));
  EXPECT_ST(FAIO_OK, faio_req_destroy(r));
}

TEST_P(Request, DestroySubmittedIsInProgressAndFreesNothing) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char buf[8];
  int tag = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, buf, sizeof buf, &tag));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_destroy(r));
  // Still alive and still submitted.
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr));
  EXPECT_EQ(faio_req_user(r), &tag);
  EXPECT_ST(FAIO_E_BUSY, faio_ctx_destroy(ctx));
  ASSERT_EQ(p->Feed(sizeof buf), sizeof buf);
  std::vector<faio_req*> got = Reap(ctx, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], r);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
  EXPECT_GE(n, 1u);
  EXPECT_ST(FAIO_OK, faio_req_destroy(r));
}

TEST_P(Request, PrepareSubmittedIsInProgressAndUnchanged) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  auto f = NewFile();
  faio_req* r = NewReq();
  char buf[8];
  char other[32];
  int tag = 0;
  int other_tag = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, buf, sizeof buf, &tag));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  EXPECT_ST(FAIO_E_IN_PROGRESS,
            faio_req_prepare_read(r, f->fd(), 0, other, sizeof other, &other_tag));
  EXPECT_ST(FAIO_E_IN_PROGRESS,
            faio_req_prepare_write(r, f->fd(), 0, other, sizeof other, &other_tag));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_prepare_flush(r, f->fd(), &other_tag));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_prepare_flush_ex(r, f->fd(), 0, &other_tag));
  EXPECT_EQ(faio_req_user(r), &tag);
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr));
  // The request still reads the pipe into buf: feed exactly its length.
  ASSERT_EQ(p->Feed(sizeof buf), sizeof buf);
  std::vector<faio_req*> got = Reap(ctx, 1);
  ASSERT_EQ(got.size(), 1u);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
  EXPECT_EQ(n, sizeof buf);
  EXPECT_EQ(std::memcmp(buf, "pppppppp", sizeof buf), 0);
  EXPECT_EQ(faio_req_user(r), &tag);
}

TEST_P(Request, ResultFollowsTheStates) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(4096);
  faio_req* r = NewReq();
  Bytes buf(100);
  size_t n = 77;
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, &n));  // idle
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 10, buf.data(), buf.size(), nullptr));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, &n));  // prepared
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, &n));  // submitted (finished or not)
  SleepMs(20);
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, &n)) << "not reaped yet, still submitted";
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));  // completed: its own status
  EXPECT_EQ(n, buf.size());
  EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr)) << "transferred may be null";
  EXPECT_EQ(faio_req_host_error(r), 0);
  for (size_t i = 0; i < buf.size(); i++) {
    ASSERT_EQ(buf[i], static_cast<unsigned char>((i + 10) * 7 + 3)) << "byte " << i;
  }
}

TEST_P(Request, UserValueIsKeptFromPrepare) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  faio_req* r = NewReq();
  char buf[16];
  int a = 0;
  int b = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, &a));
  EXPECT_EQ(faio_req_user(r), &a);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, &b));
  EXPECT_EQ(faio_req_user(r), &b) << "re-preparing replaces the user value";
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  EXPECT_EQ(faio_req_user(r), &b);
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  EXPECT_EQ(faio_req_user(r), &b) << "the user value survives completion";
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, f->fd(), &a));
  EXPECT_EQ(faio_req_user(r), &a);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, f->fd(), 0, buf, sizeof buf,
                                            reinterpret_cast<void*>(uintptr_t{0xfeed})));
  EXPECT_EQ(faio_req_user(r), reinterpret_cast<void*>(uintptr_t{0xfeed}));
}

TEST_P(Request, CompletedRequestCanBePreparedAndSubmittedAgain) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(4096);
  faio_req* r = NewReq();
  unsigned char buf[32];
  for (int round = 0; round < 20; round++) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), round * 32, buf, sizeof buf, nullptr));
    ASSERT_ST(FAIO_OK, Submit1(ctx, r));
    std::vector<faio_req*> got = Reap(ctx, 1);
    ASSERT_EQ(got.size(), 1u);
    size_t n = 0;
    ASSERT_ST(FAIO_OK, faio_req_result(r, &n));
    ASSERT_EQ(n, sizeof buf);
    EXPECT_EQ(buf[0], static_cast<unsigned char>(round * 32 * 7 + 3));
  }
  ExpectNoneCounted(ctx);
  EXPECT_ST(FAIO_OK, faio_req_destroy(r));
}

TEST_P(Request, FailedRequestResultAndHostError) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile();
  faio_file wronly = f->Open(O_WRONLY);
  ASSERT_TRUE(IsOpen(wronly));
  faio_req* r = NewReq();
  char buf[16];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, wronly, 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  size_t n = 77;
  EXPECT_ST(kWrongDirectionStatus, faio_req_result(r, &n));
  EXPECT_EQ(n, 0u) << "transferred is 0 for a failed request";
  EXPECT_EQ(faio_req_host_error(r), kWrongDirectionError);
  // Re-preparing clears the old outcome.
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 0, buf, sizeof buf, nullptr));
  EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, nullptr));
  EXPECT_EQ(faio_req_host_error(r), 0);
}

TEST_P(Request, CppRequestWrapperRoundTrip) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(4096);
  faio::Result<faio::Request> made = faio::Request::Create();
  ASSERT_TRUE(made.ok()) << faio::ToString(made.status());
  faio::Request r = std::move(made.value());
  ASSERT_TRUE(static_cast<bool>(r));
  std::byte buf[64];
  EXPECT_EQ(r.Outcome().status(), faio::Status::kNotSubmitted);
  EXPECT_EQ(r.PrepareRead(f->fd(), -5, buf), faio::Status::kInvalidParameter);
  ASSERT_EQ(r.PrepareRead(f->fd(), 0, buf, &buf), faio::Status::kOk);
  EXPECT_EQ(r.User(), &buf);
  faio_req* h = r.native();
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, &h, 1));
  EXPECT_EQ(r.Outcome().status(), faio::Status::kInProgress);
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  faio::Result<size_t> out = r.Outcome();
  EXPECT_TRUE(out.ok());
  EXPECT_EQ(out.value(), sizeof buf);
  EXPECT_EQ(r.HostError(), 0);
  EXPECT_EQ(r.Cancel(), faio::Status::kNotSubmitted);
  // Vectored: two segments, read in order.
  std::byte lo[10], hi[20];
  const faio_buffer segs[] = {{lo, sizeof lo}, {hi, sizeof hi}};
  EXPECT_EQ(r.PrepareReadv(f->fd(), 0, std::span<const faio_buffer>()),
            faio::Status::kInvalidParameter);
  ASSERT_EQ(r.PrepareReadv(f->fd(), 100, segs), faio::Status::kOk);
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, &h, 1));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  out = r.Outcome();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value(), sizeof lo + sizeof hi);
  EXPECT_EQ(static_cast<unsigned char>(lo[0]), static_cast<unsigned char>(100 * 7 + 3));
  EXPECT_EQ(static_cast<unsigned char>(hi[0]), static_cast<unsigned char>(110 * 7 + 3));
  EXPECT_EQ(r.PrepareWritev(f->fd(), 0, segs), faio::Status::kOk);
  faio::Request moved = std::move(r);
  EXPECT_FALSE(static_cast<bool>(r));  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(moved.native(), h);
}

}  // namespace
}  // namespace faio_test
