// faio_c.cc - the C API: translation to the core, no logic.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "backend/registry.h"
#include "core/context.h"
#include "core/request.h"
#include "faio/faio.h"
#include "platform/host.h"

using faio::detail::Context;
using faio::detail::ContextPin;
using faio::detail::Op;

extern "C" {

const char* faio_strerror(int status) {
  switch (status) {
    case FAIO_OK:
      return "success";
    case FAIO_E_INVALID_PARAMETER:
      return "invalid parameter";
    case FAIO_E_INVALID_HANDLE:
      return "invalid handle";
    case FAIO_E_INVALID_STATE:
      return "request not in a state that allows this";
    case FAIO_E_NO_MEMORY:
      return "out of memory";
    case FAIO_E_NOT_SUPPORTED:
      return "not supported on this host";
    case FAIO_E_IN_PROGRESS:
      return "request in progress";
    case FAIO_E_NOT_SUBMITTED:
      return "request not submitted";
    case FAIO_E_COMPLETED:
      return "request already completed";
    case FAIO_E_CANCELLED:
      return "request cancelled";
    case FAIO_E_BUSY:
      return "context busy";
    case FAIO_E_NO_REQUEST:
      return "no request to wait for";
    case FAIO_E_TIMEOUT:
      return "timed out";
    case FAIO_E_INTERRUPTED:
      return "interrupted by a wakeup";
    case FAIO_E_INSUFFICIENT_RESOURCES:
      return "insufficient resources";
    case FAIO_E_OUT_OF_RANGE:
      return "out of range";
    case FAIO_E_IO:
      return "I/O error";
    case FAIO_E_DISK_FULL:
      return "disk full";
    case FAIO_E_FILE_TOO_BIG:
      return "file too big";
    case FAIO_E_ACCESS_DENIED:
      return "access denied";
    case FAIO_E_BAD_FILE:
      return "bad file";
    case FAIO_E_HOST:
      return "host error";
    default:
      return "unknown status";
  }
}

const char* faio_status_name(int status) {
  switch (status) {
#define FAIO_STATUS_NAME(x) \
  case x:                   \
    return #x;
    FAIO_STATUS_NAME(FAIO_OK)
    FAIO_STATUS_NAME(FAIO_E_INVALID_PARAMETER)
    FAIO_STATUS_NAME(FAIO_E_INVALID_HANDLE)
    FAIO_STATUS_NAME(FAIO_E_INVALID_STATE)
    FAIO_STATUS_NAME(FAIO_E_NO_MEMORY)
    FAIO_STATUS_NAME(FAIO_E_NOT_SUPPORTED)
    FAIO_STATUS_NAME(FAIO_E_IN_PROGRESS)
    FAIO_STATUS_NAME(FAIO_E_NOT_SUBMITTED)
    FAIO_STATUS_NAME(FAIO_E_COMPLETED)
    FAIO_STATUS_NAME(FAIO_E_CANCELLED)
    FAIO_STATUS_NAME(FAIO_E_BUSY)
    FAIO_STATUS_NAME(FAIO_E_NO_REQUEST)
    FAIO_STATUS_NAME(FAIO_E_TIMEOUT)
    FAIO_STATUS_NAME(FAIO_E_INTERRUPTED)
    FAIO_STATUS_NAME(FAIO_E_INSUFFICIENT_RESOURCES)
    FAIO_STATUS_NAME(FAIO_E_OUT_OF_RANGE)
    FAIO_STATUS_NAME(FAIO_E_IO)
    FAIO_STATUS_NAME(FAIO_E_DISK_FULL)
    FAIO_STATUS_NAME(FAIO_E_FILE_TOO_BIG)
    FAIO_STATUS_NAME(FAIO_E_ACCESS_DENIED)
    FAIO_STATUS_NAME(FAIO_E_BAD_FILE)
    FAIO_STATUS_NAME(FAIO_E_HOST)
#undef FAIO_STATUS_NAME
    default:
      return "(unknown status)";
  }
}

int faio_version(void) {
  return FAIO_VERSION_MAJOR * 10000 + FAIO_VERSION_MINOR * 100 + FAIO_VERSION_PATCH;
}

int faio_get_limits(faio_limits* out) { return faio::detail::Limits(out); }

int faio_file_alignment(faio_file f, faio_alignment* out) {
  if (out == nullptr) return FAIO_E_INVALID_PARAMETER;
  return faio::platform::FileAlignment(f, out);
}

int faio_get_backends(faio_backend_info* out, size_t size, size_t* count) {
  return faio::detail::ListBackends(out, size, count);
}

int faio_req_create(faio_req** out) { return faio::detail::CreateRequest(out); }
int faio_req_destroy(faio_req* req) { return faio::detail::DestroyRequest(req); }

int faio_req_prepare_read(faio_req* req, faio_file f, int64_t off, void* buf, size_t len,
                          void* user) {
  return faio::detail::PrepareTransfer(req, Op::kRead, f, off, buf, len, user);
}

int faio_req_prepare_write(faio_req* req, faio_file f, int64_t off, const void* buf, size_t len,
                           void* user) {
  return faio::detail::PrepareTransfer(req, Op::kWrite, f, off, const_cast<void*>(buf), len, user);
}

int faio_req_prepare_readv(faio_req* req, faio_file f, int64_t off, const faio_buffer* bufs,
                           size_t count, void* user) {
  return faio::detail::PrepareVector(req, Op::kRead, f, off, bufs, count, user);
}

int faio_req_prepare_writev(faio_req* req, faio_file f, int64_t off, const faio_buffer* bufs,
                            size_t count, void* user) {
  return faio::detail::PrepareVector(req, Op::kWrite, f, off, bufs, count, user);
}

int faio_req_prepare_flush(faio_req* req, faio_file f, void* user) {
  return faio::detail::PrepareFlush(req, f, FAIO_FLUSH_DATA, user);
}

int faio_req_prepare_flush_ex(faio_req* req, faio_file f, uint32_t flags, void* user) {
  return faio::detail::PrepareFlush(req, f, flags, user);
}

void* faio_req_user(const faio_req* req) { return faio::detail::RequestUser(req); }
int faio_req_cancel(faio_req* req) { return faio::detail::CancelRequest(req); }
int faio_req_result(const faio_req* req, size_t* transferred) {
  return faio::detail::RequestResult(req, transferred);
}
int faio_req_host_error(const faio_req* req) { return faio::detail::RequestHostError(req); }

void faio_ctx_options_init(faio_ctx_options* opts) {
  if (opts == nullptr) return;
  *opts = faio_ctx_options{};
  opts->size = sizeof(faio_ctx_options);
}

int faio_ctx_create(faio_ctx** out, uint32_t capacity, uint32_t flags) {
  faio_ctx_options opts;
  faio_ctx_options_init(&opts);
  opts.capacity = capacity;
  opts.flags = flags;
  return faio_ctx_create_ex(out, &opts);
}

int faio_ctx_create_ex(faio_ctx** out, const faio_ctx_options* opts) {
  if (out == nullptr || opts == nullptr) return FAIO_E_INVALID_PARAMETER;
  *out = nullptr;
  // Version 1 of the struct ends after `backend`, version 2 after `faults`; a
  // caller compiled against an older header passes less (the rest reads as
  // zero), one compiled against a later header more, of which we read what we
  // know.
  constexpr size_t kV1 = offsetof(faio_ctx_options, backend) + sizeof(const char*);
  if (opts->size < kV1) return FAIO_E_INVALID_PARAMETER;
  faio_ctx_options o{};
  std::memcpy(&o, opts, std::min<size_t>(opts->size, sizeof o));
  o.size = sizeof o;
  return faio::detail::CreateContext(o, out);
}

int faio_ctx_destroy(faio_ctx* ctx) { return faio::detail::DestroyContext(ctx); }

uint32_t faio_ctx_capacity(const faio_ctx* ctx) {
  ContextPin c(ctx);
  return c ? c->capacity() : 0;
}

const char* faio_ctx_backend(const faio_ctx* ctx) {
  ContextPin c(ctx);
  return c ? c->backend_name() : nullptr;
}

int faio_ctx_register_buffers(faio_ctx* ctx, const faio_buffer* bufs, size_t count) {
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->RegisterBuffers(bufs, count);
}

int faio_ctx_associate_file(faio_ctx* ctx, faio_file f) {
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->AssociateFile(f);
}

int faio_ctx_submit(faio_ctx* ctx, faio_req** reqs, size_t count) {
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->Submit(reqs, count);
}

int faio_ctx_submit_ex(faio_ctx* ctx, faio_req** reqs, size_t count, size_t* accepted) {
  if (accepted == nullptr) return FAIO_E_INVALID_PARAMETER;
  *accepted = 0;
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->Submit(reqs, count, accepted);
}

int faio_ctx_wait(faio_ctx* ctx, size_t min, uint32_t timeout_ms, faio_req** out, size_t size,
                  uint32_t* count) {
  if (count != nullptr) *count = 0;
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->Wait(min, timeout_ms, out, size, count);
}

int faio_ctx_wakeup(faio_ctx* ctx) {
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->Wakeup();
}

int faio_ctx_clear_error(faio_ctx* ctx, faio_file f) {
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->ClearError(f);
}

int faio_ctx_pollable(faio_ctx* ctx, faio_file* out) {
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->Pollable(out);
}

int faio_ctx_run(faio_ctx* ctx, size_t min, uint32_t timeout_ms, uint32_t* count) {
  if (count != nullptr) *count = 0;
  ContextPin c(ctx);
  return !c ? FAIO_E_INVALID_HANDLE : c->Run(min, timeout_ms, count);
}

int faio_req_set_callback(faio_req* req, faio_req_callback cb, void* arg) {
  return faio::detail::SetCallback(req, cb, arg);
}

int faio_req_set_timeout(faio_req* req, uint32_t ms) { return faio::detail::SetTimeout(req, ms); }

}  // extern "C"
