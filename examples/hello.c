/* hello.c - write a file through faio's C API, flush it, and read it back.
 *
 * Build against an installed faio:
 *   cc -std=c99 hello.c $(pkg-config --cflags --libs --static faio)
 * (tests/install/run.sh builds and runs it this way and through find_package.)
 */
#define _POSIX_C_SOURCE 200809L
#include <faio/faio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CHECK stops the program with faio's phrase for a failed status. */
#define CHECK(call)                                               \
  do {                                                            \
    int status_ = (call);                                         \
    if (status_ != FAIO_OK) {                                     \
      fprintf(stderr, "%s: %s\n", #call, faio_strerror(status_)); \
      exit(1);                                                    \
    }                                                             \
  } while (0)

int main(void) {
  char path[] = "/tmp/faio-hello.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("mkstemp");
    return 1;
  }
  unlink(path); /* the file lives as long as fd */

  faio_ctx* ctx;
  CHECK(faio_ctx_create(&ctx, 8, 0)); /* auto backend (or $FAIO_BACKEND), 8 in flight */

  faio_req *write, *flush, *read;
  CHECK(faio_req_create(&write));
  CHECK(faio_req_create(&flush));
  CHECK(faio_req_create(&read));

  /* One batch: the write, then a flush that completes after it and makes it durable. */
  static const char msg[] = "hello, faio";
  CHECK(faio_req_prepare_write(write, fd, 0, msg, sizeof msg, NULL));
  CHECK(faio_req_prepare_flush(flush, fd, NULL));
  faio_req* batch[2] = {write, flush};
  CHECK(faio_ctx_submit(ctx, batch, 2));

  faio_req* done[2];
  uint32_t count;
  CHECK(faio_ctx_wait(ctx, 2, FAIO_WAIT_INDEFINITE, done, 2, &count)); /* both, any order */
  size_t written;
  CHECK(faio_req_result(write, &written));
  CHECK(faio_req_result(flush, NULL));

  /* Requests are reusable: prepare-submit-wait again for the read. */
  char buf[sizeof msg] = {0};
  CHECK(faio_req_prepare_read(read, fd, 0, buf, sizeof buf, NULL));
  CHECK(faio_ctx_submit(ctx, &read, 1));
  CHECK(faio_ctx_wait(ctx, 1, 1000, done, 1, &count));
  size_t got;
  CHECK(faio_req_result(read, &got));

  printf("%s: wrote %zu bytes, read back \"%s\" (%zu bytes)\n", faio_ctx_backend(ctx), written, buf,
         got);
  int ok = got == sizeof msg && memcmp(buf, msg, sizeof msg) == 0;

  faio_req_destroy(read);
  faio_req_destroy(flush);
  faio_req_destroy(write);
  CHECK(faio_ctx_destroy(ctx));
  close(fd);
  return ok ? 0 : 1;
}
