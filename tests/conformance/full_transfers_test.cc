// full_transfers_test.cc - FAIO_CTX_FULL_TRANSFERS on every backend with the
// host's own short transfers: a pipe read that gets its bytes in pieces is one
// completion with all of them; end of file ends it with what came; the bytes are
// right and nothing is counted twice. (Short transfers the fault backend makes
// up, reads and writes, vectored, errors after a part: tests/faults.)
#include <algorithm>

#include "conformance.h"

namespace faio_test {
namespace {

class FullTransfers : public BackendTest {};
FAIO_INSTANTIATE(FullTransfers);

TEST_P(FullTransfers, PipeReadFedInPiecesIsOneCompletionWithEveryByte) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_FULL_TRANSFERS);
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char buf[12];
  std::memset(buf, 0, sizeof buf);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(p->Feed(3), 3u);
  // Three bytes came: without the flag this read would complete now.
  faio_req* out[2];
  uint32_t n = 0;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 200, out, 2, &n));
  EXPECT_ST(FAIO_E_IN_PROGRESS, Result(r));
  ASSERT_EQ(p->Feed(4), 4u);
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 100, out, 2, &n));
  ASSERT_EQ(p->Feed(5), 5u);
  std::vector<faio_req*> got = Reap(ctx, 2, milliseconds(5000));
  ASSERT_EQ(got.size(), 1u);  // one completion (Reap stops when none is counted)
  size_t bytes = 0;
  ASSERT_ST(FAIO_OK, Result(r, &bytes));
  EXPECT_EQ(bytes, sizeof buf);
  EXPECT_EQ(std::string(buf, sizeof buf), std::string(sizeof buf, 'p'));
  ExpectNoneCounted(ctx);
}

TEST_P(FullTransfers, EndOfFileEndsItWithWhatCame) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_FULL_TRANSFERS);
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char a[4], b[8];
  const faio_buffer segs[] = {{a, sizeof a}, {b, sizeof b}};
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, p->r, 0, segs, 2, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(p->Feed(6), 6u);
  faio_req* out[2];
  uint32_t n = 0;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 200, out, 2, &n));
  p->CloseWriter();  // end of file: the read ends with the 6 bytes
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  size_t bytes = 0;
  ASSERT_ST(FAIO_OK, Result(r, &bytes));
  EXPECT_EQ(bytes, 6u);
  EXPECT_EQ(std::string(a, 4) + std::string(b, 2), std::string(6, 'p'));
  ExpectNoneCounted(ctx);
}

TEST_P(FullTransfers, AFileReadAcrossItsEndIsExact) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_FULL_TRANSFERS);
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(10000);  // byte i is i * 7 + 3
  faio_req* r = NewReq();
  Bytes buf(8192, 0xEE);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 5000, buf.data(), buf.size(), nullptr));
  size_t bytes = 0;
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &bytes));
  ASSERT_EQ(bytes, 5000u);
  for (size_t i = 0; i < bytes; ++i) {
    ASSERT_EQ(buf[i], static_cast<unsigned char>((5000 + i) * 7 + 3)) << "byte " << i;
  }
  EXPECT_EQ(buf[5000], 0xEE);
  ExpectNoneCounted(ctx);
}

TEST_P(FullTransfers, ADirectVectoredReadAcrossTheEndIsExact) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_FULL_TRANSFERS);
  ASSERT_NE(ctx, nullptr);
  DirectFile d = OpenDirectFile();
  if (!d.skip.empty()) GTEST_SKIP() << d.skip;
  ASSERT_TRUE(d.error.empty()) << d.error;
  Bytes content = RandomBytes(5000, 8);  // ends inside the second block
  ASSERT_TRUE(d.file->Write(content));
  const size_t page = std::max<size_t>({d.align.memory, d.align.offset, 4096});
  AlignedBuffer mem(4 * page, page);
  std::memset(mem.data(), 0xEE, 4 * page);
  const faio_buffer segs[] = {{mem.data(), page}, {mem.data() + 2 * page, page}};
  faio_req* r = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, d.fd, 0, segs, 2, nullptr));
  size_t bytes = 0;
  // The first part ends at the end of the file, unaligned; the next part (at
  // an unaligned offset) is at the end: 0 bytes, not a misalignment.
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &bytes));
  ASSERT_EQ(bytes, content.size());
  Bytes got(mem.data(), mem.data() + page);
  got.insert(got.end(), mem.data() + 2 * page, mem.data() + 2 * page + (content.size() - page));
  EXPECT_TRUE(got == content);
  ExpectNoneCounted(ctx);
}

TEST_P(FullTransfers, CancelBetweenPartsOrOfALaterPartAccountsOnce) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_FULL_TRANSFERS);
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char buf[10];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, buf, sizeof buf, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(p->Feed(4), 4u);
  faio_req* out[2];
  uint32_t n = 0;
  // The wait reaps the 4-byte part and hands the rest to the host.
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 200, out, 2, &n));
  int c = faio_req_cancel(r);
  size_t bytes = 0;
  if (c == FAIO_OK) {
    // The second part was withdrawn: cancelled, with the first part's bytes.
    EXPECT_ST(FAIO_E_CANCELLED, Result(r, &bytes));
    EXPECT_EQ(bytes, 4u);
    ExpectNoneCounted(ctx);
  } else {
    // The host could not withdraw it: it completes when the rest comes.
    EXPECT_ST(FAIO_E_IN_PROGRESS, c);
    ASSERT_EQ(p->Feed(6), 6u);
    ASSERT_EQ(Reap(ctx, 1).size(), 1u);
    ASSERT_ST(FAIO_OK, Result(r, &bytes));
    EXPECT_EQ(bytes, sizeof buf);
  }
  EXPECT_EQ(std::string(buf, 4), "pppp");
  RecordProperty("cancel", StatusName(c));
}

}  // namespace
}  // namespace faio_test
