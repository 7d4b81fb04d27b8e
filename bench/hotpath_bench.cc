// hotpath_bench.cc - what faio's completion path costs per request, beside the
// same loop written on raw liburing, in one process.
//
// Workload: 4 KiB random reads of a cached file at queue depth 32 through the
// C API on one backend (default io_uring): submit 32, wait for them, check
// each result, prepare the next 32 (new offsets) and submit again. The raw
// loop does the same with io_uring_prep_read / io_uring_submit /
// io_uring_wait_cqe + io_uring_for_each_cqe. Both read the same offsets.
//
//   hotpath_bench [--mode both|faio|raw] [--requests N] [--rounds R]
//                 [--backend NAME] [--file PATH] [--size MiB] [--threads N]
//
// Prints, per mode, the median over R interleaved rounds (raw, faio, raw,
// faio, ...) of ns per request (wall) and CPU ns per request, and faio's
// ratio to raw. For instruction counts run it under callgrind with one mode
// and two request counts; the difference is the marginal cost per request,
// free of setup (bench/hotpath-instr.sh does exactly that and prints it).
//
// --threads N (N > 1) adds the scaling check: N threads, each with its own
// context (and its own raw ring), run the loop at once; it prints the
// aggregate requests per second at 1 and N threads for each side and the
// scaling factor. Contexts share only the process-wide handle tables, so faio
// should scale as the raw rings do.
#include <faio/faio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifdef FAIO_BENCH_HAVE_LIBURING
#include <liburing.h>
#endif

namespace {

constexpr size_t kBlock = 4096;
constexpr size_t kDepth = 32;

struct Config {
  std::string mode = "both";
  uint64_t requests = 200000;
  int rounds = 5;
  std::string backend = "io_uring";
  std::string file;
  uint64_t size_mib = 64;
  int threads = 1;
};

[[noreturn]] void Die(const char* what, const char* why) {
  std::fprintf(stderr, "hotpath_bench: %s: %s\n", what, why);
  std::exit(1);
}

void CheckFaio(const char* what, int st) {
  if (st != FAIO_OK) Die(what, faio_strerror(st));
}

// The offsets: xorshift64 over the file's blocks, the same for both loops.
struct Offsets {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  uint64_t blocks = 1;
  int64_t Next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<int64_t>((state % blocks) * kBlock);
  }
};

double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct Figures {
  double wall_ns = 0;  // per request
  double cpu_ns = 0;   // per request
};

// A file of size_mib, written and read once so it is in the page cache.
int OpenCached(const Config& c, std::string* made) {
  std::string path = c.file;
  if (path.empty()) {
    char tmpl[] = "/tmp/faio-hotpath.XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) Die("mkstemp", strerror(errno));
    close(fd);
    path = tmpl;
    *made = path;
  }
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) Die(path.c_str(), strerror(errno));
  struct stat st = {};
  fstat(fd, &st);
  uint64_t want = c.size_mib << 20;
  std::vector<char> buf(1 << 20, 'h');
  if (static_cast<uint64_t>(st.st_size) < want) {
    for (uint64_t off = 0; off < want; off += buf.size()) {
      if (pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) < 0) {
        Die("pwrite", strerror(errno));
      }
    }
  }
  for (uint64_t off = 0; off < want; off += buf.size()) {
    if (pread(fd, buf.data(), buf.size(), static_cast<off_t>(off)) < 0) {
      Die("pread", strerror(errno));
    }
  }
  return fd;
}

class FaioLoop {
 public:
  FaioLoop(const Config& c, int fd) : fd_(fd), bufs_(kDepth * kBlock) {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = c.backend.c_str();
    o.capacity = kDepth;
    CheckFaio("faio_ctx_create_ex", faio_ctx_create_ex(&ctx_, &o));
    for (size_t i = 0; i < kDepth; ++i) CheckFaio("faio_req_create", faio_req_create(&reqs_[i]));
  }
  ~FaioLoop() {
    for (faio_req* r : reqs_) faio_req_destroy(r);
    faio_ctx_destroy(ctx_);
  }

  void Run(uint64_t n, Offsets* off) {
    faio_req* done[kDepth];
    for (uint64_t left = n; left > 0;) {
      size_t batch = static_cast<size_t>(std::min<uint64_t>(left, kDepth));
      for (size_t i = 0; i < batch; ++i) {
        CheckFaio("prepare", faio_req_prepare_read(reqs_[i], fd_, off->Next(), &bufs_[i * kBlock],
                                                   kBlock, nullptr));
      }
      CheckFaio("submit", faio_ctx_submit(ctx_, reqs_, batch));
      size_t got = 0;
      while (got < batch) {
        uint32_t count = 0;
        CheckFaio("wait",
                  faio_ctx_wait(ctx_, batch - got, FAIO_WAIT_INDEFINITE, done, kDepth, &count));
        for (uint32_t i = 0; i < count; ++i) {
          size_t bytes = 0;
          int st = faio_req_result(done[i], &bytes);
          if (st != FAIO_OK || bytes != kBlock) Die("read", faio_strerror(st));
        }
        got += count;
      }
      left -= batch;
    }
  }

 private:
  int fd_;
  std::vector<char> bufs_;
  faio_ctx* ctx_ = nullptr;
  faio_req* reqs_[kDepth] = {};
};

#ifdef FAIO_BENCH_HAVE_LIBURING
class RawLoop {
 public:
  explicit RawLoop(int fd) : fd_(fd), bufs_(kDepth * kBlock) {
    int ret = io_uring_queue_init(kDepth, &ring_, 0);
    if (ret < 0) Die("io_uring_queue_init", strerror(-ret));
  }
  ~RawLoop() { io_uring_queue_exit(&ring_); }

  void Run(uint64_t n, Offsets* off) {
    for (uint64_t left = n; left > 0;) {
      size_t batch = static_cast<size_t>(std::min<uint64_t>(left, kDepth));
      for (size_t i = 0; i < batch; ++i) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        io_uring_prep_read(sqe, fd_, &bufs_[i * kBlock], kBlock,
                           static_cast<uint64_t>(off->Next()));
        sqe->user_data = i;
      }
      int ret = io_uring_submit(&ring_);
      if (ret < 0) Die("io_uring_submit", strerror(-ret));
      size_t got = 0;
      while (got < batch) {
        io_uring_cqe* cqe = nullptr;
        ret = io_uring_wait_cqe(&ring_, &cqe);
        if (ret < 0) Die("io_uring_wait_cqe", strerror(-ret));
        unsigned head;
        unsigned seen = 0;
        io_uring_for_each_cqe(&ring_, head, cqe) {
          if (cqe->res != static_cast<int>(kBlock)) Die("read", "short or failed");
          ++seen;
        }
        io_uring_cq_advance(&ring_, seen);
        got += seen;
      }
      left -= batch;
    }
  }

 private:
  int fd_;
  std::vector<char> bufs_;
  io_uring ring_ = {};
};
#endif

template <typename Loop>
Figures Time(Loop* loop, uint64_t n, Offsets* off) {
  auto t0 = std::chrono::steady_clock::now();
  double c0 = CpuNow();
  loop->Run(n, off);
  double c1 = CpuNow();
  auto t1 = std::chrono::steady_clock::now();
  Figures f;
  f.wall_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(n);
  f.cpu_ns = (c1 - c0) / static_cast<double>(n);
  return f;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Config Parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a.c_str(), "needs a value");
      return argv[++i];
    };
    if (a == "--mode") {
      c.mode = value();
    } else if (a == "--requests") {
      c.requests = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--rounds") {
      c.rounds = std::atoi(value().c_str());
    } else if (a == "--backend") {
      c.backend = value();
    } else if (a == "--file") {
      c.file = value();
    } else if (a == "--size") {
      c.size_mib = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--threads") {
      c.threads = std::atoi(value().c_str());
    } else {
      Die(a.c_str(),
          "unknown option (--mode both|faio|raw, --requests N, --rounds R, --backend NAME, "
          "--file PATH, --size MiB, --threads N)");
    }
  }
  if (c.mode != "both" && c.mode != "faio" && c.mode != "raw") Die("--mode", "both, faio or raw");
  if (c.requests == 0 || c.rounds <= 0 || c.size_mib == 0 || c.threads <= 0) {
    Die("options", "must be positive");
  }
  return c;
}

// Aggregate requests per second of `threads` threads, each running its own
// loop (made on that thread) over `n` requests at once; median of `rounds`.
template <typename MakeLoop>
double Aggregate(int threads, uint64_t n, int rounds, uint64_t blocks, MakeLoop make) {
  std::vector<double> rates;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> workers;
    auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        auto loop = make();
        Offsets off;
        off.blocks = blocks;
        off.state += static_cast<uint64_t>(t) * 0x1234567ull;
        ready.fetch_add(1);
        while (!go.load()) std::this_thread::yield();
        loop->Run(n, &off);
      });
    }
    while (ready.load() < threads) std::this_thread::yield();
    t0 = std::chrono::steady_clock::now();
    go.store(true);
    for (auto& w : workers) w.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(static_cast<double>(n) * threads / secs);
  }
  return Median(rates);
}

void Scaling(const Config& c, int fd, bool want_raw) {
  const uint64_t blocks = (c.size_mib << 20) / kBlock;
  std::printf("\n# scaling: each thread its own context (or ring), %llu requests per thread\n",
              static_cast<unsigned long long>(c.requests));
  char many_label[32];
  std::snprintf(many_label, sizeof(many_label), "%d threads/s", c.threads);
  std::printf("%-22s %14s %14s %8s\n", "loop", "1 thread/s", many_label, "scaling");
  auto row = [&](const char* name, auto make) {
    double one = Aggregate(1, c.requests, c.rounds, blocks, make);
    double many = Aggregate(c.threads, c.requests, c.rounds, blocks, make);
    std::printf("%-22s %14.0f %14.0f %8.2f\n", name, one, many, many / one);
  };
#ifdef FAIO_BENCH_HAVE_LIBURING
  if (want_raw) row("raw liburing", [&] { return std::make_unique<RawLoop>(fd); });
#else
  (void)want_raw;
#endif
  std::string name = "faio " + c.backend;
  row(name.c_str(), [&] { return std::make_unique<FaioLoop>(c, fd); });
}

}  // namespace

int main(int argc, char** argv) {
  Config c = Parse(argc, argv);
  std::string made;
  int fd = OpenCached(c, &made);
  Offsets off;
  off.blocks = (c.size_mib << 20) / kBlock;
  bool want_raw = c.mode != "faio";
  bool want_faio = c.mode != "raw";
#ifndef FAIO_BENCH_HAVE_LIBURING
  if (want_raw) {
    std::fprintf(stderr, "hotpath_bench: built without liburing: no raw loop\n");
    want_raw = false;
  }
#endif
  std::vector<double> faio_wall, faio_cpu, raw_wall, raw_cpu;
  FaioLoop* faio = want_faio ? new FaioLoop(c, fd) : nullptr;
#ifdef FAIO_BENCH_HAVE_LIBURING
  RawLoop* raw = want_raw ? new RawLoop(fd) : nullptr;
#endif
  for (int round = 0; round < c.rounds; ++round) {
#ifdef FAIO_BENCH_HAVE_LIBURING
    if (raw != nullptr) {
      Figures f = Time(raw, c.requests, &off);
      raw_wall.push_back(f.wall_ns);
      raw_cpu.push_back(f.cpu_ns);
    }
#endif
    if (faio != nullptr) {
      Figures f = Time(faio, c.requests, &off);
      faio_wall.push_back(f.wall_ns);
      faio_cpu.push_back(f.cpu_ns);
    }
  }
  std::printf(
      "# 4 KiB random reads of a cached %llu MiB file, QD %zu, %llu requests x %d rounds "
      "(medians)\n",
      static_cast<unsigned long long>(c.size_mib), kDepth,
      static_cast<unsigned long long>(c.requests), c.rounds);
  std::printf("%-22s %12s %12s %10s\n", "loop", "ns/req", "cpu ns/req", "cpu vs raw");
  if (want_raw) {
    std::printf("%-22s %12.1f %12.1f %10s\n", "raw liburing", Median(raw_wall), Median(raw_cpu),
                "1.00");
  }
  if (want_faio) {
    std::string name = "faio " + c.backend;
    char ratio[32] = "-";
    if (want_raw) std::snprintf(ratio, sizeof(ratio), "%.2f", Median(faio_cpu) / Median(raw_cpu));
    std::printf("%-22s %12.1f %12.1f %10s\n", name.c_str(), Median(faio_wall), Median(faio_cpu),
                ratio);
  }
  delete faio;
#ifdef FAIO_BENCH_HAVE_LIBURING
  delete raw;
#endif
  if (c.threads > 1 && want_faio) Scaling(c, fd, want_raw);
  close(fd);
  if (!made.empty()) unlink(made.c_str());
  return 0;
}
