// posix_aio_limits.cc - faio_get_limits for the POSIX AIO backends (posix_aio,
// kqueue): the host's cap on the POSIX AIO requests one process has queued.
//
// FreeBSD: aio_read/aio_write/lio_listio refuse with EAGAIN once the process
// has vfs.aio.max_aio_queue_per_proc requests queued, or the system has
// vfs.aio.max_aio_queue; the cap is the smaller. (vfs.aio.max_aio_per_proc
// bounds how many of them the kernel's AIO daemons run at once: requests over
// it wait in the queue, they are not refused.)
//
// Elsewhere: sysconf(_SC_AIO_MAX) where the host defines one. glibc answers -1:
// its POSIX AIO keeps requests in a list it grows with malloc and runs them on
// at most aio_threads (20) worker threads, so nothing caps the requests
// outstanding: FAIO_UNLIMITED.
#include <unistd.h>

#include "backend/posix_aio/aio_host.h"
#include "backend/posix_aio/posix_aio_backend.h"

namespace faio::detail {
namespace {

#if FAIO_FREEBSD_AIO
// The value of an int sysctl, or -1 when it is absent (aio(4) not loaded).
long IntSysctl(const char* name) {
  int v = 0;
  size_t len = sizeof(v);
  return sysctlbyname(name, &v, &len, nullptr, 0) == 0 ? v : -1;
}
#endif

}  // namespace

int PosixAioBackendLimits(faio_limits* out) {
  out->buffer_alignment = 0;  // direct I/O alignment is a file's
  out->max_requests = FAIO_UNLIMITED;
#if FAIO_FREEBSD_AIO
  long per_proc = IntSysctl("vfs.aio.max_aio_queue_per_proc");
  long global = IntSysctl("vfs.aio.max_aio_queue");
  long cap = per_proc > 0 && (global <= 0 || per_proc < global) ? per_proc : global;
  if (cap > 0) out->max_requests = static_cast<uint32_t>(cap);
#else
  long cap = sysconf(_SC_AIO_MAX);
  if (cap > 0) {
    out->max_requests = static_cast<unsigned long>(cap) >= FAIO_UNLIMITED
                            ? FAIO_UNLIMITED - 1
                            : static_cast<uint32_t>(cap);
  }
#endif
  return FAIO_OK;
}

}  // namespace faio::detail
