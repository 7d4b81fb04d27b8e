/* main.c - a consumer of an installed faio, compiled as C99.
 *
 * For every backend the installed library reports available, it creates a
 * context on it, writes a temporary file in 16 requests of 4 KiB (one batch,
 * followed by a flush), reads it back in one batch and compares. Exit status 0
 * when every available backend round-trips the data. Built by
 * tests/install/run.sh through find_package(faio) and through pkg-config.
 */
#define _POSIX_C_SOURCE 200809L
#include <faio/faio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define kBlocks 16
#define kBlock 4096

static int Fail(const char* backend, const char* what, int status) {
  fprintf(stderr, "consumer [%s]: %s: %s\n", backend, what, faio_strerror(status));
  return 1;
}

/* WaitAll reaps n requests from ctx (in any order). */
static int WaitAll(faio_ctx* ctx, size_t n) {
  faio_req* out[kBlocks + 1];
  size_t got = 0;
  while (got < n) {
    uint32_t count = 0;
    int st = faio_ctx_wait(ctx, n - got, 10000, out, n - got, &count);
    got += count;
    if (st != FAIO_OK) return st;
  }
  return FAIO_OK;
}

static int RoundTrip(const char* backend) {
  static unsigned char data[kBlocks * kBlock];
  static unsigned char back[kBlocks * kBlock];
  char path[] = "/tmp/faio-consumer.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("mkstemp");
    return 1;
  }
  unlink(path);
  for (size_t i = 0; i < sizeof data; ++i) data[i] = (unsigned char)(i * 7 + i / kBlock + 1);
  memset(back, 0, sizeof back);

  faio_ctx_options opts = FAIO_CTX_OPTIONS_INIT;
  opts.backend = backend;
  opts.capacity = kBlocks + 1;
  faio_ctx* ctx = NULL;
  int st = faio_ctx_create_ex(&ctx, &opts);
  if (st != FAIO_OK) return Fail(backend, "faio_ctx_create_ex", st);

  faio_req* reqs[kBlocks + 1];
  int rc = 1;
  size_t made = 0;
  for (; made < kBlocks + 1; ++made) {
    st = faio_req_create(&reqs[made]);
    if (st != FAIO_OK) {
      Fail(backend, "faio_req_create", st);
      goto out;
    }
  }
  for (size_t i = 0; i < kBlocks; ++i) {
    st = faio_req_prepare_write(reqs[i], fd, (int64_t)(i * kBlock), data + i * kBlock, kBlock,
                                (void*)(data + i * kBlock));
    if (st != FAIO_OK) {
      Fail(backend, "faio_req_prepare_write", st);
      goto out;
    }
  }
  st = faio_req_prepare_flush(reqs[kBlocks], fd, NULL);
  if (st == FAIO_OK) st = faio_ctx_submit(ctx, reqs, kBlocks + 1);
  if (st == FAIO_OK) st = WaitAll(ctx, kBlocks + 1);
  if (st != FAIO_OK) {
    Fail(backend, "write batch", st);
    goto out;
  }
  for (size_t i = 0; i <= kBlocks; ++i) {
    size_t n = 0;
    st = faio_req_result(reqs[i], &n);
    if (st != FAIO_OK || (i < kBlocks && n != kBlock)) {
      fprintf(stderr, "consumer [%s]: request %zu: %s, %zu bytes\n", backend, i, faio_strerror(st),
              n);
      goto out;
    }
  }
  if (faio_req_user(reqs[3]) != (void*)(data + 3 * kBlock)) {
    fprintf(stderr, "consumer [%s]: faio_req_user lost the user value\n", backend);
    goto out;
  }

  for (size_t i = 0; i < kBlocks; ++i) {
    st = faio_req_prepare_read(reqs[i], fd, (int64_t)(i * kBlock), back + i * kBlock, kBlock, NULL);
    if (st != FAIO_OK) {
      Fail(backend, "faio_req_prepare_read", st);
      goto out;
    }
  }
  st = faio_ctx_submit(ctx, reqs, kBlocks);
  if (st == FAIO_OK) st = WaitAll(ctx, kBlocks);
  if (st != FAIO_OK) {
    Fail(backend, "read batch", st);
    goto out;
  }
  if (memcmp(data, back, sizeof data) != 0) {
    fprintf(stderr, "consumer [%s]: the data read back differs\n", backend);
    goto out;
  }
  printf("consumer [%s]: %d KiB written, flushed and read back\n", faio_ctx_backend(ctx),
         kBlocks * kBlock / 1024);
  rc = 0;

out:
  for (size_t i = 0; i < made; ++i) faio_req_destroy(reqs[i]);
  st = faio_ctx_destroy(ctx);
  if (st != FAIO_OK && rc == 0) rc = Fail(backend, "faio_ctx_destroy", st);
  close(fd);
  return rc;
}

int main(void) {
  int v = faio_version();
  if (v != FAIO_VERSION_MAJOR * 10000 + FAIO_VERSION_MINOR * 100 + FAIO_VERSION_PATCH) {
    fprintf(stderr, "consumer: the library is version %d, the headers another\n", v);
    return 1;
  }
  faio_backend_info backends[16];
  size_t count = 0;
  int st = faio_get_backends(backends, 16, &count);
  if (st != FAIO_OK) return Fail("-", "faio_get_backends", st);
  if (count > 16) count = 16;
  int tested = 0, rc = 0;
  for (size_t i = 0; i < count; ++i) {
    if (!backends[i].available) {
      printf("consumer [%s]: unavailable here: %s\n", backends[i].name, backends[i].reason);
      continue;
    }
    rc |= RoundTrip(backends[i].name);
    ++tested;
  }
  if (tested == 0) {
    fprintf(stderr, "consumer: no backend available\n");
    return 1;
  }
  return rc;
}
