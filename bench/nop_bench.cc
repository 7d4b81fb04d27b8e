// nop_bench.cc - the per-request overhead of faio against a raw liburing loop.
//
// The workload is as close to a no-op as a file read gets: 64-byte reads from
// /dev/zero, which io_uring completes inline during submission (the read never
// blocks, so it is neither punted to io-wq nor polled). Each iteration prepares a
// batch of requests, submits it in one call and reaps the whole batch, so the
// figure is the cost of the submit/reap machinery itself:
//
//   BM_RawUring/32        io_uring_prep_read x32, io_uring_submit, reap 32 CQEs
//   BM_Faio/io_uring/32   faio_req_prepare_read x32, faio_ctx_submit, faio_ctx_wait
//   BM_Faio/threads/32    the same on the thread-pool backend (and on linux_aio,
//                         when compiled in; skipped with the reason if not)
//
// items_per_second is requests per second (wall clock). Each faio benchmark also
// reports vs_raw: its rate divided by BM_RawUring's at the same batch size in the
// same run, i.e. the share of raw liburing throughput that faio keeps.
#include <benchmark/benchmark.h>
#include <faio/faio.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#ifdef FAIO_BENCH_HAVE_LIBURING
#include <liburing.h>
#endif

namespace {

constexpr size_t kReadLen = 64;

using Clock = std::chrono::steady_clock;

// Raw liburing rate per batch size, from the last run of BM_RawUring.
std::map<int64_t, double> g_raw_rate;

class ZeroFile {
 public:
  ZeroFile() : fd_(open("/dev/zero", O_RDONLY | O_CLOEXEC)) {}
  ~ZeroFile() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct alignas(64) Buffer {
  char bytes[kReadLen];
};

void ReportRate(benchmark::State& state, Clock::time_point start, int64_t batch, bool raw) {
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  double items = static_cast<double>(state.iterations()) * static_cast<double>(batch);
  state.SetItemsProcessed(static_cast<int64_t>(items));
  double rate = secs > 0 ? items / secs : 0;
  if (raw) {
    g_raw_rate[batch] = rate;
  } else if (auto it = g_raw_rate.find(batch); it != g_raw_rate.end() && it->second > 0) {
    state.counters["vs_raw"] = rate / it->second;
  }
}

// Unavailable says why a context on `backend` could not be created.
std::string Unavailable(const char* backend, int status) {
  std::string why = faio_strerror(status);
  faio_backend_info info[16];
  size_t count = 0;
  if (faio_get_backends(info, 16, &count) == FAIO_OK) {
    bool compiled = false;
    for (size_t i = 0; i < count && i < 16; ++i) {
      if (std::string(info[i].name) != backend) continue;
      compiled = true;
      if (info[i].reason[0] != '\0') why = info[i].reason;
    }
    if (!compiled) why = "not compiled in";
  }
  return std::string(backend) + " unavailable: " + why;
}

void BM_Faio(benchmark::State& state, const char* backend) {
  const int64_t batch = state.range(0);
  ZeroFile zero;
  if (zero.fd() < 0) {
    state.SkipWithError("cannot open /dev/zero");
    return;
  }
  faio_ctx_options opts;
  faio_ctx_options_init(&opts);
  opts.backend = backend;
  opts.capacity = static_cast<uint32_t>(batch);
  faio_ctx* ctx = nullptr;
  int st = faio_ctx_create_ex(&ctx, &opts);
  if (st != FAIO_OK) {
    state.SkipWithError(Unavailable(backend, st).c_str());
    return;
  }
  std::vector<faio_req*> reqs(static_cast<size_t>(batch)), out(static_cast<size_t>(batch));
  std::vector<Buffer> bufs(static_cast<size_t>(batch));
  for (auto& r : reqs) {
    if (faio_req_create(&r) != FAIO_OK) {
      state.SkipWithError("faio_req_create failed");
      return;
    }
  }

  Clock::time_point start = Clock::now();
  for (auto _ : state) {
    for (int64_t i = 0; i < batch; ++i) {
      faio_req_prepare_read(reqs[i], zero.fd(), 0, bufs[i].bytes, kReadLen, nullptr);
    }
    st = faio_ctx_submit(ctx, reqs.data(), static_cast<size_t>(batch));
    if (st != FAIO_OK) {
      state.SkipWithError((std::string("faio_ctx_submit: ") + faio_strerror(st)).c_str());
      break;
    }
    size_t got = 0;
    while (got < static_cast<size_t>(batch)) {
      uint32_t n = 0;
      st = faio_ctx_wait(ctx, static_cast<size_t>(batch) - got, FAIO_WAIT_INDEFINITE, out.data(),
                         out.size(), &n);
      for (uint32_t i = 0; i < n; ++i) {
        size_t bytes = 0;
        if (faio_req_result(out[i], &bytes) != FAIO_OK || bytes != kReadLen) st = FAIO_E_IO;
      }
      got += n;
      if (st != FAIO_OK && st != FAIO_E_INTERRUPTED) break;
    }
    if (st != FAIO_OK) {
      state.SkipWithError((std::string("faio_ctx_wait: ") + faio_strerror(st)).c_str());
      break;
    }
  }
  ReportRate(state, start, batch, false);

  for (faio_req* r : reqs) faio_req_destroy(r);
  faio_ctx_destroy(ctx);
}

#ifdef FAIO_BENCH_HAVE_LIBURING
void BM_RawUring(benchmark::State& state) {
  const int64_t batch = state.range(0);
  ZeroFile zero;
  if (zero.fd() < 0) {
    state.SkipWithError("cannot open /dev/zero");
    return;
  }
  io_uring ring;
  int rc = io_uring_queue_init(static_cast<unsigned>(batch), &ring, 0);
  if (rc < 0) {
    state.SkipWithError((std::string("io_uring_queue_init: errno ") + std::to_string(-rc)).c_str());
    return;
  }
  std::vector<Buffer> bufs(static_cast<size_t>(batch));

  Clock::time_point start = Clock::now();
  for (auto _ : state) {
    for (int64_t i = 0; i < batch; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_read(sqe, zero.fd(), bufs[i].bytes, kReadLen, 0);
      io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(i));
    }
    rc = io_uring_submit(&ring);
    if (rc != batch) {
      state.SkipWithError("io_uring_submit took less than the batch");
      break;
    }
    int64_t got = 0;
    bool failed = false;
    while (got < batch) {
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_wait_cqe(&ring, &cqe);
      if (rc < 0) {
        failed = true;
        break;
      }
      unsigned head;
      unsigned n = 0;
      io_uring_for_each_cqe(&ring, head, cqe) {
        if (cqe->res != static_cast<int>(kReadLen)) failed = true;
        ++n;
      }
      io_uring_cq_advance(&ring, n);
      got += n;
    }
    if (failed) {
      state.SkipWithError("a raw read failed");
      break;
    }
  }
  ReportRate(state, start, batch, true);
  io_uring_queue_exit(&ring);
}
// Registered first: the faio benchmarks compare themselves with its rate.
BENCHMARK(BM_RawUring)->Arg(32)->Arg(1)->UseRealTime();
#endif

BENCHMARK_CAPTURE(BM_Faio, io_uring, "io_uring")->Arg(32)->Arg(1)->UseRealTime();
BENCHMARK_CAPTURE(BM_Faio, linux_aio, "linux_aio")->Arg(32)->Arg(1)->UseRealTime();
BENCHMARK_CAPTURE(BM_Faio, threads, "threads")->Arg(32)->Arg(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
