/* epoll_loop.c - completions of several faio contexts served by one epoll loop,
 * with no thread waiting in faio (docs/event-loops.md).
 *
 * Writes a 1 MiB file with a known pattern, then opens one context on each
 * backend that has a pollable handle, adds each handle to one epoll set, and
 * keeps 8 reads of 4 KiB in flight per context until every context has read the
 * whole file 4 times. Each read is checked byte for byte. Another thread sends
 * wakeups to the first context meanwhile; the loop sees them as
 * FAIO_E_INTERRUPTED. Exits 0 when every byte was right and every request came
 * back. Linux only (epoll). */
#define _GNU_SOURCE
#include <errno.h>
#include <faio/faio.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define FILE_SIZE (1u << 20)
#define BLOCK 4096u
#define DEPTH 8
#define PASSES 4
#define MAX_CTX 8

struct loop_ctx {
  faio_ctx* ctx;
  const char* backend;
  faio_req* reqs[DEPTH];
  unsigned char bufs[DEPTH][BLOCK];
  int64_t offs[DEPTH];
  uint64_t next_block; /* next block to read, over all passes */
  uint64_t done;       /* reads checked */
  int interrupted;
};

static unsigned char pattern(uint64_t off) { return (unsigned char)(off * 131u + (off >> 12)); }

static int fail(const char* what, int st) {
  fprintf(stderr, "epoll_loop: %s: %s\n", what, faio_strerror(st));
  return 1;
}

/* Prepares and submits req slot i of c for the next block, if any is left. */
static int submit_next(struct loop_ctx* c, int fd, size_t i) {
  const uint64_t blocks = (uint64_t)PASSES * (FILE_SIZE / BLOCK);
  if (c->next_block >= blocks) return 0;
  int64_t off = (int64_t)((c->next_block++ % (FILE_SIZE / BLOCK)) * BLOCK);
  c->offs[i] = off;
  int st = faio_req_prepare_read(c->reqs[i], fd, off, c->bufs[i], BLOCK, (void*)(uintptr_t)i);
  if (st == 0) st = faio_ctx_submit(c->ctx, &c->reqs[i], 1);
  return st;
}

static void* waker(void* arg) {
  faio_ctx* ctx = arg;
  for (int i = 0; i < 20; i++) {
    faio_ctx_wakeup(ctx);
    usleep(1000);
  }
  return NULL;
}

int main(void) {
  char path[] = "/tmp/faio-epoll-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return perror("mkstemp"), 1;
  unlink(path);
  static unsigned char data[FILE_SIZE];
  for (uint64_t i = 0; i < FILE_SIZE; i++) data[i] = pattern(i);
  if (pwrite(fd, data, FILE_SIZE, 0) != (ssize_t)FILE_SIZE) return perror("pwrite"), 1;

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return perror("epoll_create1"), 1;

  static struct loop_ctx ctxs[MAX_CTX];
  size_t nctx = 0;
  faio_backend_info infos[16];
  size_t ninfo = 0;
  if (faio_get_backends(infos, 16, &ninfo) != 0) return 1;
  for (size_t b = 0; b < ninfo && b < 16 && nctx < MAX_CTX; b++) {
    if (!infos[b].available) continue;
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = infos[b].name;
    struct loop_ctx* c = &ctxs[nctx];
    if (faio_ctx_create_ex(&c->ctx, &o) != 0) continue;
    faio_file h;
    int st = faio_ctx_pollable(c->ctx, &h);
    if (st == FAIO_E_NOT_SUPPORTED) {
      printf("%-10s no pollable handle (see docs/event-loops.md)\n", infos[b].name);
      faio_ctx_destroy(c->ctx);
      continue;
    }
    if (st != 0) return fail("faio_ctx_pollable", st);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, h, &ev) != 0) return perror("epoll_ctl"), 1;
    c->backend = infos[b].name;
    for (size_t i = 0; i < DEPTH; i++) {
      if (faio_req_create(&c->reqs[i]) != 0) return 1;
      if ((st = submit_next(c, fd, i)) != 0) return fail("submit", st);
    }
    nctx++;
  }
  if (nctx == 0) {
    fprintf(stderr, "epoll_loop: no backend has a pollable handle here\n");
    return 1;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, waker, ctxs[0].ctx) != 0) return 1;

  const uint64_t want = (uint64_t)PASSES * (FILE_SIZE / BLOCK);
  size_t finished = 0;
  while (finished < nctx) {
    struct epoll_event evs[MAX_CTX];
    int n = epoll_wait(ep, evs, MAX_CTX, 10000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fprintf(stderr, "epoll_loop: no handle became ready for 10 s (a completion is stranded)\n");
      return 1;
    }
    for (int e = 0; e < n; e++) {
      struct loop_ctx* c = evs[e].data.ptr;
      /* The rule: wait with timeout 0 until a wait returns no completion. */
      for (;;) {
        faio_req* out[DEPTH];
        uint32_t got = 0;
        int st = faio_ctx_wait(c->ctx, 1, 0, out, DEPTH, &got);
        if (st == FAIO_E_INTERRUPTED) {
          c->interrupted++;
          continue; /* completions may be behind it */
        }
        if (st == FAIO_E_TIMEOUT || st == FAIO_E_NO_REQUEST) break;
        if (st != 0) return fail("faio_ctx_wait", st);
        for (uint32_t k = 0; k < got; k++) {
          size_t i = (size_t)(uintptr_t)faio_req_user(out[k]);
          size_t len = 0;
          if ((st = faio_req_result(out[k], &len)) != 0) return fail("read", st);
          if (len != BLOCK || memcmp(c->bufs[i], data + c->offs[i], BLOCK) != 0) {
            fprintf(stderr, "epoll_loop: %s: the read at %lld returned wrong data\n", c->backend,
                    (long long)c->offs[i]);
            return 1;
          }
          c->done++;
          if ((st = submit_next(c, fd, i)) != 0) return fail("submit", st);
        }
      }
      if (c->done == want && c->backend != NULL) {
        printf("%-10s %llu reads of %u bytes checked through epoll, %d wakeups seen\n", c->backend,
               (unsigned long long)c->done, BLOCK, c->interrupted);
        finished++;
        c->backend = NULL;
      }
    }
  }
  pthread_join(t, NULL);
  for (size_t i = 0; i < nctx; i++) {
    for (size_t k = 0; k < DEPTH; k++) faio_req_destroy(ctxs[i].reqs[k]);
    int st = faio_ctx_destroy(ctxs[i].ctx);
    if (st != 0) return fail("faio_ctx_destroy", st);
  }
  close(ep);
  close(fd);
  printf("epoll_loop: ok (%zu contexts)\n", nctx);
  return 0;
}
