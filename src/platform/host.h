// host.h - the few host calls the core and the portable backends need, so that
// they compile unchanged on POSIX hosts and on Windows. Each host implements
// these in platform/<host>/.
#ifndef FAIO_SRC_PLATFORM_HOST_H_
#define FAIO_SRC_PLATFORM_HOST_H_

#include <cstddef>
#include <cstdint>

#include "faio/faio.h"

namespace faio::platform {

#ifdef _WIN32
inline const faio_file kInvalidFile = INVALID_HANDLE_VALUE;
#else
inline constexpr faio_file kInvalidFile = -1;
#endif

// StatusFromHostError maps a host error code (errno on POSIX) to a FAIO_E_*
// status. The one place this mapping lives for a host.
int StatusFromHostError(int err);

// ReadAt/WriteAt transfer once at `off` (or at the current position on files that
// cannot seek, such as pipes). They return the bytes moved, or -1 with the host
// error in *err. EINTR is retried.
int64_t ReadAt(faio_file f, void* buf, size_t len, int64_t off, int* err);
int64_t WriteAt(faio_file f, const void* buf, size_t len, int64_t off, int* err);
// ReadAtV/WriteAtV: the same over segs[0..n) in order, as one transfer
// (preadv/pwritev; Windows: one call per segment, stopping after a short one
// or at an error, which is reported only when nothing moved).
int64_t ReadAtV(faio_file f, const faio_buffer* segs, uint32_t n, int64_t off, int* err);
int64_t WriteAtV(faio_file f, const faio_buffer* segs, uint32_t n, int64_t off, int* err);
// Transfers a submitting thread may make itself instead of handing them to the
// host (docs/design.md, "Done at submission"): what ProbeNow says of a file, as
// bits. Linux only, but for kNowMayHold; elsewhere ProbeNow answers kNowProbed
// and kNowMayHold.
//   kNowRead   a buffered file that can seek: a read the page cache holds whole
//              is made with RWF_NOWAIT, which never blocks
//   kNowWrite  ... on a local file system (ext2/3/4, XFS, Btrfs, F2FS, tmpfs):
//              a write is made with pwrite, blocking as io_submit would
inline constexpr uint8_t kNowProbed = 1;
inline constexpr uint8_t kNowRead = 2;
inline constexpr uint8_t kNowWrite = 4;
//   kNowLocal  a regular file or block device on a local file system (the list
//              above), O_DIRECT or not: a transfer is bounded by the device,
//              never by another process (a pipe's writer, a FUSE daemon). The
//              threads backend's waiter may run such a queued transfer itself.
inline constexpr uint8_t kNowLocal = 8;
//   kNowMayHold  a pipe, socket, terminal or other non-file, or a file of a FUSE
//              or network file system (Linux: FUSE, NFS, SMB/CIFS, 9p, Ceph,
//              AFS): a transfer may wait on another party for as long as it
//              likes. The threads pool makes sure another worker comes for
//              queued work when a worker takes such a request (Pool::Spare).
//              Every host.
inline constexpr uint8_t kNowMayHold = 16;
uint8_t ProbeNow(faio_file f);
// IsLocalFile: f is now what kNowLocal says (asked again: a descriptor number may
// have been reused for another kind of file since it was probed). Linux only.
bool IsLocalFile(faio_file f);
// TransferNow makes a read (kNowRead) or write (kNowWrite) now when *now
// allows it. True: done, with the bytes moved or the host error in *err
// (0: success). False: left for the host - not allowed, not wholly cached,
// or the file refused (*now then loses the bit, so it is not asked again).
// The transfer is segs[0..n), len bytes in all.
// Linux: inline (platform/posix/transfer_now.h), on the path of every request
// made at submission; elsewhere it answers false.
#ifndef __linux__
bool TransferNow(faio_file f, bool write, const faio_buffer* segs, uint32_t n, size_t len,
                 int64_t off, uint8_t* now, size_t* bytes, int* err);
#endif
// SyncFile makes the file's written data durable (full: metadata too).
// Returns 0 or -1 with the host error in *err.
int SyncFile(faio_file f, bool full, int* err);
// CheckFile returns FAIO_OK when f is an open file, FAIO_E_BAD_FILE otherwise.
int CheckFile(faio_file f);
// FileAlignment answers faio_file_alignment.
int FileAlignment(faio_file f, faio_alignment* out);
// CheckDirectSegments: 0, or EINVAL when f is open for direct I/O and a segment's
// address or length breaks its alignment (FileAlignment) - the kernel's own
// verdict on such a vector, for a backend that moves the data through a buffer
// of its own (backend_util.h, Bounce). Costs two system calls (Linux); other
// hosts: 0.
int CheckDirectSegments(faio_file f, const faio_buffer* segs, uint32_t n);

// Notify is a context's pollable handle (faio_ctx_pollable): ready (readable on
// POSIX, signalled on Windows) from a Signal until the next Reset. Linux: one
// eventfd (both members); other POSIX hosts: a non-blocking pipe (`wait` is its
// read end); Windows: a manual-reset event.
struct Notify {
  faio_file wait = kInvalidFile;    // what the caller polls
  faio_file signal = kInvalidFile;  // what Signal writes
};
// OpenNotify returns FAIO_OK, or a status with the host error in *err.
int OpenNotify(Notify* out, int* err);
// SignalNotify makes it ready; async-signal-safe on POSIX (one write).
void SignalNotify(const Notify& n);
// ResetNotify makes it not ready (reads what Signal wrote).
void ResetNotify(const Notify& n);
void CloseNotify(Notify* n);

}  // namespace faio::platform

#ifdef __linux__
#include "platform/posix/transfer_now.h"
#endif

#endif  // FAIO_SRC_PLATFORM_HOST_H_
