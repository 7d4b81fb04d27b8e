// host_posix.cc - host.h for POSIX hosts (Linux, FreeBSD, macOS).
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/futex.h>
#include <linux/stat.h>
#include <sys/eventfd.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#endif

#include "platform/host.h"
#include "platform/lock.h"

namespace faio::platform {

#ifdef __linux__
// Lock's contended path (the classic three-state futex mutex): once the word
// says "held with sleepers" (2), every unlock wakes one sleeper, which takes
// the lock as 2 again, since others may still sleep.
void Lock::LockSlow(uint32_t seen) {
  const int saved = errno;  // a lock leaves errno alone, as pthread_mutex_lock does
  if (seen != 2) seen = word_.exchange(2, std::memory_order_acquire);
  while (seen != 0) {
    // Returns at once (EAGAIN) when the word is no longer 2; EINTR: look again.
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr,
            0);
    seen = word_.exchange(2, std::memory_order_acquire);
  }
  errno = saved;
}

void Lock::Wake() {
  const int saved = errno;
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
          0);
  errno = saved;
}
#endif

int StatusFromHostError(int err) {
  switch (err) {
    case 0:
      return FAIO_OK;
    case EINVAL:
      return FAIO_E_INVALID_PARAMETER;
    case ENOMEM:
      return FAIO_E_NO_MEMORY;
    case EAGAIN:
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ENOBUFS:
      return FAIO_E_INSUFFICIENT_RESOURCES;
    case ECANCELED:
      return FAIO_E_CANCELLED;
    case EIO:
#ifdef ENODATA
    case ENODATA:
#endif
      return FAIO_E_IO;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
      return FAIO_E_DISK_FULL;
    case EFBIG:
      return FAIO_E_FILE_TOO_BIG;
    case EACCES:
    case EPERM:
    case EROFS:
      return FAIO_E_ACCESS_DENIED;
    case EBADF:
      return FAIO_E_BAD_FILE;
    case ENOSYS:
    case EOPNOTSUPP:
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
      return FAIO_E_NOT_SUPPORTED;
    case ETIMEDOUT:
    case ETIME:
      return FAIO_E_TIMEOUT;
    // EINTR as a request's own result (an io-wq worker interrupted) is not a
    // wakeup of the wait: FAIO_E_INTERRUPTED means that. It stays a host error.
    case EBUSY:
      return FAIO_E_BUSY;
    default:
      return FAIO_E_HOST;
  }
}

namespace {

template <typename Fn>
int64_t Retry(Fn fn, int* err) {
  for (;;) {
    ssize_t n = fn();
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    *err = errno;
    return -1;
  }
}

}  // namespace

int64_t ReadAt(faio_file f, void* buf, size_t len, int64_t off, int* err) {
  int64_t n = Retry([&] { return ::pread(f, buf, len, static_cast<off_t>(off)); }, err);
  if (n < 0 && *err == ESPIPE) n = Retry([&] { return ::read(f, buf, len); }, err);
  return n;
}

int64_t WriteAt(faio_file f, const void* buf, size_t len, int64_t off, int* err) {
  int64_t n = Retry([&] { return ::pwrite(f, buf, len, static_cast<off_t>(off)); }, err);
  if (n < 0 && *err == ESPIPE) n = Retry([&] { return ::write(f, buf, len); }, err);
  return n;
}

static_assert(sizeof(faio_buffer) == sizeof(iovec) && offsetof(faio_buffer, base) ==
                  offsetof(iovec, iov_base) && offsetof(faio_buffer, length) ==
                  offsetof(iovec, iov_len),
              "a faio_buffer array is handed to the kernel as an iovec array");

int64_t ReadAtV(faio_file f, const faio_buffer* segs, uint32_t n, int64_t off, int* err) {
  const auto* iov = reinterpret_cast<const iovec*>(segs);
  int64_t t = Retry([&] { return ::preadv(f, iov, static_cast<int>(n), static_cast<off_t>(off)); },
                    err);
  if (t < 0 && *err == ESPIPE) t = Retry([&] { return ::readv(f, iov, static_cast<int>(n)); }, err);
  return t;
}

int64_t WriteAtV(faio_file f, const faio_buffer* segs, uint32_t n, int64_t off, int* err) {
  const auto* iov = reinterpret_cast<const iovec*>(segs);
  int64_t t = Retry([&] { return ::pwritev(f, iov, static_cast<int>(n), static_cast<off_t>(off)); },
                    err);
  if (t < 0 && *err == ESPIPE) t = Retry([&] { return ::writev(f, iov, static_cast<int>(n)); }, err);
  return t;
}

int CheckDirectSegments(faio_file f, const faio_buffer* segs, uint32_t n) {
#ifdef __linux__
  int fl = ::fcntl(f, F_GETFL);
  if (fl == -1 || (fl & O_DIRECT) == 0) return 0;
  faio_alignment a;
  if (FileAlignment(f, &a) != FAIO_OK) return 0;  // the host will answer
  for (uint32_t i = 0; i < n; ++i) {
    if (reinterpret_cast<uintptr_t>(segs[i].base) % a.memory != 0 || segs[i].length % a.offset != 0) {
      return EINVAL;
    }
  }
#else
  (void)f, (void)segs, (void)n;
#endif
  return 0;
}

#ifdef __linux__
namespace {
// LocalFs: f is on one of the local file systems of host.h's list.
bool LocalFs(faio_file f) {
  bool local = false;
  struct statfs sf;
  if (::fstatfs(f, &sf) == 0) {
    switch (static_cast<unsigned long>(sf.f_type)) {
      case 0xEF53:      // ext2, ext3, ext4
      case 0x58465342:  // XFS
      case 0x9123683E:  // Btrfs
      case 0xF2F52010:  // F2FS
      case 0x01021994:  // tmpfs (and devtmpfs, where block devices live)
        local = true;
        break;
      default:
        break;
    }
  }
  return local;
}

// RemoteFs: f is on a file system whose transfers another party serves, and
// may hold for as long as it likes.
bool RemoteFs(faio_file f) {
  struct statfs sf;
  if (::fstatfs(f, &sf) != 0) return false;
  switch (static_cast<unsigned long>(sf.f_type)) {
    case 0x65735546:  // FUSE
    case 0x6969:      // NFS
    case 0xFE534D42:  // SMB2
    case 0xFF534D42:  // CIFS
    case 0x01021997:  // 9p (v9fs)
    case 0x00C36400:  // Ceph
    case 0x5346414F:  // AFS
      return true;
    default:
      return false;
  }
}
}  // namespace
#endif

uint8_t ProbeNow(faio_file f) {
#ifdef __linux__
  int fl = ::fcntl(f, F_GETFL);
  struct stat st;
  if (fl == -1 || ::fstat(f, &st) != 0) return kNowProbed;
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return kNowProbed | kNowMayHold;  // pipes, sockets, ...
  }
  const bool local = LocalFs(f);
  uint8_t now = kNowProbed | (local ? kNowLocal : 0) | (!local && RemoteFs(f) ? kNowMayHold : 0);
  if ((fl & O_DIRECT) != 0) return now;  // never made at submission
  now |= kNowRead;
  if (local) now |= kNowWrite;
  return now;
#else
  struct stat st;
  if (::fstat(f, &st) != 0) return kNowProbed;
  return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ? kNowProbed : kNowProbed | kNowMayHold;
#endif
}

bool IsLocalFile(faio_file f) {
#ifdef __linux__
  struct stat st;
  return ::fstat(f, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) && LocalFs(f);
#else
  (void)f;
  return false;
#endif
}

#ifdef __linux__
bool TransferNowFailed(bool write, uint8_t* now, size_t* bytes, int* err) {
  if (errno == ESPIPE) {  // the probe was stale: not a file that seeks
    *now = kNowProbed;
    return false;
  }
  if (!write) {
    // EAGAIN: not cached. EOPNOTSUPP (or EINVAL on an old kernel): no
    // RWF_NOWAIT for this file. Any other error: the host reports it.
    if (errno == EOPNOTSUPP || errno == EINVAL) *now &= static_cast<uint8_t>(~kNowRead);
    return false;
  }
  *err = errno;
  *bytes = 0;
  return true;
}
#else
bool TransferNow(faio_file, bool, const faio_buffer*, uint32_t, size_t, int64_t, uint8_t*, size_t*,
                 int*) {
  return false;
}
#endif

int SyncFile(faio_file f, bool full, int* err) {
  for (;;) {
#if defined(__APPLE__)
    int rc = ::fsync(f);
    (void)full;
#else
    int rc = full ? ::fsync(f) : ::fdatasync(f);
#endif
    if (rc == 0) return 0;
    if (errno == EINTR) continue;
    *err = errno;
    return -1;
  }
}

int CheckFile(faio_file f) { return ::fcntl(f, F_GETFD) == -1 ? FAIO_E_BAD_FILE : FAIO_OK; }

int FileAlignment(faio_file f, faio_alignment* out) {
  struct stat st;
  if (::fstat(f, &st) != 0) return StatusFromHostError(errno);
#if defined(__linux__) && defined(STATX_DIOALIGN)
  // statx(STATX_DIOALIGN), Linux 6.1+: the file system's own answer. A zero
  // alignment in the reply means the file cannot be opened for direct I/O.
  struct statx sx = {};
  if (::syscall(SYS_statx, f, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
      (sx.stx_mask & STATX_DIOALIGN) != 0) {
    if (sx.stx_dio_mem_align == 0 || sx.stx_dio_offset_align == 0) {
      return FAIO_E_NOT_SUPPORTED;
    }
    out->memory = sx.stx_dio_mem_align;
    out->offset = sx.stx_dio_offset_align;
    return FAIO_OK;
  }
#endif
  // Older kernels and other hosts: the logical block size is what direct I/O
  // needs on every common file system; st_blksize is an upper bound of it.
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) return FAIO_E_NOT_SUPPORTED;
  out->memory = 512;
  out->offset = st.st_blksize > 0 ? static_cast<uint32_t>(st.st_blksize) : 512;
  return FAIO_OK;
}

int OpenNotify(Notify* out, int* err) {
#ifdef __linux__
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    *err = errno;
    return FAIO_E_INSUFFICIENT_RESOURCES;  // EMFILE/ENFILE/ENOMEM: exhaustion
  }
  out->wait = out->signal = fd;
#else
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    *err = errno;
    return FAIO_E_INSUFFICIENT_RESOURCES;
  }
  out->wait = fds[0];
  out->signal = fds[1];
#endif
  return FAIO_OK;
}

void SignalNotify(const Notify& n) {
#ifdef __linux__
  uint64_t one = 1;
  ssize_t k;
  do {
    k = write(n.signal, &one, sizeof(one));
  } while (k < 0 && errno == EINTR);
#else
  // A full pipe is ready already: EAGAIN loses nothing.
  char one = 1;
  ssize_t k;
  do {
    k = write(n.signal, &one, 1);
  } while (k < 0 && errno == EINTR);
#endif
  (void)k;
}

void ResetNotify(const Notify& n) {
#ifdef __linux__
  // An eventfd (not a semaphore): one read takes its whole count to zero.
  uint64_t count;
  ssize_t k;
  do {
    k = read(n.wait, &count, sizeof(count));
  } while (k < 0 && errno == EINTR);
#else
  char buf[64];
  ssize_t k;
  do {
    k = read(n.wait, buf, sizeof(buf));
  } while (k > 0 || (k < 0 && errno == EINTR));
#endif
}

void CloseNotify(Notify* n) {
  if (n->signal != n->wait && n->signal >= 0) close(n->signal);
  if (n->wait >= 0) close(n->wait);
  n->wait = n->signal = kInvalidFile;
}

}  // namespace faio::platform
