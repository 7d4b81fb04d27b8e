// linux_aio_test.cc - what only the linux_aio backend has: a destroyed
// context's kernel AIO context is kept idle and serves the next context of the
// same size (io_destroy waits for an RCU grace period, ~32 ms), and the next
// owner sees nothing of the previous one: no late event of a cancelled poll,
// no wakeup. Linux only (tests/CMakeLists.txt); see
// src/backend/linux_aio/linux_aio_backend.cc (IdleAioContexts, Quiesce).
// That the idle contexts' slots go back when fs.aio-max-nr runs out is
// AioMaxNr.IdleContextsAreGivenBackWhenTheSlotsRunOut (tests/kernel_faults).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "conformance.h"

namespace faio_test {
namespace {

class LinuxAio : public BackendTest {
 protected:
  void SetUp() override {
    if (GetParam() != "linux_aio") GTEST_SKIP() << "linux_aio only";
    BackendTest::SetUp();
  }

  // A context of capacity 4 that the test destroys itself. Host only: every
  // transfer goes to the kernel context, none is made at submission.
  static faio_ctx* Make(int* status) {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = "linux_aio";
    o.capacity = 4;
    o.flags = FAIO_CTX_HOST_ONLY;
    faio_ctx* c = nullptr;
    *status = faio_ctx_create_ex(&c, &o);
    return c;
  }
};
INSTANTIATE_TEST_SUITE_P(Linux, LinuxAio, ::testing::Values(std::string("linux_aio")),
                         ::faio_test::BackendParamName);

// Every "/[aio]" ring of this process holds no unread event: the header the
// kernel maps at the context's address (fs/aio.c, struct aio_ring: id, nr,
// head, tail, magic, ...) has head == tail. Empty: true; else why not.
std::string AioRingsEmpty() {
  FILE* f = fopen("/proc/self/maps", "re");
  if (f == nullptr) return "no /proc/self/maps";
  std::string why;
  char line[512];
  while (fgets(line, sizeof(line), f) != nullptr) {
    if (strstr(line, "/[aio]") == nullptr) continue;
    const auto* h = reinterpret_cast<const unsigned*>(strtoull(line, nullptr, 16));
    const unsigned head = __atomic_load_n(&h[2], __ATOMIC_ACQUIRE);
    const unsigned tail = __atomic_load_n(&h[3], __ATOMIC_ACQUIRE);
    if (h[4] != 0xa10a10a1u) {
      why += "a ring without the magic; ";
    } else if (head != tail) {
      why += "a ring with " + std::to_string((tail - head + h[1]) % h[1]) + " unread events; ";
    }
  }
  fclose(f);
  return why;
}

// The kernel AIO contexts of this process: each maps its ring as "/[aio]".
size_t AioRings() {
  FILE* f = fopen("/proc/self/maps", "re");
  if (f == nullptr) return 0;
  size_t n = 0;
  char line[512];
  while (fgets(line, sizeof(line), f) != nullptr) {
    if (strstr(line, "/[aio]") != nullptr) ++n;
  }
  fclose(f);
  return n;
}

// AioSlots: "fs.aio-nr=N of fs.aio-max-nr=M", every process's kernel AIO
// slots, for a failure message (a context the backend could not park is
// destroyed; the slots say whether the host was short of them then).
std::string AioSlots() {
  auto read = [](const char* path) {
    FILE* f = fopen(path, "re");
    if (f == nullptr) return std::string("?");
    char v[32] = {};
    const bool ok = fgets(v, sizeof(v), f) != nullptr;
    fclose(f);
    std::string s = ok ? v : "?";
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  };
  return "fs.aio-nr=" + read("/proc/sys/fs/aio-nr") +
         " of fs.aio-max-nr=" + read("/proc/sys/fs/aio-max-nr");
}

TEST_P(LinuxAio, ADestroyedContextsKernelContextServesTheNextOneOfItsSize) {
  // One kernel context serves 500 contexts one after another, each with a read
  // through the kernel. What a context left in it (its wake poll, an event
  // unread) would hold one of its ~128 slots for good, and the rounds would
  // run out of them.
  constexpr int kRounds = 500;
  auto file = NewFile();
  ASSERT_TRUE(file->ok());
  int s = 0;
  faio_ctx* first = Make(&s);
  ASSERT_ST(FAIO_OK, s);
  const size_t rings = AioRings();
  ASSERT_GE(rings, 1u) << "no /[aio] mapping in /proc/self/maps";
  ASSERT_ST(FAIO_OK, faio_ctx_destroy(first));
  // Kept idle: its ring is still mapped (io_destroy would have unmapped it).
  EXPECT_EQ(AioRings(), rings) << AioSlots();
  faio_req* r = NewReq();
  Bytes buf(4096);
  for (int round = 0; round < kRounds; ++round) {
    faio_ctx* c = Make(&s);
    ASSERT_ST(FAIO_OK, s) << "round " << round << ", " << AioSlots();
    const int64_t off = 4096 * (round % 8);
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, file->fd(), off, buf.data(), buf.size(), nullptr));
    ASSERT_ST(FAIO_OK, faio_ctx_submit(c, &r, 1)) << "round " << round;
    faio_req* out = nullptr;
    uint32_t count = 0;
    ASSERT_ST(FAIO_OK, faio_ctx_wait(c, 1, 10000, &out, 1, &count));
    ASSERT_EQ(count, 1u);
    size_t bytes = 0;
    ASSERT_ST(FAIO_OK, faio_req_result(r, &bytes)) << "round " << round;
    ASSERT_EQ(bytes, buf.size());
    for (size_t i = 0; i < buf.size(); ++i) {
      ASSERT_EQ(buf[i], static_cast<unsigned char>((off + i) * 7 + 3)) << "byte " << i;
    }
    ASSERT_ST(FAIO_OK, faio_ctx_destroy(c));
    // Taken again each time: no new ring.
    ASSERT_EQ(AioRings(), rings) << "round " << round << ", " << AioSlots();
  }
}

TEST_P(LinuxAio, AReusedKernelContextHoldsNothingOfItsPreviousOwner) {
  // The previous owner leaves what the kernel could still deliver: polls of
  // pipe reads it cancelled (their late events), and a wakeup pending (its
  // wake poll fired, unread). The next owner's waits must see none of it:
  // no completion, no wakeup, nothing that ends a wait early. The backend
  // reads all of it before it parks the context (what it could not read in
  // time makes it destroy the context instead): the parked ring holds no
  // unread event.
  constexpr int kRounds = 20;
  int stale = 0;
  for (int round = 0; round < kRounds; ++round) {
    int s = 0;
    faio_ctx* a = Make(&s);
    ASSERT_ST(FAIO_OK, s);
    Pipe* p = NewPipe();
    std::vector<faio_req*> held = NewReqs(3);
    std::vector<Bytes> bufs(held.size(), Bytes(8));
    for (size_t i = 0; i < held.size(); ++i) {
      ASSERT_ST(FAIO_OK,
                faio_req_prepare_read(held[i], p->r, 0, bufs[i].data(), bufs[i].size(), nullptr));
    }
    ASSERT_ST(FAIO_OK, faio_ctx_submit(a, held.data(), held.size()));
    // Cancelled: completed, no longer counted, and no wait returns them.
    for (faio_req* r : held) ASSERT_ST(FAIO_OK, faio_req_cancel(r));
    for (faio_req* r : held) EXPECT_ST(FAIO_E_CANCELLED, faio_req_result(r, nullptr));
    faio_req* out[4];
    ASSERT_ST(FAIO_OK, faio_ctx_wakeup(a));
    const size_t rings = AioRings();
    ASSERT_ST(FAIO_OK, faio_ctx_destroy(a));
    // Kept idle, with every event the kernel owed it read.
    EXPECT_EQ(AioRings(), rings) << "round " << round << ": not kept idle";
    EXPECT_EQ(AioRingsEmpty(), "") << "round " << round;

    faio_ctx* b = Make(&s);
    ASSERT_ST(FAIO_OK, s);
    EXPECT_EQ(AioRings(), rings) << "round " << round;
    Pipe* q = NewPipe();
    faio_req* r = NewReq();
    Bytes buf(8);
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, q->r, 0, buf.data(), buf.size(), nullptr));
    ASSERT_ST(FAIO_OK, faio_ctx_submit(b, &r, 1));
    uint32_t count = 0;
    s = faio_ctx_wait(b, 1, 20, out, 4, &count);
    if (s != FAIO_E_TIMEOUT) ++stale;
    EXPECT_ST(FAIO_E_TIMEOUT, s) << "round " << round << ": the new owner's wait saw something";
    EXPECT_EQ(count, 0u);
    ASSERT_EQ(q->Feed(8), 8u);
    ASSERT_ST(FAIO_OK, faio_ctx_wait(b, 1, 10000, out, 4, &count));
    ASSERT_EQ(count, 1u);
    EXPECT_EQ(out[0], r);
    size_t bytes = 0;
    EXPECT_ST(FAIO_OK, faio_req_result(r, &bytes));
    EXPECT_EQ(bytes, 8u);
    // Its own wakeup works (with a read in flight: a wait with nothing to
    // wait for is FAIO_E_NO_REQUEST), and it too leaves a cancelled poll.
    ASSERT_ST(FAIO_OK, faio_req_prepare_read(r, q->r, 0, buf.data(), buf.size(), nullptr));
    ASSERT_ST(FAIO_OK, faio_ctx_submit(b, &r, 1));
    ASSERT_ST(FAIO_OK, faio_ctx_wakeup(b));
    EXPECT_ST(FAIO_E_INTERRUPTED, faio_ctx_wait(b, 1, 10000, out, 4, &count));
    ASSERT_ST(FAIO_OK, faio_req_cancel(r));
    ASSERT_ST(FAIO_OK, faio_ctx_destroy(b));
  }
  EXPECT_EQ(stale, 0);
}

TEST_P(LinuxAio, AForkedChildDoesNotTakeItsParentsIdleKernelContext) {
  // Kernel AIO contexts belong to the process that made them; a fork child
  // has none of them. A child that took its parent's idle one would get
  // EINVAL from every io_submit.
  auto file = NewFile();
  ASSERT_TRUE(file->ok());
  int s = 0;
  faio_ctx* a = Make(&s);
  ASSERT_ST(FAIO_OK, s);
  const size_t rings = AioRings();
  ASSERT_ST(FAIO_OK, faio_ctx_destroy(a));
  ASSERT_EQ(AioRings(), rings) << "not kept idle: nothing for the child to mistake";
  const faio_file fd = file->fd();
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << strerror(errno);
  if (pid == 0) {
    int st = 0;
    faio_ctx* c = Make(&st);
    if (st != FAIO_OK) _exit(10);
    faio_req* r = nullptr;
    unsigned char b[512];
    if (faio_req_create(&r) != FAIO_OK) _exit(11);
    if (faio_req_prepare_read(r, fd, 512, b, sizeof(b), nullptr) != FAIO_OK) _exit(12);
    if (faio_ctx_submit(c, &r, 1) != FAIO_OK) _exit(13);
    faio_req* out = nullptr;
    uint32_t count = 0;
    if (faio_ctx_wait(c, 1, 10000, &out, 1, &count) != FAIO_OK || count != 1) _exit(14);
    size_t bytes = 0;
    if (faio_req_result(r, &bytes) != FAIO_OK || bytes != sizeof(b)) _exit(15);
    for (size_t i = 0; i < sizeof(b); ++i) {
      if (b[i] != static_cast<unsigned char>((512 + i) * 7 + 3)) _exit(16);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died: status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: create, 13: submit, 14: wait, 15: result, 16: bytes";
  // The parent's idle one is still there for the parent.
  faio_ctx* b = Make(&s);
  ASSERT_ST(FAIO_OK, s);
  EXPECT_EQ(AioRings(), rings);
  EXPECT_ST(FAIO_OK, faio_ctx_destroy(b));
}

}  // namespace
}  // namespace faio_test
