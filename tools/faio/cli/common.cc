// common.cc - see common.h.
#include "cli/common.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <string_view>

#include "host/host.h"

namespace faio::tool {
namespace {

const char* StatusName(int status) { return faio_status_name(status); }

}  // namespace

std::string StatusText(int status, int host_error) {
  std::string text = fmt::format("{} ({})", faio_strerror(status), StatusName(status));
  if (host_error != 0) {
    text += ", " + HostErrorText(host_error);
  }
  return text;
}

std::vector<faio_backend_info> Backends() {
  size_t count = 0;
  if (faio_get_backends(nullptr, 0, &count) != FAIO_OK) return {};
  std::vector<faio_backend_info> out(count);
  size_t filled = 0;
  if (count == 0 || faio_get_backends(out.data(), out.size(), &filled) != FAIO_OK) return {};
  out.resize(std::min(filled, count));
  return out;
}

std::string BackendNames(const std::vector<faio_backend_info>& backends) {
  std::string names;
  for (const faio_backend_info& b : backends) {
    if (!names.empty()) names += ", ";
    names += b.name != nullptr ? b.name : "?";
  }
  return names.empty() ? "none" : names;
}

std::string CheckBackend(const std::string& backend) {
  // Every backend name the library knows, so that a known-but-absent one gets a
  // better message than "unknown".
  static constexpr std::string_view kKnown[] = {"io_uring", "linux_aio", "posix_aio", "kqueue",
                                                "threads",  "iocp",      "fault"};
  std::vector<faio_backend_info> backends = Backends();
  bool is_auto = backend == "auto";
  const char* env = std::getenv("FAIO_BACKEND");
  std::string wanted = is_auto && env != nullptr && *env != '\0' ? env : backend;
  std::string who =
      is_auto ? fmt::format("FAIO_BACKEND={}", wanted) : fmt::format("--backend {}", wanted);
  if (wanted == "auto") return who;
  auto it = std::find_if(backends.begin(), backends.end(), [&](const faio_backend_info& b) {
    return b.name != nullptr && wanted == b.name;
  });
  if (it == backends.end()) {
    bool known = std::find(std::begin(kKnown), std::end(kKnown), wanted) != std::end(kKnown);
    throw UsageError(fmt::format("{}: {} (compiled in: {}; or auto)", who,
                                 known ? "not compiled into this faio" : "unknown backend",
                                 BackendNames(backends)));
  }
  if (!it->available) {
    throw ToolError(
        kExitFailure,
        fmt::format("{}: unavailable here: {}", who,
                    it->reason[0] != '\0' ? it->reason : StatusText(it->status, it->host_error)));
  }
  return who;
}

std::string VersionString() {
  int v = faio_version();
  return fmt::format("{}.{}.{}", v / 10000, v / 100 % 100, v % 100);
}

}  // namespace faio::tool
