// powerloss_test.cc - the power-loss harness. Each round:
//   1. makes an ext4 file system on a loop device (sparse image in /var/tmp);
//   2. starts faio_powerloss_writer on it, which appends checksummed records
//      through faio and acknowledges records on a pipe (powerloss_writer.cc);
//   3. after a random 100-400 ms (from its first acknowledgement; the seed is
//      printed, FAIO_POWERLOSS_SEED replays it) stops it (SIGSTOP) and reads
//      every acknowledgement it sent;
//   4. cuts the file system off as a power loss would: FS_IOC_SHUTDOWN with
//      EXT4_GOING_FLAGS_NOLOGFLUSH (neither the journal nor dirty page-cache
//      data reach the device), kills the writer, unmounts;
//   5. mounts again (the journal is replayed) and checks that every
//      acknowledged record is there, whole (seq, offset, crc32c), and that
//      e2fsck finds the file system clean.
// The writer in "good" mode acknowledges only after its flush completed: no
// acknowledged record may be missing, on any backend. Two negative controls
// show the harness can tell: a writer that acknowledges before flushing (and
// never flushes) and one that acknowledges records before writing them; the
// harness must find acknowledged records missing, and reports how often it did.
//
// FAIO_POWERLOSS_ROUNDS (default 3) sets the rounds per test.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "conformance.h"
#include "kernel_faults.h"
#include "powerloss_record.h"

#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN _IOR('X', 125, uint32_t)  // = EXT4_IOC_SHUTDOWN
#endif

namespace faio_test {
namespace {

constexpr uint32_t kGoingFlagsNoLogFlush = 0x2;  // EXT4_GOING_FLAGS_NOLOGFLUSH

int Rounds() {
  const char* env = std::getenv("FAIO_POWERLOSS_ROUNDS");
  int n = env != nullptr ? std::atoi(env) : 3;
  return n > 0 ? n : 3;
}

// Seed is the base of the rounds' random stop times: FAIO_POWERLOSS_SEED, else
// fresh each run (printed, so a round can be replayed).
uint32_t Seed() {
  static const uint32_t seed = [] {
    const char* env = std::getenv("FAIO_POWERLOSS_SEED");
    uint32_t s = env != nullptr ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10))
                                : std::random_device{}();
    std::printf("[ powerloss] FAIO_POWERLOSS_SEED=%u\n", s);
    return s;
  }();
  return seed;
}

uint32_t RoundSeed(const std::string& what, int round) {
  uint32_t h = Seed();
  for (char c : what) h = h * 31 + static_cast<unsigned char>(c);
  return h * 7919u + static_cast<uint32_t>(round);
}

struct Round {
  std::string skip;   // the round could not be set up
  std::string error;  // the harness or the writer failed
  size_t acked = 0;
  size_t missing = 0;            // acknowledged records not found whole
  size_t unacked_present = 0;    // records found beyond the last acknowledged one
  std::string first_problem;
  int fsck = -1;
  int64_t stopped_after_ms = 0;
};

std::string ReadAllNonBlocking(int fd) {
  std::string s;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

// RunRound runs one round with the writer in `mode` on `backend`.
Round RunRound(const std::string& backend, const std::string& mode, uint32_t seed) {
  Round r;
  faio_kf::LoopExt4 loop;
  r.skip = loop.Start(128);
  if (!r.skip.empty()) return r;
  std::string log_dir = faio_kf::MakeTempDir("/tmp", "faio-powerloss-log");
  std::string log = log_dir + "/writer.err";
  std::string file = loop.mnt() + "/records";
  // The file and its directory entry are made durable first, so a lost record
  // shows as a missing record, not as a missing file.
  int cfd = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int dirfd = open(loop.mnt().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool durable = cfd >= 0 && dirfd >= 0 && fsync(cfd) == 0 && fsync(dirfd) == 0;
  if (cfd >= 0) close(cfd);
  if (dirfd >= 0) close(dirfd);
  if (!durable) {
    r.error = std::string("creating the record file: ") + std::strerror(errno);
    return r;
  }
  int p[2];
  if (log_dir.empty() || pipe2(p, O_CLOEXEC) != 0) {
    r.error = std::string("setup: ") + std::strerror(errno);
    return r;
  }
  std::vector<std::string> argv = {FAIO_POWERLOSS_WRITER_PATH, "--file", file, "--ack-fd", "3",
                                   "--backend", backend, "--mode", mode};
  std::vector<char*> a;
  for (const std::string& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  int logfd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(p[1], 3);
    if (logfd >= 0) dup2(logfd, 2);
    execv(a[0], a.data());
    _exit(127);
  }
  close(p[1]);
  if (logfd >= 0) close(logfd);
  auto cleanup_dir = [&] {
    unlink(log.c_str());
    rmdir(log_dir.c_str());
  };
  if (pid < 0) {
    close(p[0]);
    cleanup_dir();
    r.error = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);

  // Run until the first acknowledgement, then a random while more.
  std::mt19937 rng(seed);
  const int run_ms = 100 + static_cast<int>(rng() % 301);
  std::string acks;
  Clock::time_point t0 = Clock::now();
  Clock::time_point first_ack{};
  bool writer_died = false;
  for (;;) {
    struct pollfd pf = {p[0], POLLIN, 0};
    poll(&pf, 1, 5);
    acks += ReadAllNonBlocking(p[0]);
    if (first_ack == Clock::time_point{} && !acks.empty()) first_ack = Clock::now();
    if (first_ack != Clock::time_point{} && Clock::now() - first_ack >= milliseconds(run_ms)) break;
    if (faio_kf::WaitExit(pid, 0)) {
      writer_died = true;
      break;
    }
    if (MsSince(t0) > 20000) break;
  }
  if (writer_died || first_ack == Clock::time_point{}) {
    kill(pid, SIGKILL);
    faio_kf::WaitExit(pid, 5000);
    r.error = (writer_died ? "the writer exited early: " : "no acknowledgement within 20 s: ") +
              faio_kf::ReadFileText(log);
    close(p[0]);
    cleanup_dir();
    return r;
  }
  kill(pid, SIGSTOP);
  int st = 0;
  while (waitpid(pid, &st, WUNTRACED) < 0 && errno == EINTR) {
  }
  r.stopped_after_ms = MsSince(t0);
  acks += ReadAllNonBlocking(p[0]);  // all it sent before it stopped
  close(p[0]);

  // The power goes out.
  int dfd = open(loop.mnt().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  uint32_t flags = kGoingFlagsNoLogFlush;
  int shut = dfd >= 0 ? ioctl(dfd, FS_IOC_SHUTDOWN, &flags) : -1;
  int shut_errno = errno;
  if (dfd >= 0) close(dfd);
  kill(pid, SIGKILL);
  faio_kf::WaitExit(pid, 10000);
  if (!WIFSTOPPED(st)) r.error = "the writer did not stop on SIGSTOP";
  if (shut != 0) {
    r.skip = std::string("FS_IOC_SHUTDOWN failed: ") + std::strerror(shut_errno);
    cleanup_dir();
    return r;
  }
  cleanup_dir();
  loop.Unmount();
  std::string why = loop.Mount();
  if (!why.empty()) {
    r.error = "remounting after the shutdown: " + why;
    return r;
  }

  // Verify every acknowledgement.
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  std::istringstream in(acks);
  std::string line;
  std::map<uint64_t, uint32_t> acked;
  while (std::getline(in, line)) {
    unsigned long long seq = 0, off = 0;
    unsigned crc = 0;
    if (std::sscanf(line.c_str(), "%llu %llu %u", &seq, &off, &crc) != 3 ||
        off != seq * faio_pl::kRecord || acked.count(seq) != 0) {
      r.error = "bad acknowledgement line: " + line;
      break;
    }
    acked[seq] = crc;
  }
  r.acked = acked.size();
  unsigned char rec[faio_pl::kRecord];
  for (const auto& [seq, crc] : acked) {
    std::string problem;
    if (fd < 0) {
      problem = "file missing";
    } else if (pread(fd, rec, sizeof rec, static_cast<off_t>(seq * faio_pl::kRecord)) !=
               static_cast<ssize_t>(sizeof rec)) {
      problem = "missing (beyond the end of the file)";
    } else {
      problem = faio_pl::Check(rec, seq, crc);
    }
    if (!problem.empty()) {
      if (r.missing++ == 0) r.first_problem = "record " + std::to_string(seq) + ": " + problem;
    }
  }
  if (fd >= 0) {
    uint64_t next = acked.empty() ? 0 : acked.rbegin()->first + 1;
    while (pread(fd, rec, sizeof rec, static_cast<off_t>(next * faio_pl::kRecord)) ==
               static_cast<ssize_t>(sizeof rec) &&
           faio_pl::Check(rec, next, faio_pl::Crc(rec)).empty()) {
      r.unacked_present++;
      next++;
    }
    close(fd);
  }
  loop.Unmount();
  std::string out;
  r.fsck = faio_kf::RunCommand({"e2fsck", "-f", "-n", loop.dev()}, &out);
  if (r.fsck != 0) r.first_problem += (r.first_problem.empty() ? "" : "; ") + ("e2fsck: " + out);
  return r;
}

std::string Describe(const Round& r) {
  std::ostringstream os;
  os << "acked " << r.acked << ", missing " << r.missing << ", unacked present "
     << r.unacked_present << ", stopped at " << r.stopped_after_ms << " ms, e2fsck " << r.fsck;
  if (!r.first_problem.empty()) os << " (" << r.first_problem << ")";
  return os.str();
}

class PowerLoss : public BackendTest {};
INSTANTIATE_TEST_SUITE_P(KernelFaults, PowerLoss, ::testing::ValuesIn(BackendNames()),
                         BackendParamName);

TEST_P(PowerLoss, AcknowledgedRecordsSurviveShutdown) {
  const int rounds = Rounds();
  size_t acked = 0;
  for (int i = 0; i < rounds; i++) {
    SCOPED_TRACE("round " + std::to_string(i));
    Round r = RunRound(GetParam(), "good", RoundSeed(GetParam(), i));
    if (!r.skip.empty()) GTEST_SKIP() << r.skip;
    ASSERT_TRUE(r.error.empty()) << r.error;
    std::printf("[ powerloss] %s good round %d: %s\n", backend(), i, Describe(r).c_str());
    EXPECT_GT(r.acked, 0u) << "the writer acknowledged nothing: the round proves nothing";
    EXPECT_EQ(r.missing, 0u) << "acknowledged records lost: " << Describe(r);
    EXPECT_EQ(r.fsck, 0) << Describe(r);
    acked += r.acked;
  }
  RecordProperty("rounds", std::to_string(rounds));
  RecordProperty("acked_records", std::to_string(acked));
}

// A negative control: the writer in `mode` must be caught losing acknowledged
// records; every round should catch it (the lost records never reached the
// device), and the rate is printed.
void NegativeControl(const char* mode) {
  const int rounds = Rounds();
  int caught = 0;
  for (int i = 0; i < rounds; i++) {
    SCOPED_TRACE(std::string(mode) + " round " + std::to_string(i));
    Round r = RunRound("auto", mode, RoundSeed(mode, i));
    if (!r.skip.empty()) GTEST_SKIP() << r.skip;
    ASSERT_TRUE(r.error.empty()) << r.error;
    std::printf("[ powerloss] %s round %d: %s\n", mode, i, Describe(r).c_str());
    EXPECT_GT(r.acked, 0u);
    EXPECT_EQ(r.fsck, 0) << Describe(r);
    if (r.missing > 0) caught++;
  }
  std::printf("[ powerloss] %s: caught in %d of %d rounds\n", mode, caught, rounds);
  ::testing::Test::RecordProperty("caught", std::to_string(caught) + "/" + std::to_string(rounds));
  EXPECT_EQ(caught, rounds) << "the harness missed a writer that loses acknowledged records";
}

TEST(PowerLossControl, CatchesAWriterThatAcknowledgesBeforeFlushing) {
  NegativeControl("ack-before-flush");
}

TEST(PowerLossControl, CatchesAWriterThatAcknowledgesBeforeWriting) {
  NegativeControl("ack-early");
}

}  // namespace
}  // namespace faio_test
