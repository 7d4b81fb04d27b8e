// iocp_backend.h - the Windows backend: overlapped ReadFile/WriteFile on an I/O
// completion port, flushes on a worker thread.
//
// Files must be opened with FILE_FLAG_OVERLAPPED. Each is associated with the
// context's port (faio_ctx_associate_file, or on its first submit); a handle
// opened without the flag is refused: faio_ctx_associate_file answers
// FAIO_E_NOT_SUPPORTED and its reads and writes complete with that status (the
// "threads" backend takes any handle). Flushes need no association and work on
// any handle. See iocp_backend.cc for completion, wakeup and cancel.
#ifndef FAIO_SRC_BACKEND_IOCP_IOCP_BACKEND_H_
#define FAIO_SRC_BACKEND_IOCP_IOCP_BACKEND_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

std::unique_ptr<Backend> CreateIocpBackend(const BackendParams& p, Unavailable* why);
bool ProbeIocpBackend(Unavailable* why);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_IOCP_IOCP_BACKEND_H_
