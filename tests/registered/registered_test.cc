// registered_test.cc - registered resources on every backend:
// faio_ctx_register_buffers and FAIO_CTX_FIXED_FILES with faio_ctx_associate_file.
//
// Registration may be unsupported (FAIO_E_NOT_SUPPORTED: the caller carries on
// without), but it must never change what a request does: every test here moves
// real data through buffers inside, across the edge of and outside the
// registered memory, and compares it byte for byte. The native io_uring backend
// must actually take the registration.
//
// Windows (iocp, threads, and fault over either): no backend has registered
// buffers, so every one must answer FAIO_E_NOT_SUPPORTED, and the core's
// refusal of a registration while requests are in flight (FAIO_E_BUSY) comes
// before the backend is asked. FAIO_CTX_FIXED_FILES is accepted and
// faio_ctx_associate_file ties the HANDLE to the context's completion port
// (iocp) or does nothing (threads); data moves the same either way.
#include "conformance.h"

namespace faio_test {
namespace {

class Registered : public BackendTest {
 protected:
  // Run submits reqs and reaps them all; every one must succeed with its length.
  void RunAll(faio_ctx* ctx, const std::vector<faio_req*>& reqs, const std::vector<size_t>& lens) {
    std::vector<faio_req*> batch = reqs;
    ASSERT_ST(FAIO_OK, faio_ctx_submit(ctx, batch.data(), batch.size()));
    std::vector<faio_req*> got = Reap(ctx, reqs.size());
    ASSERT_EQ(got.size(), reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) {
      size_t n = 0;
      EXPECT_ST(FAIO_OK, faio_req_result(reqs[i], &n)) << "request " << i;
      EXPECT_EQ(n, lens[i]) << "request " << i;
    }
  }
  bool Native() const { return GetParam() == "io_uring"; }

  // kEither: register_buffers may succeed or answer FAIO_E_NOT_SUPPORTED.
  static constexpr int kEither = -1;
#ifdef _WIN32
  static constexpr bool kNoBackendRegisters = true;
#else
  static constexpr bool kNoBackendRegisters = false;
#endif
  // ExpectedRegistration is what faio_ctx_register_buffers must answer on an
  // idle context that has no registration yet (docs/design.md): io_uring takes
  // it; every other backend answers FAIO_E_NOT_SUPPORTED; fault passes it on to
  // its inner backend, which may be io_uring (not on Windows, where no backend
  // has the notion).
  int ExpectedRegistration() const {
    if (Native()) return FAIO_OK;
    if (GetParam() == "fault" && !kNoBackendRegisters) return kEither;
    return FAIO_E_NOT_SUPPORTED;
  }
};
FAIO_INSTANTIATE(Registered);

TEST_P(Registered, BadArgumentsAreInvalidParameter) {
  faio_ctx* ctx = NewCtx(8);
  ASSERT_NE(ctx, nullptr);
  char mem[64];
  faio_buffer ok{mem, sizeof mem};
  faio_buffer null_base{nullptr, 64};
  faio_buffer empty{mem, 0};
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_register_buffers(ctx, nullptr, 1));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_register_buffers(ctx, &ok, 0));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_register_buffers(ctx, &null_base, 1));
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_ctx_register_buffers(ctx, &empty, 1));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_register_buffers(nullptr, &ok, 1));
  faio_ctx* dead = nullptr;
  ASSERT_ST(FAIO_OK, faio_ctx_create(&dead, 4, 0));
  ASSERT_ST(FAIO_OK, faio_ctx_destroy(dead));
  EXPECT_ST(FAIO_E_INVALID_HANDLE, faio_ctx_register_buffers(dead, &ok, 1));
}

TEST_P(Registered, BuffersInsideAcrossAndOutsideMoveTheSameData) {
  faio_ctx* ctx = NewCtx(16);
  ASSERT_NE(ctx, nullptr);
  constexpr size_t kBlock = 4096;
  AlignedBuffer area(8 * kBlock, 4096);  // registered: blocks 0..5; 6..7 are not
  faio_buffer reg[2] = {{area.data(), 3 * kBlock}, {area.data() + 3 * kBlock, 3 * kBlock}};
  int st = faio_ctx_register_buffers(ctx, reg, 2);
  if (Native()) {
    ASSERT_ST(FAIO_OK, st) << "io_uring must take fixed buffers";
  } else if (ExpectedRegistration() != kEither) {
    ASSERT_ST(ExpectedRegistration(), st) << "only io_uring registers buffers";
  } else if (st != FAIO_OK) {
    ASSERT_ST(FAIO_E_NOT_SUPPORTED, st);
  }
  TempFile f;
  ASSERT_TRUE(f.ok());
  // Writes: inside buffer 0, inside buffer 1, across the two, and from outside.
  const size_t starts[] = {0, 4 * kBlock, 2 * kBlock + 100, 6 * kBlock};
  const size_t lens[] = {kBlock, 2 * kBlock, kBlock, 2 * kBlock};
  Bytes expect(8 * kBlock);
  for (size_t i = 0; i < 4; ++i) {
    Bytes b = RandomBytes(lens[i], static_cast<uint32_t>(17 + i));
    std::memcpy(area.data() + starts[i], b.data(), b.size());
  }
  std::vector<faio_req*> w = NewReqs(4);
  std::vector<size_t> wl;
  for (size_t i = 0; i < 4; ++i) {
    // Each lands in its own 16 KiB slot of the file.
    ASSERT_ST(FAIO_OK, faio_req_prepare_write(w[i], f.fd(), static_cast<int64_t>(i * 4 * kBlock),
                                              area.data() + starts[i], lens[i], nullptr));
    wl.push_back(lens[i]);
  }
  Bytes written(area.data(), area.data() + 8 * kBlock);
  RunAll(ctx, w, wl);
  Bytes file = f.ReadAll();
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_GE(file.size(), i * 4 * kBlock + lens[i]);
    EXPECT_EQ(0, std::memcmp(file.data() + i * 4 * kBlock, written.data() + starts[i], lens[i]))
        << "write " << i << " put other bytes in the file";
  }
  // Reads back into the same places (cleared first).
  std::memset(area.data(), 0, 8 * kBlock);
  std::vector<faio_req*> r = NewReqs(4);
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r[i], f.fd(), static_cast<int64_t>(i * 4 * kBlock),
                                             area.data() + starts[i], lens[i], nullptr));
  }
  RunAll(ctx, r, wl);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(0, std::memcmp(area.data() + starts[i], written.data() + starts[i], lens[i]))
        << "read " << i << " brought back other bytes";
  }
  ExpectNoneCounted(ctx);
}

TEST_P(Registered, SecondRegistrationIsRefusedAndInFlightIsBusy) {
  faio_ctx* ctx = NewCtx(8);
  ASSERT_NE(ctx, nullptr);
  char mem[4096];
  faio_buffer b{mem, sizeof mem};
  // A held pipe read keeps the context busy.
  Pipe* p = NewPipe();
  faio_req* r = NewReq();
  char rb[16];
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, p->r, 0, rb, sizeof rb, nullptr));
  ASSERT_ST(FAIO_OK, Submit1(ctx, r));
  // BUSY on every backend: the core refuses before it asks the backend.
  EXPECT_ST(FAIO_E_BUSY, faio_ctx_register_buffers(ctx, &b, 1));
  p->Feed(sizeof rb);
  ASSERT_EQ(Reap(ctx, 1).size(), 1u);
  int first = faio_ctx_register_buffers(ctx, &b, 1);
  if (ExpectedRegistration() != kEither) {
    EXPECT_ST(ExpectedRegistration(), first);
  }
  if (first == FAIO_OK) {
    EXPECT_ST(FAIO_E_INVALID_STATE, faio_ctx_register_buffers(ctx, &b, 1));
  } else {
    EXPECT_ST(FAIO_E_NOT_SUPPORTED, first);
  }
}

TEST_P(Registered, FixedFilesFlagIsAcceptedAndAssociatedFilesWork) {
  faio_ctx* ctx = NewCtx(16, FAIO_CTX_FIXED_FILES);
  ASSERT_NE(ctx, nullptr);
  TempFile a;
  TempFile b;  // not associated: still works
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_ST(FAIO_OK, faio_ctx_associate_file(ctx, a.fd()));
  ASSERT_ST(FAIO_OK, faio_ctx_associate_file(ctx, a.fd()));  // twice: fine
  Bytes da = RandomBytes(10000, 5);
  Bytes db = RandomBytes(7000, 6);
  std::vector<faio_req*> w = NewReqs(2);
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(w[0], a.fd(), 123, da.data(), da.size(), nullptr));
  ASSERT_ST(FAIO_OK, faio_req_prepare_write(w[1], b.fd(), 0, db.data(), db.size(), nullptr));
  RunAll(ctx, w, {da.size(), db.size()});
  faio_req* fl = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_flush(fl, a.fd(), nullptr));
  RunAll(ctx, {fl}, {0});
  Bytes ra(da.size());
  faio_req* r = NewReq();
  ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, a.fd(), 123, ra.data(), ra.size(), nullptr));
  RunAll(ctx, {r}, {ra.size()});
  EXPECT_EQ(ra, da);
  Bytes fb = b.ReadAll();
  ASSERT_EQ(fb.size(), db.size());
  EXPECT_EQ(fb, db);
  // A closed descriptor is refused as ever.
  EXPECT_ST(FAIO_E_BAD_FILE, faio_ctx_associate_file(ctx, ClosedFd()));
}

}  // namespace
}  // namespace faio_test
