// job_file_windows.cc - JobFile's host part on Windows (see job_file.h).
//
// Every handle is opened with FILE_FLAG_OVERLAPPED, which faio's iocp backend
// needs (the threads backend takes any handle). Paths are UTF-8 on the command
// line and converted to UTF-16 for the wide-character calls.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// After windows.h:
#include <fmt/format.h>
#include <winioctl.h>

#include <cstdlib>
#include <string>

#include "common.h"
#include "host.h"
#include "job_file.h"
#include "options.h"

namespace faio::tool {
namespace {

bool IsDiskFull(DWORD e) { return e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL; }

// TempDir is $TMPDIR when set (as on POSIX), else GetTempPath's directory.
std::string TempDir() {
  const char* env = std::getenv("TMPDIR");
  if (env != nullptr && *env != '\0') return env;
  wchar_t buf[MAX_PATH + 1];
  DWORD n = GetTempPathW(MAX_PATH + 1, buf);
  if (n == 0 || n > MAX_PATH) return ".";
  std::string dir = Narrow(std::wstring(buf, n));
  while (dir.size() > 1 && (dir.back() == '\\' || dir.back() == '/')) dir.pop_back();
  return dir;
}

}  // namespace

JobFile JobFile::CreateTemporary(faio::Context& ctx, uint64_t size, uint32_t depth) {
  std::string dir = TempDir();
  // A unique name from the process id and a counter; CREATE_NEW never takes an
  // existing file, so a clash only means another try.
  HANDLE h = INVALID_HANDLE_VALUE;
  std::string name;
  DWORD e = ERROR_SUCCESS;
  for (unsigned attempt = 0; attempt < 100 && h == INVALID_HANDLE_VALUE; ++attempt) {
    name = fmt::format("{}\\faio-bench.{}.{}.{}", dir, ProcessId(), GetTickCount(), attempt);
    h = OpenShared(name, GENERIC_READ | GENERIC_WRITE, CREATE_NEW,
                   FILE_ATTRIBUTE_NORMAL | FILE_FLAG_DELETE_ON_CLOSE | FILE_FLAG_OVERLAPPED);
    e = GetLastError();
    if (h == INVALID_HANDLE_VALUE && e != ERROR_FILE_EXISTS && e != ERROR_ALREADY_EXISTS) break;
  }
  if (h == INVALID_HANDLE_VALUE) {
    throw ToolError(kExitFailure,
                    fmt::format("cannot create a temporary file in {}: {} (set TMPDIR to a "
                                "writable directory, or use --filename)",
                                dir, HostErrorText(static_cast<int>(e))));
  }
  return Created(ctx, h, name, size, depth, /*temporary=*/true);  // FILE_FLAG_DELETE_ON_CLOSE
}

JobFile JobFile::Open(faio::Context& ctx, const std::string& path, uint64_t size, bool size_given,
                      bool direct, uint32_t depth, bool writable) {
  JobFile f;
  f.path_ = path;
  DWORD access = GENERIC_READ | (writable ? GENERIC_WRITE : 0);
  DWORD flags = FILE_FLAG_OVERLAPPED | (direct ? FILE_FLAG_NO_BUFFERING : 0);
  HANDLE h = OpenShared(path, access, OPEN_EXISTING, flags);
  if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_NOT_FOUND) {
    h = OpenShared(path, GENERIC_READ | GENERIC_WRITE, CREATE_NEW,
                   FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED);
    if (h == INVALID_HANDLE_VALUE) {
      throw ToolError(kExitFailure,
                      fmt::format("--filename {}: cannot create: {}", path, LastErrorText()));
    }
    return Created(ctx, h, path, size, depth, /*temporary=*/false);
  }
  if (h == INVALID_HANDLE_VALUE) {
    throw ToolError(kExitFailure,
                    fmt::format("--filename {}: cannot open: {}", path, LastErrorText()));
  }
  f.file_ = h;
  f.open_ = true;
  f.direct_ = direct;
  uint64_t have = 0;
  LARGE_INTEGER li;
  GET_LENGTH_INFORMATION gli;
  DWORD got = 0;
  if (GetFileType(h) != FILE_TYPE_DISK) {
    throw UsageError(fmt::format("--filename {}: not a file or a disk", path));
  } else if (GetFileSizeEx(h, &li)) {
    have = static_cast<uint64_t>(li.QuadPart);
  } else if (DeviceIoControl(h, IOCTL_DISK_GET_LENGTH_INFO, nullptr, 0, &gli, sizeof gli, &got,
                             nullptr)) {
    have = static_cast<uint64_t>(gli.Length.QuadPart);  // a volume or a physical drive
  } else {
    throw ToolError(kExitFailure,
                    fmt::format("--filename {}: cannot read the size: {}", path, LastErrorText()));
  }
  if (size_given && size > have) {
    throw UsageError(
        fmt::format("--size {}: larger than {} ({})", FormatBytes(size), path, FormatBytes(have)));
  }
  f.size_ = size_given ? size : have;
  return f;
}

void JobFile::EnableDirect() {
  if (direct_) return;  // opened, or already reopened, unbuffered
  // Open the same file again, unbuffered. The share modes let both handles
  // coexist; a temporary file stays until the last handle closes.
  HANDLE h = OpenShared(path_, GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING,
                        FILE_FLAG_OVERLAPPED | FILE_FLAG_NO_BUFFERING);
  if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_ACCESS_DENIED) {
    h = OpenShared(path_, GENERIC_READ, OPEN_EXISTING,
                   FILE_FLAG_OVERLAPPED | FILE_FLAG_NO_BUFFERING);
  }
  if (h == INVALID_HANDLE_VALUE) {
    throw ToolError(kExitFailure, fmt::format("--direct 1: cannot open {} unbuffered: {}", path_,
                                              LastErrorText()));
  }
  first_ = file_;
  first_open_ = true;
  file_ = h;
  direct_ = true;
}

void JobFile::Reserve() {
  LARGE_INTEGER end;
  end.QuadPart = static_cast<LONGLONG>(size_);
  if (!SetFilePointerEx(file_, end, nullptr, FILE_BEGIN) || !SetEndOfFile(file_)) {
    DWORD e = GetLastError();
    throw ToolError(kExitFailure,
                    fmt::format("{} for --size {} next to {}: {}",
                                IsDiskFull(e) ? "no room" : "cannot size the file",
                                FormatBytes(size_), path_, HostErrorText(static_cast<int>(e))));
  }
}

void JobFile::Remove(const std::string& path) { DeleteFileW(Wide(path).c_str()); }

// Windows has no call that evicts one file's pages from the cache manager; a
// read job starts warm unless --direct 1 (FILE_FLAG_NO_BUFFERING) is given.
void JobFile::DropCache() {}

void JobFile::Close() {
  if (open_) CloseHandle(file_);
  if (first_open_) CloseHandle(first_);
  open_ = false;
  first_open_ = false;
}

}  // namespace faio::tool
