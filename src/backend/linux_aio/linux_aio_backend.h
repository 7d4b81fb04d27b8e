// linux_aio_backend.h - the Linux kernel AIO backend (io_setup/io_submit/
// io_getevents through raw system calls).
#ifndef FAIO_SRC_BACKEND_LINUX_AIO_LINUX_AIO_BACKEND_H_
#define FAIO_SRC_BACKEND_LINUX_AIO_LINUX_AIO_BACKEND_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

std::unique_ptr<Backend> CreateLinuxAioBackend(const BackendParams& p, Unavailable* why);
bool ProbeLinuxAioBackend(Unavailable* why);
// LinuxAioBackendLimits: faio_get_limits for linux_aio, from fs.aio-max-nr.
int LinuxAioBackendLimits(faio_limits* out);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_LINUX_AIO_LINUX_AIO_BACKEND_H_
