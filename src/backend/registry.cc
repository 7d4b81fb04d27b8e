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
  int (*limits)(faio_limits*);  // faio_get_limits for this backend
  bool in_auto;                 // tried by "auto"; otherwise only when named
};

// The limits of a backend whose host puts no cap on the requests one process
// has in flight, and which needs no buffer alignment (direct I/O alignment is a
// file's: faio_file_alignment):
//   io_uring  a process may have any number of rings, each as large as it asks
//             (faio's capacity 0 means unlimited: CQ overflow is kept by the
//             kernel, IORING_FEAT_NODROP); what bounds contexts is descriptors
//             and, before Linux 5.12, RLIMIT_MEMLOCK, not requests;
//   threads   queued requests are linked through themselves: memory only;
//   iocp      overlapped I/O in flight costs non-paged pool, no count.
[[maybe_unused]] int NoPerProcessCap(faio_limits* out) {
  out->max_requests = FAIO_UNLIMITED;
  out->buffer_alignment = 0;
  return FAIO_OK;
}

// Preference order (STYLE.md): io_uring > linux_aio > posix_aio/kqueue > iocp >
// threads.
const Entry kBackends[] = {
#if FAIO_HAVE_IO_URING
    {"io_uring", CreateIoUringBackend, ProbeIoUringBackend, NoPerProcessCap, true},
#endif
#if FAIO_HAVE_LINUX_AIO
    {"linux_aio", CreateLinuxAioBackend, ProbeLinuxAioBackend, LinuxAioBackendLimits, true},
#endif
#if FAIO_HAVE_KQUEUE
    {"kqueue", CreateKqueueBackend, ProbeKqueueBackend, PosixAioBackendLimits, true},
#endif
#if FAIO_HAVE_POSIX_AIO
    // glibc's POSIX AIO is a user-space thread pool that serializes requests per
    // descriptor: slower than "threads", so "auto" never picks it.
    {"posix_aio", CreatePosixAioBackend, ProbePosixAioBackend, PosixAioBackendLimits, false},
#endif
#if FAIO_HAVE_IOCP
    {"iocp", CreateIocpBackend, ProbeIocpBackend, NoPerProcessCap, true},
#endif
#if FAIO_HAVE_THREADS
    {"threads", CreateThreadsBackend, ProbeThreadsBackend, NoPerProcessCap, true},
#endif
#if FAIO_HAVE_FAULT
    // A decorator for tests: never picked by "auto".
    {"fault", CreateFaultBackend, ProbeFaultBackend, FaultBackendLimits, false},
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

// Exhausted: a failure that means the backend is here but the host ran out of
// something a context needs (descriptors, kernel AIO slots, threads, memory),
// which may come back. "auto" answers it instead of trying the next backend.
bool Exhausted(int status) {
  return status == FAIO_E_INSUFFICIENT_RESOURCES || status == FAIO_E_NO_MEMORY;
}

// AutoEntry is the backend the automatic choice lands on now (FAIO_BACKEND not
// consulted): the first "auto" backend that is present, that is, whose probe
// passes (*ok true) or finds it exhausted (*ok false, *why says what ran out).
// Null with *why when every one is absent.
const Entry* AutoEntry(bool* ok, Unavailable* why) {
  std::string reasons;
  for (const Entry& e : kBackends) {
    if (!e.in_auto) continue;
    Unavailable this_one;
    *ok = e.probe(&this_one);
    if (*ok || Exhausted(this_one.status)) {
      if (!*ok) *why = this_one;
      return &e;
    }
    if (!reasons.empty()) reasons += "; ";
    reasons += std::string(e.name) + ": " + this_one.reason;
  }
  *ok = false;
  why->status = FAIO_E_NOT_SUPPORTED;
  why->host_error = 0;
  why->reason = reasons.empty() ? std::string("no backend is compiled in") : reasons;
  return nullptr;
}

}  // namespace

int CreateBackend(const char* name, const BackendParams& p, std::unique_ptr<Backend>* out,
                  Unavailable* why) {
  name = Resolve(name);
  if (name == nullptr) return CreateAutoBackend(p, out, why);
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
    // (descriptors, memory, kernel slots such as fs.aio-max-nr, threads: the
    // caller may retry) or was given bad options (the fault backend's spec).
    // The reason says which.
    bool keep = Exhausted(why->status) || why->status == FAIO_E_INVALID_PARAMETER;
    return keep ? why->status : FAIO_E_NOT_SUPPORTED;
  }
  return FAIO_OK;
}

int CreateAutoBackend(const BackendParams& p, std::unique_ptr<Backend>* out, Unavailable* why) {
  for (const Entry& e : kBackends) {
    if (!e.in_auto) continue;
    Unavailable this_one;
    *out = e.create(p, &this_one);
    if (*out != nullptr) return FAIO_OK;
    if (!why->reason.empty()) why->reason += "; ";
    why->reason += std::string(e.name) + ": " + this_one.reason;
    why->status = this_one.status;
    why->host_error = this_one.host_error;
    // Present but exhausted: the host has it, so falling back would hide the
    // shortage behind a slower backend (docs/contract.md, "Context lifetime").
    if (Exhausted(this_one.status)) return this_one.status;
  }
  why->status = FAIO_E_NOT_SUPPORTED;
  return FAIO_E_NOT_SUPPORTED;
}

bool ProbeBackend(const char* name, Unavailable* why) {
  if (name == nullptr) {
    bool ok = false;
    const Entry* e = AutoEntry(&ok, why);
    return e != nullptr && ok;
  }
  const Entry* e = Find(name);
  if (e == nullptr) {
    why->status = FAIO_E_NOT_SUPPORTED;
    why->reason = std::string("backend ") + name + " is not compiled into this build";
    return false;
  }
  return e->probe(why);
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
  Unavailable why;
  if (name != nullptr) {
    const Entry* e = Find(name);
    if (e == nullptr) {
      *status = Known(name) ? FAIO_E_NOT_SUPPORTED : FAIO_E_INVALID_PARAMETER;
      return nullptr;
    }
    if (!e->probe(&why) && !Exhausted(why.status)) {
      *status = FAIO_E_NOT_SUPPORTED;
      return nullptr;
    }
    return e->name;
  }
  bool ok = false;
  const Entry* e = AutoEntry(&ok, &why);
  if (e == nullptr) {
    *status = FAIO_E_NOT_SUPPORTED;
    return nullptr;
  }
  return e->name;
}

int Limits(faio_limits* out) {
  if (out == nullptr) return FAIO_E_INVALID_PARAMETER;
  int status = FAIO_OK;
  const char* name = AutoBackendName(&status);
  if (name == nullptr) return status;
  return LimitsOf(name, out);
}

int LimitsOf(const char* name, faio_limits* out) {
  const Entry* e = nullptr;
  if (name == nullptr) {
    bool ok = false;
    Unavailable why;
    e = AutoEntry(&ok, &why);
  } else {
    e = Find(name);
  }
  if (e == nullptr) return FAIO_E_NOT_SUPPORTED;
  return e->limits(out);
}

}  // namespace faio::detail
