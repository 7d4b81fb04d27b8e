// file.cc - the faio tool's files on Windows (see host/file.h).
//
// Every handle is opened with FILE_FLAG_OVERLAPPED, which faio's iocp backend
// needs (the threads backend takes any handle), and shares read, write and
// delete (OpenShared, host.h). Paths are UTF-8 on the command line and
// converted to UTF-16 for the wide-character calls.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// After windows.h:
#include <fmt/format.h>
#include <winioctl.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "host/file.h"
#include "host/host.h"

namespace faio::tool {
namespace {

int LastError() { return static_cast<int>(GetLastError()); }

// Overlapped is what DeviceIoControl needs on an overlapped handle: an event
// to wait on (GetOverlappedResult), closed when it goes.
class Overlapped {
 public:
  Overlapped() { ov_.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr); }
  ~Overlapped() {
    if (ov_.hEvent != nullptr) CloseHandle(ov_.hEvent);
  }
  Overlapped(const Overlapped&) = delete;
  Overlapped& operator=(const Overlapped&) = delete;
  OVERLAPPED* get() { return &ov_; }

 private:
  OVERLAPPED ov_{};
};

// Control runs one FSCTL on the overlapped handle f and waits for it. True on
// success; ERROR_MORE_DATA also counts (with *got the bytes returned).
bool Control(HANDLE f, DWORD code, void* in, DWORD in_size, void* out, DWORD out_size, DWORD* got,
             int* error) {
  Overlapped ov;
  *got = 0;
  BOOL ok = DeviceIoControl(f, code, in, in_size, out, out_size, got, ov.get());
  if (!ok && GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(f, ov.get(), got, TRUE);
  if (ok || GetLastError() == ERROR_MORE_DATA) return true;
  *error = LastError();
  return false;
}

}  // namespace

std::string FileErrorText(int error) { return HostErrorText(error); }

bool IsError(int error, FileError what) {
  DWORD e = static_cast<DWORD>(error);
  switch (what) {
    case FileError::kNotFound:
      return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND;
    case FileError::kExists:
      return e == ERROR_FILE_EXISTS || e == ERROR_ALREADY_EXISTS;
    case FileError::kDirectRefused:
      return e == ERROR_INVALID_PARAMETER;
    case FileError::kNoSpace:
      return e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL;
    case FileError::kNotSupported:
      return e == ERROR_NOT_SUPPORTED;
  }
  return false;
}

File::File(File&& o) noexcept : f_(o.f_), open_(std::exchange(o.open_, false)) {}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    Close();
    f_ = o.f_;
    open_ = std::exchange(o.open_, false);
  }
  return *this;
}

void File::Close() {
  if (open_) CloseHandle(f_);
  open_ = false;
}

File OpenFile(const std::string& path, const OpenHow& how, int* error) {
  DWORD access = GENERIC_READ | (how.access == Access::kReadWrite ? GENERIC_WRITE : 0);
  DWORD disposition = how.create == Create::kExclusive  ? CREATE_NEW
                      : how.create == Create::kTruncate ? TRUNCATE_EXISTING
                                                        : OPEN_EXISTING;
  DWORD flags = FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED;
  if (how.direct) flags |= FILE_FLAG_NO_BUFFERING;
  HANDLE h = OpenShared(path, access, disposition, flags);
  if (h == INVALID_HANDLE_VALUE) {
    *error = LastError();
    return File();
  }
  return File(h);
}

std::string TemporaryDir() {
  const char* env = std::getenv("TMPDIR");
  if (env != nullptr && *env != '\0') return env;
  wchar_t buf[MAX_PATH + 1];
  DWORD n = GetTempPathW(MAX_PATH + 1, buf);
  if (n == 0 || n > MAX_PATH) return ".";
  std::string dir = Narrow(std::wstring(buf, n));
  while (dir.size() > 1 && (dir.back() == '\\' || dir.back() == '/')) dir.pop_back();
  return dir;
}

File CreateTemporaryFile(const std::string& dir, const std::string& prefix, std::string* path,
                         int* error) {
  // A unique name from the process id and a counter; CREATE_NEW never takes an
  // existing file, so a clash only means another try.
  for (unsigned attempt = 0; attempt < 100; ++attempt) {
    std::string name =
        fmt::format("{}\\{}.{}.{}.{}", dir, prefix, ProcessId(), GetTickCount(), attempt);
    HANDLE h = OpenShared(name, GENERIC_READ | GENERIC_WRITE, CREATE_NEW,
                          FILE_ATTRIBUTE_NORMAL | FILE_FLAG_DELETE_ON_CLOSE | FILE_FLAG_OVERLAPPED);
    if (h != INVALID_HANDLE_VALUE) {
      *path = name;
      return File(h);
    }
    *error = LastError();
    if (!IsError(*error, FileError::kExists)) break;
  }
  return File();
}

void RemoveFile(const std::string& path) { DeleteFileW(Wide(path).c_str()); }

bool StatFile(faio_file f, FileStatus* out, int* error) {
  if (GetFileType(f) != FILE_TYPE_DISK) {
    out->kind = FileKind::kOther;
    return true;
  }
  BY_HANDLE_FILE_INFORMATION info;
  if (GetFileInformationByHandle(f, &info)) {
    out->device = info.dwVolumeSerialNumber;
    out->inode = (uint64_t{info.nFileIndexHigh} << 32) | info.nFileIndexLow;
    out->mode = (info.dwFileAttributes & FILE_ATTRIBUTE_READONLY) != 0 ? 0444 : 0644;
    if ((info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0) {
      out->kind = FileKind::kDirectory;
      out->size = 0;
      return true;
    }
    out->kind = FileKind::kRegular;
    out->size = (uint64_t{info.nFileSizeHigh} << 32) | info.nFileSizeLow;
    return true;
  }
  // A volume or a physical drive.
  GET_LENGTH_INFORMATION gli;
  DWORD got = 0;
  if (DeviceIoControl(f, IOCTL_DISK_GET_LENGTH_INFO, nullptr, 0, &gli, sizeof gli, &got, nullptr)) {
    out->kind = FileKind::kBlockDevice;
    out->size = static_cast<uint64_t>(gli.Length.QuadPart);
    return true;
  }
  *error = LastError();
  return false;
}

bool StatPath(const std::string& path, FileStatus* out, int* error) {
  // FILE_FLAG_BACKUP_SEMANTICS opens directories too; no access is needed for
  // the attributes and the identity.
  HANDLE h = OpenShared(path, 0, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS);
  if (h == INVALID_HANDLE_VALUE) {
    *error = LastError();
    return false;
  }
  bool ok = StatFile(h, out, error);
  CloseHandle(h);
  return ok;
}

bool SetDirect(faio_file, int* error) {
  *error = ERROR_NOT_SUPPORTED;  // a handle's buffering is fixed when it is opened
  return false;
}

File ReopenDirect(faio_file, const std::string& path, Access access, int* error) {
  return OpenFile(path, {access, Create::kNo, /*direct=*/true}, error);
}

bool Resize(faio_file f, uint64_t size, int* error) {
  FILE_END_OF_FILE_INFO eof;
  eof.EndOfFile.QuadPart = static_cast<LONGLONG>(size);
  if (!SetFileInformationByHandle(f, FileEndOfFileInfo, &eof, sizeof eof)) {
    *error = LastError();
    return false;
  }
  return true;
}

bool Reserve(faio_file f, uint64_t size, int* error) { return Resize(f, size, error); }

// Windows has no call that evicts one file's pages from the cache manager; a
// read starts warm unless the file is open with FILE_FLAG_NO_BUFFERING.
void DropCache(faio_file) {}

bool DataExtents::Next(uint64_t pos, uint64_t* start, uint64_t* end, std::string* error) {
  if (pos >= size_) return false;
  if (!sparse_) {
    *start = pos;
    *end = size_;
    return true;
  }
  // The ranges of the last query that end past pos; else ask again from pos.
  while (true) {
    for (const auto& [s, e] : ranges_) {
      if (e <= pos) continue;
      *start = std::max(s, pos);
      *end = std::min(e, size_);
      return *start < *end;
    }
    if (ranges_to_ >= size_ && pos >= ranges_from_) return false;  // no data past pos
    FILE_ALLOCATED_RANGE_BUFFER query;
    query.FileOffset.QuadPart = static_cast<LONGLONG>(pos);
    query.Length.QuadPart = static_cast<LONGLONG>(size_ - pos);
    FILE_ALLOCATED_RANGE_BUFFER out[64];
    DWORD got = 0;
    int e = 0;
    if (!Control(f_, FSCTL_QUERY_ALLOCATED_RANGES, &query, sizeof query, out, sizeof out, &got,
                 &e)) {
      if (e == ERROR_INVALID_FUNCTION || e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_PARAMETER) {
        sparse_ = false;  // the file system cannot tell: one extent
        *start = pos;
        *end = size_;
        return true;
      }
      *error = fmt::format("FSCTL_QUERY_ALLOCATED_RANGES at {}: {}", pos, HostErrorText(e));
      return false;
    }
    size_t n = got / sizeof out[0];
    ranges_.clear();
    for (size_t i = 0; i < n; ++i) {
      uint64_t s = static_cast<uint64_t>(out[i].FileOffset.QuadPart);
      ranges_.emplace_back(s, s + static_cast<uint64_t>(out[i].Length.QuadPart));
    }
    ranges_from_ = pos;
    // A full buffer may have left ranges out: the next query starts after the
    // last one returned.
    ranges_to_ = n == std::size(out) ? ranges_.back().second : size_;
    if (n == 0) return false;
    if (ranges_.back().second <= pos) return false;
  }
}

bool PrepareSparse(faio_file f, int* error) {
  FILE_SET_SPARSE_BUFFER sparse;
  sparse.SetSparse = TRUE;
  DWORD got = 0;
  int e = 0;
  if (Control(f, FSCTL_SET_SPARSE, &sparse, sizeof sparse, nullptr, 0, &got, &e)) return true;
  // A file system without sparse files (FAT) writes zeros instead of holes.
  if (e == ERROR_INVALID_FUNCTION || e == ERROR_NOT_SUPPORTED) return true;
  *error = e;
  return false;
}

bool PunchHoles(faio_file f, uint64_t from, uint64_t to, int* error) {
  if (from >= to) return true;
  FILE_ZERO_DATA_INFORMATION zero;
  zero.FileOffset.QuadPart = static_cast<LONGLONG>(from);
  zero.BeyondFinalZero.QuadPart = static_cast<LONGLONG>(to);
  DWORD got = 0;
  int e = 0;
  if (Control(f, FSCTL_SET_ZERO_DATA, &zero, sizeof zero, nullptr, 0, &got, &e)) return true;
  if (e == ERROR_INVALID_FUNCTION || e == ERROR_NOT_SUPPORTED) return true;
  *error = e;
  return false;
}

}  // namespace faio::tool
