// context_cost.cc - what one context costs the host, per backend (Linux).
//
//   build/bench/context_cost [--contexts N] [--capacity C]
//
// For every available backend (except the fault decorator, which costs what its
// inner one does), a fresh child process creates N contexts of capacity C and
// reads, before and after, what the host counts: descriptors (/proc/self/fd),
// kernel AIO contexts (the "/[aio]" rings in /proc/self/maps) and event slots
// (fs.aio-nr: system-wide, so other processes' io_setup shows too: run it on a
// quiet machine, or twice),
// threads (/proc/self/task) and resident memory (VmRSS). Then it submits one
// pipe read to each context, which stays in flight (nothing is written yet),
// and counts again, since some hosts spend threads per request in flight
// (io_uring's io-wq workers are threads of the process, glibc's POSIX AIO runs
// one thread per busy descriptor). Then it writes the pipes, reaps every read
// (10 s at most in all) and destroys the contexts.
//
// The numbers are per context: (after - before) / N. docs/backends.md ("What a
// context costs") has a table made with it.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "faio/faio.h"

namespace {

struct Counts {
  long fds = 0;
  long aio_rings = 0;
  long aio = 0;
  long tasks = 0;
  long rss_kib = 0;
};

long CountDir(const char* path) {
  DIR* d = opendir(path);
  if (d == nullptr) return -1;
  long n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - (strcmp(path, "/proc/self/fd") == 0 ? 1 : 0);  // opendir's own
}

long ReadLong(const char* path) {
  FILE* f = fopen(path, "re");
  if (f == nullptr) return -1;
  long v = -1;
  if (fscanf(f, "%ld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

// Kernel AIO contexts of this process: each maps its ring as "/[aio]".
long AioRings() {
  FILE* f = fopen("/proc/self/maps", "re");
  if (f == nullptr) return -1;
  char line[512];
  long n = 0;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strstr(line, "/[aio]") != nullptr) ++n;
  }
  fclose(f);
  return n;
}

long RssKib() {
  FILE* f = fopen("/proc/self/status", "re");
  if (f == nullptr) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, "VmRSS:", 6) == 0) v = atol(line + 6);
  }
  fclose(f);
  return v;
}

Counts Now() {
  Counts c;
  c.fds = CountDir("/proc/self/fd");
  c.aio_rings = AioRings();
  c.aio = ReadLong("/proc/sys/fs/aio-nr");
  c.tasks = CountDir("/proc/self/task");
  c.rss_kib = RssKib();
  return c;
}

void PrintRow(const char* backend, const char* phase, const Counts& a, const Counts& b, int n,
              double create_us) {
  auto per = [n](long x, long y) { return static_cast<double>(y - x) / n; };
  printf("| %s | %s | %.2f | %.2f | %.2f | %.2f | %.1f |", backend, phase, per(a.fds, b.fds),
         per(a.aio_rings, b.aio_rings), per(a.aio, b.aio), per(a.tasks, b.tasks),
         per(a.rss_kib, b.rss_kib));
  if (create_us >= 0) {
    printf(" %.1f |\n", create_us);
  } else {
    printf(" |\n");
  }
  fflush(stdout);
}

// Measure runs in a child: returns its exit code.
int Measure(const char* backend, int n, uint32_t capacity) {
  std::vector<int> pipes(2 * static_cast<size_t>(n), -1);
  for (int i = 0; i < n; ++i) {
    if (pipe2(&pipes[2 * static_cast<size_t>(i)], O_CLOEXEC) != 0) {
      printf("| %s | pipe failed: %s |\n", backend, strerror(errno));
      return 1;
    }
  }
  std::vector<faio_req*> reqs(static_cast<size_t>(n), nullptr);
  for (faio_req*& r : reqs) {
    if (faio_req_create(&r) != FAIO_OK) return 1;
  }
  std::vector<char> bufs(static_cast<size_t>(n) * 8);
  std::vector<faio_ctx*> ctxs;
  Counts before = Now();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = backend;
    o.capacity = capacity;
    faio_ctx* c = nullptr;
    int s = faio_ctx_create_ex(&c, &o);
    if (s != FAIO_OK) {
      printf("| %s | create %d failed: %s |\n", backend, i, faio_strerror(s));
      return 1;
    }
    ctxs.push_back(c);
  }
  auto t1 = std::chrono::steady_clock::now();
  double create_us = std::chrono::duration<double, std::micro>(t1 - t0).count() / n;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // threads settle
  Counts idle = Now();
  PrintRow(backend, "idle", before, idle, n, create_us);

  for (int i = 0; i < n; ++i) {
    size_t k = static_cast<size_t>(i);
    faio_req_prepare_read(reqs[k], pipes[2 * k], 0, &bufs[8 * k], 8, nullptr);
    int s = faio_ctx_submit(ctxs[k], &reqs[k], 1);
    if (s != FAIO_OK) {
      printf("| %s | submit %d failed: %s |\n", backend, i, faio_strerror(s));
      return 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Counts busy = Now();
  PrintRow(backend, "one pipe read in flight", before, busy, n, -1);

  int stalled = 0;
  for (int i = 0; i < n; ++i) {
    size_t k = static_cast<size_t>(i);
    if (write(pipes[2 * k + 1], "12345678", 8) != 8) return 1;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; i < n; ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    uint32_t ms = left.count() > 0 ? static_cast<uint32_t>(left.count()) : 0;
    faio_req* out = nullptr;
    uint32_t got = 0;
    int s = faio_ctx_wait(ctxs[static_cast<size_t>(i)], 1, ms, &out, 1, &got);
    if (s != FAIO_OK || got != 1) ++stalled;
  }
  if (stalled > 0) {
    printf("| %s | %d of %d reads did not complete within 10 s |\n", backend, stalled, n);
    fflush(stdout);
    _exit(2);  // contexts with requests in flight cannot be destroyed
  }
  for (faio_ctx* c : ctxs) faio_ctx_destroy(c);
  for (faio_req* r : reqs) faio_req_destroy(r);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 100;
  uint32_t capacity = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--contexts") == 0) {
      n = atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--capacity") == 0) {
      capacity = static_cast<uint32_t>(atoi(argv[i + 1]));
    } else {
      fprintf(stderr, "usage: %s [--contexts N] [--capacity C]\n", argv[0]);
      return 2;
    }
  }
  if (n <= 0) n = 1;
  faio_backend_info info[16];
  size_t count = 0;
  if (faio_get_backends(info, 16, &count) != FAIO_OK) return 1;
  printf("%d contexts of capacity %u per backend; numbers per context\n\n", n, capacity);
  printf(
      "| backend | phase | descriptors | AIO contexts | AIO slots | threads | RSS KiB | create µs "
      "|\n");
  printf("|---|---|---|---|---|---|---|---|\n");
  fflush(stdout);
  int rc = 0;
  for (size_t i = 0; i < count && i < 16; ++i) {
    if (strcmp(info[i].name, "fault") == 0) continue;
    if (!info[i].available) {
      printf("| %s | unavailable: %s |\n", info[i].name, info[i].reason);
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      int code = Measure(info[i].name, n, capacity);
      fflush(stdout);
      _exit(code);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
  }
  return rc;
}
