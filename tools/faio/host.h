// host.h - what the faio tool needs from its host beyond faio itself, one
// implementation per host: host_posix.cc (Linux, FreeBSD) and host_windows.cc.
//
// The rest of the tool is host-neutral: it moves data through faio, names files
// with faio_file and reads the clock with std::chrono::steady_clock. What is
// declared here (and InstallInterruptHandler/Interrupted/AllocAligned in
// common.h, CpuUsage::Now in bench_stats.h, JobFile's opening in job_file.h,
// ProbePath in info.h) is all that differs.
#ifndef FAIO_TOOLS_FAIO_HOST_H_
#define FAIO_TOOLS_FAIO_HOST_H_

#include <cstddef>
#include <ctime>
#include <string>

namespace faio::tool {

// StdoutIsTerminal reports whether standard output is a terminal (for the live
// progress line).
bool StdoutIsTerminal();

// ProcessId is this process's id (fio prints it in its report).
unsigned long ProcessId();

// LocalTime converts t to local time in *out (thread-safely); false on failure.
bool LocalTime(std::time_t t, std::tm* out);

// FreeAligned releases memory from AllocAligned (common.h).
void FreeAligned(void* p);

// HostErrorText describes a host error code as kept by faio on a request
// (faio_req_host_error): an errno value on POSIX ("errno 5: Input/output
// error"), a Win32 error code on Windows ("Windows error 38: Reached the end of
// the file."). An empty string for 0.
std::string HostErrorText(int host_error);

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

#endif  // FAIO_TOOLS_FAIO_HOST_H_
