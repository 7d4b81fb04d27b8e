// vectored_test.cc - vectored transfers (docs/contract.md, Requests;
// faio_req_prepare_readv/_writev) on every backend: data byte for byte through 1,
// 2, 17 and FAIO_MAX_SEGMENTS segments of mixed sizes, reads across the end of
// the file, a segment array reused at once by the caller, held pipe reads, direct
// I/O with aligned and misaligned segments, bad input.
#include <algorithm>

#include "conformance.h"

namespace faio_test {
namespace {

constexpr unsigned char kGuard = 0xA5;  // bytes around and after every segment

// FillSegments writes `bytes` into segs in order.
void FillSegments(const std::vector<faio_buffer>& segs, const Bytes& bytes) {
  size_t at = 0;
  for (const faio_buffer& b : segs) {
    std::memcpy(b.base, bytes.data() + at, b.length);
    at += b.length;
  }
}
// JoinSegments: the first n bytes of segs, in order.
Bytes JoinSegments(const std::vector<faio_buffer>& segs, size_t n) {
  Bytes out;
  for (const faio_buffer& b : segs) {
    const auto* p = static_cast<const unsigned char*>(b.base);
    size_t k = std::min(n - out.size(), b.length);
    out.insert(out.end(), p, p + k);
    if (out.size() == n) break;
  }
  return out;
}

// Segments carves `lens` out of one buffer, each followed by a gap of guard
// bytes, so that a transfer writing past a segment's end is seen.
class Segments {
 public:
  explicit Segments(const std::vector<size_t>& lens, size_t gap = 7) {
    size_t total = 0;
    for (size_t l : lens) total += l + gap;
    mem_.assign(total + gap, kGuard);
    size_t at = gap;
    for (size_t l : lens) {
      bufs_.push_back(faio_buffer{mem_.data() + at, l});
      at += l + gap;
    }
  }
  const faio_buffer* data() const { return bufs_.data(); }
  size_t count() const { return bufs_.size(); }
  size_t total() const {
    size_t t = 0;
    for (const faio_buffer& b : bufs_) t += b.length;
    return t;
  }
  void Fill(const Bytes& bytes) { FillSegments(bufs_, bytes); }
  Bytes Joined(size_t n) const { return JoinSegments(bufs_, n); }
  // Untouched: every byte outside the first n bytes of the segments still
  // holds kGuard.
  bool UntouchedBeyond(size_t n) const {
    std::vector<bool> inside(mem_.size(), false);
    size_t left = n;
    for (const faio_buffer& b : bufs_) {
      size_t start = static_cast<size_t>(static_cast<const unsigned char*>(b.base) - mem_.data());
      size_t k = std::min(left, b.length);
      for (size_t i = 0; i < k; ++i) inside[start + i] = true;
      left -= k;
    }
    for (size_t i = 0; i < mem_.size(); ++i) {
      if (!inside[i] && mem_[i] != kGuard) return false;
    }
    return true;
  }

 private:
  Bytes mem_;
  std::vector<faio_buffer> bufs_;
};

// Lengths of `count` segments: mixed sizes from 1 byte up, `total` bytes in all
// at most.
std::vector<size_t> MixedLengths(size_t count, uint32_t seed, size_t max_len) {
  std::mt19937 rng(seed);
  std::vector<size_t> lens(count);
  for (size_t& l : lens) l = 1 + rng() % max_len;
  if (count > 1) lens[1] = 1;  // a one-byte segment in every vector of two or more
  return lens;
}

class Vectored : public BackendTest {};
FAIO_INSTANTIATE(Vectored);

TEST_P(Vectored, DataRoundTripsThrough1_2_17AndMaxSegments) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  TempFile f;
  ASSERT_TRUE(f.ok());
  faio_req* r = NewReq();
  const size_t counts[] = {1, 2, 17, FAIO_MAX_SEGMENTS};
  int64_t off = 4096 + 3;  // not aligned: buffered I/O takes any offset
  for (size_t count : counts) {
    SCOPED_TRACE("segments: " + std::to_string(count));
    Segments w(MixedLengths(count, static_cast<uint32_t>(count), count > 100 ? 300 : 20000));
    Bytes data = RandomBytes(w.total(), static_cast<uint32_t>(count) + 11);
    w.Fill(data);
    ASSERT_ST(FAIO_OK, faio_req_prepare_writev(r, f.fd(), off, w.data(), w.count(), nullptr));
    size_t n = 0;
    ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
    ASSERT_EQ(n, data.size());
    Bytes disk(data.size());
    ASSERT_EQ(PRead(f.fd(), disk.data(), disk.size(), off), static_cast<int64_t>(disk.size()));
    ASSERT_TRUE(disk == data) << "the file does not hold the segments in order";
    // Read back through other segment lengths than the write's.
    Segments rd(MixedLengths(count, static_cast<uint32_t>(count) + 99, count > 100 ? 300 : 20000));
    const size_t want = std::min(rd.total(), data.size());
    ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f.fd(), off, rd.data(), rd.count(), nullptr));
    ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
    ASSERT_EQ(n, want);
    EXPECT_TRUE(rd.Joined(n) == Bytes(data.begin(), data.begin() + static_cast<ptrdiff_t>(n)));
    EXPECT_TRUE(rd.UntouchedBeyond(n)) << "a read wrote outside its segments";
    off += static_cast<int64_t>(data.size()) + 1000;
  }
}

TEST_P(Vectored, ManyVectoredRequestsInOneBatch) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  TempFile f;
  ASSERT_TRUE(f.ok());
  constexpr size_t kReqs = 24;
  std::vector<faio_req*> reqs = NewReqs(kReqs);
  std::vector<std::unique_ptr<Segments>> segs;
  std::vector<Bytes> data;
  for (size_t i = 0; i < kReqs; ++i) {
    segs.push_back(
        std::make_unique<Segments>(MixedLengths(1 + i % 5, static_cast<uint32_t>(i), 3000)));
    data.push_back(RandomBytes(segs[i]->total(), static_cast<uint32_t>(i) + 500));
    segs[i]->Fill(data[i]);
    ASSERT_ST(FAIO_OK, faio_req_prepare_writev(reqs[i], f.fd(), static_cast<int64_t>(i) * 20000,
                                               segs[i]->data(), segs[i]->count(), nullptr));
  }
  ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, reqs.data(), kReqs));
  EXPECT_TRUE(SameSet(Reap(ctx, kReqs), reqs));
  for (size_t i = 0; i < kReqs; ++i) {
    size_t n = 0;
    ASSERT_ST(FAIO_OK, faio_req_result(reqs[i], &n)) << "request " << i;
    ASSERT_EQ(n, data[i].size());
    Bytes disk(n);
    ASSERT_EQ(PRead(f.fd(), disk.data(), n, static_cast<int64_t>(i) * 20000),
              static_cast<int64_t>(n));
    EXPECT_TRUE(disk == data[i]) << "request " << i;
  }
}

TEST_P(Vectored, ReadAcrossTheEndOfTheFileFillsAPrefix) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  auto f = NewFile(10000);  // byte i is i * 7 + 3
  faio_req* r = NewReq();
  Segments s({600, 600, 600});
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f->fd(), 9000, s.data(), s.count(), nullptr));
  size_t n = 0;
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  ASSERT_EQ(n, 1000u);
  Bytes got = s.Joined(n);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(got[i], static_cast<unsigned char>((9000 + i) * 7 + 3)) << "byte " << i;
  }
  EXPECT_TRUE(s.UntouchedBeyond(n));
  // Wholly past the end: 0 bytes, nothing touched.
  Segments past({10, 20});
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f->fd(), 20000, past.data(), past.count(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(past.UntouchedBeyond(0));
}

TEST_P(Vectored, TheSegmentArrayIsCopiedAtPrepare) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  TempFile f;
  ASSERT_TRUE(f.ok());
  faio_req* r = NewReq();
  Bytes a = RandomBytes(1000, 1), b = RandomBytes(3000, 2), junk(5000, 0x11);
  std::vector<faio_buffer> v = {{a.data(), a.size()}, {b.data(), b.size()}};
  ASSERT_ST(FAIO_OK, faio_req_prepare_writev(r, f.fd(), 0, v.data(), v.size(), nullptr));
  v[0] = faio_buffer{junk.data(), junk.size()};  // the caller reuses its array
  v[1] = faio_buffer{nullptr, 0};
  size_t n = 0;
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  ASSERT_EQ(n, 4000u);
  Bytes want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_TRUE(f.ReadAll() == want);
}

TEST_P(Vectored, HeldPipeReadFillsSegmentsInOrder) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  Segments s({3, 5});
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, p->r, 0, s.data(), s.count(), nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_result(r, nullptr));
  // Submitted: another prepare leaves it as it is.
  Segments other({4});
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_prepare_readv(r, p->r, 0, other.data(), 1, nullptr));
  EXPECT_ST(FAIO_E_IN_PROGRESS, faio_req_prepare_writev(r, p->r, 0, other.data(), 1, nullptr));
  ASSERT_EQ(p->Feed(8), 8u);
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  size_t n = 0;
  ASSERT_ST(FAIO_OK, faio_req_result(r, &n));
  ASSERT_EQ(n, 8u);
  EXPECT_TRUE(s.Joined(8) == Bytes(8, 'p'));
  EXPECT_TRUE(s.UntouchedBeyond(8));
  EXPECT_TRUE(other.UntouchedBeyond(0));
}

TEST_P(Vectored, BadInputIsInvalidParameterAndChangesNothing) {
  auto f = NewFile();
  faio_req* r = NewReq();
  char a[16], b[16];
  faio_buffer good[2] = {{a, sizeof a}, {b, sizeof b}};
  int tag = 0;
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f->fd(), 0, good, 2, &tag));
  const faio_buffer null_base[2] = {{a, sizeof a}, {nullptr, 8}};
  const faio_buffer empty[2] = {{a, sizeof a}, {b, 0}};
  // Together more than the largest single transfer (0x7ffff000), never touched.
  const faio_buffer huge[2] = {{a, 0x40000000}, {b, 0x40000000}};
  std::vector<faio_buffer> too_many(FAIO_MAX_SEGMENTS + 1, faio_buffer{a, 1});
  for (int write = 0; write < 2; ++write) {
    auto prep = [&](int64_t off, const faio_buffer* v, size_t count) {
      return write ? faio_req_prepare_writev(r, f->fd(), off, v, count, nullptr)
                   : faio_req_prepare_readv(r, f->fd(), off, v, count, nullptr);
    };
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, prep(0, nullptr, 2));
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, prep(0, good, 0));
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, prep(0, too_many.data(), too_many.size()));
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, prep(0, null_base, 2));
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, prep(0, empty, 2));
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, prep(0, huge, 2));
    EXPECT_ST(FAIO_E_INVALID_PARAMETER, prep(-1, good, 2));
    EXPECT_ST(FAIO_E_INVALID_HANDLE,
              write ? faio_req_prepare_writev(nullptr, f->fd(), 0, good, 2, nullptr)
                    : faio_req_prepare_readv(nullptr, f->fd(), 0, good, 2, nullptr));
  }
  // The most segments is fine.
  EXPECT_ST(FAIO_OK,
            faio_req_prepare_readv(r, f->fd(), 0, too_many.data(), FAIO_MAX_SEGMENTS, &tag));
  // None of the refusals changed the request: it reads what the last good
  // prepare said.
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, f->fd(), 0, good, 2, &tag));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_req_prepare_readv(r, f->fd(), 0, empty, 2, nullptr));
  EXPECT_EQ(faio_req_user(r), &tag);
  size_t n = 0;
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, 32u);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(static_cast<unsigned char>(a[i]), static_cast<unsigned char>(i * 7 + 3));
    EXPECT_EQ(static_cast<unsigned char>(b[i]), static_cast<unsigned char>((16 + i) * 7 + 3));
  }
  // A destroyed request's handle is refused.
  faio_req* gone = nullptr;
  ASSERT_ST(FAIO_OK, faio_req_create(&gone));
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(gone, f->fd(), 0, good, 2, nullptr));
  ASSERT_ST(FAIO_OK, faio_req_destroy(gone));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_req_prepare_readv(gone, f->fd(), 0, good, 2, nullptr));
}

// Whole pages at page-aligned addresses, out of order in memory, on a direct
// file: the vector Windows takes natively (ReadFileScatter/WriteFileGather,
// page by page; docs/backends.md) and every other host as any vector; a read
// that meets the end fills a prefix.
TEST_P(Vectored, DirectIoWholePagesOutOfOrder) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  DirectFile d = OpenDirectFile();
  if (!d.skip.empty()) GTEST_SKIP() << d.skip;
  ASSERT_TRUE(d.error.empty()) << d.error;
  const size_t page = std::max<size_t>({d.align.memory, d.align.offset, 4096});
  AlignedBuffer wmem(12 * page, page), rmem(12 * page, page);
  // Pages 2, 1 and 3 long, placed at pages 8, 0 and 3 of the buffer.
  auto vec = [&](AlignedBuffer& m) {
    return std::vector<faio_buffer>{
        {m.data() + 8 * page, 2 * page}, {m.data(), page}, {m.data() + 3 * page, 3 * page}};
  };
  std::vector<faio_buffer> w = vec(wmem), rd = vec(rmem);
  const size_t total = 6 * page;
  Bytes data = RandomBytes(total, 43);
  FillSegments(w, data);
  faio_req* r = NewReq();
  const int64_t off = static_cast<int64_t>(page) * 2;
  ASSERT_ST(FAIO_OK, faio_req_prepare_writev(r, d.fd, off, w.data(), w.size(), nullptr));
  size_t n = 0;
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  ASSERT_EQ(n, total);
  // The file as plain reads see it: the pages in vector order.
  AlignedBuffer one(total, page);
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, d.fd, off, one.data(), total, nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  ASSERT_EQ(n, total);
  EXPECT_EQ(std::memcmp(one.data(), data.data(), total), 0);
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, d.fd, off, rd.data(), rd.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  ASSERT_EQ(n, total);
  EXPECT_TRUE(JoinSegments(rd, total) == data);
  // From two pages before the end (off + total): two pages, the first two segments'.
  std::memset(rmem.data(), kGuard, 12 * page);
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, d.fd, off + static_cast<int64_t>(total - 2 * page),
                                            rd.data(), rd.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  ASSERT_EQ(n, 2 * page);
  EXPECT_EQ(std::memcmp(rd[0].base, data.data() + total - 2 * page, 2 * page), 0);
  // Past the count the buffer is unspecified (docs/contract.md, Requests):
  // Linux zero-fills what a direct read does not reach; a bounce leaves it.
  // Either way it holds no bytes of the file.
  for (size_t s = 1; s < rd.size(); ++s) {
    const auto* p = static_cast<const unsigned char*>(rd[s].base);
    EXPECT_TRUE(std::all_of(p, p + rd[s].length, [](unsigned char c) { return c == kGuard; }) ||
                std::all_of(p, p + rd[s].length, [](unsigned char c) { return c == 0; }))
        << "segment " << s << " lies past the end: untouched or zero-filled";
  }
  ExpectNoneCounted(ctx);
}

TEST_P(Vectored, DirectIoAlignedAndMisalignedSegments) {
  faio_ctx* ctx = NewCtx();
  ASSERT_NE(ctx, nullptr);
  DirectFile d = OpenDirectFile();
  if (!d.skip.empty()) GTEST_SKIP() << d.skip;
  ASSERT_TRUE(d.error.empty()) << d.error;
  const faio_file fd = d.fd;
  const faio_alignment a = d.align;
  const size_t unit = std::max<size_t>(a.offset, 1);
  const size_t page = std::max<size_t>(a.memory, 4096);
  // Four segments of 1, 3, 2 and 1 units, each at its own aligned address.
  const size_t units[] = {1, 3, 2, 1};
  AlignedBuffer wmem(16 * page + 16 * unit, page), rmem(16 * page + 16 * unit, page);
  std::vector<faio_buffer> w, rd;
  size_t at = 0, total = 0;
  for (size_t u : units) {
    w.push_back(faio_buffer{wmem.data() + at, u * unit});
    rd.push_back(faio_buffer{rmem.data() + at, u * unit});
    at += (u * unit + page - 1) / page * page + page;
    total += u * unit;
  }
  Bytes data = RandomBytes(total, 41);
  FillSegments(w, data);
  faio_req* r = NewReq();
  const int64_t off = static_cast<int64_t>(unit) * 8;
  ASSERT_ST(FAIO_OK, faio_req_prepare_writev(r, fd, off, w.data(), w.size(), nullptr));
  size_t n = 0;
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  ASSERT_EQ(n, total);
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, fd, off, rd.data(), rd.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  ASSERT_EQ(n, total);
  EXPECT_TRUE(JoinSegments(rd, total) == data);
  if (RunningUnderWine()) return;  // Wine does not enforce unbuffered-I/O alignment
  if (a.memory > 1) {
    SCOPED_TRACE("a segment at a misaligned address");
    std::vector<faio_buffer> bad = w;
    bad[2].base = static_cast<unsigned char*>(bad[2].base) + 1;
    for (int write = 0; write < 2; ++write) {
      ASSERT_ST(FAIO_OK, write
                             ? faio_req_prepare_writev(r, fd, off, bad.data(), bad.size(), nullptr)
                             : faio_req_prepare_readv(r, fd, off, bad.data(), bad.size(), nullptr));
      EXPECT_ST(FAIO_E_INVALID_PARAMETER, RunOne(ctx, r));
      EXPECT_EQ(faio_req_host_error(r), kInvalidParameterError);
    }
  }
  if (a.offset > 1) {
    SCOPED_TRACE("a segment of a misaligned length (the total is aligned)");
    std::vector<faio_buffer> bad = w;
    bad[1].length -= unit / 2;
    bad[3].length += unit / 2;
    for (int write = 0; write < 2; ++write) {
      ASSERT_ST(FAIO_OK, write
                             ? faio_req_prepare_writev(r, fd, off, bad.data(), bad.size(), nullptr)
                             : faio_req_prepare_readv(r, fd, off, bad.data(), bad.size(), nullptr));
      EXPECT_ST(FAIO_E_INVALID_PARAMETER, RunOne(ctx, r));
      EXPECT_EQ(faio_req_host_error(r), kInvalidParameterError);
    }
  }
  // The file still holds the first write.
  ASSERT_ST(FAIO_OK, faio_req_prepare_readv(r, fd, off, rd.data(), rd.size(), nullptr));
  ASSERT_ST(FAIO_OK, RunOne(ctx, r, &n));
  EXPECT_EQ(n, total);
  ExpectNoneCounted(ctx);
}

}  // namespace
}  // namespace faio_test
