// done_now_test.cc - transfers done at submission (docs/contract.md, Submit, "Done
// at submission"): on Linux a cached read or a buffered write to a local file
// system is made by the submitting thread on io_uring (one-request submits),
// linux_aio, threads and posix_aio; its completion still comes only through a
// wait, a cancel answers *completed*, a waiter blocked on another thread is
// woken for it, and what the submitter cannot do goes to the host unchanged.
// The tests run on every backend; only the "made by submit" checks depend on
// the contract's list.
#include <fcntl.h>
#include <unistd.h>

#include <thread>

#include "conformance.h"

namespace faio_test {
namespace {

class DoneNow : public BackendTest {
 protected:
  // Backends the contract names for one-request submits of buffered transfers.
  bool MadeBySubmit() const {
    return GetParam() == "io_uring" || GetParam() == "linux_aio" || GetParam() == "threads" ||
           GetParam() == "posix_aio";
  }
  // ExpectFileHolds: f holds want at off (read back with a plain pread).
  static void ExpectFileHolds(TempFile* f, int64_t off, const Bytes& want) {
    Bytes back(want.size());
    ASSERT_EQ(PRead(f->fd(), back.data(), back.size(), off), static_cast<int64_t>(want.size()));
    EXPECT_EQ(back, want);
  }
  // A 64 KiB file in TempDir (ext4, XFS or tmpfs on the machines the suite
  // runs on: local file systems), written through the page cache, so cached.
  std::unique_ptr<TempFile> CachedFile() { return NewFile(64 * 1024); }
};
FAIO_INSTANTIATE(DoneNow);

TEST_P(DoneNow, WriteIsInTheFileWhenSubmitReturnsAndComesBackThroughAWait) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = CachedFile();
  Bytes data = RandomBytes(4096, 71);
  faio_req* w = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(w, f->fd(), 8192, data.data(), data.size(), nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, w));
  if (MadeBySubmit()) {
    Bytes now(4096);
    ASSERT_EQ(PRead(f->fd(), now.data(), now.size(), 8192), 4096);
    EXPECT_EQ(now, data) << "the write was not made by the submitting thread";
    EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(w, nullptr))
        << "done at submission, but completed only by a wait";
    EXPECT_ST(FAIO_E_COMPLETED, faio_req_cancel(w)) << "a cancel finds it done";
  }
  std::vector<faio_req*> got = Reap(ctx, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], w);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(w, &n));
  EXPECT_EQ(n, 4096u);
  ExpectFileHolds(f.get(), 8192, data);
  ExpectNoneCounted(ctx);
}

// The flush barrier holds for transfers done at submission: a flush submitted
// after writes that submit made itself is never returned by an earlier wait than
// the last of them (docs/contract.md, Flush). A waiter on another thread takes
// one completion per wait and is usually already blocked when the writes and the
// flush are submitted (the case where a flush that skipped the barrier would come
// back first: it reaches the host while the writes sit in the local list). Many
// rounds, the writes in their own submits (done now) or in one batch with the
// flush.
TEST_P(DoneNow, FlushComesBackNoEarlierThanWritesDoneAtSubmission) {
  faio_ctx* ctx = NewCtx(8);
  ASSERT_NE(ctx, nullptr);
  auto f = CachedFile();
  std::vector<faio_req*> reqs = NewReqs(3);  // two writes, then the flush
  Bytes a = RandomBytes(4096, 5), b = RandomBytes(4096, 6);
  const int rounds = kSanitized ? 80 : 300;
  for (int round = 0; round < rounds; round++) {
    const int64_t off = (round % 8) * 8192;
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[0], f->fd(), off, a.data(), a.size(), nullptr));
    ASSERT_ST(FAIO_OK,
              faio_req_prepare_write(reqs[1], f->fd(), off + 4096, b.data(), b.size(), nullptr));
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush(reqs[2], f->fd(), nullptr));
    std::vector<faio_req*> order;
    std::atomic<bool> started{false};
    std::thread waiter([&] {
      started.store(true);
      Clock::time_point end = Clock::now() + std::chrono::seconds(10);
      while (order.size() < 3 && Clock::now() < end) {
        faio_req* out[1];
        uint32_t n = 0;
        int s = faio_ctx_wait(ctx, 1, 1000, out, 1, &n);
        if (s == FAIO_OK && n == 1) order.push_back(out[0]);
      }
    });
    while (!started.load()) std::this_thread::yield();
    if (round % 3 != 2) SleepMs(round % 3);  // mostly with the waiter blocked
    if (round % 2 == 0) {
      ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[0]));
      ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[1]));
      ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[2]));
    } else {
      ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), 3));
    }
    waiter.join();
    ASSERT_EQ(order.size(), 3u) << "round " << round;
    ASSERT_EQ(order[2], reqs[2]) << "round " << round << ": the flush came back before a write";
    for (faio_req* r : reqs) {
      size_t n = 0;
      ASSERT_ST(FAIO_OK, faio_req_result(r, &n));
    }
  }
  ExpectFileHolds(f.get(), 0, a);
  ExpectNoneCounted(ctx);
}

TEST_P(DoneNow, CachedReadIsMadeBySubmitAndComesBackThroughAWait) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = CachedFile();
  Bytes buf(4096, 0xEE);
  faio_req* r = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 4096, buf.data(), buf.size(), nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  if (MadeBySubmit()) {
    EXPECT_EQ(buf[0], static_cast<unsigned char>(4096 * 7 + 3))
        << "the cached read was not made by the submitting thread";
    EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr));
    EXPECT_ST(FAIO_E_COMPLETED, faio_req_cancel(r));
  }
  std::vector<faio_req*> got = Reap(ctx, 1);
  ASSERT_EQ(got.size(), 1u);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
  ASSERT_EQ(n, 4096u);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(buf[i], static_cast<unsigned char>((4096 + i) * 7 + 3)) << "byte " << i;
  }
}

// A read that reaches past the end of the file is short: the submitter leaves
// it to the host, which reports the bytes there are.
TEST_P(DoneNow, ReadAcrossTheEndOfTheFileIsShort) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = CachedFile();
  Bytes buf(8192);
  faio_req* r = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f->fd(), 60 * 1024, buf.data(), buf.size(), nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
  EXPECT_EQ(n, 4096u);
  EXPECT_EQ(buf[4095], static_cast<unsigned char>((60 * 1024 + 4095) * 7 + 3));
}

// The waiter is blocked on a held pipe read when another thread submits a
// write the submitter makes itself: the wait returns it at once (it must be
// woken), and the pipe read stays in flight.
TEST_P(DoneNow, BlockedWaiterIsWokenForATransferMadeOnAnotherThread) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = CachedFile();
  Pipe* p = NewPipe();
  char pbuf[1];
  faio_req* held = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(held, p->r, 0, pbuf, 1, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, held));
  Bytes data = RandomBytes(4096, 5);
  faio_req* w = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(w, f->fd(), 0, data.data(), data.size(), nullptr));
  LateSubmit late = WaitWhileSubmittedLater(ctx, w);
  EXPECT_ST(FAIO_OK, late.status);
  ASSERT_EQ(late.count, 1u);
  EXPECT_EQ(late.first, w);
  EXPECT_GE(late.ms, 90) << "returned before the submit";
  EXPECT_LT(late.ms, 100 + LateMs()) << "the blocked wait was not woken for the submitted write";
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(held, nullptr));
  ASSERT_EQ(p->Feed(1), 1u);
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  EXPECT_ST(FAIO_OK, faio_req_result(held, nullptr));
}

// One batch: a cached read, a read of an empty pipe, a buffered write. The
// submitter may make the first itself; the pipe read goes to the host and the
// write follows it there (or is made now); every one comes back once.
TEST_P(DoneNow, BatchMixingBothKindsReturnsEachOnce) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = CachedFile();
  Pipe* p = NewPipe();
  Bytes rbuf(4096), wdata = RandomBytes(4096, 9);
  char pbuf[1];
  std::vector<faio_req*> reqs = NewReqs(3);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[0], f->fd(), 0, rbuf.data(), 4096, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[1], p->r, 0, pbuf, 1, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[2], f->fd(), 16384, wdata.data(), 4096, nullptr));
  size_t accepted = 99;
  ASSERT_ST(FAIO_OK, faio_ctx_submit_ex(ctx, reqs.data(), reqs.size(), &accepted));
  EXPECT_EQ(accepted, 3u);
  ASSERT_EQ(p->Feed(1), 1u);
  std::vector<faio_req*> got = Reap(ctx, 3);
  EXPECT_TRUE(SameSet(got, reqs));
  for (faio_req* r : reqs) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  EXPECT_EQ(rbuf[100], static_cast<unsigned char>(100 * 7 + 3));
  ExpectFileHolds(f.get(), 16384, wdata);
  ExpectNoneCounted(ctx);
}

// The context learns what a descriptor number is once; a number closed and
// reopened as a pipe must still reach the host (a read of an empty pipe stays
// in flight until fed), not be taken for the file it was.
TEST_P(DoneNow, DescriptorNumberReusedForAPipeGoesToTheHost) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = CachedFile();
  int fd = dup(f->fd());
  ASSERT_GE(fd, 0);
  Bytes buf(4096);
  faio_req* r = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 0, buf.data(), 4096, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  ASSERT_ST(FAIO_OK, faio_req_result(r, nullptr));
  Pipe* p = NewPipe();
  ASSERT_EQ(dup2(p->r, fd), fd);  // the number is now the pipe's read end
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, fd, 0, buf.data(), 1, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  faio_req* out[2];
  uint32_t count = 0;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx, 1, 100, out, 2, &count))
      << "a read of an empty pipe completed";
  ASSERT_EQ(p->Feed(1), 1u);
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  size_t n = 0;
  EXPECT_ST(FAIO_OK, faio_req_result(r, &n));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(buf[0], 'p');
  close(fd);
}

// FAIO_CTX_HOST_ONLY: the same write and read, all through the host, with the
// same outcome (that the host saw them is checked where a host can be watched:
// tests/host_refusal, PosixAioRefusal.HostOnlyContextHandsEveryTransferToGlibc).
TEST_P(DoneNow, HostOnlyContextGivesTheSameResults) {
  faio_ctx* ctx = NewCtx(0, FAIO_CTX_HOST_ONLY);
  ASSERT_NE(ctx, nullptr);
  auto f = CachedFile();
  Bytes data = RandomBytes(4096, 13), back(4096);
  std::vector<faio_req*> reqs = NewReqs(2);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(reqs[0], f->fd(), 0, data.data(), 4096, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[0]));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(reqs[1], f->fd(), 0, back.data(), 4096, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, reqs[1]));
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  for (faio_req* r : reqs) EXPECT_ST(FAIO_OK, faio_req_result(r, nullptr));
  EXPECT_EQ(back, data);
}

}  // namespace
}  // namespace faio_test
