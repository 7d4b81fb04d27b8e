/*
 * faio_engine.c - a fio external I/O engine that does its I/O through faio.
 *
 *   fio --ioengine=external:/path/to/libfaio_fio.so --faio_backend=io_uring ...
 *
 * So that fio itself measures faio: the same jobs, the same latency accounting
 * and the same verification as with fio's built-in engines (io_uring, libaio,
 * posixaio), with faio's request/context layer and backends underneath.
 *
 * Model. fio runs each job (thread_data, "td") on its own thread or process and
 * calls its engine from that one thread only. Per td the engine owns one faio
 * context (created in ->init, capacity = iodepth) and a pool of iodepth faio
 * requests; fio never has more than iodepth I/O units (io_u) out at once.
 *   ->queue    takes a request from the pool and prepares it for the io_u (read,
 *              write; sync and datasync become a faio flush, which faio orders after
 *              the writes submitted before it), keeps it in `pending` and answers
 *              FIO_Q_QUEUED. An io_u that faio cannot express (trim, a transfer
 *              over faio's limit) completes at once with an error.
 *   ->commit   submits `pending` with one faio_ctx_submit_ex. On
 *              FAIO_E_INSUFFICIENT_RESOURCES a prefix was taken: the rest stays
 *              pending for the next commit, which ->getevents makes before it waits.
 *              Submitted io_us get their issue time here (FIO_ASYNCIO_SETS_ISSUE_TIME)
 *              and their submission latency recorded (io_u_queued), as fio's libaio
 *              and io_uring engines do, so slat is queue-to-submit and clat is
 *              submit-to-completion.
 *   ->getevents reaps with faio_ctx_wait into `events`; ->event(n) returns events[n].
 *              A completed request's status becomes io_u->error (the host's errno
 *              when faio has one), a short transfer becomes io_u->resid.
 *
 * Options (fio's option parser; `fio --enghelp=/path/to/libfaio_fio.so` lists them):
 *   faio_backend=auto|io_uring|linux_aio|posix_aio|threads   (default auto)
 *   faio_threads=N   worker threads of the threads backend (0: faio's default)
 *   faio_fixedbufs   register fio's I/O buffers with the context
 *                    (faio_ctx_register_buffers; io_uring: fixed buffers; other
 *                    backends have no such notion and run as without it)
 *   faio_registerfiles  create the context with FAIO_CTX_FIXED_FILES, so that
 *                    associating a file registers it (io_uring: fixed files). The
 *                    backend keeps its reference until the job ends: fio closing
 *                    and reopening a file gets the old open file back when the
 *                    descriptor number is reused, which for fio's own reopen of
 *                    the same file is harmless.
 *
 * Built against the headers of the fio that loads it (scripts/fio-source.sh); the
 * struct layouts and FIO_IOOPS_VERSION must match that binary, which fio checks
 * for the version only.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fio.h"
#include "optgroup.h"

#include "faio/faio.h"

/* ---- options ------------------------------------------------------------------ */

enum {
  ENGINE_BACKEND_AUTO = 0,
  ENGINE_BACKEND_IO_URING,
  ENGINE_BACKEND_LINUX_AIO,
  ENGINE_BACKEND_POSIX_AIO,
  ENGINE_BACKEND_THREADS,
};

static const char *const backend_names[] = {NULL, "io_uring", "linux_aio", "posix_aio",
                                            "threads"};

/* fio fills this from the job's options (td->eo). fio tells "option not set" by an
 * offset of 0, hence the leading pad. */
struct engine_options {
  void *pad;
  unsigned int backend; /* ENGINE_BACKEND_* */
  unsigned int threads;
  unsigned int fixedbufs;
  unsigned int registerfiles;
};

static struct fio_option options[] = {
    {
        .name = "faio_backend",
        .lname = "faio backend",
        .type = FIO_OPT_STR,
        .off1 = offsetof(struct engine_options, backend),
        .help = "The faio backend to run the I/O on",
        .def = "auto",
        .posval =
            {
                {.ival = "auto",
                 .oval = ENGINE_BACKEND_AUTO,
                 .help = "faio's automatic choice (FAIO_BACKEND, else the best available)"},
                {.ival = "io_uring", .oval = ENGINE_BACKEND_IO_URING, .help = "Linux io_uring"},
                {.ival = "linux_aio",
                 .oval = ENGINE_BACKEND_LINUX_AIO,
                 .help = "Linux kernel AIO (io_submit)"},
                {.ival = "posix_aio", .oval = ENGINE_BACKEND_POSIX_AIO, .help = "POSIX aio_*"},
                {.ival = "threads",
                 .oval = ENGINE_BACKEND_THREADS,
                 .help = "faio's thread pool doing blocking I/O"},
            },
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "faio_threads",
        .lname = "faio threads",
        .type = FIO_OPT_INT,
        .off1 = offsetof(struct engine_options, threads),
        .help = "Worker threads of faio's threads backend (0: faio's default)",
        .def = "0",
        .minval = 0,
        .maxval = 1024,
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "faio_fixedbufs",
        .lname = "faio fixed buffers",
        .type = FIO_OPT_STR_SET,
        .off1 = offsetof(struct engine_options, fixedbufs),
        .help = "Register fio's I/O buffers with faio (io_uring: fixed buffers)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "faio_registerfiles",
        .lname = "faio register files",
        .type = FIO_OPT_STR_SET,
        .off1 = offsetof(struct engine_options, registerfiles),
        .help = "Register the job's files with faio (io_uring: fixed files); a file stays "
                "registered until the job ends, also when fio closes it",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = NULL,
    },
};

/* ---- per-td state ------------------------------------------------------------- */

struct engine_data {
  faio_ctx *ctx;
  unsigned int depth;    /* td->o.iodepth: size of every array below */
  faio_req **all;        /* every request, for cleanup */
  faio_req **free_reqs;  /* the pool: prepared-or-completed requests not in use */
  unsigned int nfree;
  faio_req **pending;    /* queued, not yet submitted, in queue order */
  unsigned int npending;
  unsigned int inflight; /* submitted to faio, not yet reaped */
  faio_req **reaped;     /* faio_ctx_wait's output */
  struct io_u **events;  /* what ->event(n) returns, filled by ->getevents */
  struct timespec stalled_since; /* first commit that got nothing in (see commit) */
  int stalled;
};

/* The errno a faio status stands for, when the request carries no host error. */
static int status_errno(int status) {
  switch (status) {
    case FAIO_E_INVALID_PARAMETER: return EINVAL;
    case FAIO_E_NO_MEMORY: return ENOMEM;
    case FAIO_E_NOT_SUPPORTED: return EOPNOTSUPP;
    case FAIO_E_CANCELLED: return ECANCELED;
    case FAIO_E_TIMEOUT: return ETIMEDOUT;
    case FAIO_E_INTERRUPTED: return EINTR;
    case FAIO_E_INSUFFICIENT_RESOURCES: return EAGAIN;
    case FAIO_E_IO: return EIO;
    case FAIO_E_DISK_FULL: return ENOSPC;
    case FAIO_E_FILE_TOO_BIG: return EFBIG;
    case FAIO_E_ACCESS_DENIED: return EACCES;
    case FAIO_E_BAD_FILE: return EBADF;
    default: return EIO;
  }
}

static void free_engine_data(struct engine_data *ed) {
  if (ed->all != NULL) {
    for (unsigned int i = 0; i < ed->depth; i++) faio_req_destroy(ed->all[i]);
  }
  free(ed->all);
  free(ed->free_reqs);
  free(ed->pending);
  free(ed->reaped);
  free(ed->events);
  free(ed);
}

/* fio's ->init: one context and the request pool for this td. */
static int engine_init(struct thread_data *td) {
  const struct engine_options *eo = td->eo;
  struct engine_data *ed = calloc(1, sizeof *ed);
  if (ed == NULL) {
    td_verror(td, ENOMEM, "faio init");
    return 1;
  }
  ed->depth = td->o.iodepth > 0 ? td->o.iodepth : 1;
  ed->all = calloc(ed->depth, sizeof *ed->all);
  ed->free_reqs = calloc(ed->depth, sizeof *ed->free_reqs);
  ed->pending = calloc(ed->depth, sizeof *ed->pending);
  ed->reaped = calloc(ed->depth, sizeof *ed->reaped);
  ed->events = calloc(ed->depth, sizeof *ed->events);
  if (ed->all == NULL || ed->free_reqs == NULL || ed->pending == NULL ||
      ed->reaped == NULL || ed->events == NULL) {
    free_engine_data(ed);
    td_verror(td, ENOMEM, "faio init");
    return 1;
  }
  for (unsigned int i = 0; i < ed->depth; i++) {
    int st = faio_req_create(&ed->all[i]);
    if (st != FAIO_OK) {
      log_err("faio: faio_req_create: %s\n", faio_strerror(st));
      free_engine_data(ed);
      td_verror(td, ENOMEM, "faio_req_create");
      return 1;
    }
    ed->free_reqs[i] = ed->all[i];
  }
  ed->nfree = ed->depth;

  faio_ctx_options opts;
  faio_ctx_options_init(&opts);
  opts.capacity = ed->depth;
  if (eo != NULL && eo->registerfiles) opts.flags |= FAIO_CTX_FIXED_FILES;
  opts.threads = eo != NULL ? eo->threads : 0;
  unsigned int backend = eo != NULL ? eo->backend : ENGINE_BACKEND_AUTO;
  opts.backend = backend < sizeof backend_names / sizeof backend_names[0]
                     ? backend_names[backend]
                     : NULL;
  int st = faio_ctx_create_ex(&ed->ctx, &opts);
  if (st != FAIO_OK) {
    log_err("faio: cannot create a context on backend %s: %s (%s)\n",
            opts.backend != NULL ? opts.backend : "auto", faio_strerror(st),
            faio_status_name(st));
    if (st == FAIO_E_NOT_SUPPORTED && opts.backend != NULL) {
      faio_backend_info infos[16];
      size_t n = 0;
      if (faio_get_backends(infos, 16, &n) == FAIO_OK) {
        for (size_t i = 0; i < n && i < 16; i++) {
          if (strcmp(infos[i].name, opts.backend) == 0 && !infos[i].available)
            log_err("faio: %s: %s\n", infos[i].name, infos[i].reason);
        }
      }
    }
    free_engine_data(ed);
    td_verror(td, status_errno(st), "faio_ctx_create_ex");
    return 1;
  }
  td->io_ops_data = ed;
  return 0;
}

/* fio's ->post_init: fio has allocated the io_u buffers (one region,
 * td->orig_buffer) since ->init; register them when asked. */
static int engine_post_init(struct thread_data *td) {
  const struct engine_options *eo = td->eo;
  struct engine_data *ed = td->io_ops_data;
  if (eo == NULL || !eo->fixedbufs) return 0;
  if (td->orig_buffer == NULL || td->orig_buffer_size == 0) {
    log_err("faio: faio_fixedbufs: fio allocated no I/O buffers to register\n");
    td_verror(td, EINVAL, "faio_ctx_register_buffers");
    return 1;
  }
  faio_buffer buf = {td->orig_buffer, td->orig_buffer_size};
  int st = faio_ctx_register_buffers(ed->ctx, &buf, 1);
  if (st == FAIO_E_NOT_SUPPORTED) {
    /* A note, but on stderr: log_info writes into fio's --output, the JSON. */
    log_err("faio: faio_fixedbufs: the %s backend has no registered buffers; "
             "running without\n", faio_ctx_backend(ed->ctx));
    return 0;
  }
  if (st != FAIO_OK) {
    log_err("faio: faio_ctx_register_buffers (%zu bytes): %s (%s)\n", td->orig_buffer_size,
            faio_strerror(st), faio_status_name(st));
    td_verror(td, status_errno(st), "faio_ctx_register_buffers");
    return 1;
  }
  return 0;
}

/* fio's ->cleanup. fio reaps every io_u before it gets here; after an aborted
 * run requests may still be in flight, and faio frees neither the context nor a
 * request while it owns them, so wait for those first. */
static void engine_cleanup(struct thread_data *td) {
  struct engine_data *ed = td->io_ops_data;
  if (ed == NULL) return;
  while (ed->inflight > 0) {
    uint32_t n = 0;
    int st = faio_ctx_wait(ed->ctx, 1, FAIO_WAIT_INDEFINITE, ed->reaped, ed->depth, &n);
    ed->inflight -= n <= ed->inflight ? n : ed->inflight;
    if (st != FAIO_OK && st != FAIO_E_INTERRUPTED) break;
  }
  int st = faio_ctx_destroy(ed->ctx);
  if (st != FAIO_OK) log_err("faio: faio_ctx_destroy: %s\n", faio_strerror(st));
  free_engine_data(ed);
  td->io_ops_data = NULL;
}

static int engine_open_file(struct thread_data *td, struct fio_file *f) {
  int ret = generic_open_file(td, f);
  if (ret != 0) return ret;
  struct engine_data *ed = td->io_ops_data;
  if (ed != NULL) {
    int st = faio_ctx_associate_file(ed->ctx, f->fd);
    if (st != FAIO_OK) {
      log_err("faio: faio_ctx_associate_file(%s): %s\n", f->file_name, faio_strerror(st));
      /* The association's error is the one to report; a failed close adds
       * nothing to it. */
      int close_ret = generic_close_file(td, f);
      (void)close_ret;
      td_verror(td, status_errno(st), "faio_ctx_associate_file");
      return 1;
    }
  }
  return 0;
}

static int engine_close_file(struct thread_data *td, struct fio_file *f) {
  return generic_close_file(td, f);
}

static enum fio_q_status engine_queue(struct thread_data *td, struct io_u *io_u) {
  struct engine_data *ed = td->io_ops_data;
  fio_ro_check(td, io_u);

  if (ed->nfree == 0) return FIO_Q_BUSY; /* not with fio's own depth accounting */
  faio_req *req = ed->free_reqs[ed->nfree - 1];
  int fd = io_u->file->fd;
  int st;
  switch (io_u->ddir) {
    case DDIR_READ:
      st = faio_req_prepare_read(req, fd, (int64_t)io_u->offset, io_u->xfer_buf,
                                 (size_t)io_u->xfer_buflen, io_u);
      break;
    case DDIR_WRITE:
      st = faio_req_prepare_write(req, fd, (int64_t)io_u->offset, io_u->xfer_buf,
                                  (size_t)io_u->xfer_buflen, io_u);
      break;
    case DDIR_SYNC:
      st = faio_req_prepare_flush_ex(req, fd, FAIO_FLUSH_FULL, io_u);
      break;
    case DDIR_DATASYNC:
      st = faio_req_prepare_flush_ex(req, fd, FAIO_FLUSH_DATA, io_u);
      break;
    default:
      /* trim, sync_file_range: faio has no such operation. */
      io_u->error = EOPNOTSUPP;
      return FIO_Q_COMPLETED;
  }
  if (st != FAIO_OK) {
    io_u->error = status_errno(st);
    return FIO_Q_COMPLETED;
  }
  ed->nfree--;
  ed->pending[ed->npending++] = req;
  return FIO_Q_QUEUED;
}

/* Issue time and submission latency of io_us just handed to faio. */
static void mark_issued(struct thread_data *td, faio_req **reqs, unsigned int n) {
  io_u_mark_submit(td, n);
  if (!fio_fill_issue_time(td)) return;
  struct timespec now;
  fio_gettime(&now, NULL);
  for (unsigned int i = 0; i < n; i++) {
    struct io_u *io_u = faio_req_user(reqs[i]);
    io_u->issue_time = now;
    io_u_queued(td, io_u);
  }
  if (td->o.read_iolog_file) td->last_issue = now;
}

static int engine_commit(struct thread_data *td) {
  struct engine_data *ed = td->io_ops_data;
  if (ed->npending == 0) return 0;

  /* The requests that reached the host are a prefix of the array: on
   * FAIO_E_INSUFFICIENT_RESOURCES, `accepted` of them are in flight and the rest
   * are back in state prepared. */
  size_t accepted = 0;
  int st = faio_ctx_submit_ex(ed->ctx, ed->pending, ed->npending, &accepted);
  if (st != FAIO_OK && st != FAIO_E_INSUFFICIENT_RESOURCES) {
    log_err("faio: faio_ctx_submit_ex: %s (%s)\n", faio_strerror(st), faio_status_name(st));
    return -status_errno(st);
  }
  unsigned int taken = (unsigned int)accepted;

  if (taken > 0) {
    mark_issued(td, ed->pending, taken);
    ed->inflight += taken;
    ed->npending -= taken;
    memmove(ed->pending, ed->pending + taken, ed->npending * sizeof *ed->pending);
    ed->stalled = 0;
    return 0;
  }
  /* Nothing went in. With requests in flight, reaping some frees host resources:
   * let fio do that (it calls ->getevents, which commits again first). With none,
   * nothing will free them on its own but other processes' I/O ending; give that
   * 30 s, as fio's libaio engine does, then fail. */
  if (ed->inflight == 0) {
    if (!ed->stalled) {
      fio_gettime(&ed->stalled_since, NULL);
      ed->stalled = 1;
    } else if (mtime_since_now(&ed->stalled_since) > 30000) {
      log_err("faio: the host has taken no request for 30 s; giving up\n");
      return -EAGAIN;
    }
    usleep(100);
  }
  return 0;
}

/* The outcome of a reaped request, in fio's terms. */
static struct io_u *complete_one(struct engine_data *ed, faio_req *req) {
  struct io_u *io_u = faio_req_user(req);
  size_t transferred = 0;
  int st = faio_req_result(req, &transferred);
  if (st == FAIO_OK) {
    if ((io_u->ddir == DDIR_READ || io_u->ddir == DDIR_WRITE) &&
        transferred < io_u->xfer_buflen)
      io_u->resid = io_u->xfer_buflen - transferred;
  } else {
    int host = faio_req_host_error(req);
    io_u->error = host > 0 ? host : status_errno(st);
  }
  ed->free_reqs[ed->nfree++] = req;
  return io_u;
}

static int engine_getevents(struct thread_data *td, unsigned int min, unsigned int max,
                            const struct timespec *t) {
  struct engine_data *ed = td->io_ops_data;
  if (max > ed->depth) max = ed->depth;
  if (max == 0) return 0;
  if (min > max) min = max;

  /* Requests a partial submit left behind go first: fio counts them in flight. */
  if (ed->npending > 0) {
    int r = engine_commit(td);
    if (r < 0) return r;
  }

  uint32_t timeout_ms;
  if (min == 0) {
    timeout_ms = 0; /* fio is polling; faio reads min 0 as 1, so do not block */
  } else if (t == NULL) {
    timeout_ms = FAIO_WAIT_INDEFINITE;
  } else {
    uint64_t ms = (uint64_t)t->tv_sec * 1000u + ((uint64_t)t->tv_nsec + 999999u) / 1000000u;
    timeout_ms = ms >= FAIO_WAIT_INDEFINITE ? FAIO_WAIT_INDEFINITE - 1 : (uint32_t)ms;
  }

  unsigned int events = 0;
  for (;;) {
    uint32_t n = 0;
    int st = faio_ctx_wait(ed->ctx, min > events ? min - events : 0, timeout_ms,
                           ed->reaped, max - events, &n);
    for (uint32_t i = 0; i < n; i++) ed->events[events++] = complete_one(ed, ed->reaped[i]);
    ed->inflight -= n <= ed->inflight ? n : ed->inflight;
    if (st == FAIO_OK || st == FAIO_E_TIMEOUT || st == FAIO_E_NO_REQUEST) break;
    if (st == FAIO_E_INTERRUPTED) {
      if (events >= min || events == max) break;
      continue; /* nobody here wakes the context; a stray wakeup: wait on */
    }
    log_err("faio: faio_ctx_wait: %s (%s)\n", faio_strerror(st), faio_status_name(st));
    return events > 0 ? (int)events : -status_errno(st);
  }
  return (int)events;
}

static struct io_u *engine_event(struct thread_data *td, int event) {
  struct engine_data *ed = td->io_ops_data;
  return ed->events[event];
}

/* fio finds an external engine through this exported symbol. */
__attribute__((visibility("default"))) struct ioengine_ops ioengine = {
    .name = "faio",
    .version = FIO_IOOPS_VERSION,
    /* The issue time is set in ->commit, when faio has the request. */
    .flags = FIO_ASYNCIO_SETS_ISSUE_TIME,
    .init = engine_init,
    .post_init = engine_post_init,
    .queue = engine_queue,
    .commit = engine_commit,
    .getevents = engine_getevents,
    .event = engine_event,
    .cleanup = engine_cleanup,
    .open_file = engine_open_file,
    .close_file = engine_close_file,
    .get_file_size = generic_get_file_size,
    .options = options,
    .option_struct_size = sizeof(struct engine_options),
};
