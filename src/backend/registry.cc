// registry.cc - the one place that knows which backends are compiled in.
#include "backend/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iterator>

#if FAIO_HAVE_IO_URING
#include "backend/io_uring/io_uring_backend.h"
#endif
#if FAIO_HAVE_LINUX_AIO
#include "backend/linux_aio/linux_aio_backend.h"
#endif
#if FAIO_HAVE_POSIX_AIO || FAIO_HAVE_KQUEUE
#include "backend/posix_aio/posix_aio_backend.h"
#endif
#if FAIO_HAVE_IOCP
#include "backend/iocp/iocp_backend.h"
#endif
#if FAIO_HAVE_THREADS
#include "backend/threads/threads_backend.h"
#endif
#if FAIO_HAVE_FAULT
#include "backend/fault/fault_backend.h"
#endif

namespace faio::detail {
namespace {

struct Entry {
  const char* name;
  std::unique_ptr<Backend> (*create)(const BackendParams&, Unavailable*);
  bool (*probe)(Unavailable*);
  bool in_auto;  // tried by "auto"; otherwise only when named
};

// Preference order (STYLE.md): io_uring > linux_aio > posix_aio/kqueue > iocp >
// threads.
const Entry kBackends[] = {
#if FAIO_HAVE_IO_URING
    {"io_uring", CreateIoUringBackend, ProbeIoUringBackend, true},
#endif
#if FAIO_HAVE_LINUX_AIO
    {"linux_aio", CreateLinuxAioBackend, ProbeLinuxAioBackend, true},
#endif
#if FAIO_HAVE_KQUEUE
    {"kqueue", CreateKqueueBackend, ProbeKqueueBackend, true},
#endif
#if FAIO_HAVE_POSIX_AIO
    // glibc's POSIX AIO is a user-space thread pool that serializes requests per
    // descriptor: slower than "threads", so "auto" never picks it.
    {"posix_aio", CreatePosixAioBackend, ProbePosixAioBackend, false},
#endif
#if FAIO_HAVE_IOCP
    {"iocp", CreateIocpBackend, ProbeIocpBackend, true},
#endif
#if FAIO_HAVE_THREADS
    {"threads", CreateThreadsBackend, ProbeThreadsBackend, true},
#endif
#if FAIO_HAVE_FAULT
    // A decorator for tests: never picked by "auto".
    {"fault", CreateFaultBackend, ProbeFaultBackend, false},
#endif
};

// Every backend name the library knows, compiled in here or not.
const char* const kKnownNames[] = {"io_uring", "linux_aio", "posix_aio", "kqueue",
                                   "threads",  "iocp",      "fault"};

const Entry* Find(const char* name) {
  for (const Entry& e : kBackends) {
    if (strcmp(e.name, name) == 0) return &e;
  }
  return nullptr;
}

bool Known(const char* name) {
  for (const char* k : kKnownNames) {
    if (strcmp(k, name) == 0) return true;
  }
  return false;
}

// Resolves null/"auto" through FAIO_BACKEND; returns null for "auto". An empty
// name in the options is not a backend (FAIO_E_INVALID_PARAMETER); an empty
// FAIO_BACKEND is as good as unset.
const char* Resolve(const char* name) {
  if (name != nullptr && strcmp(name, "auto") != 0) return name;
  name = getenv("FAIO_BACKEND");
  if (name == nullptr || *name == '\0' || strcmp(name, "auto") == 0) return nullptr;
  return name;
}

}  // namespace

int CreateBackend(const char* name, const BackendParams& p, std::unique_ptr<Backend>* out,
                  Unavailable* why) {
  name = Resolve(name);
  if (name != nullptr) {
    const Entry* e = Find(name);
    if (e == nullptr) {
      if (!Known(name)) return FAIO_E_INVALID_PARAMETER;
      why->status = FAIO_E_NOT_SUPPORTED;
      why->reason = std::string("backend ") + name + " is not compiled into this build";
      return FAIO_E_NOT_SUPPORTED;
    }
    *out = e->create(p, why);
    if (*out == nullptr) {
      // A named backend that cannot run here is "not supported", whatever the
      // probe's own error, unless it ran out of something that may come back
      // (memory, kernel slots such as fs.aio-max-nr: the caller may retry) or
      // was given bad options (the fault backend's spec). The reason says which.
      return why->status == FAIO_E_NO_MEMORY || why->status == FAIO_E_INSUFFICIENT_RESOURCES ||
                     why->status == FAIO_E_INVALID_PARAMETER
                 ? why->status
                 : FAIO_E_NOT_SUPPORTED;
    }
    return FAIO_OK;
  }
  for (const Entry& e : kBackends) {
    if (!e.in_auto) continue;
    Unavailable this_one;
    *out = e.create(p, &this_one);
    if (*out != nullptr) return FAIO_OK;
    if (!why->reason.empty()) why->reason += "; ";
    why->reason += std::string(e.name) + ": " + this_one.reason;
    why->status = this_one.status;
  }
  return FAIO_E_NOT_SUPPORTED;
}

int ListBackends(faio_backend_info* out, size_t size, size_t* count) {
  if (out == nullptr && size > 0) return FAIO_E_INVALID_PARAMETER;
  size_t n = std::size(kBackends);
  if (count != nullptr) *count = n;
  for (size_t i = 0; i < n && i < size; ++i) {
    const Entry& e = kBackends[i];
    Unavailable why;
    bool ok = e.probe(&why);
    faio_backend_info& info = out[i];
    info.name = e.name;
    info.available = ok ? 1 : 0;
    info.status = ok ? FAIO_OK : why.status;
    info.host_error = ok ? 0 : why.host_error;
    info.automatic = e.in_auto ? 1 : 0;
    snprintf(info.reason, sizeof(info.reason), "%s", ok ? "" : why.reason.c_str());
  }
  return FAIO_OK;
}

const char* AutoBackendName(int* status) {
  const char* name = Resolve(nullptr);
  if (name != nullptr) {
    const Entry* e = Find(name);
    Unavailable why;
    if (e == nullptr) {
      *status = Known(name) ? FAIO_E_NOT_SUPPORTED : FAIO_E_INVALID_PARAMETER;
      return nullptr;
    }
    if (!e->probe(&why)) {
      *status = FAIO_E_NOT_SUPPORTED;
      return nullptr;
    }
    return e->name;
  }
  for (const Entry& e : kBackends) {
    Unavailable why;
    if (e.in_auto && e.probe(&why)) return e.name;
  }
  *status = FAIO_E_NOT_SUPPORTED;
  return nullptr;
}

}  // namespace faio::detail

namespace faio::detail {

int Limits(faio_limits* out) {
  if (out == nullptr) return FAIO_E_INVALID_PARAMETER;
  int status = FAIO_OK;
  const char* name = AutoBackendName(&status);
  if (name == nullptr) return status;
  // io_uring and the thread pool have no per-process cap on requests in flight
  // (io_uring's CQ overflow is buffered by the kernel, IORING_FEAT_NODROP), and
  // neither needs aligned buffers unless the file is opened for direct I/O,
  // which faio_file_alignment answers per file.
  out->max_requests = FAIO_UNLIMITED;
  out->buffer_alignment = 0;
  return FAIO_OK;
}

}  // namespace faio::detail
