// conformance.h - the shared fixture of the faio conformance suite.
//
// Every suite of tests/conformance/ derives from BackendTest, a fixture
// parameterized by a backend name. The names come at run time from
// faio_get_backends (every compiled-in backend, in preference order), so a
// new backend is covered without touching the tests. A backend that is compiled
// in but cannot run here (io_uring disabled by sysctl, seccomp, ...) skips each
// test visibly with its probe's reason.
//
// The fixture owns what a test creates (contexts, requests, pipes): on teardown
// it closes the pipes' write ends (so held pipe reads finish with end of file),
// reaps what is left, and destroys everything, so a failing test leaks nothing
// into the next one.
//
// Hosts. Files are faio_file (a descriptor on POSIX hosts, a HANDLE on Windows);
// the few host calls the tests make (temporary files, pipes, positional
// transfers, the error codes a host answers) are wrapped below so that every
// test compiles on both. On Windows files and the pipes' read ends are opened
// with FILE_FLAG_OVERLAPPED (the iocp backend needs it; the threads backend
// takes either), and a pipe is a named pipe.
#ifndef FAIO_TESTS_CONFORMANCE_CONFORMANCE_H_
#define FAIO_TESTS_CONFORMANCE_CONFORMANCE_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#ifdef _WIN32
#include <malloc.h>
#include <windows.h>
#else
#include <poll.h>
#include <sys/statfs.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "faio/faio.h"
#include "faio/faio.hpp"

namespace faio_test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Bytes = std::vector<unsigned char>;

// ---- statuses ------------------------------------------------------------------

// StatusName spells a FAIO_E_* status, for readable failure messages.
inline const char* StatusName(int s) { return faio_status_name(s); }

// All statuses of faio.h, success first.
inline const std::vector<int>& AllStatuses() {
  static const std::vector<int> v = {FAIO_OK,
                                     FAIO_E_INVALID_PARAMETER,
                                     FAIO_E_INVALID_HANDLE,
                                     FAIO_E_INVALID_STATE,
                                     FAIO_E_NO_MEMORY,
                                     FAIO_E_NOT_SUPPORTED,
                                     FAIO_E_IN_PROGRESS,
                                     FAIO_E_NOT_SUBMITTED,
                                     FAIO_E_COMPLETED,
                                     FAIO_E_CANCELLED,
                                     FAIO_E_BUSY,
                                     FAIO_E_NO_REQUEST,
                                     FAIO_E_TIMEOUT,
                                     FAIO_E_INTERRUPTED,
                                     FAIO_E_INSUFFICIENT_RESOURCES,
                                     FAIO_E_OUT_OF_RANGE,
                                     FAIO_E_IO,
                                     FAIO_E_DISK_FULL,
                                     FAIO_E_FILE_TOO_BIG,
                                     FAIO_E_ACCESS_DENIED,
                                     FAIO_E_BAD_FILE,
                                     FAIO_E_HOST};
  return v;
}

inline ::testing::AssertionResult StatusEq(const char* expected_expr, const char* actual_expr,
                                           int expected, int actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << actual_expr << " returned " << StatusName(actual) << " (" << actual << "), expected "
         << expected_expr << " = " << StatusName(expected) << " (" << expected << ")";
}

// EXPECT_ST / ASSERT_ST compare statuses and print their names.
#define EXPECT_ST(expected, actual) EXPECT_PRED_FORMAT2(::faio_test::StatusEq, expected, actual)
#define ASSERT_ST(expected, actual) ASSERT_PRED_FORMAT2(::faio_test::StatusEq, expected, actual)

// ---- backends ------------------------------------------------------------------

// BackendInfos is faio_get_backends' answer, asked once per process.
inline const std::vector<faio_backend_info>& BackendInfos() {
  static const std::vector<faio_backend_info> infos = [] {
    std::vector<faio_backend_info> v;
    size_t n = 0;
    if (faio_get_backends(nullptr, 0, &n) != FAIO_OK || n == 0 || n > 64) return v;
    v.resize(n);
    size_t m = 0;
    if (faio_get_backends(v.data(), v.size(), &m) != FAIO_OK)
      return std::vector<faio_backend_info>();
    v.resize(std::min(n, m));
    return v;
  }();
  return infos;
}

inline std::vector<std::string> BackendNames() {
  std::vector<std::string> names;
  for (const faio_backend_info& b : BackendInfos()) names.emplace_back(b.name ? b.name : "");
  return names;
}

inline const faio_backend_info* FindBackend(const std::string& name) {
  for (const faio_backend_info& b : BackendInfos()) {
    if (b.name != nullptr && name == b.name) return &b;
  }
  return nullptr;
}

inline std::string BackendParamName(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s.empty() ? std::string("unnamed") : s;
}

// FAIO_INSTANTIATE(Suite) runs Suite over every compiled-in backend, with test
// names like Conformance/Suite.Test/io_uring.
#define FAIO_INSTANTIATE(Suite)                                                                  \
  INSTANTIATE_TEST_SUITE_P(Conformance, Suite, ::testing::ValuesIn(::faio_test::BackendNames()), \
                           ::faio_test::BackendParamName)

// ---- time ----------------------------------------------------------------------

inline int64_t MsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
}

inline void SleepMs(int ms) { std::this_thread::sleep_for(milliseconds(ms)); }

// Pause sleeps for about `us`. On Windows a sleep_for below 1 ms returns at
// once (mingw's winpthreads rounds it down to Sleep(0)), which turns a paced
// loop into a busy spin: there it sleeps 1 ms instead.
inline void Pause(std::chrono::microseconds us) {
#ifdef _WIN32
  if (us < milliseconds(1)) us = milliseconds(1);
#endif
  std::this_thread::sleep_for(us);
}

// RunWithDeadline runs f on a thread and ends the process if it has not returned
// after `limit`: a hang is reported as such instead of as a ctest timeout.
template <typename F>
void RunWithDeadline(std::chrono::seconds limit, const char* what, F&& f) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    f();
    done.store(true);
  });
  Clock::time_point end = Clock::now() + limit;
  while (!done.load() && Clock::now() < end) SleepMs(1);
  if (!done.load()) {
    std::fprintf(stderr, "FATAL: %s did not return within %lld s (hang)\n", what,
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(3);
  }
  t.join();
}

// JoinOrDie joins t once `done` is set; if that takes longer than `limit` the
// thread is stuck inside the library: report the hang and end the process.
inline void JoinOrDie(std::thread& t, const std::atomic<bool>& done, std::chrono::seconds limit,
                      const char* what) {
  Clock::time_point end = Clock::now() + limit;
  while (!done.load() && Clock::now() < end) SleepMs(1);
  if (!done.load()) {
    std::fprintf(stderr, "FATAL: %s is stuck (no return within %lld s)\n", what,
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(3);
  }
  t.join();
}

// ---- data ----------------------------------------------------------------------

inline Bytes RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (unsigned char& c : b) c = static_cast<unsigned char>(rng());
  return b;
}

// AlignedBuffer is heap memory aligned to `align` bytes.
class AlignedBuffer {
 public:
  AlignedBuffer(size_t size, size_t align) : size_(size) {
    if (align < sizeof(void*)) align = sizeof(void*);
#ifdef _WIN32
    p_ = static_cast<unsigned char*>(_aligned_malloc(size + align, align));
#else
    void* p = nullptr;
    if (posix_memalign(&p, align, size + align) == 0) p_ = static_cast<unsigned char*>(p);
#endif
    if (p_ != nullptr) std::memset(p_, 0, size + align);
  }
  ~AlignedBuffer() {
#ifdef _WIN32
    _aligned_free(p_);
#else
    std::free(p_);
#endif
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  unsigned char* data() const { return p_; }
  size_t size() const { return size_; }

 private:
  unsigned char* p_ = nullptr;
  size_t size_;
};

// ---- the host ------------------------------------------------------------------

// What the host answers for a request on a file that is not open, and for a
// transfer in the wrong direction (a read of a write-only file, a write of a
// read-only one): POSIX says EBADF to both; Windows says ERROR_INVALID_HANDLE
// and ERROR_ACCESS_DENIED.
#ifdef _WIN32
inline constexpr int kBadFileError = ERROR_INVALID_HANDLE;
inline constexpr int kWrongDirectionStatus = FAIO_E_ACCESS_DENIED;
inline constexpr int kWrongDirectionError = ERROR_ACCESS_DENIED;
#else
inline constexpr int kBadFileError = EBADF;
inline constexpr int kWrongDirectionStatus = FAIO_E_BAD_FILE;
inline constexpr int kWrongDirectionError = EBADF;
#endif

// kInvalidParameterError is the host's "invalid argument" (a misaligned direct
// transfer): EINVAL, or ERROR_INVALID_PARAMETER.
#ifdef _WIN32
inline constexpr int kInvalidParameterError = ERROR_INVALID_PARAMETER;
#else
inline constexpr int kInvalidParameterError = EINVAL;
#endif

// RunningUnderWine: Windows binaries run by Wine, which differs from Windows in
// ways a few tests must know (it does not enforce unbuffered-I/O alignment).
inline bool RunningUnderWine() {
#ifdef _WIN32
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
#else
  return false;
#endif
}

// kSanitized: built with ASan/UBSan or TSan (slower by 2-20x).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// Time bounds of the timing tests. A woken wait must return within PromptMs of
// the wakeup, and a timed-out wait within LateMs after its timeout: 50 and
// 100 ms on a plain build (a 100 ms poll loop would fail them), 250 ms under
// sanitizers and Wine, whose slowdown and scheduling are not a host's.
inline bool SlowHost() { return kSanitized || RunningUnderWine(); }
inline int64_t PromptMs() { return SlowHost() ? 250 : 50; }
inline int64_t LateMs() { return SlowHost() ? 250 : 100; }

// The host's last error (errno, or GetLastError on Windows) and its text.
inline int LastError() {
#ifdef _WIN32
  return static_cast<int>(GetLastError());
#else
  return errno;
#endif
}
inline std::string ErrorText(int err) {
#ifdef _WIN32
  return "Windows error " + std::to_string(err);
#else
  return std::strerror(err);
#endif
}

// kInvalidFile is what opening a file returns on failure: -1, or
// INVALID_HANDLE_VALUE on Windows.
#ifdef _WIN32
inline const faio_file kInvalidFile = INVALID_HANDLE_VALUE;
#else
inline constexpr faio_file kInvalidFile = -1;
#endif

inline bool IsOpen(faio_file f) {
#ifdef _WIN32
  return f != nullptr && f != INVALID_HANDLE_VALUE;
#else
  return f >= 0;
#endif
}

inline void CloseFile(faio_file f) {
  if (!IsOpen(f)) return;
#ifdef _WIN32
  CloseHandle(f);
#else
  close(f);
#endif
}

// PRead/PWrite transfer once at off, as pread/pwrite: bytes moved, 0 at end of
// file, -1 on failure (LastError() says why).
inline int64_t PRead(faio_file f, void* buf, size_t len, int64_t off);
inline int64_t PWrite(faio_file f, const void* buf, size_t len, int64_t off);

#ifdef _WIN32
// One transfer on a handle opened with or without FILE_FLAG_OVERLAPPED, waited
// for on a private event (low bit set: never a packet to an I/O completion port).
inline int64_t WinTransfer(bool write, HANDLE f, void* buf, size_t len, int64_t off) {
  HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (ev == nullptr) return -1;
  OVERLAPPED ov = {};
  ov.Offset = static_cast<DWORD>(static_cast<uint64_t>(off));
  ov.OffsetHigh = static_cast<DWORD>(static_cast<uint64_t>(off) >> 32);
  ov.hEvent = reinterpret_cast<HANDLE>(reinterpret_cast<uintptr_t>(ev) | 1);
  DWORD n = 0;
  BOOL ok = write ? WriteFile(f, buf, static_cast<DWORD>(len), nullptr, &ov)
                  : ReadFile(f, buf, static_cast<DWORD>(len), nullptr, &ov);
  if (ok || GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(f, &ov, &n, TRUE);
  DWORD err = ok ? 0 : GetLastError();
  CloseHandle(ev);
  if (ok) return static_cast<int64_t>(n);
  if (!write && (err == ERROR_HANDLE_EOF || err == ERROR_BROKEN_PIPE)) return 0;
  SetLastError(err);
  return -1;
}
inline int64_t PRead(faio_file f, void* buf, size_t len, int64_t off) {
  return WinTransfer(false, f, buf, len, off);
}
inline int64_t PWrite(faio_file f, const void* buf, size_t len, int64_t off) {
  return WinTransfer(true, f, const_cast<void*>(buf), len, off);
}
#else
inline int64_t PRead(faio_file f, void* buf, size_t len, int64_t off) {
  return pread(f, buf, len, static_cast<off_t>(off));
}
inline int64_t PWrite(faio_file f, const void* buf, size_t len, int64_t off) {
  return pwrite(f, buf, len, static_cast<off_t>(off));
}
#endif

// FileSize is the size of an open file, or -1.
inline int64_t FileSize(faio_file f) {
#ifdef _WIN32
  LARGE_INTEGER sz;
  return GetFileSizeEx(f, &sz) ? sz.QuadPart : -1;
#else
  struct stat st;
  return fstat(f, &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
#endif
}

// Truncate sets an open file's size; true on success.
inline bool Truncate(faio_file f, int64_t size) {
#ifdef _WIN32
  FILE_END_OF_FILE_INFO eof = {};
  eof.EndOfFile.QuadPart = size;
  return SetFileInformationByHandle(f, FileEndOfFileInfo, &eof, sizeof eof) != 0;
#else
  return ftruncate(f, static_cast<off_t>(size)) == 0;
#endif
}

// SetEnv/UnsetEnv change the process environment (FAIO_BACKEND).
inline bool SetEnv(const char* name, const char* value) {
#ifdef _WIN32
  return _putenv_s(name, value) == 0;
#else
  return setenv(name, value, 1) == 0;
#endif
}
inline void UnsetEnv(const char* name) {
#ifdef _WIN32
  (void)_putenv_s(name, "");
#else
  unsetenv(name);
#endif
}

// ---- files ---------------------------------------------------------------------

#ifdef _WIN32
inline bool IsWritableDir(const std::string& dir) {
  DWORD a = dir.empty() ? INVALID_FILE_ATTRIBUTES : GetFileAttributesA(dir.c_str());
  return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) != 0 &&
         (a & FILE_ATTRIBUTE_READONLY) == 0;
}
#else
inline bool IsTmpfs(const std::string& dir) {
  struct statfs sf;
  if (statfs(dir.c_str(), &sf) != 0) return true;
  return sf.f_type == 0x01021994;  // TMPFS_MAGIC
}

inline bool IsWritableDir(const std::string& dir) {
  struct stat st;
  return !dir.empty() && stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
         access(dir.c_str(), W_OK) == 0;
}
#endif

// TempDir is where temporary files go: $FAIO_TEST_DIR, else /var/tmp, else /tmp
// (on Windows: $FAIO_TEST_DIR, else GetTempPath).
inline std::string TempDir() {
  const char* env = std::getenv("FAIO_TEST_DIR");
#ifdef _WIN32
  if (env != nullptr && *env != '\0') return env;
  char buf[MAX_PATH + 1];
  DWORD n = GetTempPathA(sizeof buf, buf);
  if (n == 0 || n > MAX_PATH) return ".";
  std::string d(buf, n);
  while (!d.empty() && (d.back() == '\\' || d.back() == '/')) d.pop_back();
  return d;
#else
  if (env != nullptr && IsWritableDir(env)) return env;
  if (IsWritableDir("/var/tmp")) return "/var/tmp";
  return "/tmp";
#endif
}

// DirectIoDir is a writable directory on a file system that is not tmpfs (tmpfs
// refuses O_DIRECT), or "" when there is none. On Windows: TempDir().
inline std::string DirectIoDir() {
#ifdef _WIN32
  return TempDir();
#else
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("FAIO_TEST_DIR")) candidates.emplace_back(env);
  candidates.emplace_back("/var/tmp");
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) != nullptr) candidates.emplace_back(cwd);
  candidates.emplace_back("/tmp");
  for (const std::string& d : candidates) {
    if (IsWritableDir(d) && !IsTmpfs(d)) return d;
  }
  return "";
#endif
}

// Flags of TempFile::Open beyond O_RDONLY/O_WRONLY/O_RDWR: kOpenDirect asks for
// direct (unbuffered) I/O: O_DIRECT, or FILE_FLAG_NO_BUFFERING on Windows.
#ifdef _WIN32
inline constexpr int kOpenDirect = 0x40000000;
#elif defined(O_DIRECT)
inline constexpr int kOpenDirect = O_DIRECT;
#endif

// TempFile is a new file in `dir` (opened read-write) deleted when the object
// dies; Open gives further handles of it with other flags.
class TempFile {
 public:
  explicit TempFile(const std::string& dir = TempDir()) {
#ifdef _WIN32
    char name[MAX_PATH + 1];
    if (GetTempFileNameA(dir.c_str(), "fai", 0, name) == 0) return;
    path_ = name;
    fd_ = Open(O_RDWR);
    if (!IsOpen(fd_)) DeleteFileA(path_.c_str());
#else
    path_ = dir + "/faio-test-XXXXXX";
    fd_ = mkstemp(path_.data());
    if (fd_ >= 0) fds_.push_back(fd_);
#endif
  }
  ~TempFile() {
    for (faio_file f : fds_) CloseFile(f);
    if (IsOpen(fd_)) {
#ifdef _WIN32
      DeleteFileA(path_.c_str());
#else
      unlink(path_.c_str());
#endif
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  bool ok() const { return IsOpen(fd_); }
  faio_file fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Open returns another handle of the file (closed with it), or an invalid
  // one (IsOpen false). flags: O_RDONLY, O_WRONLY or O_RDWR, maybe kOpenDirect.
  faio_file Open(int flags) {
#ifdef _WIN32
    DWORD access = GENERIC_READ | GENERIC_WRITE;
    if ((flags & 3) == O_RDONLY) access = GENERIC_READ;
    if ((flags & 3) == O_WRONLY) access = GENERIC_WRITE;
    DWORD attrs = FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED;
    if ((flags & kOpenDirect) != 0) attrs |= FILE_FLAG_NO_BUFFERING | FILE_FLAG_WRITE_THROUGH;
    HANDLE f =
        CreateFileA(path_.c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    nullptr, OPEN_EXISTING, attrs, nullptr);
#else
    int f = open(path_.c_str(), flags | O_CLOEXEC);
#endif
    if (IsOpen(f)) fds_.push_back(f);
    return f;
  }
  bool Write(const Bytes& b, int64_t off = 0) {
    return PWrite(fd_, b.data(), b.size(), off) == static_cast<int64_t>(b.size());
  }
  Bytes ReadAll() const {
    int64_t size = FileSize(fd_);
    if (size < 0) return {};
    Bytes b(static_cast<size_t>(size));
    size_t got = 0;
    while (got < b.size()) {
      int64_t n = PRead(fd_, b.data() + got, b.size() - got, static_cast<int64_t>(got));
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    b.resize(got);
    return b;
  }
  int64_t Size() const { return FileSize(fd_); }

 private:
  std::string path_;
#ifdef _WIN32
  faio_file fd_ = INVALID_HANDLE_VALUE;
#else
  faio_file fd_ = -1;
#endif
  std::vector<faio_file> fds_;
};

// Pipe: reads of an empty pipe stay in flight until bytes are fed (or the write
// end closes), which is how tests hold requests in the kernel. The read end is
// blocking (a backend must wait for data, not fail with EAGAIN); the write end
// is non-blocking so a feeder never hangs. On Windows it is a named pipe with
// both ends overlapped; closing the writer ends held reads with
// ERROR_BROKEN_PIPE, which the library reports as end of file.
struct Pipe {
#ifdef _WIN32
  faio_file r = INVALID_HANDLE_VALUE;
  faio_file w = INVALID_HANDLE_VALUE;
  Pipe() {
    static std::atomic<unsigned> counter{0};
    std::string name = "\\\\.\\pipe\\faio-test-" + std::to_string(GetCurrentProcessId()) + "-" +
                       std::to_string(counter.fetch_add(1));
    r = CreateNamedPipeA(
        name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 65536, 65536, 0, nullptr);
    if (r == INVALID_HANDLE_VALUE) return;
    w = CreateFileA(name.c_str(), GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                    nullptr);
    if (w == INVALID_HANDLE_VALUE) {
      CloseHandle(r);
      r = INVALID_HANDLE_VALUE;
    }
  }
#else
  faio_file r = -1;
  faio_file w = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == 0) {
      r = fds[0];
      w = fds[1];
      fcntl(w, F_SETFL, fcntl(w, F_GETFL) | O_NONBLOCK);
    }
  }
#endif
  ~Pipe() {
    CloseWriter();
    CloseFile(r);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return IsOpen(r) && IsOpen(w); }
  // Feed writes n bytes (fewer if the pipe is full); returns how many went in.
  size_t Feed(size_t n) {
    if (!IsOpen(w)) return 0;
    std::vector<char> b(n, 'p');
    size_t done = 0;
    while (done < n) {
#ifdef _WIN32
      // Far below the pipe's 64 KiB buffer in every test: never blocks.
      int64_t k = PWrite(w, b.data() + done, n - done, 0);
#else
      ssize_t k = write(w, b.data() + done, n - done);
#endif
      if (k <= 0) break;
      done += static_cast<size_t>(k);
    }
    return done;
  }
  // TakeOne reads one byte that is (or becomes within 2 s) in the pipe; false
  // when none came.
  bool TakeOne() {
#ifdef _WIN32
    Clock::time_point end = Clock::now() + std::chrono::seconds(2);
    DWORD avail = 0;
    while (PeekNamedPipe(r, nullptr, 0, nullptr, &avail, nullptr) && avail == 0 &&
           Clock::now() < end) {
      Sleep(1);
    }
    if (avail == 0) return false;
#else
    struct pollfd pfd = {r, POLLIN, 0};
    if (poll(&pfd, 1, 2000) != 1) return false;
#endif
    char c;
#ifdef _WIN32
    return PRead(r, &c, 1, 0) == 1;
#else
    return read(r, &c, 1) == 1;
#endif
  }
  void CloseWriter() {
    CloseFile(w);
#ifdef _WIN32
    w = INVALID_HANDLE_VALUE;
#else
    w = -1;
#endif
  }
};

// FreeList is a stress-test submitter's stock of slots that are not in flight;
// any thread may Put one back, the submitter Takes up to n at a time.
template <typename Slot>
struct FreeList {
  std::mutex mu;
  std::vector<Slot*> slots;
  void Put(Slot* s) {
    std::lock_guard<std::mutex> lock(mu);
    slots.push_back(s);
  }
  std::vector<Slot*> Take(size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    n = std::min(n, slots.size());
    std::vector<Slot*> out(slots.end() - static_cast<ptrdiff_t>(n), slots.end());
    slots.resize(slots.size() - n);
    return out;
  }
};

// Ready: the handle (faio_ctx_pollable's) is ready within timeout_ms (0: now).
inline bool Ready(faio_file h, int timeout_ms) {
#ifdef _WIN32
  return WaitForSingleObject(h, static_cast<DWORD>(timeout_ms)) == WAIT_OBJECT_0;
#else
  struct pollfd p = {h, POLLIN, 0};
  int k;
  do {
    k = poll(&p, 1, timeout_ms);
  } while (k < 0 && errno == EINTR);
  return k == 1 && (p.revents & POLLIN) != 0;
#endif
}

// ---- the fixture ---------------------------------------------------------------

class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Worker threads asked of the "threads" backend (0 elsewhere). Few workers keep
  // most held pipe reads queued, hence cancellable.
  static constexpr uint32_t kThreadsWorkers = 2;

  void SetUp() override {
    const faio_backend_info* info = FindBackend(GetParam());
    ASSERT_NE(info, nullptr) << "backend " << GetParam() << " vanished from faio_get_backends";
    if (!info->available) {
      GTEST_SKIP() << "backend " << GetParam() << " unavailable here: " << info->reason
                   << " (status " << StatusName(info->status) << ", host error " << info->host_error
                   << ")";
    }
  }

  void TearDown() override {
    for (auto& p : pipes_) p->CloseWriter();
    for (faio_ctx* c : ctxs_) DrainAndDestroy(c);
    ctxs_.clear();
    for (faio_req* r : reqs_) (void)faio_req_destroy(r);  // stale handles: INVALID_HANDLE
    reqs_.clear();
    pipes_.clear();
  }

  const char* backend() const { return GetParam().c_str(); }
  bool IsThreads() const { return GetParam() == "threads"; }

  faio_ctx_options Options(uint32_t capacity = 0, uint32_t flags = 0) const {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.capacity = capacity;
    o.flags = flags;
    o.threads = IsThreads() ? kThreadsWorkers : 0;
    o.backend = backend();
    return o;
  }

  // NewCtx creates a context on the backend under test (owned by the fixture);
  // null and a test failure if creation fails.
  faio_ctx* NewCtxWith(const faio_ctx_options& o) {
    faio_ctx* c = nullptr;
    int s = faio_ctx_create_ex(&c, &o);
    if (s != FAIO_OK || c == nullptr) {
      ADD_FAILURE() << "faio_ctx_create_ex(" << backend() << ", capacity " << o.capacity
                    << ", flags " << o.flags << ") returned " << StatusName(s);
      return nullptr;
    }
    ctxs_.push_back(c);
    return c;
  }
  faio_ctx* NewCtx(uint32_t capacity = 0, uint32_t flags = 0) {
    return NewCtxWith(Options(capacity, flags));
  }

  faio_req* NewReq() {
    faio_req* r = nullptr;
    int s = faio_req_create(&r);
    if (s != FAIO_OK || r == nullptr) {
      ADD_FAILURE() << "faio_req_create returned " << StatusName(s);
      return nullptr;
    }
    reqs_.push_back(r);
    return r;
  }
  std::vector<faio_req*> NewReqs(size_t n) {
    std::vector<faio_req*> v;
    for (size_t i = 0; i < n; i++) v.push_back(NewReq());
    return v;
  }

  Pipe* NewPipe() {
    pipes_.push_back(std::make_unique<Pipe>());
    Pipe* p = pipes_.back().get();
    if (!p->ok()) ADD_FAILURE() << "creating a pipe failed: " << ErrorText(LastError());
    return p;
  }

  // A file of `size` bytes with known content (byte i is i * 7 + 3).
  std::unique_ptr<TempFile> NewFile(size_t size = 64 * 1024) {
    auto f = std::make_unique<TempFile>();
    if (!f->ok()) {
      ADD_FAILURE() << "creating a file in " << TempDir() << " failed: " << ErrorText(LastError());
      return f;
    }
    Bytes b(size);
    for (size_t i = 0; i < size; i++) b[i] = static_cast<unsigned char>(i * 7 + 3);
    if (size > 0 && !f->Write(b)) ADD_FAILURE() << "writing the test file failed";
    return f;
  }

  // ClosedFd is a descriptor number that is not open (high enough that nothing
  // the library opens meanwhile takes it). On Windows: a handle value far above
  // any this process opens (handle values are small multiples of 4, reused).
  static faio_file ClosedFd() {
#ifdef _WIN32
    return reinterpret_cast<HANDLE>(uintptr_t{0x3FFFFFFC});
#else
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 900);
    if (fd < 0) return 1000000;
    close(fd);
    return fd;
#endif
  }

  static int Result(faio_req* r, size_t* n = nullptr) { return faio_req_result(r, n); }

  // Submit1 submits one request.
  static int Submit1(faio_ctx* c, faio_req* r) { return faio_ctx_submit(c, &r, 1); }

  // DirectFile: a new file opened for direct I/O (O_DIRECT, or
  // FILE_FLAG_NO_BUFFERING) on a file system that takes it, with its alignment.
  // `skip` says why this host has none (the test skips with it); `error` is a
  // failure of the test itself.
  struct DirectFile {
    std::unique_ptr<TempFile> file;
    faio_file fd{};
    faio_alignment align{};
    std::string skip;
    std::string error;
  };
  static DirectFile OpenDirectFile() {
    DirectFile d;
    std::string dir = DirectIoDir();
    if (dir.empty()) {
      d.skip = "no directory outside tmpfs";
      return d;
    }
    d.file = std::make_unique<TempFile>(dir);
    if (!d.file->ok()) {
      d.error = "creating a file in " + dir + " failed: " + ErrorText(LastError());
      return d;
    }
    d.fd = d.file->Open(O_RDWR | kOpenDirect);
    if (!IsOpen(d.fd)) {
      d.skip = dir + " refuses direct I/O: " + ErrorText(LastError());
      return d;
    }
    int s = faio_file_alignment(d.fd, &d.align);
    if (s == FAIO_E_NOT_SUPPORTED) {
      d.skip = dir + ": no direct-I/O alignment known";
    } else if (s != FAIO_OK) {
      d.error = std::string("faio_file_alignment: ") + StatusName(s);
    }
    return d;
  }

  // RunOne submits r alone and reaps it; returns its status, bytes in *n.
  int RunOne(faio_ctx* ctx, faio_req* r, size_t* n = nullptr) {
    int s = Submit1(ctx, r);
    if (s != FAIO_OK) return s;
    std::vector<faio_req*> got = Reap(ctx, 1);
    EXPECT_EQ(got.size(), 1u);
    return faio_req_result(r, n);
  }

  // Reap waits until n requests came back, the context has none (NO_REQUEST) or
  // `limit` passed, and returns what came back, in order. It never reaps more
  // than n. INTERRUPTED and TIMEOUT are tolerated (the loop goes on); any other
  // failure, or a completion handed out beside a failure status, is a test
  // failure.
  std::vector<faio_req*> Reap(faio_ctx* c, size_t n, milliseconds limit = milliseconds(10000),
                              size_t batch = 64) {
    std::vector<faio_req*> got;
    std::vector<faio_req*> out(batch);
    Clock::time_point end = Clock::now() + limit;
    while (got.size() < n) {
      int64_t left = std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
      if (left <= 0) break;
      size_t size = std::min(batch, n - got.size());
      uint32_t count = 0xdead;
      int s = faio_ctx_wait(c, size, static_cast<uint32_t>(left), out.data(), size, &count);
      if (count > size) {
        ADD_FAILURE() << "wait returned count " << count << " > size " << size;
        count = static_cast<uint32_t>(size);
      }
      if (s != FAIO_OK && count != 0) {
        ADD_FAILURE() << "wait returned " << count << " completions with " << StatusName(s)
                      << " (completions come only with success)";
      }
      got.insert(got.end(), out.begin(), out.begin() + count);
      if (s == FAIO_OK || s == FAIO_E_TIMEOUT || s == FAIO_E_INTERRUPTED) continue;
      if (s != FAIO_E_NO_REQUEST) ADD_FAILURE() << "wait returned " << StatusName(s);
      break;
    }
    return got;
  }

  // LateSubmit: what a wait (min 1, size 4, 10 s) on ctx returned while another
  // thread submitted r delay_ms after the wait began: its status, count, first
  // completion and how long it took.
  struct LateSubmit {
    int status = FAIO_E_HOST;
    uint32_t count = 0;
    faio_req* first = nullptr;
    int64_t ms = 0;
  };
  static LateSubmit WaitWhileSubmittedLater(faio_ctx* ctx, faio_req* r, int delay_ms = 100) {
    std::thread submitter([&] {
      SleepMs(delay_ms);  // the waiter is blocked by then
      EXPECT_ST(FAIO_OK, Submit1(ctx, r));
    });
    faio_req* out[4] = {};
    LateSubmit w;
    Clock::time_point t0 = Clock::now();
    w.status = faio_ctx_wait(ctx, 1, 10000, out, 4, &w.count);
    w.ms = MsSince(t0);
    submitter.join();
    w.first = out[0];
    return w;
  }

  // ExpectNoneCounted: a wait on a context without WAIT_WITHOUT_PENDING answers
  // NO_REQUEST at once exactly when the context counts no request.
  static void ExpectNoneCounted(faio_ctx* c) {
    faio_req* out[4];
    uint32_t count = 0xdead;
    Clock::time_point t0 = Clock::now();
    EXPECT_ST(FAIO_E_NO_REQUEST, faio_ctx_wait(c, 1, 2000, out, 4, &count));
    EXPECT_EQ(count, 0u);
    EXPECT_LT(MsSince(t0), 1000);
  }

  // PrepareReads prepares each request as a 64-byte read of fd at offset 64*i
  // into bufs (resized to fit), user value = index + 1.
  static void PrepareReads(const std::vector<faio_req*>& reqs, faio_file fd,
                           std::vector<Bytes>* bufs, size_t len = 64) {
    bufs->resize(std::max(bufs->size(), reqs.size()));
    for (size_t i = 0; i < reqs.size(); i++) {
      (*bufs)[i].resize(len);
      ASSERT_ST(FAIO_OK,
                faio_req_prepare_read(reqs[i], fd, static_cast<int64_t>(i * len), (*bufs)[i].data(),
                                      len, reinterpret_cast<void*>(i + 1)));
    }
  }

  // DrainAndDestroy reaps until the context can be destroyed (at most 5 s).
  void DrainAndDestroy(faio_ctx* c) {
    Clock::time_point end = Clock::now() + std::chrono::seconds(5);
    faio_req* out[64];
    for (;;) {
      int s = faio_ctx_destroy(c);
      if (s == FAIO_OK || s == FAIO_E_INVALID_HANDLE) return;
      if (Clock::now() >= end) {
        ADD_FAILURE() << "context still " << StatusName(s)
                      << " after draining for 5 s at teardown (leaked)";
        return;
      }
      uint32_t count = 0;
      (void)faio_ctx_wait(c, 1, 50, out, 64, &count);
    }
  }

 private:
  std::vector<faio_ctx*> ctxs_;
  std::vector<faio_req*> reqs_;
  std::vector<std::unique_ptr<Pipe>> pipes_;
};

// SameSet: a and b hold the same handles, each once.
inline ::testing::AssertionResult SameSet(const std::vector<faio_req*>& a,
                                          const std::vector<faio_req*>& b) {
  std::multiset<faio_req*> ma(a.begin(), a.end());
  std::multiset<faio_req*> mb(b.begin(), b.end());
  std::set<faio_req*> sa(a.begin(), a.end());
  if (sa.size() != a.size()) {
    return ::testing::AssertionFailure()
           << "a request came back more than once (" << a.size() - sa.size() << " duplicates)";
  }
  if (ma != mb) {
    return ::testing::AssertionFailure()
           << "got " << a.size() << " requests, expected " << b.size() << " (sets differ)";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace faio_test

#endif  // FAIO_TESTS_CONFORMANCE_CONFORMANCE_H_
