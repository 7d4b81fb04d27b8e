// transfer_now.h - platform::TransferNow on Linux (declared in platform/host.h),
// inline: it is on the path of every request made at submission, where a
// call of nine arguments cost as much as the rest of the step.
#ifndef FAIO_SRC_PLATFORM_POSIX_TRANSFER_NOW_H_
#define FAIO_SRC_PLATFORM_POSIX_TRANSFER_NOW_H_

#include <errno.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "faio/faio.h"
#include "platform/host.h"  // kNowRead, kNowWrite (it includes this file at its end)

namespace faio::platform {

// TransferNowFailed: TransferNow's system call failed (errno says why); what
// that means for the file (host_posix.cc). Same answer as TransferNow.
bool TransferNowFailed(bool write, uint8_t* now, size_t* bytes, int* err);

inline bool TransferNow(faio_file f, bool write, const faio_buffer* segs, uint32_t n, size_t len,
                        int64_t off, uint8_t* now, size_t* bytes, int* err) {
  if ((*now & (write ? kNowWrite : kNowRead)) == 0) return false;
  const auto* iov = reinterpret_cast<const iovec*>(segs);
  ssize_t t;
  do {
    if (write) {
      t = n == 1 ? ::pwrite(f, segs[0].base, len, static_cast<off_t>(off))
                 : ::pwritev(f, iov, static_cast<int>(n), static_cast<off_t>(off));
    } else {
      t = ::preadv2(f, iov, static_cast<int>(n), static_cast<off_t>(off), RWF_NOWAIT);
    }
  } while (t < 0 && errno == EINTR);
  if (t < 0) [[unlikely]] return TransferNowFailed(write, now, bytes, err);
  // A read the cache holds in part, or one at the end of the file: the host's.
  if (!write && static_cast<size_t>(t) < len) return false;
  *err = 0;
  *bytes = static_cast<size_t>(t);
  return true;
}

}  // namespace faio::platform

#endif  // FAIO_SRC_PLATFORM_POSIX_TRANSFER_NOW_H_
