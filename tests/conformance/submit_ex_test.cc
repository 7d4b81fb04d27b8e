// submit_ex_test.cc - faio_ctx_submit_ex (docs/contract.md, Submit): the same
// rules as faio_ctx_submit, and the accepted prefix always written, so a
// caller never probes requests to learn how many went in.
#include "conformance.h"

namespace faio_test {
namespace {

using SubmitEx = BackendTest;

TEST_P(SubmitEx, AllAcceptedCountsTheWholeBatch) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(64 * 7);
  std::vector<faio_req*> reqs = NewReqs(7);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  size_t accepted = 99;
  ASSERT_ST(FAIO_OK, faio_ctx_submit_ex(ctx, reqs.data(), reqs.size(), &accepted));
  EXPECT_EQ(accepted, 7u);
  EXPECT_TRUE(SameSet(Reap(ctx, 7), reqs));
  ExpectNoneCounted(ctx);
}

// Over capacity: exactly the prefix that fits, and it is the prefix that is in
// flight; the rest are prepared and go in when resubmitted.
TEST_P(SubmitEx, CapacityRefusalCountsTheAcceptedPrefix) {
  faio_ctx* ctx = NewCtx(4);
  ASSERT_NE(ctx, nullptr);
  const uint32_t cap = faio_ctx_capacity(ctx);
  ASSERT_GE(cap, 1u);
  ASSERT_LE(cap, 64u) << "capacity 4 was asked";
  const size_t n = cap + 3;
  auto f = NewFile(64 * n);
  std::vector<faio_req*> reqs = NewReqs(n);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  size_t accepted = 99;
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES,
            faio_ctx_submit_ex(ctx, reqs.data(), reqs.size(), &accepted));
  ASSERT_EQ(accepted, cap);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_ST(i < accepted ? FAIO_E_IN_PROGRESS : FAIO_E_NOT_SUBMITTED,
              faio_req_result(reqs[i], nullptr))
        << "request " << i;
  }
  std::vector<faio_req*> in(reqs.begin(), reqs.begin() + cap);
  std::vector<faio_req*> rest(reqs.begin() + cap, reqs.end());
  EXPECT_TRUE(SameSet(Reap(ctx, cap), in));
  accepted = 99;
  ASSERT_ST(FAIO_OK, faio_ctx_submit_ex(ctx, rest.data(), rest.size(), &accepted));
  EXPECT_EQ(accepted, rest.size());
  EXPECT_TRUE(SameSet(Reap(ctx, rest.size()), rest));
  ExpectNoneCounted(ctx);
}

// Every refusal of the whole batch writes 0, and submits nothing.
TEST_P(SubmitEx, RefusedBatchesAcceptNone) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(64 * 3);
  std::vector<faio_req*> reqs = NewReqs(3);
  std::vector<Bytes> bufs;
  PrepareReads(reqs, f->fd(), &bufs);
  size_t accepted = 99;
  // The same request twice.
  std::vector<faio_req*> dup = {reqs[0], reqs[1], reqs[0]};
  EXPECT_ST(FAIO_E_INVALID_STATE, faio_ctx_submit_ex(ctx, dup.data(), dup.size(), &accepted));
  EXPECT_EQ(accepted, 0u);
  // A stale handle last.
  faio_req* gone = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&gone));
  ASSERT_ST(FAIO_OK, faio_req_destroy(gone));
  std::vector<faio_req*> stale = {reqs[0], reqs[1], gone};
  accepted = 99;
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_submit_ex(ctx, stale.data(), stale.size(), &accepted));
  EXPECT_EQ(accepted, 0u);
  // No requests, a null array, a bad context.
  accepted = 99;
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_submit_ex(ctx, reqs.data(), 0, &accepted));
  EXPECT_EQ(accepted, 0u);
  accepted = 99;
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_submit_ex(ctx, nullptr, 1, &accepted));
  EXPECT_EQ(accepted, 0u);
  accepted = 99;
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_submit_ex(nullptr, reqs.data(), 3, &accepted));
  EXPECT_EQ(accepted, 0u);
  // No place for the count: refused, nothing submitted.
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_submit_ex(ctx, reqs.data(), 3, nullptr));
  for (faio_req* r : reqs) EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(r, nullptr));
  ExpectNoneCounted(ctx);
  // All still prepared: they go in whole.
  accepted = 99;
  ASSERT_ST(FAIO_OK, faio_ctx_submit_ex(ctx, reqs.data(), reqs.size(), &accepted));
  EXPECT_EQ(accepted, 3u);
  EXPECT_TRUE(SameSet(Reap(ctx, 3), reqs));
}

FAIO_INSTANTIATE(SubmitEx);

}  // namespace
}  // namespace faio_test
