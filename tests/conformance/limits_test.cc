// limits_test.cc - faio_get_limits reports, for the backend "auto" would choose
// or the one FAIO_BACKEND names, the value faio.h and docs/backends.md
// ("Limits") document for it, computed here from the host the same way:
//   io_uring, threads, iocp  FAIO_UNLIMITED (no per-process cap);
//   linux_aio                (fs.aio-max-nr - 1) / 2: the system-wide kernel AIO
//                            pool, two event slots per request in flight and
//                            one more per context;
//   posix_aio, kqueue        the host's per-process cap: FreeBSD the smaller of
//                            vfs.aio.max_aio_queue_per_proc and vfs.aio.max_aio_queue;
//                            elsewhere sysconf(_SC_AIO_MAX), none (-1) on glibc;
//   fault                    its inner backend's.
// buffer_alignment is 0 everywhere (direct I/O alignment is a file's:
// faio_file_alignment). The library reads FAIO_BACKEND at each call, so the
// tests set it in-process and put it back.
#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

#include "conformance.h"

namespace faio_test {
namespace {

// ScopedEnv sets (value non-null) or unsets an environment variable and puts the
// old value back when it goes.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value != nullptr) {
      SetEnv(name, value);
    } else {
      UnsetEnv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      SetEnv(name_, old_.c_str());
    } else {
      UnsetEnv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
long Sysctl(const char* name) {
  int v = 0;
  size_t len = sizeof v;
  return sysctlbyname(name, &v, &len, nullptr, 0) == 0 ? v : -1;
}
#endif

// Documented returns what the documentation says faio_get_limits reports for
// backend `name` on this host; *how says where the number comes from.
faio_limits Documented(const std::string& name, std::string* how) {
  faio_limits lim = {FAIO_UNLIMITED, 0};
  *how = name + ": no per-process cap";
  if (name == "linux_aio") {
#if defined(__linux__)
    FILE* f = std::fopen("/proc/sys/fs/aio-max-nr", "r");
    unsigned long long max_nr = 0;
    bool read = f != nullptr && std::fscanf(f, "%llu", &max_nr) == 1;
    if (f != nullptr) std::fclose(f);
    if (read) {
      unsigned long long n = max_nr == 0 ? 0 : (max_nr - 1) / 2;
      lim.max_requests = n >= FAIO_UNLIMITED ? FAIO_UNLIMITED - 1 : static_cast<uint32_t>(n);
      *how = "linux_aio: (fs.aio-max-nr - 1) / 2 with fs.aio-max-nr = " + std::to_string(max_nr);
    } else {
      *how = "linux_aio: fs.aio-max-nr unreadable";
    }
#endif
  } else if (name == "posix_aio" || name == "kqueue") {
#if defined(__FreeBSD__) || defined(FAIO_FREEBSD_MODEL)
    long per_proc = Sysctl("vfs.aio.max_aio_queue_per_proc");
    long global = Sysctl("vfs.aio.max_aio_queue");
    long cap = per_proc > 0 && (global <= 0 || per_proc < global) ? per_proc : global;
    if (cap > 0) lim.max_requests = static_cast<uint32_t>(cap);
    *how = name + ": min(vfs.aio.max_aio_queue_per_proc " + std::to_string(per_proc) +
           ", vfs.aio.max_aio_queue " + std::to_string(global) + ")";
#elif !defined(_WIN32)
    long v = sysconf(_SC_AIO_MAX);
    if (v > 0) lim.max_requests = static_cast<uint32_t>(v);
    *how = name + ": sysconf(_SC_AIO_MAX) = " + std::to_string(v);
#endif
  }
  return lim;
}

// AutoChoice is the backend a context made by "auto" lands on (FAIO_BACKEND
// unset), or "" when none can be made.
std::string AutoChoice() {
  ScopedEnv env("FAIO_BACKEND", nullptr);
  faio_ctx* c = nullptr;
  if (faio_ctx_create(&c, 0, 0) != FAIO_OK) return "";
  std::string name = faio_ctx_backend(c);
  (void)faio_ctx_destroy(c);
  return name;
}

void ExpectLimits(const faio_limits& want, const std::string& how) {
  faio_limits got;
  std::memset(&got, 0xA5, sizeof got);
  ASSERT_ST(FAIO_OK, faio_get_limits(&got)) << how;
  EXPECT_EQ(got.max_requests, want.max_requests) << how;
  EXPECT_EQ(got.buffer_alignment, want.buffer_alignment) << how;
}

using Limits = BackendTest;

TEST_P(Limits, NamedByFaioBackendReportsItsDocumentedValue) {
  std::string name = GetParam();
  std::string how;
  faio_limits want{};
  ScopedEnv faults("FAIO_FAULTS", nullptr);
  if (name == "fault") {
    // With no spec the fault backend runs over the automatic choice.
    std::string inner = AutoChoice();
    ASSERT_FALSE(inner.empty()) << "no backend is available here";
    want = Documented(inner, &how);
    how = "fault over " + how;
  } else {
    want = Documented(name, &how);
  }
  ScopedEnv env("FAIO_BACKEND", name.c_str());
  ExpectLimits(want, how);
}

TEST_P(Limits, FaultReportsItsInnerBackends) {
  std::string name = GetParam();
  if (FindBackend("fault") == nullptr) GTEST_SKIP() << "the fault backend is not compiled in";
  // The fault backend is never an inner one; under its own name it checks an
  // explicit "inner=auto", which must report the automatic choice's limits.
  std::string inner = name == "fault" ? AutoChoice() : name;
  ASSERT_FALSE(inner.empty()) << "no backend is available here";
  std::string spec = name == "fault" ? "inner=auto" : "inner=" + name;
  ScopedEnv faults("FAIO_FAULTS", spec.c_str());
  ScopedEnv env("FAIO_BACKEND", "fault");
  std::string how;
  faio_limits want = Documented(inner, &how);
  ExpectLimits(want, "fault with " + spec + ": " + how);
}

FAIO_INSTANTIATE(Limits);

TEST(Library, LimitsAreThoseOfTheAutomaticChoice) {
  std::string name = AutoChoice();
  ASSERT_FALSE(name.empty()) << "no backend is available here";
  ScopedEnv env("FAIO_BACKEND", nullptr);
  std::string how;
  faio_limits want = Documented(name, &how);
  ExpectLimits(want, "auto picks " + how);
  {
    ScopedEnv auto_env("FAIO_BACKEND", "auto");
    ExpectLimits(want, "FAIO_BACKEND=auto, " + how);
  }
  {
    ScopedEnv empty_env("FAIO_BACKEND", "");
    ExpectLimits(want, "FAIO_BACKEND empty, " + how);
  }
}

TEST(Library, LimitsOfAnUnknownBackendNameAreAnInvalidParameter) {
  ScopedEnv env("FAIO_BACKEND", "no-such-backend");
  faio_limits lim;
  EXPECT_ST(FAIO_E_INVALID_PARAMETER, faio_get_limits(&lim));
}

}  // namespace
}  // namespace faio_test
