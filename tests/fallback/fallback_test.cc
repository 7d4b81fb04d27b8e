// fallback_test.cc - the "auto" chain under a seccomp filter (libseccomp).
//
// Each case forks a child that installs a filter denying a backend's setup
// system call, then asks the library what "auto" does. The filter cannot be
// removed, hence the child processes.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child.h"
#include "faio/faio.h"

namespace {

using faio_test::ChildResult;
using faio_test::InChild;

// In the child: print the backend auto picks and every backend's probe.
int Report() {
  unsetenv("FAIO_BACKEND");
  faio_ctx* ctx = nullptr;
  int s = faio_ctx_create(&ctx, 8, 0);
  if (s != FAIO_OK) {
    printf("create=%d\n", s);
    return 1;
  }
  printf("auto=%s\n", faio_ctx_backend(ctx));
  faio_ctx_destroy(ctx);
  faio_backend_info info[8];
  size_t n = 0;
  faio_get_backends(info, 8, &n);
  for (size_t i = 0; i < n && i < 8; ++i) {
    printf("%s available=%d status=%d host_error=%d reason=%s\n", info[i].name, info[i].available,
           info[i].status, info[i].host_error, info[i].reason);
  }
  return 0;
}

bool Compiled(const char* name) {
  faio_backend_info info[8];
  size_t n = 0;
  faio_get_backends(info, 8, &n);
  for (size_t i = 0; i < n && i < 8; ++i) {
    if (strcmp(info[i].name, name) == 0) return true;
  }
  return false;
}

bool Available(const char* name) {
  faio_backend_info info[8];
  size_t n = 0;
  faio_get_backends(info, 8, &n);
  for (size_t i = 0; i < n && i < 8; ++i) {
    if (strcmp(info[i].name, name) == 0) return info[i].available != 0;
  }
  return false;
}

TEST(Fallback, IoUringDeniedBySeccompFallsBackToLinuxAio) {
  if (!Available("io_uring") || !Available("linux_aio")) {
    GTEST_SKIP() << "needs io_uring and linux_aio available on this host";
  }
  for (int err : {EPERM, ENOSYS}) {
    SCOPED_TRACE(strerror(err));
    ChildResult r = InChild({"io_uring_setup"}, err, Report);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("auto=linux_aio\n"), std::string::npos) << r.out;
    std::string line = "io_uring available=0 status=" + std::to_string(FAIO_E_NOT_SUPPORTED) +
                       " host_error=" + std::to_string(err) + " reason=";
    EXPECT_NE(r.out.find(line), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(err == EPERM ? "EPERM" : "ENOSYS"), std::string::npos)
        << "the reason names the error: " << r.out;
  }
}

TEST(Fallback, IoUringAndAioDeniedFallsBackToThreads) {
  if (!Compiled("threads")) GTEST_SKIP() << "threads backend not compiled in";
  ChildResult r = InChild({"io_uring_setup", "io_setup"}, EPERM, Report);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("auto=threads\n"), std::string::npos) << r.out;
  if (Compiled("linux_aio")) {
    EXPECT_NE(r.out.find("linux_aio available=0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("io_setup denied with EPERM"), std::string::npos) << r.out;
  }
}

TEST(Fallback, NamedBackendThatIsDeniedIsNotSupportedNeverAFallback) {
  if (!Compiled("io_uring")) GTEST_SKIP() << "io_uring not compiled in";
  ChildResult r = InChild({"io_uring_setup"}, EPERM, [] {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = "io_uring";
    faio_ctx* ctx = nullptr;
    int s = faio_ctx_create_ex(&ctx, &o);
    printf("named=%d ctx=%s\n", s, ctx == nullptr ? "null" : "set");
    setenv("FAIO_BACKEND", "io_uring", 1);
    s = faio_ctx_create(&ctx, 8, 0);
    printf("env=%d\n", s);
    faio_limits lim;
    printf("limits=%d\n", faio_get_limits(&lim));
    return 0;
  });
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("named=" + std::to_string(FAIO_E_NOT_SUPPORTED) + " ctx=null"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("env=" + std::to_string(FAIO_E_NOT_SUPPORTED)), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("limits=" + std::to_string(FAIO_E_NOT_SUPPORTED)), std::string::npos)
      << r.out;
}

TEST(Fallback, WorksAfterFallback) {
  // The backend auto lands on under the filter does real I/O.
  ChildResult r = InChild({"io_uring_setup", "io_setup"}, ENOSYS, [] {
    faio_ctx* ctx = nullptr;
    if (faio_ctx_create(&ctx, 8, 0) != FAIO_OK) return 1;
    char path[] = "/tmp/faio-fallbackXXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    unlink(path);
    char w[100], r[100];
    memset(w, 'x', sizeof w);
    faio_req* q = nullptr;
    faio_req_create(&q);
    faio_req_prepare_write(q, fd, 0, w, sizeof w, nullptr);
    faio_req* out[1];
    uint32_t n = 0;
    if (faio_ctx_submit(ctx, &q, 1) != FAIO_OK) return 3;
    if (faio_ctx_wait(ctx, 1, 5000, out, 1, &n) != FAIO_OK || n != 1) return 4;
    faio_req_prepare_read(q, fd, 0, r, sizeof r, nullptr);
    if (faio_ctx_submit(ctx, &q, 1) != FAIO_OK) return 5;
    if (faio_ctx_wait(ctx, 1, 5000, out, 1, &n) != FAIO_OK || n != 1) return 6;
    size_t t = 0;
    if (faio_req_result(q, &t) != FAIO_OK || t != sizeof r || memcmp(w, r, sizeof r) != 0) {
      return 7;
    }
    printf("backend=%s\n", faio_ctx_backend(ctx));
    faio_req_destroy(q);
    return faio_ctx_destroy(ctx) == FAIO_OK ? 0 : 8;
  });
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("backend=threads"), std::string::npos) << r.out;
}

}  // namespace
