// qd1_bench.cc - one request at a time: faio against the plain system call.
//
// Most storage code starts blocking and one-at-a-time: prepare, submit, wait
// for that one request, use the result. This program measures exactly that, on
// the same thread and the same file, against pread / pwrite / fdatasync in the
// same process, in interleaved rounds (syscall, faio, syscall, faio, ...), and
// prints the median ns per operation of each and their ratio:
//
//   read     random 4 KiB reads
//   write    random 4 KiB writes
//   wsync16  random 4 KiB writes, a flush (fdatasync) after every 16th
//
// for each backend this build has (or those named with --backend), on a cached
// file and, with --direct, with O_DIRECT as well. faio's loop is
// faio_req_prepare_* + faio_ctx_submit + faio_ctx_wait(min 1) + faio_req_result
// on one reusable request, the way a blocking caller would write it.
//
// With --host, the host's own interface is a third loop in each round, where
// there is one (Linux): the same requests through raw liburing (io_uring_submit +
// io_uring_wait_cqe; IORING_FSYNC_DATASYNC), raw kernel AIO (io_submit +
// io_getevents; IOCB_CMD_FDSYNC) and glibc's POSIX AIO (aio_read/aio_write +
// aio_suspend; aio_fsync(O_DSYNC)), as their users write them. Its column
// tells what of faio's ratio is the host's (host_ns / syscall_ns) and what is
// faio's (vs_host: faio_ns / host_ns). threads has none (it is faio's own).
// Opt-in: the host loops leave threads behind (glibc's AIO threads, io_uring's
// io-wq workers after buffered writes) that the other loops then share the
// machine with.
//
// Reads of a cached file (Linux) get a fourth loop in each round: the cheapest
// read that cannot block on the device, preadv2 with RWF_NOWAIT (pread when
// that answers EAGAIN), which is what faio makes on the calling thread for a
// read it can do at submission. Its column (nowait_ns) is the floor of any
// non-blocking library here - the kernel's vectored path costs more than
// pread's - and vs_nowait (faio_ns / nowait_ns) is what faio adds on top of
// it. (A write to a local file faio makes with the plain pwrite: no column.)
//
//   qd1_bench [--size MiB] [--ops N] [--rounds R] [--backend NAME]... [--op NAME]...
//             [--direct] [--host] [--dir DIR]
#include <faio/faio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __linux__
#include <aio.h>
#include <linux/aio_abi.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#endif
#ifdef FAIO_BENCH_HAVE_LIBURING
#include <liburing.h>
#endif

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBlock = 4096;

struct Config {
  uint64_t size_mib = 256;
  uint64_t ops = 20000;
  int rounds = 5;
  bool direct = false;
  bool host = false;
  std::string dir = "/tmp";
  std::vector<std::string> backends;
  std::vector<std::string> ops_named;  // --op: read, write, wsync16; none: all
};

[[noreturn]] void Die(const char* what, int err) {
  std::fprintf(stderr, "qd1_bench: %s: %s\n", what, strerror(err));
  std::exit(1);
}

[[noreturn]] void DieFaio(const char* what, int st) {
  std::fprintf(stderr, "qd1_bench: %s: %s\n", what, faio_strerror(st));
  std::exit(1);
}

enum class Op { kRead, kWrite, kWriteSync16 };
const char* OpName(Op op) {
  switch (op) {
    case Op::kRead:
      return "read";
    case Op::kWrite:
      return "write";
    case Op::kWriteSync16:
      return "wsync16";
  }
  return "?";
}

// The offsets of one round: the same sequence for both sides.
std::vector<int64_t> Offsets(const Config& c, uint32_t seed) {
  std::mt19937_64 rng(seed);
  uint64_t blocks = c.size_mib * 1024 * 1024 / kBlock;
  std::vector<int64_t> v(c.ops);
  for (auto& o : v) o = static_cast<int64_t>((rng() % blocks) * kBlock);
  return v;
}

double SyscallRound(int fd, Op op, const std::vector<int64_t>& offs, char* buf) {
  Clock::time_point t0 = Clock::now();
  size_t i = 0;
  for (int64_t off : offs) {
    ssize_t n = op == Op::kRead ? pread(fd, buf, kBlock, off) : pwrite(fd, buf, kBlock, off);
    if (n != static_cast<ssize_t>(kBlock)) Die("pread/pwrite", n < 0 ? errno : EIO);
    if (op == Op::kWriteSync16 && ++i % 16 == 0 && fdatasync(fd) != 0) Die("fdatasync", errno);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
         static_cast<double>(offs.size());
}

#ifdef __linux__
// The same reads through the cheapest call that cannot block on the device:
// what faio makes at submission (platform::TransferNow), without faio.
double NowaitRound(int fd, const std::vector<int64_t>& offs, char* buf) {
  Clock::time_point t0 = Clock::now();
  for (int64_t off : offs) {
    iovec v{buf, kBlock};
    ssize_t n = preadv2(fd, &v, 1, off, RWF_NOWAIT);
    // Not cached (EAGAIN), or no RWF_NOWAIT on this file system (EOPNOTSUPP,
    // EINVAL on old kernels): the plain call, as faio then hands it over.
    if (n < 0 && (errno == EAGAIN || errno == EOPNOTSUPP || errno == EINVAL)) {
      n = pread(fd, buf, kBlock, off);
    }
    if (n != static_cast<ssize_t>(kBlock)) Die("preadv2", n < 0 ? errno : EIO);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
         static_cast<double>(offs.size());
}
constexpr bool kHaveNowait = true;
#else
double NowaitRound(int, const std::vector<int64_t>&, char*) { return 0; }
constexpr bool kHaveNowait = false;
#endif

// HostLoop: one request at a time through the host's own interface.
class HostLoop {
 public:
  virtual ~HostLoop() = default;
  // One 4 KiB transfer at off; false on any failure or short transfer.
  virtual bool Transfer(int fd, bool write, char* buf, int64_t off) = 0;
  // The host's own data flush.
  virtual bool Sync(int fd) = 0;
};

#ifdef FAIO_BENCH_HAVE_LIBURING
class UringLoop final : public HostLoop {
 public:
  bool Init() { return io_uring_queue_init(4, &ring_, 0) == 0 && (ok_ = true); }
  ~UringLoop() override {
    if (ok_) io_uring_queue_exit(&ring_);
  }
  bool Transfer(int fd, bool write, char* buf, int64_t off) override {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (write) {
      io_uring_prep_write(sqe, fd, buf, kBlock, static_cast<uint64_t>(off));
    } else {
      io_uring_prep_read(sqe, fd, buf, kBlock, static_cast<uint64_t>(off));
    }
    return Run() == static_cast<int>(kBlock);
  }
  bool Sync(int fd) override {
    io_uring_prep_fsync(io_uring_get_sqe(&ring_), fd, IORING_FSYNC_DATASYNC);
    return Run() == 0;
  }

 private:
  int Run() {
    if (io_uring_submit(&ring_) != 1) return -1;
    io_uring_cqe* cqe = nullptr;
    int rc;
    do {
      rc = io_uring_wait_cqe(&ring_, &cqe);
    } while (rc == -EINTR);
    if (rc != 0) return -1;
    int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    return res;
  }
  io_uring ring_{};
  bool ok_ = false;
};
#endif

#ifdef __linux__
class KernelAioLoop final : public HostLoop {
 public:
  bool Init() { return syscall(SYS_io_setup, 4, &ctx_) == 0; }
  ~KernelAioLoop() override {
    if (ctx_ != 0) syscall(SYS_io_destroy, ctx_);
  }
  bool Transfer(int fd, bool write, char* buf, int64_t off) override {
    return Run(fd, write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD, buf, off) ==
           static_cast<int64_t>(kBlock);
  }
  bool Sync(int fd) override { return Run(fd, IOCB_CMD_FDSYNC, nullptr, 0) == 0; }

 private:
  int64_t Run(int fd, uint16_t opcode, char* buf, int64_t off) {
    iocb cb{};
    cb.aio_lio_opcode = opcode;
    cb.aio_fildes = static_cast<uint32_t>(fd);
    cb.aio_buf = reinterpret_cast<uint64_t>(buf);
    cb.aio_nbytes = buf != nullptr ? kBlock : 0;
    cb.aio_offset = off;
    iocb* list[1] = {&cb};
    if (syscall(SYS_io_submit, ctx_, 1, list) != 1) return -1;
    io_event ev{};
    long got;
    do {
      got = syscall(SYS_io_getevents, ctx_, 1, 1, &ev, nullptr);
    } while (got < 0 && errno == EINTR);
    return got == 1 ? ev.res : -1;
  }
  aio_context_t ctx_ = 0;
};

class PosixAioLoop final : public HostLoop {
 public:
  bool Transfer(int fd, bool write, char* buf, int64_t off) override {
    aiocb cb{};
    cb.aio_fildes = fd;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;  // as faio's posix_aio: no signal queued
    cb.aio_buf = buf;
    cb.aio_nbytes = kBlock;
    cb.aio_offset = off;
    if ((write ? aio_write(&cb) : aio_read(&cb)) != 0) return false;
    return Finish(&cb) == static_cast<ssize_t>(kBlock);
  }
  bool Sync(int fd) override {
    aiocb cb{};
    cb.aio_fildes = fd;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    if (aio_fsync(O_DSYNC, &cb) != 0) return false;
    return Finish(&cb) == 0;
  }

 private:
  static ssize_t Finish(aiocb* cb) {
    const aiocb* list[1] = {cb};
    while (aio_error(cb) == EINPROGRESS) aio_suspend(list, 1, nullptr);
    return aio_return(cb);
  }
};
#endif

// The host loop for a backend's name; null when it has none here.
std::unique_ptr<HostLoop> HostLoopFor(const std::string& name) {
#ifdef FAIO_BENCH_HAVE_LIBURING
  if (name == "io_uring") {
    auto l = std::make_unique<UringLoop>();
    if (l->Init()) return l;
  }
#endif
#ifdef __linux__
  if (name == "linux_aio") {
    auto l = std::make_unique<KernelAioLoop>();
    if (l->Init()) return l;
  }
  if (name == "posix_aio") return std::make_unique<PosixAioLoop>();
#endif
  (void)name;
  return nullptr;
}

double HostRound(HostLoop* host, int fd, Op op, const std::vector<int64_t>& offs, char* buf) {
  Clock::time_point t0 = Clock::now();
  size_t i = 0;
  for (int64_t off : offs) {
    if (!host->Transfer(fd, op != Op::kRead, buf, off)) Die("host transfer", EIO);
    if (op == Op::kWriteSync16 && ++i % 16 == 0 && !host->Sync(fd)) Die("host flush", EIO);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
         static_cast<double>(offs.size());
}

// One request, prepared, submitted and waited for, again and again.
int OneRequest(faio_ctx* ctx, faio_req* req) {
  int st = faio_ctx_submit(ctx, &req, 1);
  if (st != FAIO_OK) return st;
  faio_req* out = nullptr;
  uint32_t count = 0;
  do {
    st = faio_ctx_wait(ctx, 1, FAIO_WAIT_INDEFINITE, &out, 1, &count);
  } while (st == FAIO_E_INTERRUPTED);
  if (st != FAIO_OK) return st;
  size_t got = 0;
  return faio_req_result(req, &got);
}

double FaioRound(faio_ctx* ctx, faio_req* req, int fd, Op op, const std::vector<int64_t>& offs,
                 char* buf) {
  Clock::time_point t0 = Clock::now();
  size_t i = 0;
  for (int64_t off : offs) {
    int st = op == Op::kRead ? faio_req_prepare_read(req, fd, off, buf, kBlock, nullptr)
                             : faio_req_prepare_write(req, fd, off, buf, kBlock, nullptr);
    if (st != FAIO_OK) DieFaio("prepare", st);
    if ((st = OneRequest(ctx, req)) != FAIO_OK) DieFaio("transfer", st);
    if (op == Op::kWriteSync16 && ++i % 16 == 0) {
      if ((st = faio_req_prepare_flush(req, fd, nullptr)) != FAIO_OK) DieFaio("prepare", st);
      if ((st = OneRequest(ctx, req)) != FAIO_OK) DieFaio("flush", st);
    }
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
         static_cast<double>(offs.size());
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<std::string> AllBackends() {
  std::vector<std::string> names;
  faio_backend_info infos[16];
  size_t n = 0;
  if (faio_get_backends(infos, 16, &n) != FAIO_OK) return names;
  for (size_t i = 0; i < n && i < 16; ++i) {
    if (!infos[i].available) continue;
    if (strcmp(infos[i].name, "fault") == 0) continue;
    names.emplace_back(infos[i].name);
  }
  return names;
}

void Usage() {
  std::fprintf(stderr,
               "usage: qd1_bench [--size MiB] [--ops N] [--rounds R] [--backend NAME]... "
               "[--op read|write|wsync16]... [--direct] [--host] [--dir DIR]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--size") {
      c.size_mib = strtoull(value(), nullptr, 10);
    } else if (a == "--ops") {
      c.ops = strtoull(value(), nullptr, 10);
    } else if (a == "--rounds") {
      c.rounds = atoi(value());
    } else if (a == "--backend") {
      c.backends.emplace_back(value());
    } else if (a == "--op") {
      c.ops_named.emplace_back(value());
      if (c.ops_named.back() != "read" && c.ops_named.back() != "write" &&
          c.ops_named.back() != "wsync16") {
        Usage();
      }
    } else if (a == "--direct") {
      c.direct = true;
    } else if (a == "--host") {
      c.host = true;
    } else if (a == "--dir") {
      c.dir = value();
    } else {
      Usage();
    }
  }
  if (c.size_mib == 0 || c.ops == 0 || c.rounds <= 0) Usage();
  if (c.backends.empty()) c.backends = AllBackends();

  // The file: laid out once, with real data, then read once so it is cached.
  std::string path = c.dir + "/qd1_bench.XXXXXX";
  int fd = mkstemp(path.data());
  if (fd < 0) Die("mkstemp", errno);
  unlink(path.c_str());
  std::vector<char> chunk(1 << 20, 'x');
  for (uint64_t m = 0; m < c.size_mib; ++m) {
    if (pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(m << 20)) !=
        static_cast<ssize_t>(chunk.size())) {
      Die("laying out the file", errno);
    }
  }
  if (fsync(fd) != 0) Die("fsync", errno);
  for (uint64_t m = 0; m < c.size_mib; ++m) {
    if (pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(m << 20)) < 0) Die("pread", errno);
  }
  void* mem = nullptr;
  if (posix_memalign(&mem, kBlock, kBlock) != 0) Die("posix_memalign", ENOMEM);
  char* buf = static_cast<char*>(mem);
  memset(buf, 'y', kBlock);

  std::printf("one request at a time, 4 KiB random, %" PRIu64 " MiB file in %s, %" PRIu64
              " ops x %d interleaved rounds, medians\n",
              c.size_mib, c.dir.c_str(), c.ops, c.rounds);
  std::printf("%-10s %-7s %-8s %10s %10s %10s %10s %7s %9s %8s\n", "backend", "mode", "op",
              "syscall_ns", "nowait_ns", "host_ns", "faio_ns", "ratio", "vs_nowait", "vs_host");
  std::vector<bool> modes = {false};
  if (c.direct) modes.push_back(true);
  for (bool direct : modes) {
    int io_fd = fd;
    if (direct) {
      io_fd = open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
      if (io_fd < 0) Die("reopening with O_DIRECT", errno);
    }
    for (const std::string& name : c.backends) {
      faio_ctx_options o;
      faio_ctx_options_init(&o);
      o.backend = name.c_str();
      o.capacity = 4;
      faio_ctx* ctx = nullptr;
      int st = faio_ctx_create_ex(&ctx, &o);
      if (st != FAIO_OK) {
        std::printf("%-10s unavailable: %s\n", name.c_str(), faio_strerror(st));
        continue;
      }
      faio_req* req = nullptr;
      if ((st = faio_req_create(&req)) != FAIO_OK) DieFaio("faio_req_create", st);
      std::unique_ptr<HostLoop> host = c.host ? HostLoopFor(name) : nullptr;
      for (Op op : {Op::kRead, Op::kWrite, Op::kWriteSync16}) {
        if (!c.ops_named.empty() &&
            std::find(c.ops_named.begin(), c.ops_named.end(), OpName(op)) == c.ops_named.end()) {
          continue;
        }
        const bool nowait = kHaveNowait && !direct && op == Op::kRead;
        std::vector<double> sys, nw, hs, fa;
        // One warm-up round each, not counted.
        std::vector<int64_t> warm = Offsets(c, 1);
        warm.resize(std::min<size_t>(warm.size(), 2000));
        SyscallRound(io_fd, op, warm, buf);
        if (nowait) NowaitRound(io_fd, warm, buf);
        if (host) HostRound(host.get(), io_fd, op, warm, buf);
        FaioRound(ctx, req, io_fd, op, warm, buf);
        // The loops take turns going first: a loop leaves the machine in a
        // state the next one pays for (dirty pages, io_uring's io-wq workers
        // after buffered writes), so none may always follow the same one.
        for (int r = 0; r < c.rounds; ++r) {
          std::vector<int64_t> offs = Offsets(c, 100 + static_cast<uint32_t>(r));
          for (int k = 0; k < 4; ++k) {
            switch ((r + k) % 4) {
              case 0:
                sys.push_back(SyscallRound(io_fd, op, offs, buf));
                break;
              case 1:
                if (nowait) nw.push_back(NowaitRound(io_fd, offs, buf));
                break;
              case 2:
                if (host) hs.push_back(HostRound(host.get(), io_fd, op, offs, buf));
                break;
              default:
                fa.push_back(FaioRound(ctx, req, io_fd, op, offs, buf));
                break;
            }
          }
        }
        double ms = Median(sys), mf = Median(fa);
        char nowait_ns[16] = "-", vs_nowait[16] = "-", host_ns[16] = "-", vs_host[16] = "-";
        if (nowait) {
          double mn = Median(nw);
          std::snprintf(nowait_ns, sizeof nowait_ns, "%.0f", mn);
          std::snprintf(vs_nowait, sizeof vs_nowait, "%.2f", mf / mn);
        }
        if (host) {
          double mh = Median(hs);
          std::snprintf(host_ns, sizeof host_ns, "%.0f", mh);
          std::snprintf(vs_host, sizeof vs_host, "%.2f", mf / mh);
        }
        std::printf("%-10s %-7s %-8s %10.0f %10s %10s %10.0f %7.2f %9s %8s\n", name.c_str(),
                    direct ? "direct" : "cached", OpName(op), ms, nowait_ns, host_ns, mf, mf / ms,
                    vs_nowait, vs_host);
        std::fflush(stdout);
      }
      (void)faio_req_destroy(req);
      (void)faio_ctx_destroy(ctx);
    }
    if (direct) close(io_fd);
  }
  free(mem);
  close(fd);
  return 0;
}
