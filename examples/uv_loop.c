/* uv_loop.c - faio completions inside a libuv loop (docs/event-loops.md).
 *
 * A uv_poll_t watches faio_ctx_pollable's handle; its callback runs
 * faio_ctx_run with timeout 0 until it dispatches nothing, and each request's
 * faio callback checks the 4 KiB it read and submits the next read. A uv_timer
 * sends faio_ctx_wakeup meanwhile, which the loop sees as FAIO_E_INTERRUPTED.
 * Writes a 1 MiB file with a known pattern, reads it 4 times through 8 requests
 * in flight, and exits 0 when every byte was right and every request came back.
 * Uses the automatic backend (FAIO_BACKEND picks another one). */
#define _GNU_SOURCE
#include <faio/faio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define FILE_SIZE (1u << 20)
#define BLOCK 4096u
#define DEPTH 8
#define PASSES 4

static unsigned char data[FILE_SIZE];

struct app {
  faio_ctx* ctx;
  int fd;
  uv_poll_t poll;
  uv_timer_t timer;
  faio_req* reqs[DEPTH];
  unsigned char bufs[DEPTH][BLOCK];
  int64_t offs[DEPTH];
  uint64_t next_block;
  uint64_t done;
  int in_flight;
  int interrupted;
  int failed;
};

static void on_read(faio_req* req, void* arg);

/* Prepares and submits slot i for the next block, if any is left. */
static void submit_next(struct app* a, size_t i) {
  if (a->next_block >= (uint64_t)PASSES * (FILE_SIZE / BLOCK)) return;
  a->offs[i] = (int64_t)((a->next_block++ % (FILE_SIZE / BLOCK)) * BLOCK);
  int st =
      faio_req_prepare_read(a->reqs[i], a->fd, a->offs[i], a->bufs[i], BLOCK, (void*)(uintptr_t)i);
  if (st == 0) st = faio_req_set_callback(a->reqs[i], on_read, a);
  if (st == 0) st = faio_ctx_submit(a->ctx, &a->reqs[i], 1);
  if (st != 0) {
    fprintf(stderr, "uv_loop: submit: %s\n", faio_strerror(st));
    a->failed = 1;
    return;
  }
  a->in_flight++;
}

static void on_read(faio_req* req, void* arg) {
  struct app* a = arg;
  size_t i = (size_t)(uintptr_t)faio_req_user(req);
  size_t len = 0;
  int st = faio_req_result(req, &len);
  a->in_flight--;
  if (st != 0 || len != BLOCK || memcmp(a->bufs[i], data + a->offs[i], BLOCK) != 0) {
    fprintf(stderr, "uv_loop: the read at %lld: %s, %zu bytes, data %s\n", (long long)a->offs[i],
            faio_strerror(st), len, st == 0 ? "wrong" : "-");
    a->failed = 1;
    return;
  }
  a->done++;
  submit_next(a, i);
}

static void on_ready(uv_poll_t* p, int status, int events) {
  (void)events;
  struct app* a = p->data;
  if (status < 0) {
    fprintf(stderr, "uv_loop: poll: %s\n", uv_strerror(status));
    a->failed = 1;
  }
  /* The rule: run (or wait) with timeout 0 until nothing comes. */
  for (;;) {
    uint32_t n = 0;
    int st = faio_ctx_run(a->ctx, 1, 0, &n);
    if (st == FAIO_E_INTERRUPTED) {
      a->interrupted++;
      continue; /* completions may be behind it */
    }
    if (st != 0) break;
  }
  if (a->in_flight == 0 || a->failed) {
    uv_poll_stop(&a->poll);
    uv_timer_stop(&a->timer);
  }
}

static void on_timer(uv_timer_t* t) { faio_ctx_wakeup(((struct app*)t->data)->ctx); }

int main(void) {
  char path[] = "/tmp/faio-uv-XXXXXX";
  static struct app a;
  a.fd = mkstemp(path);
  if (a.fd < 0) return perror("mkstemp"), 1;
  unlink(path);
  for (uint64_t i = 0; i < FILE_SIZE; i++) data[i] = (unsigned char)(i * 131u + (i >> 12));
  if (pwrite(a.fd, data, FILE_SIZE, 0) != (ssize_t)FILE_SIZE) return perror("pwrite"), 1;

  int st = faio_ctx_create(&a.ctx, 0, 0);
  if (st != 0) {
    fprintf(stderr, "uv_loop: faio_ctx_create: %s\n", faio_strerror(st));
    return 1;
  }
  faio_file h;
  st = faio_ctx_pollable(a.ctx, &h);
  if (st != 0) {
    fprintf(stderr, "uv_loop: backend %s: faio_ctx_pollable: %s\n", faio_ctx_backend(a.ctx),
            faio_strerror(st));
    return 1;
  }
  uv_loop_t* loop = uv_default_loop();
  uv_poll_init(loop, &a.poll, h);
  a.poll.data = &a;
  uv_poll_start(&a.poll, UV_READABLE, on_ready);
  uv_timer_init(loop, &a.timer);
  a.timer.data = &a;
  uv_timer_start(&a.timer, on_timer, 1, 1);
  for (size_t i = 0; i < DEPTH; i++) {
    if (faio_req_create(&a.reqs[i]) != 0) return 1;
    submit_next(&a, i);
  }
  uv_run(loop, UV_RUN_DEFAULT);

  const uint64_t want = (uint64_t)PASSES * (FILE_SIZE / BLOCK);
  if (a.failed || a.done != want) {
    fprintf(stderr, "uv_loop: %llu of %llu reads came back right\n", (unsigned long long)a.done,
            (unsigned long long)want);
    return 1;
  }
  printf("uv_loop: ok: %llu reads of %u bytes checked on %s through libuv, %d wakeups seen\n",
         (unsigned long long)a.done, BLOCK, faio_ctx_backend(a.ctx), a.interrupted);
  uv_close((uv_handle_t*)&a.poll, NULL);
  uv_close((uv_handle_t*)&a.timer, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  for (size_t i = 0; i < DEPTH; i++) faio_req_destroy(a.reqs[i]);
  st = faio_ctx_destroy(a.ctx);
  close(a.fd);
  return st == 0 ? 0 : 1;
}
