// vectored_bench.cc - a vectored read against the separate reads it stands for.
//
// Issue 14's yardstick: a 16-segment 64 KiB vectored read at QD32 must cost no
// more CPU than 16 separate 4 KiB requests moving the same bytes. For each
// backend (or those named with --backend), on one file (cached by default,
// --direct for O_DIRECT), this keeps 32 requests in flight and times, in
// interleaved rounds (vectored, separate, vectored, ...):
//
//   vectored  faio_req_prepare_readv of 16 segments of 4 KiB (each in its own
//             4 KiB slot of memory) at a random 64 KiB-aligned offset
//   separate  16 faio_req_prepare_read of 4 KiB for the same bytes
//
// and prints the medians of CPU time per 64 KiB moved (user + system of the
// whole process: getrusage(RUSAGE_SELF), so the threads backend's pool and
// glibc's AIO threads count) and of wall time, and vectored / separate.
//
//   vectored_bench [--size MiB] [--mib-per-round N] [--rounds R] [--backend NAME]...
//                  [--direct] [--dir DIR]
#include <faio/faio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kSeg = 4096;
constexpr size_t kSegs = 16;
constexpr size_t kUnit = kSeg * kSegs;  // 64 KiB
constexpr size_t kDepth = 32;

struct Config {
  uint64_t size_mib = 256;
  uint64_t mib_per_round = 512;
  int rounds = 5;
  bool direct = false;
  std::string dir = "/var/tmp";
  std::vector<std::string> backends;
};

[[noreturn]] void Die(const char* what, const char* why) {
  std::fprintf(stderr, "vectored_bench: %s: %s\n", what, why);
  std::exit(1);
}

void Check(int st, const char* what) {
  if (st != FAIO_OK) Die(what, faio_strerror(st));
}

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Sample {
  double cpu_ns = 0;   // per 64 KiB
  double wall_ns = 0;  // per 64 KiB
};

// One round: `units` 64 KiB units read with QD32 requests, vectored or not.
Sample Round(faio_ctx* ctx, int fd, uint64_t file_units, uint64_t units, bool vectored,
             unsigned char* mem, std::mt19937_64* rng) {
  std::vector<faio_req*> reqs(kDepth);
  for (faio_req*& r : reqs) Check(faio_req_create(&r), "faio_req_create");
  std::vector<faio_req*> done(kDepth);
  const uint64_t per_req = vectored ? kUnit : kSeg;
  const uint64_t total_reqs = units * kUnit / per_req;
  uint64_t issued = 0, completed = 0;
  auto prepare = [&](faio_req* r, size_t slot) {
    const int64_t off = static_cast<int64_t>(((*rng)() % file_units) * kUnit);
    unsigned char* base = mem + slot * kUnit * 2;  // every segment in its own 4 KiB slot, apart
    if (vectored) {
      faio_buffer segs[kSegs];
      for (size_t i = 0; i < kSegs; ++i) segs[i] = faio_buffer{base + i * 2 * kSeg, kSeg};
      Check(faio_req_prepare_readv(r, fd, off, segs, kSegs, reinterpret_cast<void*>(slot)),
            "prepare_readv");
    } else {
      const size_t i = issued % kSegs;
      Check(faio_req_prepare_read(r, fd, off + static_cast<int64_t>(i * kSeg), base + i * 2 * kSeg,
                                  kSeg, reinterpret_cast<void*>(slot)),
            "prepare_read");
    }
    ++issued;
  };
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  size_t first = static_cast<size_t>(std::min<uint64_t>(kDepth, total_reqs));
  for (size_t s = 0; s < first; ++s) prepare(reqs[s], s);
  Check(faio_ctx_submit(ctx, reqs.data(), first), "submit");
  while (completed < total_reqs) {
    uint32_t got = 0;
    int st = faio_ctx_wait(ctx, 1, 10000, done.data(), done.size(), &got);
    if (st != FAIO_OK && st != FAIO_E_INTERRUPTED) Check(st, "wait");
    size_t again = 0;
    for (uint32_t i = 0; i < got; ++i) {
      size_t n = 0;
      Check(faio_req_result(done[i], &n), "a read");
      if (n != per_req) Die("a read", "came back short");
      ++completed;
      if (issued < total_reqs) {
        prepare(done[i], reinterpret_cast<uintptr_t>(faio_req_user(done[i])));
        done[again++] = done[i];
      }
    }
    if (again != 0) Check(faio_ctx_submit(ctx, done.data(), again), "submit");
  }
  Sample s;
  s.cpu_ns = (CpuSeconds() - cpu0) * 1e9 / static_cast<double>(units);
  s.wall_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
              static_cast<double>(units);
  for (faio_req* r : reqs) faio_req_destroy(r);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) Die(a.c_str(), "needs a value");
      return argv[++i];
    };
    if (a == "--size") cfg.size_mib = strtoull(next(), nullptr, 10);
    else if (a == "--mib-per-round") cfg.mib_per_round = strtoull(next(), nullptr, 10);
    else if (a == "--rounds") cfg.rounds = atoi(next());
    else if (a == "--backend") cfg.backends.emplace_back(next());
    else if (a == "--direct") cfg.direct = true;
    else if (a == "--dir") cfg.dir = next();
    else Die(a.c_str(), "unknown option (see the file comment)");
  }
  if (cfg.backends.empty()) cfg.backends = {"io_uring", "linux_aio", "threads", "posix_aio"};
  if (cfg.size_mib == 0 || cfg.rounds < 1 || cfg.mib_per_round == 0) Die("options", "out of range");

  std::string path = cfg.dir + "/faio-vectored-bench-XXXXXX";
  int wfd = mkstemp(path.data());
  if (wfd < 0) Die(path.c_str(), strerror(errno));
  unlink(path.c_str());
  const uint64_t size = cfg.size_mib << 20;
  {
    std::vector<unsigned char> chunk(1 << 20);
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<unsigned char>(i * 31 + 7);
    for (uint64_t off = 0; off < size; off += chunk.size()) {
      if (pwrite(wfd, chunk.data(), chunk.size(), static_cast<off_t>(off)) !=
          static_cast<ssize_t>(chunk.size())) {
        Die("laying out the file", strerror(errno));
      }
    }
    fsync(wfd);
  }
  int fd = wfd;
  if (cfg.direct) {
    fd = open(("/proc/self/fd/" + std::to_string(wfd)).c_str(), O_RDONLY | O_DIRECT);
    if (fd < 0) Die("O_DIRECT", strerror(errno));
  } else {
    std::vector<unsigned char> warm(1 << 20);
    for (uint64_t off = 0; off < size; off += warm.size()) {
      if (pread(fd, warm.data(), warm.size(), static_cast<off_t>(off)) < 0) Die("warm", strerror(errno));
    }
  }
  void* mem_raw = nullptr;
  if (posix_memalign(&mem_raw, 4096, kDepth * kUnit * 2) != 0) Die("memory", "posix_memalign");
  auto* mem = static_cast<unsigned char*>(mem_raw);
  memset(mem, 0, kDepth * kUnit * 2);
  const uint64_t file_units = size / kUnit;
  const uint64_t units = (cfg.mib_per_round << 20) / kUnit;

  std::printf("# vectored_bench: %s file of %llu MiB, QD%zu, %llu MiB per round, %d rounds "
              "(medians; CPU = user+system of the process per 64 KiB)\n",
              cfg.direct ? "O_DIRECT" : "cached", static_cast<unsigned long long>(cfg.size_mib),
              kDepth, static_cast<unsigned long long>(cfg.mib_per_round), cfg.rounds);
  std::printf("%-10s %14s %14s %10s %14s %14s\n", "backend", "readv cpu ns", "16x4K cpu ns",
              "cpu ratio", "readv wall ns", "16x4K wall ns");
  for (const std::string& b : cfg.backends) {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = b.c_str();
    o.capacity = kDepth;
    faio_ctx* ctx = nullptr;
    int st = faio_ctx_create_ex(&ctx, &o);
    if (st != FAIO_OK) {
      std::printf("%-10s unavailable: %s\n", b.c_str(), faio_strerror(st));
      continue;
    }
    std::mt19937_64 rng(42);
    std::vector<double> vc, sc, vw, sw;
    Round(ctx, fd, file_units, units / 8 + 1, true, mem, &rng);  // warm-up
    Round(ctx, fd, file_units, units / 8 + 1, false, mem, &rng);
    for (int r = 0; r < cfg.rounds; ++r) {
      Sample v = Round(ctx, fd, file_units, units, true, mem, &rng);
      Sample s = Round(ctx, fd, file_units, units, false, mem, &rng);
      vc.push_back(v.cpu_ns);
      vw.push_back(v.wall_ns);
      sc.push_back(s.cpu_ns);
      sw.push_back(s.wall_ns);
    }
    faio_ctx_destroy(ctx);
    std::printf("%-10s %14.0f %14.0f %10.2f %14.0f %14.0f\n", b.c_str(), Median(vc), Median(sc),
                Median(vc) / Median(sc), Median(vw), Median(sw));
  }
  free(mem_raw);
  if (fd != wfd) close(fd);
  close(wfd);
  return 0;
}
