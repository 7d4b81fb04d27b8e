// process.cc - the faio tool's process-wide host layer on Windows (see
// host/host.h).
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// After windows.h:
#include <fmt/format.h>
#include <io.h>
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <ctime>

#include "host/host.h"

namespace faio::tool {
namespace {

std::atomic<int> g_interrupted{0};

// The console runs this on a thread of its own. The first Ctrl-C (or Ctrl-Break,
// or the console closing) only sets the flag; the second is left to the default
// handler, which ends the process -- as SA_RESETHAND does on POSIX.
BOOL WINAPI OnConsoleEvent(DWORD event) {
  switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
      return g_interrupted.exchange(1, std::memory_order_relaxed) == 0 ? TRUE : FALSE;
    default:
      return FALSE;
  }
}

double Seconds(const FILETIME& ft) {
  ULARGE_INTEGER v;
  v.LowPart = ft.dwLowDateTime;
  v.HighPart = ft.dwHighDateTime;
  return static_cast<double>(v.QuadPart) / 1e7;  // 100 ns units
}

}  // namespace

void InstallInterruptHandler() { SetConsoleCtrlHandler(OnConsoleEvent, TRUE); }

bool Interrupted() { return g_interrupted.load(std::memory_order_relaxed) != 0; }

AlignedBuffer AllocAligned(size_t alignment, size_t size) {
  return AlignedBuffer(static_cast<std::byte*>(_aligned_malloc(size, alignment)));
}

void FreeAligned(void* p) { _aligned_free(p); }

bool LocalTime(std::time_t t, std::tm* out) { return localtime_s(out, &t) == 0; }

bool StdoutIsTerminal() { return _isatty(_fileno(stdout)) != 0; }

bool StderrIsTerminal() { return _isatty(_fileno(stderr)) != 0; }

// Large pages need a privilege (SeLockMemoryPrivilege) and their own
// allocation; the hint has no Windows counterpart.
void AdviseHugePages(void*, size_t) {}

unsigned long ProcessId() { return static_cast<unsigned long>(GetCurrentProcessId()); }

std::string HostErrorText(int host_error) {
  if (host_error == 0) return {};
  char buf[512];
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                           static_cast<DWORD>(host_error), 0, buf, sizeof buf, nullptr);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) --n;
  std::string text(buf, n);
  if (text.empty()) text = "unknown error";
  return fmt::format("Windows error {}: {}", host_error, text);
}

std::wstring Wide(const std::string& s) {
  if (s.empty()) return {};
  int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring w(static_cast<size_t>(n > 0 ? n : 0), L'\0');
  if (n > 0) MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), w.data(), n);
  return w;
}

std::string Narrow(const std::wstring& w) {
  if (w.empty()) return {};
  int n = WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0, nullptr,
                              nullptr);
  std::string s(static_cast<size_t>(n > 0 ? n : 0), '\0');
  if (n > 0) {
    WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), s.data(), n, nullptr,
                        nullptr);
  }
  return s;
}

std::string LastErrorText() { return HostErrorText(static_cast<int>(GetLastError())); }

void* OpenShared(const std::string& path, unsigned long access, unsigned long disposition,
                 unsigned long flags) {
  return CreateFileW(Wide(path).c_str(), access,
                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, disposition,
                     flags, nullptr);
}

// Windows reports user and kernel time per thread (GetThreadTimes); context
// switches and page faults per thread are not available through a documented
// call, so they read 0.
CpuUsage CpuUsage::Now() {
  CpuUsage u;
  FILETIME created, exited, kernel, user;
  if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user)) return u;
  u.usr_s = Seconds(user);
  u.sys_s = Seconds(kernel);
  return u;
}

uint64_t ThreadCpuClock() {
  ULONG64 cycles = 0;
  if (!QueryThreadCycleTime(GetCurrentThread(), &cycles)) return 0;
  return cycles;
}

// Windows: handles are bounded by memory, not by a per-process setting.
std::string ContextLimits() { return ""; }

}  // namespace faio::tool
