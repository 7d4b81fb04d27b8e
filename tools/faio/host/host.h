// host.h - what the faio tool needs from its process's host beyond faio
// itself: the interrupt flag, aligned memory, the terminal, the clock's local
// time, CPU usage and error texts. file.h has the files. One implementation per
// host: posix/process.cc (Linux, FreeBSD) and windows/process.cc; the build
// compiles only the host's own folder.
//
// The rest of the tool is host-neutral: it moves data through faio, names files
// with faio_file and reads the clock with std::chrono::steady_clock.
#ifndef FAIO_TOOLS_FAIO_HOST_HOST_H_
#define FAIO_TOOLS_FAIO_HOST_HOST_H_

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>

namespace faio::tool {

// InstallInterruptHandler makes SIGINT and SIGTERM (Ctrl-C, Ctrl-Break and the
// console closing on Windows) set a flag that Interrupted() reports, once; a
// second one gets the default action (the process ends).
void InstallInterruptHandler();
bool Interrupted();

// FreeAligned releases what AllocAligned returned.
void FreeAligned(void* p);

// AlignedBuffer is memory from AllocAligned.
struct FreeDeleter {
  void operator()(void* p) const { FreeAligned(p); }
};
using AlignedBuffer = std::unique_ptr<std::byte, FreeDeleter>;

// AllocAligned returns `size` bytes aligned to `alignment` (a power of two, at
// least sizeof(void*)), or null when out of memory.
AlignedBuffer AllocAligned(size_t alignment, size_t size);

// AdviseHugePages asks for transparent huge pages on [p, p + size) where the
// host has them (a hint; failure is harmless).
void AdviseHugePages(void* p, size_t size);

// StdoutIsTerminal / StderrIsTerminal report whether the stream is a terminal
// (for the live progress lines).
bool StdoutIsTerminal();
bool StderrIsTerminal();

// ProcessId is this process's id (fio prints it in its report).
unsigned long ProcessId();

// LocalTime converts t to local time in *out (thread-safely); false on failure.
bool LocalTime(std::time_t t, std::tm* out);

// HostErrorText describes a host error code as kept by faio on a request
// (faio_req_host_error): an errno value on POSIX ("errno 5: Input/output
// error"), a Win32 error code on Windows ("Windows error 38: Reached the end of
// the file."). An empty string for 0.
std::string HostErrorText(int host_error);

// CpuUsage is a reading of the CPU time used (getrusage(), GetThreadTimes()), or
// a difference of two.
struct CpuUsage {
  double usr_s = 0;   // user CPU seconds
  double sys_s = 0;   // system CPU seconds
  uint64_t ctx = 0;   // context switches (voluntary + involuntary)
  uint64_t majf = 0;  // major page faults
  uint64_t minf = 0;  // minor page faults

  // Now reads the calling thread's usage (RUSAGE_THREAD; GetThreadTimes on
  // Windows, where ctx, majf and minf read 0).
  static CpuUsage Now();
  CpuUsage operator-(const CpuUsage& start) const;  // cpu_usage.cc
  void Add(const CpuUsage& o);
};

// ThreadCpuClock reads the calling thread's CPU time in the host's finest
// unit: nanoseconds (CLOCK_THREAD_CPUTIME_ID) on POSIX, CPU cycles
// (QueryThreadCycleTime) on Windows, whose thread times move in 15.6 ms ticks.
// Only differences of two readings on one thread mean anything.
uint64_t ThreadCpuClock();

// ContextLimits describes the host limits that bound how many contexts a
// process can hold (faio info): the descriptor limit, and on Linux the kernel
// AIO slots (fs.aio-max-nr, fs.aio-nr). Empty where there is nothing to say.
std::string ContextLimits();

#ifdef _WIN32
// Windows only: UTF-8 (the command line's) to UTF-16 (the wide-character calls')
// and back; LastErrorText is HostErrorText(GetLastError()).
std::wstring Wide(const std::string& s);
std::string Narrow(const std::wstring& w);
std::string LastErrorText();
// OpenShared is CreateFileW(Wide(path), access, FILE_SHARE_READ | WRITE |
// DELETE, disposition, flags): every file the tool opens lets the others (and
// a second handle of its own) in. INVALID_HANDLE_VALUE and GetLastError() on
// failure. (void* is HANDLE; this header does not include windows.h.)
void* OpenShared(const std::string& path, unsigned long access, unsigned long disposition,
                 unsigned long flags);
#endif

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_HOST_HOST_H_
