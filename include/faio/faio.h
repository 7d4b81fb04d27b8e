/*
 * faio/faio.h - the C interface of faio, a portable asynchronous file I/O library.
 *
 * Usable from C99 and C++. Every function returns 0 (FAIO_OK) on success or one of
 * the negative FAIO_E_* statuses below; no function aborts, throws or crashes on a
 * bad argument.
 *
 * The model: a caller creates reusable *requests* (faio_req), prepares each as a
 * read, a write or a flush of one open file, submits batches of them to a
 * *completion context* (faio_ctx), and reaps their completions with faio_ctx_wait.
 * A request is always in exactly one state:
 *
 *   idle       after faio_req_create; holds nothing
 *   prepared   after faio_req_prepare_*; ready to submit
 *   submitted  after a successful faio_ctx_submit; owned by the context
 *   completed  after a wait returned it or a cancel succeeded; its result can be
 *              read and it can be prepared again
 *
 * Handles. faio_req and faio_ctx handles are opaque values checked on every call
 * (a tag and a generation number resolved through a process-wide table): a null,
 * destroyed or foreign handle gives FAIO_E_INVALID_HANDLE, never undefined
 * behaviour.
 *
 * Threads. All functions may be called from any thread. A context accepts
 * concurrent submits, cancels and wakeups; one thread waits on it at a time (a
 * second concurrent waiter gets FAIO_E_BUSY). One request must not be prepared,
 * destroyed or submitted by two threads at once; the library detects most such
 * races (the request's state changes atomically) and answers FAIO_E_INVALID_STATE
 * or FAIO_E_IN_PROGRESS, but the caller owns the request's fields while it is not
 * submitted.
 *
 * Buffers. The library never copies or frees a caller's buffer. A buffer given to
 * prepare-read/-write must stay valid and untouched from submit until the request
 * is returned by a wait or cancelled successfully.
 */
#ifndef FAIO_FAIO_H_
#define FAIO_FAIO_H_

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#ifndef FAIO_NO_WINDOWS_H
#include <windows.h>
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Shared-library visibility. The static library (the default) needs none. */
#if defined(FAIO_SHARED) && defined(_WIN32)
#ifdef FAIO_BUILDING
#define FAIO_API __declspec(dllexport)
#else
#define FAIO_API __declspec(dllimport)
#endif
#elif defined(FAIO_SHARED) && defined(__GNUC__)
#define FAIO_API __attribute__((visibility("default")))
#else
#define FAIO_API
#endif

#define FAIO_VERSION_MAJOR 0
#define FAIO_VERSION_MINOR 1
#define FAIO_VERSION_PATCH 0

/* The native file handle: a file descriptor on POSIX hosts, a HANDLE on Windows. */
#ifdef _WIN32
typedef HANDLE faio_file;
#else
typedef int faio_file;
#endif

/* Statuses. 0 is success; every failure is its own negative value. */
#define FAIO_OK 0
#define FAIO_E_INVALID_PARAMETER (-1)      /* an argument is out of its domain */
#define FAIO_E_INVALID_HANDLE (-2)         /* null/destroyed/foreign handle */
#define FAIO_E_INVALID_STATE (-3)          /* request not in the state required */
#define FAIO_E_NO_MEMORY (-4)              /* allocation failed */
#define FAIO_E_NOT_SUPPORTED (-5)          /* backend/feature absent on this host */
#define FAIO_E_IN_PROGRESS (-6)            /* the request is still submitted */
#define FAIO_E_NOT_SUBMITTED (-7)          /* the request was never submitted */
#define FAIO_E_COMPLETED (-8)              /* finished already; a wait returns it */
#define FAIO_E_CANCELLED (-9)              /* the request was cancelled */
#define FAIO_E_BUSY (-10)                  /* context in use (requests or waiter) */
#define FAIO_E_NO_REQUEST (-11)            /* nothing to wait for */
#define FAIO_E_TIMEOUT (-12)               /* the wait's timeout passed */
#define FAIO_E_INTERRUPTED (-13)           /* the wait was woken by faio_ctx_wakeup */
#define FAIO_E_INSUFFICIENT_RESOURCES (-14) /* capacity or host resources exhausted */
#define FAIO_E_OUT_OF_RANGE (-15)          /* a count exceeds its bound */
#define FAIO_E_IO (-16)                    /* device I/O error (EIO) */
#define FAIO_E_DISK_FULL (-17)             /* no space left (ENOSPC, EDQUOT) */
#define FAIO_E_FILE_TOO_BIG (-18)          /* file size limit (EFBIG) */
#define FAIO_E_ACCESS_DENIED (-19)         /* wrong direction or permission */
#define FAIO_E_BAD_FILE (-20)              /* not an open file (EBADF) */
#define FAIO_E_HOST (-21)                  /* any other host error; see host_error */

#define FAIO_UNLIMITED UINT32_MAX
#define FAIO_WAIT_INDEFINITE UINT32_MAX

/* Context flags. */
#define FAIO_CTX_WAIT_WITHOUT_PENDING 1u /* wait blocks even with nothing submitted */
/* faio_ctx_associate_file registers the file with the backend where it can
 * (io_uring: a fixed file, saving a file-table lookup and reference per
 * transfer). The backend then holds its own reference to the open file: the
 * caller promises not to close an associated descriptor while the context
 * lives (a descriptor number reused for another file would still reach the
 * old one). Without this flag association never holds a reference. */
#define FAIO_CTX_FIXED_FILES 0x10u
/* Every transfer goes to the backend's host facility. Without this flag the
 * library makes some transfers itself on the submitting thread, where the host
 * would do no better (docs/contract.md, Submit): a read the page cache holds
 * whole (Linux RWF_NOWAIT, never blocks) and a buffered write to a local file
 * system (blocks as a write(2) would), on io_uring for submits of one request,
 * on linux_aio, threads and posix_aio always. Their completions still come
 * only through a wait. Set it where a submit must never block, or to measure
 * the host's own path. */
#define FAIO_CTX_HOST_ONLY 0x20u
/* A read or write that the host completes short is continued by the library
 * (on the waiting thread, for the rest of the buffer or segments) until the
 * whole length is done, an error occurs, or a read reaches end of file (a
 * read of 0 bytes; a write of 0 bytes ends it too). The caller sees one
 * completion: success with every byte, success with the bytes before end of
 * file, or the error with the bytes moved before it (faio_req_result reports
 * them with the error status). A cancel of a request between its parts
 * answers FAIO_E_COMPLETED and a wait returns it whole later; a cancel that
 * withdraws a later part completes it cancelled, with the bytes of the earlier
 * parts. Without this flag short transfers are reported as they come. */
#define FAIO_CTX_FULL_TRANSFERS 0x40u

/* Flush flags (faio_req_prepare_flush_ex). */
#define FAIO_FLUSH_DATA 0u /* fdatasync-like (the default) */
#define FAIO_FLUSH_FULL 1u /* fsync-like: file metadata too */

typedef struct faio_req faio_req; /* opaque; never dereferenced by the library */
typedef struct faio_ctx faio_ctx; /* opaque; never dereferenced by the library */

/* Process-wide limits of the backend that "auto" would choose. */
typedef struct faio_limits {
  uint32_t max_requests;     /* most requests in flight per process, or FAIO_UNLIMITED */
  uint32_t buffer_alignment; /* buffer alignment every transfer needs; 0 for none */
} faio_limits;

/* Direct-I/O needs of one open file. */
typedef struct faio_alignment {
  uint32_t memory; /* buffer address alignment in bytes (1: any) */
  uint32_t offset; /* file offset and length alignment in bytes (1: any) */
} faio_alignment;

/*
 * Options of faio_ctx_create_ex. The struct grows at its end; `size` tells the
 * library how much of it the caller knows. Initialise it with
 * faio_ctx_options_init (or FAIO_CTX_OPTIONS_INIT) and then set fields.
 */
typedef struct faio_ctx_options {
  uint32_t size;        /* sizeof(faio_ctx_options) as compiled by the caller */
  uint32_t capacity;    /* most requests in flight; 0: as many as the host allows */
  uint32_t flags;       /* FAIO_CTX_* */
  uint32_t threads;     /* "threads" backend: most of the process's pool workers
                           this context occupies at once; 0: 16 (docs/backends.md) */
  const char *backend;  /* NULL or "auto": FAIO_BACKEND or the automatic choice */
  /* Added in 0.2: faults the "fault" backend injects (grammar in
   * docs/reliability.md); NULL: the FAIO_FAULTS environment variable. Ignored by
   * every other backend. Copied at creation. */
  const char *faults;
} faio_ctx_options;

#define FAIO_CTX_OPTIONS_INIT {sizeof(faio_ctx_options), 0, 0, 0, NULL, NULL}

/* One compiled-in backend, as reported by faio_get_backends. */
typedef struct faio_backend_info {
  const char *name;   /* "io_uring", "threads", ... (static storage) */
  int available;      /* 1 if a context can be created on it here and now */
  int status;         /* 0, or why not: FAIO_E_NOT_SUPPORTED, ... */
  int host_error;     /* the host's error code of the failed probe, or 0 */
  int automatic;      /* 1 if "auto" tries it (in this order); 0: only when named */
  char reason[160];   /* a sentence saying why it is unavailable ("" if available) */
} faio_backend_info;

/* faio_strerror returns a constant English phrase for every status (and for
 * unknown values). Never null. Thread-safe. */
FAIO_API const char *faio_strerror(int status);

/* faio_status_name returns the macro name of a status ("FAIO_E_BUSY"), or
 * "(unknown status)". Never null; static storage. Thread-safe. */
FAIO_API const char *faio_status_name(int status);

/* faio_version returns FAIO_VERSION_MAJOR*10000 + MINOR*100 + PATCH of the library. */
FAIO_API int faio_version(void);

/* faio_get_limits fills *out with the limits of the backend "auto" would choose
 * (honouring FAIO_BACKEND), also while that backend is exhausted. max_requests:
 * io_uring, threads, iocp: FAIO_UNLIMITED (no per-process cap); linux_aio:
 * (fs.aio-max-nr - 1) / 2 (one system-wide pool of kernel AIO event slots; a
 * request in flight reserves two, a context one more); posix_aio, kqueue: the
 * host's cap (FreeBSD: the smaller of vfs.aio.max_aio_queue_per_proc and
 * vfs.aio.max_aio_queue; glibc has none: FAIO_UNLIMITED); fault: its inner
 * backend's. buffer_alignment: 0 on every backend (direct I/O:
 * faio_file_alignment). docs/backends.md, "Limits", says why. Returns 0,
 * FAIO_E_INVALID_PARAMETER (null out, or FAIO_BACKEND names no backend), or
 * FAIO_E_NOT_SUPPORTED when FAIO_BACKEND names a backend unavailable here. */
FAIO_API int faio_get_limits(faio_limits *out);

/* faio_file_alignment fills *out with the direct-I/O alignment of the open file f
 * (statx STATX_DIOALIGN on Linux). Returns 0, FAIO_E_INVALID_PARAMETER (null out),
 * FAIO_E_BAD_FILE (f is not open), or FAIO_E_NOT_SUPPORTED (the file system does
 * not do direct I/O, or the host cannot tell). */
FAIO_API int faio_file_alignment(faio_file f, faio_alignment *out);

/* faio_get_backends writes up to `size` entries describing every compiled-in
 * backend, in the order "auto" tries them, probing each; *count (if not null)
 * receives the number of compiled-in backends, which may exceed size. Returns 0
 * or FAIO_E_INVALID_PARAMETER (out null with size > 0). Probing creates and
 * destroys a small kernel object per backend; call it at start-up, not per I/O. */
FAIO_API int faio_get_backends(faio_backend_info *out, size_t size, size_t *count);

/* ---- Requests ------------------------------------------------------------- */

/* A span of memory: a segment of a vectored transfer (faio_req_prepare_readv),
 * or a buffer for faio_ctx_register_buffers. */
typedef struct faio_buffer {
  void *base;
  size_t length;
} faio_buffer;

/* The most segments one vectored transfer takes, on every host (Linux's and
 * FreeBSD's IOV_MAX). */
#define FAIO_MAX_SEGMENTS 1024u

/* faio_req_create makes a request in state idle. Returns 0, FAIO_E_INVALID_PARAMETER
 * (null out) or FAIO_E_NO_MEMORY. */
FAIO_API int faio_req_create(faio_req **out);

/* faio_req_destroy frees a request that is not submitted. Null → 0. A submitted
 * request → FAIO_E_IN_PROGRESS and nothing is freed. A handle that is not a live
 * request → FAIO_E_INVALID_HANDLE. */
FAIO_API int faio_req_destroy(faio_req *req);

/* faio_req_prepare_read/_write describe a transfer of len bytes between buf and
 * file f at offset off (ignored on files that cannot seek, e.g. pipes). The
 * request must be idle, prepared or completed; it becomes prepared.
 * Returns 0, FAIO_E_INVALID_HANDLE, FAIO_E_IN_PROGRESS (request submitted;
 * unchanged), FAIO_E_INVALID_PARAMETER (len 0, off < 0, buf null, or len over
 * 0x7ffff000, the largest single transfer Linux performs). */
FAIO_API int faio_req_prepare_read(faio_req *req, faio_file f, int64_t off, void *buf,
                                   size_t len, void *user);
FAIO_API int faio_req_prepare_write(faio_req *req, faio_file f, int64_t off,
                                    const void *buf, size_t len, void *user);

/* faio_req_prepare_readv/_writev describe one transfer between file f at offset
 * off and the segments bufs[0..count), in order, as preadv/pwritev do: the file's
 * bytes from off fill (or come from) bufs[0], then bufs[1], ... The segment array
 * is copied (the caller may reuse it at once); the memory it names must stay
 * valid until the request completes. The result is the total bytes moved; a
 * short one stops within a segment, as a short read does. Each host's native
 * vectored path is used where it has one (io_uring READV/WRITEV, kernel AIO
 * PREADV/PWRITEV, preadv/pwritev on the threads pool, FreeBSD aio_readv/
 * aio_writev); elsewhere (glibc's POSIX AIO, IOCP) the library moves the data
 * through one contiguous buffer of its own (docs/backends.md, "Vectored I/O").
 * Direct I/O (O_DIRECT) needs every segment's address and length aligned as
 * faio_file_alignment says, on every backend; a misaligned one completes with
 * FAIO_E_INVALID_PARAMETER (host error EINVAL). The request must be idle,
 * prepared or completed; it becomes prepared. Returns 0, FAIO_E_INVALID_HANDLE,
 * FAIO_E_IN_PROGRESS (request submitted; unchanged), FAIO_E_NO_MEMORY (the
 * copy of the array), FAIO_E_INVALID_PARAMETER (bufs null, count 0 or over
 * FAIO_MAX_SEGMENTS, a segment with a null base or length 0, off < 0, or a total
 * over 0x7ffff000). */
FAIO_API int faio_req_prepare_readv(faio_req *req, faio_file f, int64_t off,
                                    const faio_buffer *bufs, size_t count, void *user);
FAIO_API int faio_req_prepare_writev(faio_req *req, faio_file f, int64_t off,
                                     const faio_buffer *bufs, size_t count, void *user);

/* faio_req_prepare_flush describes a flush of f: when it completes, the data of
 * every write submitted to the same context on f before it is durable
 * (fdatasync-like). It completes only after every transfer submitted before it on
 * f to that context has completed, and after earlier flushes of f; transfers
 * submitted after it are not held back. After a flush of f fails with an I/O
 * error, every later flush of f through the context fails the same way until
 * faio_ctx_clear_error(ctx, f). Returns as prepare_read. */
FAIO_API int faio_req_prepare_flush(faio_req *req, faio_file f, void *user);

/* faio_req_prepare_flush_ex is prepare_flush with FAIO_FLUSH_* flags (FULL asks
 * for fsync instead of fdatasync). Unknown flags → FAIO_E_INVALID_PARAMETER. */
FAIO_API int faio_req_prepare_flush_ex(faio_req *req, faio_file f, uint32_t flags,
                                       void *user);

/* faio_req_user returns the user value given at prepare time; null for an invalid
 * handle or an idle request. */
FAIO_API void *faio_req_user(const faio_req *req);

/* faio_req_cancel tries to cancel a submitted request. Returns:
 *   0                     cancelled: the request is completed with status
 *                         FAIO_E_CANCELLED, no longer counted, and no wait returns it;
 *   FAIO_E_COMPLETED      it had finished already; a wait returns it as usual;
 *   FAIO_E_IN_PROGRESS    the host cannot cancel it now; it completes normally;
 *   FAIO_E_NOT_SUBMITTED  it is not submitted;  FAIO_E_INVALID_HANDLE.
 * May block briefly (io_uring cancels synchronously). Any thread. */
FAIO_API int faio_req_cancel(faio_req *req);

/* faio_req_result reads a request's outcome. *transferred (may be null) receives
 * the bytes transferred when the operation succeeded (a read at end of file may
 * transfer fewer, or 0), else 0 - except on a FAIO_CTX_FULL_TRANSFERS context,
 * where a failed or cancelled transfer reports the bytes its earlier parts
 * moved. Returns the operation's own status when
 * completed (0 or FAIO_E_*), FAIO_E_IN_PROGRESS when submitted,
 * FAIO_E_NOT_SUBMITTED when idle or prepared, FAIO_E_INVALID_HANDLE. */
FAIO_API int faio_req_result(const faio_req *req, size_t *transferred);

/* faio_req_host_error returns the host's own error code (errno / Windows error) of
 * a completed request that failed, 0 otherwise (and for invalid handles). */
FAIO_API int faio_req_host_error(const faio_req *req);

/* A completion callback: called by faio_ctx_run on the thread that runs it, once
 * per completion of a request that has one, after the request is completed (its
 * result is readable, and it may be prepared and submitted again). */
typedef void (*faio_req_callback)(faio_req *req, void *arg);

/* faio_req_set_callback gives req a callback for faio_ctx_run (NULL removes it).
 * It stays with the request across prepares until set again. Returns 0,
 * FAIO_E_INVALID_STATE while the request is submitted, FAIO_E_INVALID_HANDLE.
 * See docs/contract.md, Event loops and callbacks. */
FAIO_API int faio_req_set_callback(faio_req *req, faio_req_callback cb, void *arg);

/* faio_req_set_timeout gives a prepared request a deadline: ms milliseconds
 * after it is submitted, a request still running is withdrawn from the host and
 * completes with status FAIO_E_TIMEOUT (faio_req_result; with the bytes earlier
 * parts of a FAIO_CTX_FULL_TRANSFERS transfer moved). It is then handed out by a
 * wait like any completion: counted until then, returned once. Where the host
 * cannot withdraw it (a transfer already in the device, a blocking read on a
 * worker thread: docs/backends.md, "Deadlines") it completes normally. 0 or
 * FAIO_WAIT_INDEFINITE: no deadline. Set after prepare and before submit; every
 * prepare removes it. Requests without one cost nothing more. Returns 0,
 * FAIO_E_INVALID_STATE (the request is not prepared), FAIO_E_INVALID_HANDLE,
 * FAIO_E_NO_MEMORY, FAIO_E_INSUFFICIENT_RESOURCES (the library's timer thread
 * could not be started). See docs/contract.md, Deadlines. */
FAIO_API int faio_req_set_timeout(faio_req *req, uint32_t ms);

/* ---- Contexts ------------------------------------------------------------- */

/* faio_ctx_create makes a context on the backend chosen automatically (or named by
 * the environment variable FAIO_BACKEND), holding up to `capacity` requests in
 * flight (0: as many as the host allows). Returns 0, FAIO_E_INVALID_PARAMETER
 * (null out, unknown flag bits), FAIO_E_NOT_SUPPORTED (FAIO_BACKEND names a
 * backend not available here; faio_get_backends says why), FAIO_E_NO_MEMORY,
 * FAIO_E_INSUFFICIENT_RESOURCES (the host refused its kernel objects). */
FAIO_API int faio_ctx_create(faio_ctx **out, uint32_t capacity, uint32_t flags);

/* faio_ctx_create_ex is faio_ctx_create with options (see faio_ctx_options).
 * A named backend that is unavailable fails with FAIO_E_NOT_SUPPORTED, never
 * falling back; one that exists but ran out of memory or kernel slots (e.g.
 * fs.aio-max-nr) fails with FAIO_E_NO_MEMORY or FAIO_E_INSUFFICIENT_RESOURCES,
 * which may pass; a malformed opts->faults spec for the "fault" backend fails
 * with FAIO_E_INVALID_PARAMETER. opts->size smaller than the first version of the struct, or an
 * unknown backend name → FAIO_E_INVALID_PARAMETER. */
FAIO_API int faio_ctx_create_ex(faio_ctx **out, const faio_ctx_options *opts);

/* faio_ctx_options_init fills *opts with the defaults (size set). */
FAIO_API void faio_ctx_options_init(faio_ctx_options *opts);

/* faio_ctx_destroy frees a context. Null → 0. While it still counts submitted
 * requests, or a thread waits on it → FAIO_E_BUSY and nothing is freed. */
FAIO_API int faio_ctx_destroy(faio_ctx *ctx);

/* faio_ctx_capacity returns the effective capacity (at least what was asked for;
 * FAIO_UNLIMITED when created with 0 and the backend has no cap); 0 for an invalid
 * handle. */
FAIO_API uint32_t faio_ctx_capacity(const faio_ctx *ctx);

/* faio_ctx_backend returns the backend's name ("io_uring", "threads", ...), or
 * null for an invalid handle. Static storage. */
FAIO_API const char *faio_ctx_backend(const faio_ctx *ctx);

/* faio_ctx_associate_file tells the context that f will be used with it (a backend
 * that registers files does it here). Optional. Returns 0, FAIO_E_INVALID_HANDLE,
 * FAIO_E_BAD_FILE. */
FAIO_API int faio_ctx_associate_file(faio_ctx *ctx, faio_file f);

/* faio_ctx_register_buffers registers bufs[0..count) with the context's backend
 * (io_uring: fixed buffers, so the kernel does not map the pages on every
 * transfer). A read or write whose buffer lies wholly inside one registered
 * buffer then uses it; any other buffer still works as usual. At most one
 * registration per context, made while no request is in flight; the memory must
 * stay valid until the context is destroyed. Returns 0; FAIO_E_NOT_SUPPORTED on
 * a backend without the notion (nothing changes: carry on without);
 * FAIO_E_INVALID_PARAMETER (count 0, a null or empty buffer, or too many);
 * FAIO_E_INVALID_STATE (already registered); FAIO_E_BUSY (requests in flight);
 * FAIO_E_INSUFFICIENT_RESOURCES (the host refused: e.g. RLIMIT_MEMLOCK).
 * Thread-safe; it blocks only briefly. */
FAIO_API int faio_ctx_register_buffers(faio_ctx *ctx, const faio_buffer *bufs, size_t count);

/* faio_ctx_submit hands reqs[0..count) to the context. Every request is checked
 * first: a handle that is not a live request → FAIO_E_INVALID_HANDLE; a request not
 * prepared (idle, submitted, or twice in the batch) → FAIO_E_INVALID_STATE; then
 * nothing is submitted and every request is as it was. count 0 or null reqs →
 * FAIO_E_INVALID_PARAMETER. Over the effective capacity, or the host short of
 * resources → FAIO_E_INSUFFICIENT_RESOURCES: the requests that reached the host
 * (always a prefix of the array) are submitted and counted, the rest are back in
 * state prepared. A request the host itself rejects (a bad descriptor, say) is
 * still accepted and completes with its error. Requests go to the host in as few
 * calls as it allows; a flush splits the batch (transfers before it, the flush,
 * transfers after it). Never blocks on I/O. Any thread. */
FAIO_API int faio_ctx_submit(faio_ctx *ctx, faio_req **reqs, size_t count);

/* faio_ctx_submit_ex is faio_ctx_submit that also says how many it took:
 * *accepted is always written, with the length of the accepted prefix
 * (reqs[0..*accepted) are submitted, the rest are as they were): count on 0,
 * fewer on FAIO_E_INSUFFICIENT_RESOURCES, 0 on every other failure (the batch is
 * refused whole). accepted null → FAIO_E_INVALID_PARAMETER (nothing submitted).
 */
FAIO_API int faio_ctx_submit_ex(faio_ctx *ctx, faio_req **reqs, size_t count, size_t *accepted);

/* faio_ctx_wait reaps completions into out[0..size) and writes their number to
 * *count (always, also on failure). Checks: out null, size 0 or count null →
 * FAIO_E_INVALID_PARAMETER; min > size → FAIO_E_OUT_OF_RANGE; min 0 means 1.
 * Nothing submitted and no FAIO_CTX_WAIT_WITHOUT_PENDING → FAIO_E_NO_REQUEST at
 * once; without that flag min is capped at the number of requests in flight, so a
 * wait never blocks for completions that cannot come.
 * Completions are handed out only with 0 (success): every other status comes
 * with *count 0. Returns 0 once at least min were reaped, and also when the
 * timeout passed or a wakeup arrived after some (fewer than min) were reaped:
 * then *count < min. FAIO_E_TIMEOUT: timeout_ms passed with nothing reaped
 * (FAIO_WAIT_INDEFINITE: never). FAIO_E_INTERRUPTED: a wakeup with nothing
 * reaped. A wait that begins with a wakeup pending returns FAIO_E_INTERRUPTED at
 * once and reaps nothing (completions already available stay for the next wait);
 * a wakeup that ends a wait holding completions stays pending, so the next wait
 * returns FAIO_E_INTERRUPTED at once. FAIO_E_BUSY when another thread is waiting.
 * The requests in out are completed and no longer counted. Blocks.
 * See docs/contract.md, Wait. */
FAIO_API int faio_ctx_wait(faio_ctx *ctx, size_t min, uint32_t timeout_ms, faio_req **out,
                           size_t size, uint32_t *count);

/* faio_ctx_wakeup makes the thread waiting on ctx return promptly: with
 * FAIO_E_INTERRUPTED if it has reaped nothing, else with 0 and its completions,
 * the wakeup then staying pending for the next wait. With no waiter, the next
 * wait returns FAIO_E_INTERRUPTED at once. Several wakeups before a wait count
 * as one; every wakeup is seen as FAIO_E_INTERRUPTED by some wait. Any thread,
 * never blocks; async-signal-safe on every POSIX backend but threads, whose
 * reaper sleeps on a condition variable (fault: as its inner backend): atomic
 * stores and one system call - a write to a descriptor (io_uring, linux_aio),
 * kevent (kqueue), or, on posix_aio on Linux, timer_settime of the waiting
 * thread's timer, which signals that thread with SIGRTMAX-2 until its wait
 * returns. posix_aio on Linux installs a handler for SIGRTMAX-2 (it does
 * nothing; the signal only ends the waiter's aio_suspend) and refuses to
 * create a context when the application has its own. Returns 0 or
 * FAIO_E_INVALID_HANDLE. See docs/contract.md, Wakeup. */
FAIO_API int faio_ctx_wakeup(faio_ctx *ctx);

/* faio_ctx_clear_error acknowledges a failed flush of f: later flushes of f
 * through ctx reach the host again. Returns 0 (also if there was no error) or
 * FAIO_E_INVALID_HANDLE. */
FAIO_API int faio_ctx_clear_error(faio_ctx *ctx, faio_file f);

/* faio_ctx_pollable gives a handle that is ready - readable (POSIX descriptor)
 * or signalled (Windows event) - while a completion or a wakeup may be pending,
 * for an event loop (epoll, kqueue, poll, libuv, Asio) to watch. The caller
 * never reads, writes or closes it (faio_ctx_destroy does). The rule: when it is
 * ready, call faio_ctx_wait (or faio_ctx_run) with timeout 0 until one returns
 * no completion; every wait re-arms it. No completion is left behind with the
 * handle not ready; it may be ready once with nothing to reap. The first call
 * makes the handle and needs nothing in flight (else FAIO_E_BUSY); later calls
 * return the same one. Returns 0, FAIO_E_INVALID_PARAMETER (out null),
 * FAIO_E_BUSY, FAIO_E_NOT_SUPPORTED (the backend has no way: see
 * docs/event-loops.md), FAIO_E_INSUFFICIENT_RESOURCES, FAIO_E_INVALID_HANDLE. */
FAIO_API int faio_ctx_pollable(faio_ctx *ctx, faio_file *out);

/* faio_ctx_run is faio_ctx_wait that calls the callback of each completed
 * request (faio_req_set_callback) on this thread instead of handing it out; a
 * request without one just completes (its result is readable). *count receives
 * how many completions it dispatched. Returns 0 once at least min (0 means 1)
 * were dispatched, or when the timeout or a wakeup ended it after some;
 * FAIO_E_TIMEOUT / FAIO_E_INTERRUPTED / FAIO_E_NO_REQUEST with none, as the
 * wait does. A callback may prepare and submit requests (its own too), cancel,
 * and call faio_ctx_wakeup (what it submits to this context reaches the host when
 * the batch of callbacks has returned); a faio_ctx_wait, faio_ctx_run or faio_ctx_destroy
 * of the same context from a callback returns FAIO_E_BUSY (the context is
 * being waited on). */
FAIO_API int faio_ctx_run(faio_ctx *ctx, size_t min, uint32_t timeout_ms, uint32_t *count);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FAIO_FAIO_H_ */
