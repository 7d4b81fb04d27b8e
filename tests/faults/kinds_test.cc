// kinds_test.cc - each fault the "fault" backend injects, observed through the
// public API on a real file, over every inner backend compiled in: the right
// request gets the right status and host error, the others succeed, and the
// file holds what the fault implies.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "fault_util.h"

namespace faio_fault_test {
namespace {

constexpr size_t kBlock = 4096;

class FaultKinds : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (!BackendAvailable(GetParam(), &why)) {
      GTEST_SKIP() << GetParam() << ": " << why;
    }
  }
  void TearDown() override {
    for (faio_req* r : reqs_) faio_req_destroy(r);
    if (ctx_ != nullptr) {
      EXPECT_ST(FAIO_OK, faio_ctx_destroy(ctx_));
    }
  }

  // Opens a fault context over the parameter's backend with `rules`.
  void Open(const std::string& rules, uint32_t flags = 0) {
    spec_ = "inner=" + GetParam() + (rules.empty() ? "" : "," + rules);
    ASSERT_ST(FAIO_OK, FaultCtx(spec_.c_str(), &ctx_, flags)) << spec_;
    ASSERT_STREQ(faio_ctx_backend(ctx_), "fault");
  }
  void Close() {
    ASSERT_ST(FAIO_OK, faio_ctx_destroy(ctx_));
    ctx_ = nullptr;
  }
  faio_req* Req() {
    faio_req* r = nullptr;
    EXPECT_ST(FAIO_OK, faio_req_create(&r));
    reqs_.push_back(r);
    return r;
  }
  // Submits all of rs (one call) and reaps them all; true when each came back
  // exactly once.
  bool SubmitAndReap(std::vector<faio_req*> rs) {
    int st = faio_ctx_submit(ctx_, rs.data(), rs.size());
    EXPECT_ST(FAIO_OK, st);
    if (st != FAIO_OK) return false;
    return Reap(rs.size(), rs);
  }
  bool Reap(size_t n, const std::vector<faio_req*>& expect) {
    std::vector<faio_req*> got;
    while (got.size() < n) {
      faio_req* out[16];
      uint32_t count = 0;
      int st = faio_ctx_wait(ctx_, 1, 10000, out, 16, &count);
      EXPECT_ST(FAIO_OK, st);
      if (st != FAIO_OK) return false;
      got.insert(got.end(), out, out + count);
    }
    std::vector<faio_req*> a = got, b = expect;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b);
    return a == b;
  }
  std::vector<faio_req*> Writes(const TempFile& f, std::vector<Bytes>* data, size_t n) {
    std::vector<faio_req*> rs;
    for (size_t i = 0; i < n; ++i) {
      data->push_back(Pattern(kBlock, static_cast<uint32_t>(i + 1)));
      faio_req* r = Req();
      EXPECT_ST(FAIO_OK, faio_req_prepare_write(r, f.fd(), static_cast<int64_t>(i * kBlock),
                                                (*data)[i].data(), kBlock, nullptr));
      rs.push_back(r);
    }
    return rs;
  }

  faio_ctx* ctx_ = nullptr;
  std::vector<faio_req*> reqs_;
  std::string spec_;
};

// The core case: "fail the 3rd write with EIO once". The host did write it
// (as after a real EIO its data is unknown); the others are intact.
TEST_P(FaultKinds, NthWriteFailsWithEioOnce) {
  Open("eio/write#3");
  TempFile f;
  std::vector<Bytes> data;
  auto rs = Writes(f, &data, 5);
  ASSERT_TRUE(SubmitAndReap(rs));
  for (size_t i = 0; i < rs.size(); ++i) {
    Outcome o = ResultOf(rs[i]);
    if (i == 2) {
      EXPECT_ST(FAIO_E_IO, o.status);
      EXPECT_EQ(o.host_error, EIO);
      EXPECT_EQ(o.bytes, 0u);
    } else {
      EXPECT_ST(FAIO_OK, o.status) << i;
      EXPECT_EQ(o.bytes, kBlock);
    }
  }
  Bytes disk = f.Read();
  ASSERT_EQ(disk.size(), 5 * kBlock);
  for (size_t i : {0, 1, 3, 4}) {
    EXPECT_TRUE(std::equal(data[i].begin(), data[i].end(), disk.begin() + i * kBlock)) << i;
  }
  // Once: the same request again succeeds.
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(rs[2], f.fd(), 2 * kBlock, data[2].data(), kBlock,
                                            nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx_, rs[2]).status);
}

TEST_P(FaultKinds, PersistentDiskFullFromTheNth) {
  Open("enospc/write#2+");
  TempFile f;
  std::vector<Bytes> data;
  auto rs = Writes(f, &data, 4);
  ASSERT_TRUE(SubmitAndReap(rs));
  EXPECT_ST(FAIO_OK, ResultOf(rs[0]).status);
  for (size_t i = 1; i < 4; ++i) {
    Outcome o = ResultOf(rs[i]);
    EXPECT_ST(FAIO_E_DISK_FULL, o.status) << i;
    EXPECT_EQ(o.host_error, ENOSPC);
  }
  // Reads are not writes: unaffected.
  Bytes buf(kBlock);
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f.fd(), 0, buf.data(), kBlock, nullptr));
  Outcome o = RunOne(ctx_, r);
  EXPECT_ST(FAIO_OK, o.status);
  EXPECT_EQ(buf, data[0]);
}

TEST_P(FaultKinds, FileTooBigAndInterruptedCompletions) {
  Open("efbig/write#1,eintr/read#1");
  TempFile f;
  std::vector<Bytes> data;
  auto w = Writes(f, &data, 1);
  Outcome o = RunOne(ctx_, w[0]);
  EXPECT_ST(FAIO_E_FILE_TOO_BIG, o.status);
  EXPECT_EQ(o.host_error, EFBIG);
  Bytes buf(kBlock);
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f.fd(), 0, buf.data(), kBlock, nullptr));
  o = RunOne(ctx_, r);
  // EINTR as a request's own result is a host error, not a wakeup.
  EXPECT_ST(FAIO_E_HOST, o.status);
  EXPECT_EQ(o.host_error, EINTR);
}

// Refused at submission: the host never sees the request, submit still
// accepts it, and it completes with the error.
TEST_P(FaultKinds, SubmitRejectionCompletesWithTheError) {
  Open("submit-eio/write#2");
  TempFile f;
  std::vector<Bytes> data;
  auto rs = Writes(f, &data, 3);
  ASSERT_TRUE(SubmitAndReap(rs));
  EXPECT_ST(FAIO_OK, ResultOf(rs[0]).status);
  Outcome o = ResultOf(rs[1]);
  EXPECT_ST(FAIO_E_IO, o.status);
  EXPECT_EQ(o.host_error, EIO);
  EXPECT_ST(FAIO_OK, ResultOf(rs[2]).status);
  Bytes disk = f.Read();
  ASSERT_EQ(disk.size(), 3 * kBlock);
  // Nothing unwritten is written: block 1 is still a hole.
  EXPECT_TRUE(std::all_of(disk.begin() + kBlock, disk.begin() + 2 * kBlock,
                          [](unsigned char b) { return b == 0; }));
  EXPECT_TRUE(std::equal(data[2].begin(), data[2].end(), disk.begin() + 2 * kBlock));
}

// A transient refusal (EAGAIN): submit takes the prefix, returns
// insufficient resources, and the rest are prepared again.
TEST_P(FaultKinds, SubmitEagainKeepsThePrefixRule) {
  Open("submit-eagain#3");
  TempFile f;
  std::vector<Bytes> data;
  auto rs = Writes(f, &data, 5);
  size_t accepted = 99;
  ASSERT_ST(FAIO_E_INSUFFICIENT_RESOURCES,
            faio_ctx_submit_ex(ctx_, rs.data(), rs.size(), &accepted));
  EXPECT_EQ(accepted, 2u) << "the host refused the third: the accepted prefix is two";
  for (size_t i = 2; i < 5; ++i) EXPECT_ST(FAIO_E_NOT_SUBMITTED, faio_req_result(rs[i], nullptr));
  ASSERT_TRUE(Reap(2, {rs[0], rs[1]}));
  // The rest go through when submitted again.
  ASSERT_TRUE(SubmitAndReap({rs[2], rs[3], rs[4]}));
  for (faio_req* r : rs) EXPECT_ST(FAIO_OK, ResultOf(r).status);
  Bytes disk = f.Read();
  ASSERT_EQ(disk.size(), 5 * kBlock);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(std::equal(data[i].begin(), data[i].end(), disk.begin() + i * kBlock)) << i;
  }
}

TEST_P(FaultKinds, RefusedFlushIsInsufficientResources) {
  Open("submit-eagain/flush#1");
  TempFile f;
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, f.fd(), nullptr));
  Outcome o = RunOne(ctx_, r);
  EXPECT_ST(FAIO_E_INSUFFICIENT_RESOURCES, o.status);
  EXPECT_EQ(o.host_error, EAGAIN);
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, f.fd(), nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx_, r).status);
}

// A failed flush stays failed (docs/contract.md, Flush) until clear-error.
TEST_P(FaultKinds, FailedFlushIsStickyUntilClearError) {
  Open("eio/flush#1");
  TempFile f;
  std::vector<Bytes> data;
  auto w = Writes(f, &data, 1);
  EXPECT_ST(FAIO_OK, RunOne(ctx_, w[0]).status);
  faio_req* r = Req();
  for (int i = 0; i < 2; ++i) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, f.fd(), nullptr));
    Outcome o = RunOne(ctx_, r);
    EXPECT_ST(FAIO_E_IO, o.status) << i;
    EXPECT_EQ(o.host_error, EIO);
  }
  ASSERT_ST(FAIO_OK, faio_ctx_clear_error(ctx_, f.fd()));
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, f.fd(), nullptr));
  EXPECT_ST(FAIO_OK, RunOne(ctx_, r).status);
}

TEST_P(FaultKinds, ShortReadFillsAPrefix) {
  Open("seed=3,short/read");
  TempFile f;
  Bytes content = Pattern(16 * kBlock, 9);
  ASSERT_TRUE(f.Write(content));
  for (int i = 0; i < 4; ++i) {
    Bytes buf(content.size(), 0xEE);
    faio_req* r = Req();
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f.fd(), 0, buf.data(), buf.size(), nullptr));
    Outcome o = RunOne(ctx_, r);
    ASSERT_ST(FAIO_OK, o.status);
    EXPECT_GT(o.bytes, 0u);
    EXPECT_LT(o.bytes, content.size());
    EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + o.bytes, content.begin()));
    // The host was asked for fewer bytes: the rest of the buffer is untouched.
    EXPECT_TRUE(std::all_of(buf.begin() + o.bytes, buf.end(), [](unsigned char b) { return b == 0xEE; }));
  }
}

// A vectored transfer is cut within its segments: the host is asked for a
// prefix of them, and the request's own vector is whole again afterwards.
TEST_P(FaultKinds, ShortVectoredReadFillsAPrefixOfTheSegments) {
  Open("seed=4,short/read#1");
  TempFile f;
  Bytes content = Pattern(16 * kBlock, 12);
  ASSERT_TRUE(f.Write(content));
  Bytes buf(content.size(), 0xEE);
  // Five segments of 1, 2, 4, 1 and 8 blocks, in order in buf.
  std::vector<faio_buffer> segs;
  size_t at = 0;
  for (size_t blocks : {1, 2, 4, 1, 8}) {
    segs.push_back(faio_buffer{buf.data() + at, blocks * kBlock});
    at += blocks * kBlock;
  }
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f.fd(), 0, segs.data(), segs.size(), nullptr));
  Outcome o = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, o.status);
  EXPECT_GT(o.bytes, 0u);
  EXPECT_LT(o.bytes, content.size());
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + o.bytes, content.begin()));
  EXPECT_TRUE(std::all_of(buf.begin() + o.bytes, buf.end(), [](unsigned char b) { return b == 0xEE; }));
  // Again (the rule fired once): the whole vector is read.
  std::fill(buf.begin(), buf.end(), 0xEE);
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f.fd(), 0, segs.data(), segs.size(), nullptr));
  Outcome again = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, again.status);
  EXPECT_EQ(again.bytes, content.size());
  EXPECT_TRUE(buf == content);
}

TEST_P(FaultKinds, ShortVectoredWriteWritesAPrefix) {
  Open("seed=6,short/write#1");
  TempFile f;
  Bytes data = Pattern(12 * kBlock, 8);
  std::vector<faio_buffer> segs = {{data.data(), 5 * kBlock},
                                   {data.data() + 5 * kBlock, 1},
                                   {data.data() + 5 * kBlock + 1, 7 * kBlock - 1}};
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_writev(r, f.fd(), 0, segs.data(), segs.size(), nullptr));
  Outcome o = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, o.status);
  ASSERT_GT(o.bytes, 0u);
  ASSERT_LT(o.bytes, data.size());
  Bytes disk = f.Read();
  ASSERT_EQ(disk.size(), o.bytes);  // only the prefix reached the file
  EXPECT_TRUE(std::equal(disk.begin(), disk.end(), data.begin()));
  ASSERT_ST(FAIO_OK, faio_req_prepare_writev(r, f.fd(), 0, segs.data(), segs.size(), nullptr));
  Outcome again = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, again.status);
  EXPECT_EQ(again.bytes, data.size());
  EXPECT_EQ(f.Read(), data);
}

TEST_P(FaultKinds, CorruptVectoredReadChangesOneByteInsideTheSegments) {
  Open("seed=9,corrupt/read#1");
  TempFile f;
  Bytes content = Pattern(4 * kBlock, 5);
  ASSERT_TRUE(f.Write(content));
  Bytes a(kBlock + 100, 0xEE), b(3 * kBlock - 100 + 64, 0xEE);
  std::vector<faio_buffer> segs = {{a.data(), kBlock + 100}, {b.data(), 3 * kBlock - 100}};
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f.fd(), 0, segs.data(), segs.size(), nullptr));
  Outcome o = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, o.status);
  ASSERT_EQ(o.bytes, content.size());
  Bytes got(a.begin(), a.end());
  got.insert(got.end(), b.begin(), b.begin() + static_cast<ptrdiff_t>(3 * kBlock - 100));
  size_t differ = 0;
  for (size_t i = 0; i < content.size(); ++i) differ += got[i] != content[i];
  EXPECT_EQ(differ, 1u);
  EXPECT_TRUE(std::all_of(b.end() - 64, b.end(), [](unsigned char c) { return c == 0xEE; }));
}

// FAIO_CTX_FULL_TRANSFERS: every part of a transfer is cut short here (the rule
// fires on each), and the caller still sees one completion with every byte.
TEST_P(FaultKinds, FullTransfersCompleteReadsCutShortEveryTime) {
  Open("seed=21,short/read", FAIO_CTX_FULL_TRANSFERS);
  TempFile f;
  Bytes content = Pattern(64 * kBlock, 3);
  ASSERT_TRUE(f.Write(content));
  constexpr size_t kReqs = 8;
  std::vector<faio_req*> rs;
  std::vector<Bytes> bufs(kReqs, Bytes(8 * kBlock, 0xEE));
  for (size_t i = 0; i < kReqs; ++i) {
    rs.push_back(Req());
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(rs[i], f.fd(), static_cast<int64_t>(i * 8 * kBlock),
                                             bufs[i].data(), bufs[i].size(), nullptr));
  }
  ASSERT_TRUE(SubmitAndReap(rs));  // each exactly once
  for (size_t i = 0; i < kReqs; ++i) {
    Outcome o = ResultOf(rs[i]);
    ASSERT_ST(FAIO_OK, o.status) << "request " << i;
    EXPECT_EQ(o.bytes, 8 * kBlock);
    EXPECT_TRUE(std::equal(bufs[i].begin(), bufs[i].end(), content.begin() + static_cast<ptrdiff_t>(i * 8 * kBlock)))
        << "request " << i;
  }
  uint32_t n = 0;
  faio_req* out[1];
  EXPECT_ST(FAIO_E_NO_REQUEST, faio_ctx_wait(ctx_, 1, 0, out, 1, &n));  // nothing more comes
}

TEST_P(FaultKinds, FullTransfersCompleteVectoredReadsAndWritesAndEndAtEof) {
  Open("seed=22,short/read,short/write", FAIO_CTX_FULL_TRANSFERS);
  TempFile f;
  Bytes data = Pattern(24 * kBlock + 100, 6);  // the file ends 100 bytes into a block
  std::vector<faio_buffer> w = {{data.data(), 5 * kBlock},
                                {data.data() + 5 * kBlock, 3},
                                {data.data() + 5 * kBlock + 3, data.size() - 5 * kBlock - 3}};
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_writev(r, f.fd(), 0, w.data(), w.size(), nullptr));
  Outcome o = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, o.status);
  ASSERT_EQ(o.bytes, data.size());
  ASSERT_EQ(f.Read(), data);
  // A vectored read of more than the file holds: every byte up to its end.
  Bytes back(32 * kBlock, 0xEE);
  std::vector<faio_buffer> rd = {{back.data(), 7 * kBlock + 1},
                                 {back.data() + 7 * kBlock + 1, 25 * kBlock - 1}};
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f.fd(), 0, rd.data(), rd.size(), nullptr));
  o = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, o.status);
  ASSERT_EQ(o.bytes, data.size());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), back.begin()));
  EXPECT_TRUE(std::all_of(back.begin() + static_cast<ptrdiff_t>(data.size()), back.end(),
                          [](unsigned char b) { return b == 0xEE; }));
}

TEST_P(FaultKinds, FullTransfersReportTheBytesBeforeAnError) {
  Open("seed=23,short/read#1,eio/read#2", FAIO_CTX_FULL_TRANSFERS);
  TempFile f;
  Bytes content = Pattern(16 * kBlock, 2);
  ASSERT_TRUE(f.Write(content));
  Bytes buf(content.size(), 0xEE);
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f.fd(), 0, buf.data(), buf.size(), nullptr));
  Outcome o = RunOne(ctx_, r);
  EXPECT_ST(FAIO_E_IO, o.status);
  EXPECT_EQ(o.host_error, EIO);
  ASSERT_GT(o.bytes, 0u);  // the first, short part
  ASSERT_LT(o.bytes, content.size());
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(o.bytes), content.begin()));
}

TEST_P(FaultKinds, ShortWriteWritesAPrefix) {
  Open("seed=5,short/write#1");
  TempFile f;
  Bytes data = Pattern(16 * kBlock, 4);
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, f.fd(), 0, data.data(), data.size(), nullptr));
  Outcome o = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, o.status);
  ASSERT_GT(o.bytes, 0u);
  ASSERT_LT(o.bytes, data.size());
  Bytes disk = f.Read();
  ASSERT_EQ(disk.size(), o.bytes);  // only the prefix reached the file
  EXPECT_TRUE(std::equal(disk.begin(), disk.end(), data.begin()));
  // The caller finishes the transfer: the second write is not faulted.
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, f.fd(), static_cast<int64_t>(o.bytes),
                                            data.data() + o.bytes, data.size() - o.bytes,
                                            nullptr));
  Outcome rest = RunOne(ctx_, r);
  ASSERT_ST(FAIO_OK, rest.status);
  EXPECT_EQ(rest.bytes, data.size() - o.bytes);
  EXPECT_EQ(f.Read(), data);
}

TEST_P(FaultKinds, CorruptReadDiffersFromTheFile) {
  Open("seed=11,corrupt/read#2");
  TempFile f;
  Bytes content = Pattern(4 * kBlock, 21);
  ASSERT_TRUE(f.Write(content));
  for (int i = 0; i < 3; ++i) {
    Bytes buf(content.size());
    faio_req* r = Req();
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f.fd(), 0, buf.data(), buf.size(), nullptr));
    Outcome o = RunOne(ctx_, r);
    ASSERT_ST(FAIO_OK, o.status);
    ASSERT_EQ(o.bytes, content.size());
    size_t differ = 0;
    for (size_t k = 0; k < buf.size(); ++k) differ += buf[k] != content[k];
    EXPECT_EQ(differ, i == 1 ? 1u : 0u) << "read " << i + 1;
  }
  EXPECT_EQ(f.Read(), content);  // the file itself is intact
}

TEST_P(FaultKinds, DelayHoldsTheCompletion) {
  Open("delay=60ms/read");
  TempFile f;
  ASSERT_TRUE(f.Write(Pattern(kBlock, 2)));
  Bytes buf(kBlock);
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, f.fd(), 0, buf.data(), kBlock, nullptr));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx_, &r, 1));
  faio_req* out[2];
  uint32_t count = 7;
  EXPECT_ST(FAIO_E_TIMEOUT, faio_ctx_wait(ctx_, 1, 10, out, 2, &count));
  EXPECT_EQ(count, 0u);
  // Held completions are still cancellable only as "completed".
  EXPECT_ST(FAIO_E_COMPLETED, faio_req_cancel(r));
  ASSERT_ST(FAIO_OK, faio_ctx_wait(ctx_, 1, 10000, out, 2, &count));
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0], r);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(60));
  EXPECT_ST(FAIO_OK, ResultOf(r).status);
  EXPECT_EQ(buf, Pattern(kBlock, 2));
}

// reorder: completions come back out of submission order, each once.
TEST_P(FaultKinds, ReorderedCompletions) {
  Open("seed=2,reorder=4ms");
  TempFile f;
  std::vector<Bytes> data;
  auto rs = Writes(f, &data, 24);
  for (faio_req* r : rs) ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx_, &r, 1));
  std::vector<faio_req*> order;
  while (order.size() < rs.size()) {
    faio_req* out[1];
    uint32_t count = 0;
    ASSERT_ST(FAIO_OK, faio_ctx_wait(ctx_, 1, 10000, out, 1, &count));
    order.push_back(out[0]);
  }
  EXPECT_NE(order, rs);
  std::vector<faio_req*> a = order, b = rs;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  for (faio_req* r : rs) EXPECT_ST(FAIO_OK, ResultOf(r).status);
}

// Power loss at destroy: the file keeps what was flushed, loses the rest.
TEST_P(FaultKinds, CrashAtDestroyDropsUnflushedWrites) {
  Open("crash");
  TempFile f;
  Bytes a = Pattern(2 * kBlock, 31);
  Bytes b = Pattern(2 * kBlock, 32);
  faio_req* r = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, f.fd(), 0, a.data(), a.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx_, r).status);
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(r, f.fd(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx_, r).status);
  // Overwrites half of a and extends the file; acknowledged but never flushed.
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, f.fd(), kBlock, b.data(), b.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx_, r).status);
  ASSERT_EQ(f.Read().size(), 3 * kBlock);
  Close();
  EXPECT_EQ(f.Read(), a);
}

// Power loss at the Nth request: it and all later requests fail with EIO.
TEST_P(FaultKinds, CrashAtTheNthRequest) {
  Open("crash#5");
  TempFile f;
  std::vector<Bytes> data;
  auto w = Writes(f, &data, 4);
  ASSERT_TRUE(SubmitAndReap({w[0], w[1]}));  // requests 1, 2
  faio_req* fl = Req();
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(fl, f.fd(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx_, fl).status);  // 3
  EXPECT_ST(FAIO_OK, RunOne(ctx_, w[2]).status);  // 4: written, not flushed
  // 5: power lost. (A request still in flight then would fail too.)
  Outcome o = RunOne(ctx_, w[3]);
  EXPECT_ST(FAIO_E_IO, o.status);
  EXPECT_EQ(o.host_error, EIO);
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(fl, f.fd(), nullptr));
  EXPECT_ST(FAIO_E_IO, RunOne(ctx_, fl).status);
  Close();
  Bytes disk = f.Read();
  ASSERT_EQ(disk.size(), 2 * kBlock);  // write 4 extended the file; lost
  EXPECT_TRUE(std::equal(data[0].begin(), data[0].end(), disk.begin()));
  EXPECT_TRUE(std::equal(data[1].begin(), data[1].end(), disk.begin() + kBlock));
}

// The same seed injects the same faults; another seed others.
TEST_P(FaultKinds, SeedReproducesARun) {
  auto run = [&](const char* seed) {
    Open(std::string(seed) + ",eio%3");
    TempFile f;
    std::vector<Bytes> data;
    auto rs = Writes(f, &data, 24);
    std::vector<int> failed;
    for (size_t i = 0; i < rs.size(); ++i) {
      if (RunOne(ctx_, rs[i]).status != FAIO_OK) failed.push_back(static_cast<int>(i));
    }
    Close();
    return failed;
  };
  std::vector<int> a = run("seed=17");
  EXPECT_FALSE(a.empty());
  EXPECT_LT(a.size(), 24u);
  EXPECT_EQ(run("seed=17"), a);
  EXPECT_NE(run("seed=18"), a);
}

INSTANTIATE_TEST_SUITE_P(Inner, FaultKinds, ::testing::ValuesIn(InnerBackends()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FaultKinds);

}  // namespace
}  // namespace faio_fault_test

namespace faio_fault_test {
namespace {

// 'log' tells on stderr what was injected, naming the request.
TEST(FaultLog, EachInjectedFaultIsLogged) {
  faio_ctx* c = nullptr;
  ASSERT_ST(FAIO_OK, FaultCtx("inner=threads,log,eio/write#2", &c));
  TempFile f;
  Bytes data = Pattern(1024, 3);
  faio_req* r = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&r));
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 2; ++i) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(r, f.fd(), 4096, data.data(), data.size(), nullptr));
    EXPECT_ST(i == 0 ? FAIO_OK : FAIO_E_IO, RunOne(c, r).status);
  }
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("faio fault: request 2 (write, 1024 bytes at 4096): error: "), std::string::npos)
      << log;
  EXPECT_EQ(log.find("request 1 "), std::string::npos) << log;
  EXPECT_ST(FAIO_OK, faio_req_destroy(r));
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(c));
}

}  // namespace
}  // namespace faio_fault_test
