/*
 * capi_test.c - faio.h compiled and used as C99 (no extensions): a round trip
 * through a temporary file on every available backend, the statuses of common
 * misuse, and faio_strerror for every status. Exits 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <faio/faio.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

static int g_failures = 0;
static const char* g_backend = "auto";

#define CHECK_STATUS(expr, expected)                                                            \
  do {                                                                                          \
    int got_ = (expr);                                                                          \
    if (got_ != (expected)) {                                                                   \
      fprintf(stderr, "%s:%d [%s] %s returned %d (%s), expected %d (%s)\n", __FILE__, __LINE__, \
              g_backend, #expr, got_, faio_strerror(got_), (int)(expected),                     \
              faio_strerror(expected));                                                         \
      g_failures++;                                                                             \
    }                                                                                           \
  } while (0)

#define CHECK(cond)                                                                           \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      fprintf(stderr, "%s:%d [%s] check failed: %s\n", __FILE__, __LINE__, g_backend, #cond); \
      g_failures++;                                                                           \
    }                                                                                         \
  } while (0)

#define NBLOCKS 4
#define BLOCK 4096

static const int kStatuses[] = {FAIO_OK,
                                FAIO_E_INVALID_PARAMETER,
                                FAIO_E_INVALID_HANDLE,
                                FAIO_E_INVALID_STATE,
                                FAIO_E_NO_MEMORY,
                                FAIO_E_NOT_SUPPORTED,
                                FAIO_E_IN_PROGRESS,
                                FAIO_E_NOT_SUBMITTED,
                                FAIO_E_COMPLETED,
                                FAIO_E_CANCELLED,
                                FAIO_E_BUSY,
                                FAIO_E_NO_REQUEST,
                                FAIO_E_TIMEOUT,
                                FAIO_E_INTERRUPTED,
                                FAIO_E_INSUFFICIENT_RESOURCES,
                                FAIO_E_OUT_OF_RANGE,
                                FAIO_E_IO,
                                FAIO_E_DISK_FULL,
                                FAIO_E_FILE_TOO_BIG,
                                FAIO_E_ACCESS_DENIED,
                                FAIO_E_BAD_FILE,
                                FAIO_E_HOST};
#define NSTATUSES (sizeof kStatuses / sizeof kStatuses[0])

static void test_strerror(void) {
  size_t i, j;
  for (i = 0; i < NSTATUSES; i++) {
    const char* a = faio_strerror(kStatuses[i]);
    CHECK(a != NULL);
    if (a == NULL) continue;
    CHECK(a[0] != '\0');
    for (j = 0; j < i; j++) {
      const char* b = faio_strerror(kStatuses[j]);
      if (b != NULL && strcmp(a, b) == 0) {
        fprintf(stderr, "statuses %d and %d share the phrase \"%s\"\n", kStatuses[i], kStatuses[j],
                a);
        g_failures++;
      }
    }
  }
  CHECK(faio_strerror(12345) != NULL);
  CHECK(faio_strerror(-12345) != NULL);
  /* faio_status_name spells each status as its macro, distinct from the others. */
  CHECK(strcmp(faio_status_name(FAIO_OK), "FAIO_OK") == 0);
  CHECK(strcmp(faio_status_name(FAIO_E_BUSY), "FAIO_E_BUSY") == 0);
  CHECK(strcmp(faio_status_name(FAIO_E_HOST), "FAIO_E_HOST") == 0);
  CHECK(strcmp(faio_status_name(-12345), "(unknown status)") == 0);
  for (i = 0; i < NSTATUSES; i++) {
    CHECK(strncmp(faio_status_name(kStatuses[i]), "FAIO_", 5) == 0);
    for (j = 0; j < i; j++) {
      CHECK(strcmp(faio_status_name(kStatuses[i]), faio_status_name(kStatuses[j])) != 0);
    }
  }
  CHECK(faio_version() ==
        FAIO_VERSION_MAJOR * 10000 + FAIO_VERSION_MINOR * 100 + FAIO_VERSION_PATCH);
}

/* wait_all reaps n requests (at most 5 s), returning how many came back. */
static size_t wait_all(faio_ctx* ctx, size_t n) {
  faio_req* out[NBLOCKS * 2];
  size_t got = 0;
  int rounds;
  for (rounds = 0; rounds < 50 && got < n; rounds++) {
    uint32_t count = 0;
    int s = faio_ctx_wait(ctx, n - got, 100, out, n - got, &count);
    CHECK(s == FAIO_OK || s == FAIO_E_TIMEOUT);
    got += count;
  }
  return got;
}

/* The host: a temporary file (deleted when closed) and a pipe whose reads stay
 * in flight until written to. On Windows both are opened FILE_FLAG_OVERLAPPED
 * (the iocp backend needs it) and the pipe is a named pipe. */
#ifdef _WIN32
#define BAD_FILE INVALID_HANDLE_VALUE

static int file_ok(faio_file f) { return f != NULL && f != INVALID_HANDLE_VALUE; }
static void close_file(faio_file f) { CloseHandle(f); }
static const char* host_error_text(void) { return "see GetLastError"; }

static faio_file make_temp_file(void) {
  char dir[MAX_PATH + 1];
  char path[MAX_PATH + 1];
  DWORD n = GetTempPathA(sizeof dir, dir);
  if (n == 0 || n > MAX_PATH || GetTempFileNameA(dir, "fai", 0, path) == 0) return BAD_FILE;
  return CreateFileA(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
                     CREATE_ALWAYS, FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE, NULL);
}

static int make_pipe(faio_file fds[2]) {
  char name[96];
  snprintf(name, sizeof name, "\\\\.\\pipe\\faio-capi-%lu", (unsigned long)GetCurrentProcessId());
  fds[0] = CreateNamedPipeA(name, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE | PIPE_WAIT,
                            1, 4096, 4096, 0, NULL);
  if (fds[0] == INVALID_HANDLE_VALUE) return -1;
  fds[1] = CreateFileA(name, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
  if (fds[1] == INVALID_HANDLE_VALUE) {
    CloseHandle(fds[0]);
    return -1;
  }
  return 0;
}

static int pipe_write(faio_file w, const char* data, size_t len) {
  DWORD n = 0;
  return WriteFile(w, data, (DWORD)len, &n, NULL) && n == len;
}
#else
#define BAD_FILE (-1)

static int file_ok(faio_file f) { return f >= 0; }
static void close_file(faio_file f) { close(f); }
static const char* host_error_text(void) { return strerror(errno); }

static faio_file make_temp_file(void) {
  char path[64];
  int fd;
  strcpy(path, "/var/tmp/faio-capi-XXXXXX");
  fd = mkstemp(path);
  if (fd < 0) {
    strcpy(path, "/tmp/faio-capi-XXXXXX");
    fd = mkstemp(path);
  }
  if (fd >= 0) unlink(path);
  return fd;
}

static int make_pipe(faio_file fds[2]) { return pipe(fds); }

static int pipe_write(faio_file w, const char* data, size_t len) {
  return write(w, data, len) == (ssize_t)len;
}
#endif

/* round_trip writes NBLOCKS blocks through faio, reads them back, compares. */
static void round_trip(faio_ctx* ctx, faio_file fd) {
  static unsigned char wbuf[NBLOCKS][BLOCK];
  static unsigned char rbuf[NBLOCKS][BLOCK];
  faio_req* reqs[NBLOCKS + 1];
  size_t i, j, n;
  for (i = 0; i <= NBLOCKS; i++) {
    reqs[i] = NULL;
    CHECK_STATUS(faio_req_create(&reqs[i]), FAIO_OK);
  }
  for (i = 0; i < NBLOCKS; i++) {
    for (j = 0; j < BLOCK; j++) wbuf[i][j] = (unsigned char)(i * 31 + j * 7 + 1);
    CHECK_STATUS(
        faio_req_prepare_write(reqs[i], fd, (int64_t)(i * BLOCK), wbuf[i], BLOCK, &wbuf[i]),
        FAIO_OK);
  }
  CHECK_STATUS(faio_req_prepare_flush(reqs[NBLOCKS], fd, NULL), FAIO_OK);
  CHECK_STATUS(faio_ctx_submit(ctx, reqs, NBLOCKS + 1), FAIO_OK);
  CHECK_STATUS(faio_ctx_destroy(ctx), FAIO_E_BUSY);
  CHECK(wait_all(ctx, NBLOCKS + 1) == NBLOCKS + 1);
  for (i = 0; i <= NBLOCKS; i++) {
    n = 99;
    CHECK_STATUS(faio_req_result(reqs[i], &n), FAIO_OK);
    CHECK(n == (i < NBLOCKS ? (size_t)BLOCK : 0u));
  }
  for (i = 0; i < NBLOCKS; i++) {
    CHECK(faio_req_user(reqs[i]) == (void*)&wbuf[i]);
    memset(rbuf[i], 0, BLOCK);
    CHECK_STATUS(faio_req_prepare_read(reqs[i], fd, (int64_t)(i * BLOCK), rbuf[i], BLOCK, NULL),
                 FAIO_OK);
  }
  CHECK_STATUS(faio_ctx_submit(ctx, reqs, NBLOCKS), FAIO_OK);
  CHECK(wait_all(ctx, NBLOCKS) == NBLOCKS);
  for (i = 0; i < NBLOCKS; i++) {
    n = 0;
    CHECK_STATUS(faio_req_result(reqs[i], &n), FAIO_OK);
    CHECK(n == BLOCK);
    CHECK(memcmp(rbuf[i], wbuf[i], BLOCK) == 0);
  }
  for (i = 0; i <= NBLOCKS; i++) CHECK_STATUS(faio_req_destroy(reqs[i]), FAIO_OK);
}

static void misuse(faio_ctx* ctx, faio_file fd) {
  faio_req* r = NULL;
  faio_req* dead = NULL;
  faio_req* out[4];
  faio_req* batch[2];
  uint32_t count;
  char buf[16];
  faio_file fds[2];

  CHECK_STATUS(faio_req_create(NULL), FAIO_E_INVALID_PARAMETER);
  CHECK_STATUS(faio_req_create(&r), FAIO_OK);
  CHECK_STATUS(faio_req_destroy(NULL), FAIO_OK);
  CHECK_STATUS(faio_req_result(r, NULL), FAIO_E_NOT_SUBMITTED);
  CHECK_STATUS(faio_req_cancel(r), FAIO_E_NOT_SUBMITTED);
  CHECK_STATUS(faio_ctx_submit(ctx, &r, 1), FAIO_E_INVALID_STATE); /* idle */
  CHECK_STATUS(faio_req_prepare_read(r, fd, 0, buf, 0, NULL), FAIO_E_INVALID_PARAMETER);
  CHECK_STATUS(faio_req_prepare_read(r, fd, -1, buf, sizeof buf, NULL), FAIO_E_INVALID_PARAMETER);
  CHECK_STATUS(faio_req_prepare_read(r, fd, 0, NULL, sizeof buf, NULL), FAIO_E_INVALID_PARAMETER);
  CHECK_STATUS(faio_req_prepare_read(r, fd, 0, buf, sizeof buf, NULL), FAIO_OK);
  CHECK_STATUS(faio_ctx_submit(ctx, &r, 0), FAIO_E_INVALID_PARAMETER);
  CHECK_STATUS(faio_ctx_submit(ctx, NULL, 1), FAIO_E_INVALID_PARAMETER);
  batch[0] = r;
  batch[1] = r;
  CHECK_STATUS(faio_ctx_submit(ctx, batch, 2), FAIO_E_INVALID_STATE); /* twice */

  CHECK_STATUS(faio_req_create(&dead), FAIO_OK);
  CHECK_STATUS(faio_req_destroy(dead), FAIO_OK);
  batch[0] = r;
  batch[1] = dead;
  CHECK_STATUS(faio_ctx_submit(ctx, batch, 2), FAIO_E_INVALID_HANDLE);
  CHECK_STATUS(faio_req_result(r, NULL), FAIO_E_NOT_SUBMITTED);
  {
    size_t accepted = 99;
    CHECK_STATUS(faio_ctx_submit_ex(ctx, batch, 2, &accepted), FAIO_E_INVALID_HANDLE);
    CHECK(accepted == 0);
    CHECK_STATUS(faio_ctx_submit_ex(ctx, batch, 2, NULL), FAIO_E_INVALID_PARAMETER);
    CHECK_STATUS(faio_req_result(r, NULL), FAIO_E_NOT_SUBMITTED);
  }
  CHECK_STATUS(faio_req_destroy(dead), FAIO_E_INVALID_HANDLE);
  CHECK_STATUS(faio_req_result((faio_req*)(void*)buf, NULL), FAIO_E_INVALID_HANDLE);
  CHECK(faio_req_user(dead) == NULL);

  count = 99;
  CHECK_STATUS(faio_ctx_wait(ctx, 1, 0, out, 4, &count), FAIO_E_NO_REQUEST);
  CHECK(count == 0);
  count = 99;
  CHECK_STATUS(faio_ctx_wait(ctx, 1, 0, out, 0, &count), FAIO_E_INVALID_PARAMETER);
  CHECK(count == 0);
  count = 99;
  CHECK_STATUS(faio_ctx_wait(ctx, 1, 0, NULL, 4, &count), FAIO_E_INVALID_PARAMETER);
  CHECK(count == 0);
  count = 99;
  CHECK_STATUS(faio_ctx_wait(ctx, 5, 0, out, 4, &count), FAIO_E_OUT_OF_RANGE);
  CHECK(count == 0);

  /* A read of an empty pipe stays in flight: destroy → IN_PROGRESS / BUSY. */
  if (make_pipe(fds) == 0) {
    CHECK_STATUS(faio_req_prepare_read(r, fds[0], 0, buf, 4, NULL), FAIO_OK);
    CHECK_STATUS(faio_ctx_submit(ctx, &r, 1), FAIO_OK);
    CHECK_STATUS(faio_req_destroy(r), FAIO_E_IN_PROGRESS);
    CHECK_STATUS(faio_req_prepare_read(r, fd, 0, buf, 4, NULL), FAIO_E_IN_PROGRESS);
    CHECK_STATUS(faio_req_result(r, NULL), FAIO_E_IN_PROGRESS);
    CHECK_STATUS(faio_ctx_destroy(ctx), FAIO_E_BUSY);
    CHECK_STATUS(faio_ctx_wakeup(ctx), FAIO_OK);
    count = 99;
    CHECK_STATUS(faio_ctx_wait(ctx, 1, 5000, out, 4, &count), FAIO_E_INTERRUPTED);
    CHECK(count == 0);
    CHECK(pipe_write(fds[1], "abcd", 4));
    count = 0;
    CHECK_STATUS(faio_ctx_wait(ctx, 1, 5000, out, 4, &count), FAIO_OK);
    CHECK(count == 1 && out[0] == r);
    close_file(fds[0]);
    close_file(fds[1]);
  } else {
    fprintf(stderr, "pipe: %s\n", host_error_text());
    g_failures++;
  }
  CHECK_STATUS(faio_req_destroy(r), FAIO_OK);
  CHECK_STATUS(faio_req_destroy(r), FAIO_E_INVALID_HANDLE);
}

static void run_backend(const char* name, faio_file fd) {
  faio_ctx_options opts = FAIO_CTX_OPTIONS_INIT;
  faio_ctx* ctx = NULL;
  int s;
  g_backend = name;
  opts.capacity = 16;
  opts.backend = name;
  s = faio_ctx_create_ex(&ctx, &opts);
  CHECK_STATUS(s, FAIO_OK);
  if (s != FAIO_OK) return;
  CHECK(faio_ctx_backend(ctx) != NULL && strcmp(faio_ctx_backend(ctx), name) == 0);
  CHECK(faio_ctx_capacity(ctx) >= 16);
  round_trip(ctx, fd);
  misuse(ctx, fd);
  CHECK_STATUS(faio_ctx_destroy(ctx), FAIO_OK);
  CHECK_STATUS(faio_ctx_destroy(ctx), FAIO_E_INVALID_HANDLE);
  opts.flags = 0x100;
  CHECK_STATUS(faio_ctx_create_ex(&ctx, &opts), FAIO_E_INVALID_PARAMETER);
}

int main(void) {
  faio_backend_info infos[16];
  size_t n = 0, i, ran = 0;
  faio_limits lim;
  faio_ctx* ctx = NULL;
  faio_file fd;

  test_strerror();
  CHECK_STATUS(faio_get_limits(NULL), FAIO_E_INVALID_PARAMETER);
  CHECK_STATUS(faio_get_limits(&lim), FAIO_OK);
  CHECK_STATUS(faio_ctx_destroy(NULL), FAIO_OK);
  CHECK_STATUS(faio_ctx_create(NULL, 0, 0), FAIO_E_INVALID_PARAMETER);
  CHECK_STATUS(faio_ctx_create(&ctx, 0, 2), FAIO_E_INVALID_PARAMETER);

  fd = make_temp_file();
  if (!file_ok(fd)) {
    fprintf(stderr, "creating a temporary file: %s\n", host_error_text());
    return 1;
  }
  /* The automatic choice. */
  CHECK_STATUS(faio_ctx_create(&ctx, 8, 0), FAIO_OK);
  if (ctx != NULL) {
    round_trip(ctx, fd);
    CHECK_STATUS(faio_ctx_destroy(ctx), FAIO_OK);
  }
  /* Every available backend by name. */
  CHECK_STATUS(faio_get_backends(infos, sizeof infos / sizeof infos[0], &n), FAIO_OK);
  CHECK(n >= 1);
  for (i = 0; i < n && i < sizeof infos / sizeof infos[0]; i++) {
    if (!infos[i].available) {
      printf("backend %s unavailable: %s\n", infos[i].name, infos[i].reason);
      continue;
    }
    run_backend(infos[i].name, fd);
    ran++;
  }
  close_file(fd);
  CHECK(ran >= 1);
  if (g_failures != 0) {
    fprintf(stderr, "capi_test: %d check(s) failed\n", g_failures);
    return 1;
  }
  printf("capi_test: all checks passed on %lu backend(s)\n", (unsigned long)ran);
  return 0;
}
