// info.h - `faio info`: what this faio build can do on this host.
#ifndef FAIO_TOOLS_FAIO_INFO_INFO_H_
#define FAIO_TOOLS_FAIO_INFO_INFO_H_

#include <string>

namespace faio::tool {

// RunInfo prints the library version, every compiled-in backend (available, or
// why not), the process-wide limits, the backend `auto` picks, and the direct-I/O
// alignment of `path` (a directory: of a probe file created and removed there).
// Returns the exit code.
int RunInfo(const std::string& path);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_INFO_INFO_H_
