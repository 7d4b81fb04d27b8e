// info.cc - see info.h.
#include "info/info.h"

#include <fmt/format.h>

#include <cstdlib>
#include <faio/faio.hpp>
#include <memory>
#include <vector>

#include "cli/common.h"
#include "cli/subcommand.h"
#include "host/file.h"
#include "host/host.h"

namespace faio::tool {
namespace {

std::string Bytes(uint32_t n) { return n <= 1 ? "any" : fmt::format("{} bytes", n); }

void PrintBackends() {
  std::vector<faio_backend_info> backends = Backends();
  fmt::print("backends (compiled in, in the order auto tries them):\n");
  if (backends.empty()) fmt::print("  none\n");
  for (const faio_backend_info& b : backends) {
    const char* only_named = b.automatic ? "" : " (not tried by auto: only when named)";
    if (b.available) {
      fmt::print("  {:<10} available{}\n", b.name != nullptr ? b.name : "?", only_named);
    } else {
      std::string reason =
          b.reason[0] != '\0' ? std::string(b.reason) : StatusText(b.status, b.host_error);
      fmt::print("  {:<10} unavailable{}: {}\n", b.name != nullptr ? b.name : "?", only_named,
                 reason);
    }
  }
}

void PrintAutoAndLimits() {
  const char* env = std::getenv("FAIO_BACKEND");
  std::string via = env != nullptr && *env != '\0' ? fmt::format(" (FAIO_BACKEND={})", env) : "";
  faio_ctx* ctx = nullptr;
  int st = faio_ctx_create(&ctx, 1, 0);
  if (st == FAIO_OK) {
    const char* name = faio_ctx_backend(ctx);
    fmt::print("auto picks: {}{}\n", name != nullptr ? name : "?", via);
    (void)faio_ctx_destroy(ctx);
  } else {
    fmt::print("auto picks: nothing{}: {}\n", via, StatusText(st));
  }
  faio_limits limits{};
  st = faio_get_limits(&limits);
  if (st == FAIO_OK) {
    fmt::print("limits: max_requests={}, buffer_alignment={}\n",
               limits.max_requests == FAIO_UNLIMITED ? std::string("unlimited")
                                                     : fmt::format("{}", limits.max_requests),
               limits.buffer_alignment == 0 ? std::string("none")
                                            : fmt::format("{}", limits.buffer_alignment));
  } else {
    fmt::print("limits: unknown: {}\n", StatusText(st));
  }
}

// ContextCost is what one context of the backend costs the host
// (docs/backends.md, "What a context costs", measured by bench/context_cost).
std::string ContextCost(const std::string& name) {
  if (name == "io_uring") return "2 descriptors (the ring, the wakeup eventfd), no thread";
  // Made pollable (faio_ctx_pollable), every context but posix_aio's adds 1 eventfd.
  if (name == "linux_aio") {
    return "1 descriptor (the wakeup eventfd), 1 kernel AIO context of 2 x capacity + 1 slots "
           "(8,193 at capacity 0), no thread (flushes run on the process's threads pool)";
  }
  if (name == "posix_aio") {
    return "no descriptor, no thread (glibc's AIO threads, at most 20, are the process's); "
           "made pollable: 1 eventfd and 1 watcher thread";
  }
  if (name == "kqueue") return "1 descriptor (its kqueue), no thread";
  if (name == "threads") return "no descriptor, no thread (the process's one pool of workers)";
  if (name == "iocp") return "1 handle (its completion port), no thread";
  if (name == "fault") return "what a context of its inner backend costs";
  return "not known";
}

void PrintContextCosts() {
  fmt::print("one context costs (docs/backends.md, \"What a context costs\"):\n");
  for (const faio_backend_info& b : Backends()) {
    if (!b.available || b.name == nullptr) continue;
    fmt::print("  {:<10} {}\n", b.name, ContextCost(b.name));
  }
  std::string limits = ContextLimits();
  if (!limits.empty()) fmt::print("  host limits: {}\n", limits);
}

// ProbePath prints the direct-I/O report for path (host/file.h, ProbeDirect):
// its file system, faio_file_alignment, and whether the host's direct-I/O flag
// was accepted or why not.
int ProbePath(const std::string& path) {
  DirectProbe p;
  std::string error;
  bool probe_file = false;
  if (!ProbeDirect(path, &p, &error, &probe_file)) {
    if (!probe_file) throw ToolError(kExitFailure, error);
    fmt::print("{}\n", error);
    return kExitFailure;
  }
  faio_alignment al{};
  int st = faio_file_alignment(p.file.get(), &al);
  fmt::print("direct I/O on {} ({}):\n", p.what, p.fs_name);
  if (st == FAIO_OK) {
    fmt::print("  alignment: memory {}, offset and length {}\n", Bytes(al.memory),
               Bytes(al.offset));
  } else {
    fmt::print("  alignment: not known: {}\n", StatusText(st));
  }
  if (p.refusal.empty()) {
    fmt::print("  {}: accepted\n", p.flag);
  } else {
    fmt::print("  {}: refused: {}\n", p.flag, p.refusal);
  }
  return kExitOk;
}

}  // namespace

int RunInfo(const std::string& path) {
  fmt::print("faio {} (headers {}.{}.{})\n", VersionString(), FAIO_VERSION_MAJOR,
             FAIO_VERSION_MINOR, FAIO_VERSION_PATCH);
  PrintBackends();
  PrintAutoAndLimits();
  PrintContextCosts();
  return ProbePath(path);
}

Subcommand AddInfo(CLI::App& parent) {
  auto path = std::make_shared<std::string>(".");
  CLI::App* app = parent.add_subcommand(
      "info",
      "Print the library version, the compiled-in backends (available or why not), the "
      "limits, the backend auto picks, what one context costs the host, and the direct-I/O "
      "alignment of PATH.");
  app->add_option("PATH", *path,
                  "file, block device or directory (a probe file is created and removed)")
      ->capture_default_str();
  return {app, [path] { return RunInfo(*path); }};
}

}  // namespace faio::tool
