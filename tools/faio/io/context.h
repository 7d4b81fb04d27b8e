// context.h - the one way the faio tool makes a context, and the alignment its
// I/O buffers get.
//
// Threads: any; a context is then used by one thread at a time.
#ifndef FAIO_TOOLS_FAIO_IO_CONTEXT_H_
#define FAIO_TOOLS_FAIO_IO_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <faio/faio.hpp>
#include <string>

namespace faio::tool {

// OpenContext creates a context on `backend` ("auto", which honours
// FAIO_BACKEND, or a backend name) holding `capacity` requests, with the
// FAIO_CTX_* `flags`. Throws UsageError for an empty, unknown or
// not-compiled-in name and ToolError(kExitFailure) for an unavailable backend,
// a context the host refuses, or one that holds fewer than `capacity` requests
// (the messages name --backend / FAIO_BACKEND or --iodepth, whichever is at
// fault).
faio::Context OpenContext(const std::string& backend, uint32_t capacity, uint32_t flags = 0);

// BufferAlignment is the alignment every I/O buffer gets: a page, or more if
// the backend (faio_get_limits) or `file_memory_alignment` asks for more.
size_t BufferAlignment(uint32_t file_memory_alignment = 0);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_IO_CONTEXT_H_
