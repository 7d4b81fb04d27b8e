// submit.h - the tool's two calls around faio_ctx_submit: a batch that the
// context may take only part of, and one flush waited for.
//
// Threads: the thread that uses the context.
#ifndef FAIO_TOOLS_FAIO_IO_SUBMIT_H_
#define FAIO_TOOLS_FAIO_IO_SUBMIT_H_

#include <faio/faio.h>

#include <cstddef>
#include <faio/faio.hpp>

namespace faio::tool {

// SubmitBatch submits reqs[0..n) to ctx and returns how many the context took.
// All of them on success; on FAIO_E_INSUFFICIENT_RESOURCES the prefix that
// reached the host (the rest are still prepared and can be submitted again).
// *status receives the faio status of the submit.
size_t SubmitBatch(faio_ctx* ctx, faio_req** reqs, size_t n, int* status);

// FlushAndWait flushes f through ctx with req (idle; nothing else may be in
// flight on ctx) and waits for it: FAIO_OK, or the status of the prepare, the
// submit, the wait or the flush itself, with the host's code in *host_error
// (0 unless the flush failed). `full` asks for metadata too (fsync, not
// fdatasync).
int FlushAndWait(faio::Context& ctx, faio::Request& req, faio_file f, bool full, int* host_error);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_IO_SUBMIT_H_
