// info.h - `faio info`: what this faio build can do on this host.
#ifndef FAIO_TOOLS_FAIO_INFO_H_
#define FAIO_TOOLS_FAIO_INFO_H_

#include <faio/faio.h>

#include <string>

namespace faio::tool {

// RunInfo prints the library version, every compiled-in backend (available, or
// why not), the process-wide limits, the backend `auto` picks, and the direct-I/O
// alignment of `path` (a directory: of a probe file created and removed there).
// Returns the exit code.
int RunInfo(const std::string& path);

// ProbePath prints the direct-I/O report for `path` (through PrintAlignment).
// The host's: info_posix.cc, info_windows.cc.
int ProbePath(const std::string& path);

// PrintAlignment prints the report for the open file f: its file system,
// faio_file_alignment, and whether the host's direct-I/O flag (`direct_flag`,
// "O_DIRECT" or "FILE_FLAG_NO_BUFFERING") was accepted (`direct_refusal` is
// empty) or why not.
void PrintAlignment(const std::string& what, const std::string& fs_name, faio_file f,
                    const char* direct_flag, const std::string& direct_refusal);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_INFO_H_
