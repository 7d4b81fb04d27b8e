// host_refusal.h - what the host-refusal tests share: a batch of writes to
// distinct blocks of one file, and the checks of the prefix rule and exact
// counting (docs/contract.md, Submit) once the host refused part of it.
//
// The tests make the host itself refuse - the kernel's io_submit under a
// seccomp supervisor (linux_aio_refusal_test.cc), glibc's lio_listio and
// aio_fsync through link-time wraps (posix_aio_refusal_test.cc) - instead of
// the core's capacity check or the fault backend, which turn requests away
// before a real backend sees them.
#ifndef FAIO_TESTS_HOST_REFUSAL_HOST_REFUSAL_H_
#define FAIO_TESTS_HOST_REFUSAL_HOST_REFUSAL_H_

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "conformance.h"

namespace faio_test {

// RefusalTest runs on one named backend (HostRefusal/Suite.Test/backend).
class RefusalTest : public BackendTest {
 protected:
  static constexpr size_t kBlock = 4096;

  // DirectFd opens f again with O_DIRECT. A transfer through it goes to the
  // host; one through a buffered descriptor of a local file system the core
  // makes itself with pread/pwrite on the backends that allow it (do_now;
  // docs/design.md, "Done at submission"), and the host never sees it.
  static faio_file DirectFd(TempFile& f) {
    faio_file fd = f.Open(O_RDWR | kOpenDirect);
    if (fd < 0) ADD_FAILURE() << "opening " << f.path() << " with O_DIRECT: " << strerror(errno);
    return fd;
  }

  // WriteBatch prepares n writes, request i writing block i of f with its own
  // bytes (kept in data_), from buffers aligned for O_DIRECT.
  std::vector<faio_req*> WriteBatch(faio_file f, size_t n) {
    std::vector<faio_req*> reqs = NewReqs(n);
    data_.clear();
    bufs_.push_back(std::make_unique<AlignedBuffer>(n * kBlock, kBlock));
    unsigned char* buf = bufs_.back()->data();
    for (size_t i = 0; i < n; i++) {
      data_.push_back(RandomBytes(kBlock, static_cast<uint32_t>(1000 + i)));
      std::memcpy(buf + i * kBlock, data_[i].data(), kBlock);
      EXPECT_ST(FAIO_OK, faio_req_prepare_write(reqs[i], f, static_cast<int64_t>(i * kBlock),
                                                buf + i * kBlock, kBlock, nullptr));
    }
    return reqs;
  }

  // ExpectPrefixAccepted: after a submit of reqs that the host cut short after
  // `accepted` of them, exactly those are submitted (in flight or completed
  // with the host) and the rest are prepared, untouched.
  static void ExpectPrefixAccepted(const std::vector<faio_req*>& reqs, size_t accepted) {
    for (size_t i = 0; i < reqs.size(); i++) {
      int s = faio_req_result(reqs[i], nullptr);
      if (i < accepted) {
        EXPECT_NE(s, FAIO_E_NOT_SUBMITTED) << "request " << i << " of the accepted prefix";
      } else {
        EXPECT_ST(FAIO_E_NOT_SUBMITTED, s) << "request " << i << " beyond the accepted prefix";
      }
    }
  }

  // ReapExactly waits for want, each exactly once and nothing else; then the
  // context counts nothing (NO_REQUEST at once).
  void ReapExactly(faio_ctx* ctx, const std::vector<faio_req*>& want) {
    std::vector<faio_req*> got = Reap(ctx, want.size(), milliseconds(10000));
    EXPECT_TRUE(SameSet(got, want)) << "reaped " << got.size() << " of " << want.size();
    ExpectNoneCounted(ctx);
  }

  // ExpectFileHoldsBatch: block i of f holds data_[i], for every i < n.
  void ExpectFileHoldsBatch(TempFile& f, size_t n) {
    Bytes all = f.ReadAll();
    ASSERT_GE(all.size(), n * kBlock);
    for (size_t i = 0; i < n; i++) {
      EXPECT_TRUE(std::equal(data_[i].begin(), data_[i].end(), all.begin() + i * kBlock))
          << "block " << i;
    }
  }

  std::vector<Bytes> data_;
  std::vector<std::unique_ptr<AlignedBuffer>> bufs_;  // the requests' buffers
};

// FAIO_INSTANTIATE_ON(Suite, "posix_aio") runs Suite on that backend alone,
// named like the conformance suite (HostRefusal/Suite.Test/posix_aio), so that
// CI's per-backend filters (e.g. TSan's -E /posix_aio) apply.
#define FAIO_INSTANTIATE_ON(Suite, name)                                             \
  INSTANTIATE_TEST_SUITE_P(HostRefusal, Suite, ::testing::Values(std::string(name)), \
                           ::faio_test::BackendParamName)

}  // namespace faio_test

#endif  // FAIO_TESTS_HOST_REFUSAL_HOST_REFUSAL_H_
