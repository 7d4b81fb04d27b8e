// common.h - what the faio tool's subcommands share: exit codes, error
// reporting, the list of compiled-in backends.
#ifndef FAIO_TOOLS_FAIO_CLI_COMMON_H_
#define FAIO_TOOLS_FAIO_CLI_COMMON_H_

#include <faio/faio.h>

#include <cstddef>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace faio::tool {

// Exit codes of the tool.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the job ran into an error
inline constexpr int kExitUsage = 2;    // a bad option value
inline constexpr int kExitInterrupted = 130;

// ToolError carries a message for the user and the exit code that goes with it.
// Subcommands throw it; main prints "faio <subcommand>: <message>" and exits.
class ToolError : public std::runtime_error {
 public:
  ToolError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// UsageError is a ToolError for a bad option value (exit code kExitUsage).
inline ToolError UsageError(const std::string& message) { return ToolError(kExitUsage, message); }

// StatusText is "disk full (FAIO_E_DISK_FULL)"-like text for a faio status, with
// the host's errno appended when it is not 0.
std::string StatusText(int status, int host_error = 0);

// Backends lists every compiled-in backend, probed, in the order auto tries them.
std::vector<faio_backend_info> Backends();

// BackendNames is "io_uring, threads" for the compiled-in backends.
std::string BackendNames(const std::vector<faio_backend_info>& backends);

// CheckBackend checks a --backend value before any context is made: "auto"
// (then FAIO_BACKEND, when set, is checked the same way) or the name of a
// compiled-in backend that is available here. Throws UsageError for an unknown
// or not-compiled-in name, ToolError for an unavailable one (with the probe's
// reason). Returns how messages should name the choice: "--backend io_uring",
// "FAIO_BACKEND=threads" or "FAIO_BACKEND=auto".
std::string CheckBackend(const std::string& backend);

// VersionString is the library's version ("0.1.0") as reported at run time.
std::string VersionString();

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_CLI_COMMON_H_
