// submit.cc - see submit.h.
#include "io/submit.h"

#include <span>

namespace faio::tool {

size_t SubmitBatch(faio_ctx* ctx, faio_req** reqs, size_t n, int* status) {
  *status = faio_ctx_submit(ctx, reqs, n);
  if (*status == FAIO_OK) return n;
  if (*status != FAIO_E_INSUFFICIENT_RESOURCES) return 0;
  // The accepted requests are a prefix of the array and read as "in progress"
  // (or completed, should a wait have reaped one already on another thread --
  // not the case in this tool); the rest are still prepared.
  size_t taken = 0;
  while (taken < n && faio_req_result(reqs[taken], nullptr) != FAIO_E_NOT_SUBMITTED) ++taken;
  return taken;
}

int FlushAndWait(faio::Context& ctx, faio::Request& req, faio_file f, bool full, int* host_error) {
  *host_error = 0;
  faio::Status s = req.PrepareFlush(f, nullptr, full);
  if (s == faio::Status::kOk) s = ctx.Submit(req);
  if (s != faio::Status::kOk) return static_cast<int>(s);
  faio_req* out = nullptr;
  auto w = ctx.Wait(1, std::span<faio_req*>(&out, 1));
  if (w.value().count != 1) return static_cast<int>(w.status());
  int st = faio_req_result(out, nullptr);
  if (st != FAIO_OK) *host_error = faio_req_host_error(out);
  return st;
}

}  // namespace faio::tool
