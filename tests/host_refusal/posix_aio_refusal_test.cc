// posix_aio_refusal_test.cc - glibc refusing the posix_aio backend's requests
// (docs/contract.md, Submit and Flush; The reference design's flaws 2 and 3).
//
// The binary is linked with glibc's submission calls wrapped (glibc_aio_wrap.h):
// the requests it lets through are really queued by glibc and complete through
// its threads; the refused ones get what glibc leaves behind when it runs out -
// a lio_listio that returns -1 (EAGAIN, or EIO with the other jobs queued), an
// aiocb whose error code is EAGAIN or, when glibc's request pool is exhausted,
// untouched; an aio_fsync that fails with EAGAIN. On glibc the backend hands
// each request over with its own aio_read/aio_write/aio_fsync (not lio_listio,
// see posix_aio_backend.cc), so the first refusal ends the batch: glibc sees
// the prefix and the refused request, nothing after it.
#include <errno.h>

#include "glibc_aio_wrap.h"
#include "host_refusal.h"

namespace faio_test {
namespace {

class PosixAioRefusal : public RefusalTest {
 protected:
  // PartialBatch: 8 writes, of which glibc takes the first 3 and refuses the
  // rest as `how` says. Submit answers insufficient resources with exactly the
  // prefix submitted; the prefix completes through wait; the rest are prepared
  // and go through when submitted again; each block is written once.
  void PartialBatch(AioRefusal how) {
    faio_ctx* ctx = NewCtx();
    ASSERT_NE(ctx, nullptr);
    ASSERT_NE(DirectIoDir(), "") << "no directory that takes O_DIRECT (set FAIO_TEST_DIR)";
    TempFile f(DirectIoDir());
    ASSERT_TRUE(f.ok());
    faio_file fd = DirectFd(f);  // so that every write reaches glibc
    constexpr size_t kN = 8;
    constexpr size_t kTaken = 3;
    std::vector<faio_req*> reqs = WriteBatch(fd, kN);
    how.fd = fd;
    how.refuse_from = kTaken;
    how.refuse_to = 1000;
    {
      ArmedAioRefusal armed(how);
      EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, reqs.data(), kN));
      AioCalls seen = SeenAioCalls();
      EXPECT_EQ(seen.transfers, static_cast<long>(kTaken + 1))
          << "the batch goes on past the first refusal";
      EXPECT_EQ(seen.refused, 1);
    }
    ExpectPrefixAccepted(reqs, kTaken);
    std::vector<faio_req*> taken(reqs.begin(), reqs.begin() + kTaken);
    std::vector<faio_req*> rest(reqs.begin() + kTaken, reqs.end());
    ReapExactly(ctx, taken);
    for (faio_req* r : taken) {
      size_t n = 0;
      EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
      EXPECT_EQ(n, kBlock);
    }
    ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, rest.data(), rest.size()))
        << "the refused requests are not submittable again";
    ReapExactly(ctx, rest);
    for (faio_req* r : rest) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
    ExpectFileHoldsBatch(f, kN);
  }
};
FAIO_INSTANTIATE_ON(PosixAioRefusal, "posix_aio");

TEST_P(PosixAioRefusal, PartialLioListioKeepsThePrefix) {
  // glibc could not start a worker thread: the refused aiocbs read EAGAIN.
  AioRefusal how;
  how.listio_errno = EAGAIN;
  PartialBatch(how);
}

TEST_P(PosixAioRefusal, PartialLioListioWithEioKeepsThePrefix) {
  // lio_listio's EIO: "one or more requests failed", the others are queued.
  AioRefusal how;
  how.listio_errno = EIO;
  PartialBatch(how);
}

TEST_P(PosixAioRefusal, PoolExhaustionIsNotCountedAsSuccess) {
  // glibc's request pool exhausted: __aio_enqueue_request fails before it sets
  // the aiocb's error code, so aio_error reads what the backend left there. A
  // code of 0 would pass for "queued" and the request would be counted, never
  // to complete.
  AioRefusal how;
  how.listio_errno = EAGAIN;
  how.untouched = true;
  PartialBatch(how);
}

TEST_P(PosixAioRefusal, PartialSubmitAfterAFlushKeepsThePrefix) {
  // [w0 w1 flush w2 w3]: the flush splits the batch; glibc refuses w2 and w3.
  // Accepted: w0, w1 and the flush (prefix 3); w2, w3 prepared.
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  ASSERT_NE(DirectIoDir(), "") << "no directory that takes O_DIRECT (set FAIO_TEST_DIR)";
  TempFile f(DirectIoDir());
  ASSERT_TRUE(f.ok());
  faio_file fd = DirectFd(f);  // so that every write reaches glibc
  std::vector<faio_req*> w = WriteBatch(fd, 4);
  faio_req* flush = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, fd, nullptr));
  std::vector<faio_req*> batch = {w[0], w[1], flush, w[2], w[3]};
  AioRefusal how;
  how.fd = fd;
  how.refuse_from = 2;
  how.refuse_to = 1000;
  {
    ArmedAioRefusal armed(how);
    EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, batch.data(), batch.size()));
    EXPECT_EQ(SeenAioCalls().refused, 1);
  }
  ExpectPrefixAccepted(batch, 3);
  ReapExactly(ctx, {w[0], w[1], flush});
  for (faio_req* r : {w[0], w[1], flush}) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, batch.data() + 3, 2));
  ReapExactly(ctx, {w[2], w[3]});
  ExpectFileHoldsBatch(f, 4);
}

TEST_P(PosixAioRefusal, RefusalInTheMiddleEndsThePrefix) {
  // glibc refuses the third of 8 (and would take the ones after it): the
  // backend stops there - two submitted, the other six prepared - and they go
  // through when submitted again.
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  ASSERT_NE(DirectIoDir(), "") << "no directory that takes O_DIRECT (set FAIO_TEST_DIR)";
  TempFile f(DirectIoDir());
  ASSERT_TRUE(f.ok());
  faio_file fd = DirectFd(f);  // so that every write reaches glibc
  std::vector<faio_req*> reqs = WriteBatch(fd, 8);
  AioRefusal how;
  how.fd = fd;
  how.refuse_from = 2;
  how.refuse_to = 3;
  {
    ArmedAioRefusal armed(how);
    EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_ctx_submit(ctx, reqs.data(), reqs.size()));
    EXPECT_EQ(SeenAioCalls().refused, 1);
    EXPECT_EQ(SeenAioCalls().transfers, 3);
  }
  ExpectPrefixAccepted(reqs, 2);
  ReapExactly(ctx, {reqs[0], reqs[1]});
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data() + 2, 6));
  ReapExactly(ctx, std::vector<faio_req*>(reqs.begin() + 2, reqs.end()));
  for (faio_req* r : reqs) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  ExpectFileHoldsBatch(f, 8);
}

// Done at submission (docs/contract.md, Submit): buffered writes to a local
// file system are made by the submitting thread and glibc never sees them;
// with FAIO_CTX_HOST_ONLY every one goes to glibc. Same data either way.
TEST_P(PosixAioRefusal, HostOnlyContextHandsEveryTransferToGlibc) {
  for (uint32_t flags : {0u, static_cast<uint32_t>(FAIO_CTX_HOST_ONLY)}) {
    SCOPED_TRACE(flags == 0 ? "default context" : "FAIO_CTX_HOST_ONLY");
    faio_ctx* ctx = NewCtx(0, flags);
    ASSERT_NE(ctx, nullptr);
    TempFile f;
    ASSERT_TRUE(f.ok());
    std::vector<faio_req*> reqs = WriteBatch(f.fd(), 4);
    AioRefusal how;  // refuses nothing; counts
    how.fd = f.fd();
    how.refuse_from = 1000;
    how.refuse_to = 1000;
    {
      ArmedAioRefusal armed(how);
      for (faio_req* r : reqs) ASSERT_ST(FAIO_OK, Submit1(ctx, r));
      ReapExactly(ctx, reqs);
      EXPECT_EQ(SeenAioCalls().transfers, flags == 0 ? 0 : 4);
    }
    for (faio_req* r : reqs) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
    ExpectFileHoldsBatch(f, 4);
  }
}

TEST_P(PosixAioRefusal, RefusedFlushIsInsufficientResources) {
  // Flaw 3: aio_fsync failing with EAGAIN is insufficient resources (host error
  // EAGAIN), returned by a wait; not a hard error, and not sticky: the next
  // flush reaches the host and succeeds.
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  TempFile f;
  ASSERT_TRUE(f.ok());
  faio_req* flush = NewReq();
  {
    SCOPED_TRACE("a flush alone (issued by submit)");
    AioRefusal how;
    how.fd = f.fd();
    how.fsync_refusals = 1;
    ArmedAioRefusal armed(how);
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, f.fd(), nullptr));
    EXPECT_ST(FAIO_OK, Submit1(ctx, flush));
    ReapExactly(ctx, {flush});
    EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_req_result(flush, nullptr));
    EXPECT_EQ(faio_req_host_error(flush), EAGAIN);
    EXPECT_EQ(SeenAioCalls().fsyncs_refused, 1);
  }
  {
    SCOPED_TRACE("a flush behind two writes (issued when they complete)");
    std::vector<faio_req*> w = WriteBatch(f.fd(), 2);
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, f.fd(), nullptr));
    std::vector<faio_req*> batch = {w[0], w[1], flush};
    AioRefusal how;
    how.fd = f.fd();
    how.fsync_refusals = 1;
    ArmedAioRefusal armed(how);
    EXPECT_ST(FAIO_OK, faio_ctx_submit(ctx, batch.data(), batch.size()));
    ReapExactly(ctx, batch);
    EXPECT_ST(FAIO_OK, faio_req_result(w[0], nullptr));
    EXPECT_ST(FAIO_OK, faio_req_result(w[1], nullptr));
    EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, faio_req_result(flush, nullptr));
    EXPECT_EQ(faio_req_host_error(flush), EAGAIN);
    EXPECT_EQ(SeenAioCalls().fsyncs_refused, 1);
  }
  {
    SCOPED_TRACE("the next flush, glibc taking it again");
    AioRefusal how;
    how.fd = f.fd();
    ArmedAioRefusal armed(how);
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush(flush, f.fd(), nullptr));
    EXPECT_ST(FAIO_OK, Submit1(ctx, flush));
    ReapExactly(ctx, {flush});
    EXPECT_ST(FAIO_OK, faio_req_result(flush, nullptr));
    EXPECT_EQ(SeenAioCalls().fsyncs, 1) << "the flush did not reach aio_fsync";
  }
}

}  // namespace
}  // namespace faio_test
