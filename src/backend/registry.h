// registry.h - the compiled-in backends, in the order "auto" tries them.
#ifndef FAIO_SRC_BACKEND_REGISTRY_H_
#define FAIO_SRC_BACKEND_REGISTRY_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

// CreateBackend makes the backend named `name` (null, "" or "auto": the
// FAIO_BACKEND environment variable, else the automatic choice). A named backend
// that fails is an error, never a fallback: FAIO_E_NOT_SUPPORTED with *why when
// it cannot run here, or its own FAIO_E_INSUFFICIENT_RESOURCES/NO_MEMORY when it
// exists but ran out of something; an unknown name is FAIO_E_INVALID_PARAMETER.
int CreateBackend(const char* name, const BackendParams& p, std::unique_ptr<Backend>* out,
                  Unavailable* why);

// CreateAutoBackend makes the automatic choice without consulting FAIO_BACKEND:
// the first backend "auto" tries that works. One that is absent (the host lacks
// it, or forbids it) is passed over; one that exists but is exhausted
// (descriptors, kernel AIO slots, threads, memory) ends the search with its
// status and host error: exhaustion is not absence (docs/contract.md, "Context
// lifetime").
int CreateAutoBackend(const BackendParams& p, std::unique_ptr<Backend>* out, Unavailable* why);

// ProbeBackend probes backend `name` (null: the automatic choice, as
// CreateAutoBackend would make it, FAIO_BACKEND not consulted). False with *why
// when it cannot be made now.
bool ProbeBackend(const char* name, Unavailable* why);

// ListBackends implements faio_get_backends.
int ListBackends(faio_backend_info* out, size_t size, size_t* count);

// Limits implements faio_get_limits for the backend "auto" would choose (or the
// one FAIO_BACKEND names), exhausted or not.
int Limits(faio_limits* out);

// LimitsOf fills *out with the limits of backend `name` (null: the automatic
// choice, FAIO_BACKEND not consulted). FAIO_E_NOT_SUPPORTED when it is not
// compiled in (or nothing is available for the automatic choice).
int LimitsOf(const char* name, faio_limits* out);

// AutoBackendName returns the name "auto" (or FAIO_BACKEND) resolves to now, or
// null with *status when none is available or FAIO_BACKEND is bad. A backend
// that exists but is exhausted is still the one named.
const char* AutoBackendName(int* status);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_REGISTRY_H_
