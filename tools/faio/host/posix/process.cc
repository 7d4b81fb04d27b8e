// process.cc - the faio tool's process-wide host layer on POSIX hosts (see
// host/host.h).
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "host/host.h"

namespace faio::tool {
namespace {

// Set by the signal handler, read by every job thread: a lock-free atomic is
// both async-signal-safe and race-free across threads.
std::atomic<int> g_interrupted{0};
static_assert(std::atomic<int>::is_always_lock_free);

void OnInterrupt(int) { g_interrupted.store(1, std::memory_order_relaxed); }

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

void InstallInterruptHandler() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a blocking call returns EINTR and the loop looks at the flag.
  // SA_RESETHAND: a second Ctrl-C ends the process at once.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool Interrupted() { return g_interrupted.load(std::memory_order_relaxed) != 0; }

AlignedBuffer AllocAligned(size_t alignment, size_t size) {
  void* p = nullptr;
  if (posix_memalign(&p, alignment, size) != 0) return nullptr;
  return AlignedBuffer(static_cast<std::byte*>(p));
}

void FreeAligned(void* p) { std::free(p); }

bool LocalTime(std::time_t t, std::tm* out) { return localtime_r(&t, out) != nullptr; }

bool StdoutIsTerminal() { return isatty(STDOUT_FILENO) == 1; }

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

void AdviseHugePages(void* p, size_t size) {
#ifdef MADV_HUGEPAGE
  (void)madvise(p, size, MADV_HUGEPAGE);
#else
  (void)p;
  (void)size;
#endif
}

unsigned long ProcessId() { return static_cast<unsigned long>(getpid()); }

std::string HostErrorText(int host_error) {
  if (host_error == 0) return {};
  return fmt::format("errno {}: {}", host_error, std::strerror(host_error));
}

CpuUsage CpuUsage::Now() {
  CpuUsage u;
  struct rusage ru {};
#ifdef RUSAGE_THREAD
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return u;
#else
  if (getrusage(RUSAGE_SELF, &ru) != 0) return u;  // no per-thread figures here
#endif
  u.usr_s = Seconds(ru.ru_utime);
  u.sys_s = Seconds(ru.ru_stime);
  u.ctx = static_cast<uint64_t>(ru.ru_nvcsw + ru.ru_nivcsw);
  u.majf = static_cast<uint64_t>(ru.ru_majflt);
  u.minf = static_cast<uint64_t>(ru.ru_minflt);
  return u;
}

uint64_t ThreadCpuClock() {
  struct timespec ts {};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

std::string ProcValue(const char* path) {
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return "?";
  char buf[64] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string v(buf, n);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v.empty() ? "?" : v;
}

}  // namespace

std::string ContextLimits() {
  struct rlimit rl = {};
  std::string nofile = getrlimit(RLIMIT_NOFILE, &rl) != 0 ? "?"
                       : rl.rlim_cur == RLIM_INFINITY     ? "unlimited"
                                                          : fmt::format("{}", rl.rlim_cur);
  std::string s = fmt::format("descriptors: RLIMIT_NOFILE {}", nofile);
#ifdef __linux__
  s += fmt::format("; kernel AIO slots: fs.aio-max-nr {}, in use (fs.aio-nr) {}",
                   ProcValue("/proc/sys/fs/aio-max-nr"), ProcValue("/proc/sys/fs/aio-nr"));
#endif
  return s;
}

}  // namespace faio::tool
