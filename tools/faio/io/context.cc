// context.cc - see context.h.
#include "io/context.h"

#include <fmt/format.h>

#include <utility>

#include "cli/common.h"

namespace faio::tool {

faio::Context OpenContext(const std::string& backend, uint32_t capacity, uint32_t flags) {
  if (backend.empty()) throw UsageError("--backend: empty name (use auto, io_uring, threads, ...)");
  bool is_auto = backend == "auto";
  std::string who = CheckBackend(backend);
  faio::Options opts;
  opts.capacity = capacity;
  opts.flags = flags;
  opts.backend = is_auto ? nullptr : backend.c_str();
  auto ctx = faio::Context::Create(opts);
  if (!ctx.ok()) {
    int st = static_cast<int>(ctx.status());
    if (st == FAIO_E_INSUFFICIENT_RESOURCES) {
      throw ToolError(kExitFailure,
                      fmt::format("--iodepth: the host refused a context of capacity {}: {}",
                                  capacity, StatusText(st)));
    }
    throw ToolError(kExitFailure, fmt::format("{}: cannot create a context of capacity {}: {}", who,
                                              capacity, StatusText(st)));
  }
  faio::Context c = std::move(ctx).value();
  if (c.Capacity() < capacity) {
    throw ToolError(kExitFailure,
                    fmt::format("--iodepth: the context holds only {} requests, {} needed",
                                c.Capacity(), capacity));
  }
  return c;
}

size_t BufferAlignment(uint32_t file_memory_alignment) {
  size_t alignment = 4096;  // page-aligned buffers suit every backend and file system
  faio_limits limits{};
  if (faio_get_limits(&limits) == FAIO_OK && limits.buffer_alignment > alignment) {
    alignment = limits.buffer_alignment;
  }
  if (file_memory_alignment > alignment) alignment = file_memory_alignment;
  return alignment;
}

}  // namespace faio::tool
