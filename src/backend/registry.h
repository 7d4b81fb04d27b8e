// registry.h - the compiled-in backends, in the order "auto" tries them.
#ifndef FAIO_SRC_BACKEND_REGISTRY_H_
#define FAIO_SRC_BACKEND_REGISTRY_H_

#include <memory>

#include "backend/backend.h"

namespace faio::detail {

// CreateBackend makes the backend named `name` (null, "" or "auto": the
// FAIO_BACKEND environment variable, else the first that works). A named backend
// that fails is an error (FAIO_E_NOT_SUPPORTED with *why), never a fallback; an
// unknown name is FAIO_E_INVALID_PARAMETER.
int CreateBackend(const char* name, const BackendParams& p, std::unique_ptr<Backend>* out,
                  Unavailable* why);

// ListBackends implements faio_get_backends.
int ListBackends(faio_backend_info* out, size_t size, size_t* count);

// Limits implements faio_get_limits for the backend "auto" would choose.
int Limits(faio_limits* out);

// AutoBackendName returns the name "auto" (or FAIO_BACKEND) resolves to now, or
// null with *status when none is available or FAIO_BACKEND is bad.
const char* AutoBackendName(int* status);

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_REGISTRY_H_
