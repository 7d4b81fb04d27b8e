// host_windows.cc - host.h for Windows (the threads backend and the core).
//
// Host errors are Windows error codes (GetLastError). Positional transfers use an
// OVERLAPPED with the offset whatever the handle was opened with: a handle
// without FILE_FLAG_OVERLAPPED transfers synchronously at that offset; an
// overlapped one (a file the iocp backend may also be given, a named pipe) is
// waited for on a private event. The event's low bit is set, which keeps the
// completion off any I/O completion port the handle is associated with, so a
// threads-backend transfer never posts a packet an iocp context would reap.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winioctl.h>

#include "platform/host.h"

namespace faio::platform {
namespace {

// Codes mingw-w64's winerror.h lacks (values from Microsoft's documentation).
constexpr DWORD kErrorOffsetAlignmentViolation = 327;
constexpr DWORD kErrorDeviceHardwareError = 483;
constexpr DWORD kErrorDiskQuotaExceeded = 1295;

}  // namespace

int StatusFromHostError(int err) {
  switch (static_cast<DWORD>(err)) {
    case ERROR_SUCCESS:
      return FAIO_OK;
    case ERROR_INVALID_PARAMETER:
    case ERROR_NEGATIVE_SEEK:
    case kErrorOffsetAlignmentViolation:
      return FAIO_E_INVALID_PARAMETER;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return FAIO_E_NO_MEMORY;
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_NONPAGED_SYSTEM_RESOURCES:
    case ERROR_PAGED_SYSTEM_RESOURCES:
    case ERROR_WORKING_SET_QUOTA:
    case ERROR_PAGEFILE_QUOTA:
    case ERROR_NOT_ENOUGH_QUOTA:
    case ERROR_INVALID_USER_BUFFER:  // "too many outstanding asynchronous requests"
    case ERROR_TOO_MANY_CMDS:
      return FAIO_E_INSUFFICIENT_RESOURCES;
    case ERROR_OPERATION_ABORTED:
      return FAIO_E_CANCELLED;
    case ERROR_CRC:
    case ERROR_IO_DEVICE:
    case ERROR_READ_FAULT:
    case ERROR_WRITE_FAULT:
    case ERROR_SECTOR_NOT_FOUND:
    case ERROR_GEN_FAILURE:
    case ERROR_DISK_OPERATION_FAILED:
    case kErrorDeviceHardwareError:
    case ERROR_FILE_CORRUPT:
    case ERROR_DISK_CORRUPT:
      return FAIO_E_IO;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case kErrorDiskQuotaExceeded:
      return FAIO_E_DISK_FULL;
    case ERROR_FILE_TOO_LARGE:
      return FAIO_E_FILE_TOO_BIG;
    // A handle opened without the access a transfer needs (the wrong direction)
    // answers ERROR_ACCESS_DENIED on Windows, where POSIX answers EBADF.
    case ERROR_ACCESS_DENIED:
    case ERROR_WRITE_PROTECT:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return FAIO_E_ACCESS_DENIED;
    case ERROR_INVALID_HANDLE:
      return FAIO_E_BAD_FILE;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
    case ERROR_CALL_NOT_IMPLEMENTED:
      return FAIO_E_NOT_SUPPORTED;
    case WAIT_TIMEOUT:
    case ERROR_TIMEOUT:
    case ERROR_SEM_TIMEOUT:
      return FAIO_E_TIMEOUT;
    case ERROR_BUSY:
      return FAIO_E_BUSY;
    default:
      return FAIO_E_HOST;
  }
}

namespace {

// Transfers at most this much per call (ReadFile/WriteFile take a DWORD).
constexpr size_t kMaxTransfer = 0x7ffff000;

// Transfer runs one ReadFile/WriteFile at off and waits for it. End of file
// (ERROR_HANDLE_EOF) and a pipe whose writer is gone (ERROR_BROKEN_PIPE) are a
// zero-byte read, as read(2) answers them.
int64_t Transfer(bool write, faio_file f, void* buf, size_t len, int64_t off, int* err) {
  HANDLE ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (ev == nullptr) {
    *err = static_cast<int>(GetLastError());
    return -1;
  }
  OVERLAPPED ov = {};
  ov.Offset = static_cast<DWORD>(static_cast<uint64_t>(off));
  ov.OffsetHigh = static_cast<DWORD>(static_cast<uint64_t>(off) >> 32);
  // Low bit set: no completion packet to a port the handle is associated with.
  ov.hEvent = reinterpret_cast<HANDLE>(reinterpret_cast<uintptr_t>(ev) | 1);
  DWORD n = 0;
  DWORD want = static_cast<DWORD>(len < kMaxTransfer ? len : kMaxTransfer);
  BOOL ok = write ? WriteFile(f, buf, want, &n, &ov) : ReadFile(f, buf, want, &n, &ov);
  DWORD e = ok ? ERROR_SUCCESS : GetLastError();
  if (!ok && e == ERROR_IO_PENDING) {
    ok = GetOverlappedResult(f, &ov, &n, TRUE);
    e = ok ? ERROR_SUCCESS : GetLastError();
  }
  CloseHandle(ev);
  if (ok) return static_cast<int64_t>(n);
  if (!write && (e == ERROR_HANDLE_EOF || e == ERROR_BROKEN_PIPE)) return 0;
  *err = static_cast<int>(e);
  return -1;
}

}  // namespace

int64_t ReadAt(faio_file f, void* buf, size_t len, int64_t off, int* err) {
  return Transfer(false, f, buf, len, off, err);
}

int64_t WriteAt(faio_file f, const void* buf, size_t len, int64_t off, int* err) {
  return Transfer(true, f, const_cast<void*>(buf), len, off, err);
}

// Windows: every transfer goes to the host (host.h).
uint8_t ProbeNow(faio_file f) {
  return GetFileType(f) == FILE_TYPE_DISK ? kNowProbed : kNowProbed | kNowMayHold;
}
bool IsLocalFile(faio_file) { return false; }

bool TransferNow(faio_file, bool, const faio_buffer*, uint32_t, size_t, int64_t, uint8_t*, size_t*,
                 int*) {
  return false;
}

namespace {
// One Transfer per segment, in order; stops after a short one. An error after
// some bytes moved ends the transfer short (the bytes are reported), as
// preadv does.
int64_t TransferV(bool write, faio_file f, const faio_buffer* segs, uint32_t n, int64_t off,
                  int* err) {
  int64_t done = 0;
  for (uint32_t i = 0; i < n; ++i) {
    int64_t t = Transfer(write, f, segs[i].base, segs[i].length, off + done, err);
    if (t < 0) return done != 0 ? done : -1;
    done += t;
    if (static_cast<size_t>(t) < segs[i].length) break;
  }
  return done;
}
}  // namespace

int64_t ReadAtV(faio_file f, const faio_buffer* segs, uint32_t n, int64_t off, int* err) {
  return TransferV(false, f, segs, n, off, err);
}

int64_t WriteAtV(faio_file f, const faio_buffer* segs, uint32_t n, int64_t off, int* err) {
  return TransferV(true, f, segs, n, off, err);
}

// Windows: the caller's buffer rules for FILE_FLAG_NO_BUFFERING are the host's
// to enforce on the contiguous buffer; the segments are not checked here.
int CheckDirectSegments(faio_file, const faio_buffer*, uint32_t) { return 0; }

int SyncFile(faio_file f, bool full, int* err) {
  // FlushFileBuffers writes data and metadata; Windows has no data-only flush
  // for ordinary handles, so both flavours are the full one.
  (void)full;
  if (FlushFileBuffers(f)) return 0;
  *err = static_cast<int>(GetLastError());
  return -1;
}

int CheckFile(faio_file f) {
  DWORD flags = 0;
  if (f == nullptr || f == INVALID_HANDLE_VALUE || !GetHandleInformation(f, &flags)) {
    return FAIO_E_BAD_FILE;
  }
  return FAIO_OK;
}

int FileAlignment(faio_file f, faio_alignment* out) {
  if (CheckFile(f) != FAIO_OK) return FAIO_E_BAD_FILE;
  if (GetFileType(f) != FILE_TYPE_DISK) return FAIO_E_NOT_SUPPORTED;
  // Unbuffered I/O (FILE_FLAG_NO_BUFFERING) needs sector-aligned offsets,
  // lengths and buffers: the volume's physical sector size where the file system
  // reports it, else its logical one, else 512.
  FILE_STORAGE_INFO si = {};
  if (GetFileInformationByHandleEx(f, FileStorageInfo, &si, sizeof(si)) &&
      si.FileSystemEffectivePhysicalBytesPerSectorForAtomicity != 0) {
    out->memory = si.FileSystemEffectivePhysicalBytesPerSectorForAtomicity;
    out->offset = si.FileSystemEffectivePhysicalBytesPerSectorForAtomicity;
    return FAIO_OK;
  }
  out->memory = 512;
  out->offset = 512;
  return FAIO_OK;
}

int OpenNotify(Notify* out, int* err) {
  HANDLE e = CreateEventW(nullptr, TRUE, FALSE, nullptr);  // manual reset
  if (e == nullptr) {
    *err = static_cast<int>(GetLastError());
    return FAIO_E_INSUFFICIENT_RESOURCES;
  }
  out->wait = out->signal = e;
  return FAIO_OK;
}

void SignalNotify(const Notify& n) { SetEvent(n.signal); }

void ResetNotify(const Notify& n) { ResetEvent(n.wait); }

void CloseNotify(Notify* n) {
  if (n->wait != INVALID_HANDLE_VALUE && n->wait != nullptr) CloseHandle(n->wait);
  n->wait = n->signal = INVALID_HANDLE_VALUE;
}

}  // namespace faio::platform
