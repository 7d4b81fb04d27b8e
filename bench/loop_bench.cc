// loop_bench.cc - what an event loop pays to take completions through faio's
// pollable handle or through callbacks, against a plain blocking wait.
//
// Workload (issue 13's): 4 KiB random reads of a cached file, 32 in flight, one
// context, C API. Three ways to take the completions, in interleaved rounds
// (wait, epoll, run, wait, epoll, run, ...), each for --seconds:
//
//   wait    faio_ctx_wait(min 1) blocks; the completions are resubmitted as one batch
//   epoll   epoll_wait on faio_ctx_pollable's handle, then faio_ctx_wait(timeout 0)
//           until it returns none; resubmitted as one batch per drain
//   run     epoll as above, but faio_ctx_run(timeout 0) calls each request's
//           callback, which prepares and submits that request again
//   co      32 C++20 coroutines, each `co_await`ing one read after another
//           (faio.hpp's awaitables), driven as faio::Drive does: faio_ctx_run(min 1)
//           blocks, then faio::ResumeReady resumes the coroutines, whose reads go
//           out as one submit per round
//
// Prints, per way, the median over rounds of requests per second and of CPU time
// (user + system, the whole process) per request, and the ratio of CPU per request
// to the plain wait's.
//
//   loop_bench [--backend NAME] [--seconds S] [--rounds R] [--size MiB] [--dir DIR]
//              [--host_only]   (FAIO_CTX_HOST_ONLY: no transfer done at submission)
#include <faio/faio.h>
#include <faio/faio.hpp>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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
constexpr size_t kBlock = 4096;
constexpr size_t kDepth = 32;

struct Setup {
  faio_ctx* ctx = nullptr;
  faio_file handle = -1;
  int ep = -1;
  int fd = -1;
  uint64_t blocks = 0;
  std::vector<faio_req*> reqs;
  std::vector<std::vector<unsigned char>> bufs;
  std::mt19937_64 rng{42};
  uint64_t done = 0;
  int errors = 0;
};

double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int64_t RandomOffset(Setup* s) { return static_cast<int64_t>((s->rng() % s->blocks) * kBlock); }

bool Prepare(Setup* s, faio_req* r) {
  auto i = reinterpret_cast<uintptr_t>(faio_req_user(r));
  return faio_req_prepare_read(r, s->fd, RandomOffset(s), s->bufs[i].data(), kBlock,
                               reinterpret_cast<void*>(i)) == FAIO_OK;
}

void OnRead(faio_req* r, void* arg) {
  auto* s = static_cast<Setup*>(arg);
  size_t n = 0;
  if (faio_req_result(r, &n) != FAIO_OK || n != kBlock) s->errors++;
  s->done++;
  if (!Prepare(s, r) || faio_ctx_submit(s->ctx, &r, 1) != FAIO_OK) s->errors++;
}

// Resubmit checks n completions and submits them again, as one batch.
void Resubmit(Setup* s, faio_req** out, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    size_t got = 0;
    if (faio_req_result(out[i], &got) != FAIO_OK || got != kBlock) s->errors++;
    if (!Prepare(s, out[i])) s->errors++;
  }
  s->done += n;
  if (n > 0 && faio_ctx_submit(s->ctx, out, n) != FAIO_OK) s->errors++;
}

enum class Way { kWait, kEpoll, kRun, kCo };
const char* Name(Way w) {
  return w == Way::kWait ? "wait" : w == Way::kEpoll ? "epoll" : w == Way::kRun ? "run" : "co";
}

struct Round {
  double rate;    // requests per second
  double cpu_ns;  // CPU ns per request
};

// Takes and resubmits completions for `seconds`; the 32 requests stay in flight
// from round to round.
Round RunRound(Setup* s, Way way, double seconds) {
  faio_req* out[kDepth];
  uint64_t before = s->done;
  double cpu0 = CpuSeconds();
  Clock::time_point t0 = Clock::now();
  Clock::time_point end =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    if (way == Way::kWait) {
      uint32_t n = 0;
      if (faio_ctx_wait(s->ctx, 1, FAIO_WAIT_INDEFINITE, out, kDepth, &n) != FAIO_OK) {
        s->errors++;
        continue;
      }
      Resubmit(s, out, n);
      continue;
    }
    struct epoll_event ev;
    if (epoll_wait(s->ep, &ev, 1, 1000) != 1) continue;
    // Cached reads resubmitted in the drain may complete at once, so the
    // drain could go on for ever: it also ends with the round.
    while (Clock::now() < end) {
      uint32_t n = 0;
      if (way == Way::kRun) {
        if (faio_ctx_run(s->ctx, 1, 0, &n) != FAIO_OK) break;
        continue;
      }
      if (faio_ctx_wait(s->ctx, 1, 0, out, kDepth, &n) != FAIO_OK) break;
      Resubmit(s, out, n);
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = CpuSeconds() - cpu0;
  double reqs = static_cast<double>(s->done - before);
  return Round{reqs / secs, reqs > 0 ? cpu * 1e9 / reqs : 0};
}

// The co way: 32 coroutines each await one read after another.
struct CoState {
  Setup* s;
  bool stop = false;
  int live = 0;
};

faio::Task<void> CoReader(CoState& c, size_t i) {
  ++c.live;
  while (!c.stop) {
    faio::Result<size_t> r = co_await faio::IoOp(c.s->ctx, faio::IoOp::Kind::kRead, c.s->fd,
                                                 RandomOffset(c.s), c.s->bufs[i].data(), kBlock,
                                                 false);
    if (!r.ok() || r.value() != kBlock) c.s->errors++;
    c.s->done++;
  }
  --c.live;
}

// DriveOnce is one turn of faio::Drive's loop.
void DriveOnce(Setup* s) {
  uint32_t n = 0;
  (void)faio_ctx_run(s->ctx, 1, FAIO_WAIT_INDEFINITE, &n);
  (void)faio::ResumeReady();
}

// CoRound brings the 32 plain requests home (not timed), lets 32 coroutines read
// for `seconds`, stops them (not timed) and puts the plain requests back in flight.
Round CoRound(Setup* s, double seconds) {
  faio_req* out[kDepth];
  for (size_t left = kDepth; left > 0;) {
    uint32_t n = 0;
    if (faio_ctx_wait(s->ctx, left, FAIO_WAIT_INDEFINITE, out, kDepth, &n) != FAIO_OK) {
      s->errors++;
      continue;
    }
    left -= n;
  }
  CoState c{s};
  std::vector<faio::Task<void>> tasks;
  for (size_t i = 0; i < kDepth; i++) tasks.push_back(CoReader(c, i));
  uint64_t before = s->done;
  double cpu0 = CpuSeconds();
  Clock::time_point t0 = Clock::now();
  Clock::time_point end =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  {
    faio::Round round;
    for (auto& t : tasks) t.Start();
  }
  while (Clock::now() < end) DriveOnce(s);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = CpuSeconds() - cpu0;
  double reqs = static_cast<double>(s->done - before);
  c.stop = true;
  while (c.live > 0) DriveOnce(s);
  tasks.clear();
  for (faio_req* r : s->reqs) {
    if (!Prepare(s, r)) s->errors++;
  }
  if (faio_ctx_submit(s->ctx, s->reqs.data(), kDepth) != FAIO_OK) s->errors++;
  return Round{reqs / secs, reqs > 0 ? cpu * 1e9 / reqs : 0};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string backend = "io_uring";
  double seconds = 1.0;
  int rounds = 5;
  uint64_t size_mib = 64;
  std::string dir = "/tmp";
  bool host_only = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "loop_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--backend") {
      backend = next();
    } else if (a == "--seconds") {
      seconds = std::atof(next());
    } else if (a == "--rounds") {
      rounds = std::atoi(next());
    } else if (a == "--size") {
      size_mib = std::strtoull(next(), nullptr, 10);
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--host_only") {
      host_only = true;
    } else {
      std::fprintf(stderr,
                   "usage: loop_bench [--backend NAME] [--seconds S] [--rounds R] [--size MiB] "
                   "[--dir DIR] [--host_only]\n");
      return 2;
    }
  }
  if (seconds <= 0 || rounds <= 0 || size_mib == 0) {
    std::fprintf(stderr, "loop_bench: --seconds, --rounds and --size must be positive\n");
    return 2;
  }
  Setup s;
  std::string path = dir + "/faio-loop-bench-XXXXXX";
  s.fd = mkstemp(path.data());
  if (s.fd < 0) {
    std::perror("mkstemp");
    return 1;
  }
  unlink(path.c_str());
  std::vector<unsigned char> chunk(1 << 20, 0x5a);
  for (uint64_t i = 0; i < size_mib; i++) {
    if (pwrite(s.fd, chunk.data(), chunk.size(), static_cast<off_t>(i << 20)) !=
        static_cast<ssize_t>(chunk.size())) {
      std::perror("pwrite");
      return 1;
    }
  }
  s.blocks = (size_mib << 20) / kBlock;

  faio_ctx_options o;
  faio_ctx_options_init(&o);
  o.backend = backend.c_str();
  if (host_only) o.flags |= FAIO_CTX_HOST_ONLY;
  int st = faio_ctx_create_ex(&s.ctx, &o);
  if (st != FAIO_OK) {
    std::fprintf(stderr, "loop_bench: backend %s: %s\n", backend.c_str(), faio_strerror(st));
    return 1;
  }
  st = faio_ctx_pollable(s.ctx, &s.handle);
  if (st != FAIO_OK) {
    std::fprintf(stderr, "loop_bench: backend %s has no pollable handle: %s\n", backend.c_str(),
                 faio_strerror(st));
    return 1;
  }
  s.ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  if (s.ep < 0 || epoll_ctl(s.ep, EPOLL_CTL_ADD, s.handle, &ev) != 0) {
    std::perror("epoll");
    return 1;
  }
  s.reqs.resize(kDepth);
  s.bufs.assign(kDepth, std::vector<unsigned char>(kBlock));
  for (size_t i = 0; i < kDepth; i++) {
    if (faio_req_create(&s.reqs[i]) != FAIO_OK) return 1;
    faio_req_prepare_read(s.reqs[i], s.fd, 0, s.bufs[i].data(), kBlock, reinterpret_cast<void*>(i));
    if (!Prepare(&s, s.reqs[i])) return 1;
    // Callbacks are used by the run rounds only; the others never call run.
    faio_req_set_callback(s.reqs[i], OnRead, &s);
  }
  if (faio_ctx_submit(s.ctx, s.reqs.data(), kDepth) != FAIO_OK) return 1;
  RunRound(&s, Way::kWait, 0.2);  // warm up

  const Way ways[] = {Way::kWait, Way::kEpoll, Way::kRun, Way::kCo};
  std::vector<double> rate[4], cpu[4];
  for (int r = 0; r < rounds; r++) {
    for (int w = 0; w < 4; w++) {
      Round x = ways[w] == Way::kCo ? CoRound(&s, seconds) : RunRound(&s, ways[w], seconds);
      rate[w].push_back(x.rate);
      cpu[w].push_back(x.cpu_ns);
    }
  }
  // Drain before teardown.
  faio_req* out[kDepth];
  for (size_t left = kDepth; left > 0;) {
    uint32_t n = 0;
    if (faio_ctx_wait(s.ctx, left, 5000, out, kDepth, &n) != FAIO_OK) break;
    left -= n;
  }
  std::printf(
      "loop_bench: backend %s, 4 KiB random reads of a cached %llu MiB file, QD %zu, "
      "%d interleaved rounds of %.1f s (medians)\n",
      backend.c_str(), static_cast<unsigned long long>(size_mib), kDepth, rounds, seconds);
  std::printf("%-6s %12s %14s %10s\n", "way", "req/s", "CPU ns/req", "CPU vs wait");
  double base = Median(cpu[0]);
  for (int w = 0; w < 4; w++) {
    double c = Median(cpu[w]);
    std::printf("%-6s %12.0f %14.0f %10.3f\n", Name(ways[w]), Median(rate[w]), c,
                base > 0 ? c / base : 0);
  }
  if (s.errors != 0) {
    std::fprintf(stderr, "loop_bench: %d requests failed or came back short\n", s.errors);
    return 1;
  }
  for (faio_req* r : s.reqs) faio_req_destroy(r);
  faio_ctx_destroy(s.ctx);
  close(s.ep);
  close(s.fd);
  return 0;
}
