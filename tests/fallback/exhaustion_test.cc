// exhaustion_test.cc - a backend that exists but has run out of what a context
// needs is *insufficient resources* with the host's code, never *not
// supported*, and "auto" does not take it for absent: it answers the
// exhaustion instead of falling back (docs/contract.md, "Context lifetime").
// Absence (ENOSYS, EPERM) still falls back: fallback_test.cc.
//
// Each case runs in a child process (child.h) that runs out of one thing:
//   descriptors  RLIMIT_NOFILE lowered and every descriptor below it taken;
//   threads      clone/clone3 answering EAGAIN under a seccomp filter
//                (RLIMIT_NPROC does not bind root, which the tests run as);
//   AIO slots    fs.aio-max-nr lowered to what is taken now (fs.aio-nr), so the
//                system-wide kernel AIO pool is exhausted; the parent restores
//                it however the case ends. It is system-wide: ctest runs this
//                binary's tests alone (RUN_SERIAL).
// The child prints what the library answered (create statuses, the backend's
// faio_get_backends entry, which carries the host code); the parent checks it.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child.h"
#include "faio/faio.h"

namespace {

using faio_test::ChildResult;
using faio_test::Denied;
using faio_test::InChild;

const std::string kExhausted = std::to_string(FAIO_E_INSUFFICIENT_RESOURCES);

// ---- the parent's view -------------------------------------------------------------

const faio_backend_info* Backend(const char* name) {
  static faio_backend_info info[16];
  static size_t n = 0;
  if (n == 0 && faio_get_backends(info, 16, &n) != FAIO_OK) return nullptr;
  for (size_t i = 0; i < n && i < 16; ++i) {
    if (strcmp(info[i].name, name) == 0) return &info[i];
  }
  return nullptr;
}

bool Available(const char* name) {
  const faio_backend_info* b = Backend(name);
  return b != nullptr && b->available != 0;
}

// ---- in the child -------------------------------------------------------------------

// TakeAllDescriptors lowers RLIMIT_NOFILE and opens /dev/null until the table is
// full, then closes `spare` of them. False if it could not.
bool TakeAllDescriptors(int spare) {
  struct rlimit rl = {};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  rl.rlim_cur = 64;  // few to take; descriptors above it stay open
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    printf("setrlimit: %s\n", strerror(errno));
    return false;
  }
  std::vector<int> taken;
  for (;;) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno != EMFILE) {
        printf("open: %s\n", strerror(errno));
        return false;
      }
      break;
    }
    taken.push_back(fd);
  }
  for (int i = 0; i < spare && !taken.empty(); ++i) {
    close(taken.back());
    taken.pop_back();
  }
  return true;
}

// Warm makes and destroys one context on `backend` before the child runs out of
// anything, so that what a process does once (the sanitizers' runtime reads
// /proc/self/maps at its first check of a type, which takes a descriptor) is
// done. Prints "warm BACKEND=STATUS" when that fails.
bool Warm(const char* backend, const char* faults = nullptr) {
  faio_ctx_options o;
  faio_ctx_options_init(&o);
  o.backend = backend;
  o.faults = faults;
  faio_ctx* c = nullptr;
  int s = faio_ctx_create_ex(&c, &o);
  if (s != FAIO_OK) {
    printf("warm %s=%d\n", backend, s);
    return false;
  }
  faio_ctx_destroy(c);
  return true;
}

// Named creates a context on `backend` (faults: the fault backend's spec) and
// prints "named BACKEND[ FAULTS]=STATUS".
void Named(const char* backend, const char* faults = nullptr) {
  faio_ctx_options o;
  faio_ctx_options_init(&o);
  o.backend = backend;
  o.faults = faults;
  o.capacity = 8;
  faio_ctx* c = nullptr;
  int s = faio_ctx_create_ex(&c, &o);
  printf("named %s%s%s=%d\n", backend, faults != nullptr ? " " : "",
         faults != nullptr ? faults : "", s);
  if (s == FAIO_OK) faio_ctx_destroy(c);
}

// Auto creates a context on the automatic choice and prints "auto=STATUS" and,
// when one was made, "auto picked NAME".
void Auto() {
  unsetenv("FAIO_BACKEND");
  faio_ctx* c = nullptr;
  int s = faio_ctx_create(&c, 8, 0);
  printf("auto=%d\n", s);
  if (s == FAIO_OK) {
    printf("auto picked %s\n", faio_ctx_backend(c));
    faio_ctx_destroy(c);
  }
}

// Info prints backend's faio_get_backends entry:
// "info NAME available=A status=S host_error=E reason=R".
void Info(const char* name) {
  faio_backend_info info[16];
  size_t n = 0;
  faio_get_backends(info, 16, &n);
  for (size_t i = 0; i < n && i < 16; ++i) {
    if (strcmp(info[i].name, name) != 0) continue;
    printf("info %s available=%d status=%d host_error=%d reason=%s\n", name, info[i].available,
           info[i].status, info[i].host_error, info[i].reason);
  }
}

// Limits prints "limits=STATUS max_requests=N" for the automatic choice.
void Limits() {
  unsetenv("FAIO_BACKEND");
  faio_limits lim = {};
  int s = faio_get_limits(&lim);
  printf("limits=%d max_requests=%u\n", s, lim.max_requests);
}

std::string InfoLine(const char* name, int status, int host_error) {
  return std::string("info ") + name + " available=0 status=" + std::to_string(status) +
         " host_error=" + std::to_string(host_error) + " reason=";
}

bool Has(const ChildResult& r, const std::string& s) { return r.out.find(s) != std::string::npos; }

// ---- descriptors ----------------------------------------------------------------------

TEST(Exhaustion, IoUringOutOfDescriptorsIsInsufficientResourcesAndNoFallback) {
  if (!Available("io_uring")) GTEST_SKIP() << "io_uring is not available here";
  // spare 0: io_uring_setup itself fails; spare 1: the ring is made and the
  // wakeup eventfd fails.
  for (int spare : {0, 1}) {
    SCOPED_TRACE("descriptors left: " + std::to_string(spare));
    ChildResult r = InChild(std::vector<Denied>{}, [spare] {
      if (!Warm("io_uring") || !TakeAllDescriptors(spare)) return 1;
      Named("io_uring");
      Info("io_uring");
      Auto();
      Limits();
      return 0;
    });
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_TRUE(Has(r, "named io_uring=" + kExhausted + "\n")) << r.out;
    EXPECT_TRUE(Has(r, InfoLine("io_uring", FAIO_E_INSUFFICIENT_RESOURCES, EMFILE))) << r.out;
    // io_uring exists here: auto answers its exhaustion, not another backend.
    EXPECT_TRUE(Has(r, "auto=" + kExhausted + "\n")) << r.out;
    EXPECT_FALSE(Has(r, "auto picked")) << r.out;
    // The limits are still io_uring's (it is the one auto would use).
    EXPECT_TRUE(Has(r, "limits=0 max_requests=" + std::to_string(FAIO_UNLIMITED) + "\n")) << r.out;
  }
}

TEST(Exhaustion, LinuxAioOutOfDescriptorsIsInsufficientResourcesAndNoFallback) {
  if (!Available("linux_aio")) GTEST_SKIP() << "linux_aio is not available here";
  // io_uring absent (ENOSYS): linux_aio is auto's first choice.
  ChildResult r = InChild({"io_uring_setup"}, ENOSYS, [] {
    // auto: io_uring's backend object is made (then refused), linux_aio's made.
    if (!Warm("auto") || !TakeAllDescriptors(0)) return 1;
    Named("linux_aio");
    Info("linux_aio");
    Auto();
    return 0;
  });
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "named linux_aio=" + kExhausted + "\n")) << r.out;
  EXPECT_TRUE(Has(r, InfoLine("linux_aio", FAIO_E_INSUFFICIENT_RESOURCES, EMFILE))) << r.out;
  EXPECT_TRUE(Has(r, "auto=" + kExhausted + "\n")) << r.out;
  EXPECT_FALSE(Has(r, "auto picked")) << r.out;
}

TEST(Exhaustion, FaultOverAnExhaustedBackendIsInsufficientResources) {
  if (Backend("fault") == nullptr) GTEST_SKIP() << "the fault backend is not compiled in";
  if (!Available("io_uring")) GTEST_SKIP() << "io_uring is not available here";
  ChildResult r = InChild(std::vector<Denied>{}, [] {
    unsetenv("FAIO_FAULTS");
    if (!Warm("fault", "inner=io_uring") || !Warm("fault", "inner=threads")) return 1;
    if (!TakeAllDescriptors(0)) return 1;
    Named("fault", "inner=io_uring");
    Named("fault", "");  // inner: the automatic choice, io_uring
    Info("fault");
    Named("fault", "inner=threads");  // threads need no descriptor
    return 0;
  });
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "named fault inner=io_uring=" + kExhausted + "\n")) << r.out;
  EXPECT_TRUE(Has(r, "named fault =" + kExhausted + "\n")) << r.out;
  EXPECT_TRUE(Has(r, InfoLine("fault", FAIO_E_INSUFFICIENT_RESOURCES, EMFILE))) << r.out;
  if (Available("threads")) {
    EXPECT_TRUE(Has(r, "named fault inner=threads=0\n")) << r.out;
  }
}

// ---- threads ------------------------------------------------------------------------

TEST(Exhaustion, ThreadsThatCannotStartAreInsufficientResourcesAndNoFallback) {
  if (Backend("threads") == nullptr) GTEST_SKIP() << "threads backend not compiled in";
  // Thread creation fails (EAGAIN, as pthread_create at RLIMIT_NPROC or
  // kernel.threads-max); io_uring and kernel AIO are absent, so threads is
  // auto's choice.
  std::vector<Denied> denied = {
      {"clone", EAGAIN}, {"clone3", EAGAIN}, {"io_uring_setup", ENOSYS}, {"io_setup", ENOSYS}};
  ChildResult r = InChild(denied, [] {
    Named("threads");
    Info("threads");
    Auto();
    Limits();
    if (Backend("fault") != nullptr) Named("fault", "inner=threads");
    return 0;
  });
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "named threads=" + kExhausted + "\n")) << r.out;
  EXPECT_TRUE(Has(r, InfoLine("threads", FAIO_E_INSUFFICIENT_RESOURCES, EAGAIN))) << r.out;
  EXPECT_TRUE(Has(r, "auto=" + kExhausted + "\n")) << r.out;
  EXPECT_TRUE(Has(r, "limits=0 max_requests=" + std::to_string(FAIO_UNLIMITED) + "\n")) << r.out;
  if (Backend("fault") != nullptr) {
    EXPECT_TRUE(Has(r, "named fault inner=threads=" + kExhausted + "\n")) << r.out;
  }
}

// ---- kernel AIO slots ---------------------------------------------------------------

const char kAioMaxNr[] = "/proc/sys/fs/aio-max-nr";
const char kAioNr[] = "/proc/sys/fs/aio-nr";

std::string ReadText(const char* path) {
  FILE* f = fopen(path, "re");
  if (f == nullptr) return "";
  char buf[64] = {};
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
  return buf;
}

// Writes value to path; "" or why not.
std::string WriteText(const char* path, const std::string& value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::string("open ") + path + ": " + strerror(errno);
  std::string line = value + "\n";
  ssize_t n = write(fd, line.data(), line.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return std::string("write ") + path + ": " + strerror(n < 0 ? err : EIO);
  }
  return "";
}

// AioMaxNrLowered sets fs.aio-max-nr to fs.aio-nr (the pool is then exhausted
// for every new io_setup) and puts the old value back when it goes.
class AioMaxNrLowered {
 public:
  AioMaxNrLowered() {
    old_ = ReadText(kAioMaxNr);
    std::string nr = ReadText(kAioNr);
    if (old_.empty() || nr.empty()) {
      why_ = "no /proc/sys/fs/aio-max-nr or aio-nr";
      return;
    }
    why_ = WriteText(kAioMaxNr, nr);
    lowered_ = why_.empty();
  }
  ~AioMaxNrLowered() { Restore(); }
  std::string Restore() {
    if (!lowered_) return "";
    lowered_ = false;
    return WriteText(kAioMaxNr, old_);
  }
  bool ok() const { return lowered_; }
  const std::string& why() const { return why_; }
  const std::string& old_value() const { return old_; }

 private:
  std::string old_;
  std::string why_;
  bool lowered_ = false;
};

TEST(Exhaustion, LinuxAioWithTheAioPoolExhaustedIsInsufficientResourcesAndNoFallback) {
  if (!Available("linux_aio")) GTEST_SKIP() << "linux_aio is not available here";
  ChildResult r;
  std::string restored;
  std::string old;
  {
    AioMaxNrLowered lowered;
    if (!lowered.ok()) {
      GTEST_SKIP() << "cannot lower fs.aio-max-nr (needs root and a writable /proc/sys): "
                   << lowered.why();
    }
    old = lowered.old_value();
    // io_uring absent (ENOSYS): linux_aio is auto's first choice.
    r = InChild({"io_uring_setup"}, ENOSYS, [] {
      Named("linux_aio");
      Info("linux_aio");
      Auto();
      Limits();
      if (Backend("fault") != nullptr) Named("fault", "inner=linux_aio");
      printf("aio-max-nr=%s\n", ReadText(kAioMaxNr).c_str());
      return 0;
    });
    restored = lowered.Restore();
  }
  EXPECT_EQ(restored, "") << "fs.aio-max-nr was not restored to " << old;
  EXPECT_EQ(ReadText(kAioMaxNr), old);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "named linux_aio=" + kExhausted + "\n")) << r.out;
  EXPECT_TRUE(Has(r, InfoLine("linux_aio", FAIO_E_INSUFFICIENT_RESOURCES, EAGAIN))) << r.out;
  EXPECT_TRUE(Has(r, "auto=" + kExhausted + "\n")) << r.out;
  EXPECT_FALSE(Has(r, "auto picked")) << r.out;
  // The limits are linux_aio's: (fs.aio-max-nr - 1) / 2 of the lowered pool.
  size_t at = r.out.find("aio-max-nr=");
  ASSERT_NE(at, std::string::npos) << r.out;
  long max_nr = atol(r.out.c_str() + at + strlen("aio-max-nr="));
  uint32_t expected = max_nr <= 0 ? 0 : static_cast<uint32_t>((max_nr - 1) / 2);
  EXPECT_TRUE(Has(r, "limits=0 max_requests=" + std::to_string(expected) + "\n")) << r.out;
  if (Backend("fault") != nullptr) {
    EXPECT_TRUE(Has(r, "named fault inner=linux_aio=" + kExhausted + "\n")) << r.out;
  }
}

}  // namespace
