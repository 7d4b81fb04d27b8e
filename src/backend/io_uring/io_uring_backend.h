// io_uring_backend.h - the Linux io_uring backend (liburing).
#ifndef FAIO_SRC_BACKEND_IO_URING_IO_URING_BACKEND_H_
#define FAIO_SRC_BACKEND_IO_URING_IO_URING_BACKEND_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

std::unique_ptr<Backend> CreateIoUringBackend(const BackendParams& p, Unavailable* why);
bool ProbeIoUringBackend(Unavailable* why);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_IO_URING_IO_URING_BACKEND_H_
