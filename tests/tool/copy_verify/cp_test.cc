// cp_test.cc - faio cp: byte-exact copies of awkward sizes, holes kept, an
// existing DST, and every error path (missing SRC, missing directory, a file
// system without O_DIRECT, a full disk, Ctrl-C), through CopyFile and the
// binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cli/common.h"
#include "cp/copy.h"
#include "test_util.h"

namespace faio::tool {
namespace {

using testing::Exists;
using testing::FileSize;
using testing::FirstDifference;
using testing::RandomBytes;
using testing::RunProgram;
using testing::RunResult;
using testing::ScratchDir;
using testing::Tool;

CopyOptions Options(const std::string& src, const std::string& dst) {
  CopyOptions o;
  o.src = src;
  o.dst = dst;
  return o;
}

// ToolErrorOf runs f and returns the ToolError it throws (exit code -1 if none).
template <typename F>
ToolError ToolErrorOf(F f) {
  try {
    f();
  } catch (const ToolError& e) {
    return e;
  }
  return ToolError(-1, "no error");
}

bool Contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

// PrivateMountsWork says whether this process may run a shell in a private
// mount namespace (root, unshare(1) present): the tests that need a file
// system of their own (ramfs, a tiny tmpfs) mount it there, invisible to the
// host and gone when the shell ends.
bool PrivateMountsWork(const std::string& scratch) {
  RunResult r = RunProgram({"unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "mount -t tmpfs -o size=64k none \"$0\"", scratch},
                           scratch);
  return r.exit_code == 0;
}

TEST(Cp, CopiesSizesThatAreNotMultiplesOfTheBlock) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  bool direct_ok = !testing::ODirectRefused(dir.path());
  const uint64_t sizes[] = {1, 511, 4097, (1u << 20) + 4097, 3u << 20};
  uint32_t seed = 1;
  for (uint64_t size : sizes) {
    std::string src = dir / ("src" + std::to_string(size));
    testing::WriteFile(src, RandomBytes(size, seed++));
    for (DirectMode d : {DirectMode::kOff, DirectMode::kAuto, DirectMode::kOn}) {
      if (d == DirectMode::kOn && !direct_ok) continue;
      SCOPED_TRACE(::testing::Message() << "size " << size << " direct " << static_cast<int>(d));
      std::string dst = dir / "dst";
      unlink(dst.c_str());
      CopyOptions o = Options(src, dst);
      o.bs = 64 << 10;
      o.iodepth = 4;
      o.direct = d;
      CopyResult r = CopyFile(o);
      EXPECT_EQ(r.size, size);
      EXPECT_EQ(r.data_bytes, size);
      EXPECT_EQ(r.direct, d == DirectMode::kOn || (d == DirectMode::kAuto && direct_ok));
      EXPECT_FALSE(r.overwrote);
      EXPECT_EQ(FileSize(dst), size);
      EXPECT_EQ(FirstDifference(src, dst), std::nullopt);
    }
  }
}

TEST(Cp, DefaultBlockSizeAndVerify) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src", dst = dir / "dst";
  testing::WriteFile(src, RandomBytes((5u << 20) + 123, 7));
  ASSERT_EQ(chmod(src.c_str(), 0640), 0);
  RunResult run = RunProgram({Tool(), "cp", "--verify", src, dst}, dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(FirstDifference(src, dst), std::nullopt);
  EXPECT_TRUE(Contains(run.out, "5243003 bytes")) << run.out;
  EXPECT_TRUE(Contains(run.out, "MiB/s, backend ")) << run.out;
  EXPECT_TRUE(Contains(run.out, "verified: identical")) << run.out;
  EXPECT_TRUE(run.err.empty()) << run.err;  // no progress line: stderr is not a TTY
  struct stat st;
  ASSERT_EQ(stat(dst.c_str(), &st), 0);
  mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0640u & ~mask);
}

TEST(Cp, EmptyFile) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src", dst = dir / "dst";
  testing::WriteFile(src, {});
  CopyOptions o = Options(src, dst);
  o.verify = true;
  CopyResult r = CopyFile(o);
  EXPECT_EQ(r.size, 0u);
  EXPECT_TRUE(Exists(dst));
  EXPECT_EQ(FileSize(dst), 0u);
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

TEST(Cp, HolesStayHoles) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src";
  const uint64_t size = 8u << 20;
  testing::WriteAt(src, 0, RandomBytes(4096, 1));
  testing::WriteAt(src, 5u << 20, RandomBytes(100000, 2));  // 5 MiB: a 1 MiB block boundary
  testing::WriteAt(src, size - 10, RandomBytes(10, 3));
  ASSERT_EQ(FileSize(src), size);
  ASSERT_LT(AllocatedBytes(src), 1u << 20) << "the scratch file system does not keep holes";
  bool direct_ok = !testing::ODirectRefused(dir.path());
  for (DirectMode d : {DirectMode::kOff, DirectMode::kOn}) {
    if (d == DirectMode::kOn && !direct_ok) continue;
    SCOPED_TRACE(d == DirectMode::kOn ? "direct" : "buffered");
    std::string dst = dir / "dst";
    unlink(dst.c_str());
    CopyOptions o = Options(src, dst);
    o.direct = d;
    o.verify = true;
    o.iodepth = 4;  // fewer buffers: quicker under the sanitizers
    CopyResult r = CopyFile(o);
    EXPECT_EQ(r.size, size);
    EXPECT_EQ(r.extents, 3u);
    EXPECT_LT(r.data_bytes, 1u << 20);
    EXPECT_EQ(FileSize(dst), size);
    EXPECT_EQ(FirstDifference(src, dst), std::nullopt);
    EXPECT_LT(AllocatedBytes(dst), 1u << 20);
    // The gap between the first two extents is still a hole.
    int fd = open(dst.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_EQ(lseek(fd, 4096, SEEK_HOLE), 4096);
    EXPECT_GE(lseek(fd, 4096, SEEK_DATA), static_cast<off_t>(4u << 20));
    close(fd);
  }
  // A file that is all hole.
  std::string hole = dir / "hole", dst = dir / "hole.copy";
  testing::WriteFile(hole, {});
  ASSERT_EQ(truncate(hole.c_str(), 4 << 20), 0);
  CopyResult r = CopyFile(Options(hole, dst));
  EXPECT_EQ(r.data_bytes, 0u);
  EXPECT_EQ(r.extents, 0u);
  EXPECT_EQ(FileSize(dst), 4u << 20);
  EXPECT_EQ(AllocatedBytes(dst), 0u);
  EXPECT_EQ(FirstDifference(hole, dst), std::nullopt);
}

TEST(Cp, ExistingDstIsTruncatedAndOverwritten) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src", dst = dir / "dst";
  testing::WriteFile(src, RandomBytes(10000, 1));
  testing::WriteFile(dst, RandomBytes(3 << 20, 2));
  RunResult run = RunProgram({Tool(), "cp", src, dst}, dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.out, "existed: truncated and overwritten")) << run.out;
  EXPECT_EQ(FileSize(dst), 10000u);
  EXPECT_EQ(FirstDifference(src, dst), std::nullopt);

  // --no-clobber refuses and leaves DST alone.
  testing::WriteFile(dst, RandomBytes(5000, 3));
  run = RunProgram({Tool(), "cp", "--no-clobber", src, dst}, dir.path());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, "exists (--no-clobber")) << run.err;
  EXPECT_EQ(testing::ReadFile(dst), RandomBytes(5000, 3));
}

TEST(Cp, DstDirectoryReceivesTheFile) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "name", sub = dir / "sub";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  testing::WriteFile(src, RandomBytes(777, 1));
  CopyResult r = CopyFile(Options(src, sub));
  EXPECT_EQ(r.dst, sub + "/name");
  EXPECT_EQ(FirstDifference(src, sub + "/name"), std::nullopt);
}

TEST(Cp, ClearErrors) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src";
  testing::WriteFile(src, RandomBytes(100, 1));

  RunResult run = RunProgram({Tool(), "cp", dir / "missing", dir / "dst"}, dir.path());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(
      Contains(run.err, "cannot open SRC " + dir / "missing" + ": No such file or directory"))
      << run.err;
  EXPECT_FALSE(Exists(dir / "dst"));

  run = RunProgram({Tool(), "cp", src, dir / "nodir/dst"}, dir.path());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Contains(run.err, "the directory " + dir / "nodir" + " does not exist")) << run.err;

  ToolError e = ToolErrorOf([&] { CopyFile(Options(src, src)); });
  EXPECT_EQ(e.exit_code(), kExitFailure);
  EXPECT_TRUE(Contains(e.what(), "are the same file")) << e.what();
  EXPECT_EQ(testing::ReadFile(src), RandomBytes(100, 1));

  e = ToolErrorOf([&] { CopyFile(Options(dir.path(), dir / "x")); });
  EXPECT_TRUE(Contains(e.what(), "is a directory")) << e.what();

  run = RunProgram({Tool(), "cp", "--bs", "12q", src, dir / "dst"}, dir.path());
  EXPECT_EQ(run.exit_code, 2);
  run = RunProgram({Tool(), "cp", "--direct", "maybe", src, dir / "dst"}, dir.path());
  EXPECT_EQ(run.exit_code, 2);
  run = RunProgram({Tool(), "cp", "--backend", "nosuch", src, dir / "dst"}, dir.path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_FALSE(Exists(dir / "dst"));
}

TEST(Cp, EveryBackend) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src";
  testing::WriteFile(src, RandomBytes((1u << 20) + 4097, 9));
  for (const faio_backend_info& b : Backends()) {
    if (!b.available) continue;
#if defined(__SANITIZE_THREAD__)
    if (std::string(b.name) == "posix_aio") continue;  // see the README
#endif
    SCOPED_TRACE(b.name);
    std::string dst = dir / b.name;
    CopyOptions o = Options(src, dst);
    o.backend = b.name;
    o.bs = 128 << 10;
    o.verify = true;
    CopyResult r = CopyFile(o);
    EXPECT_EQ(r.backend, b.name);
    EXPECT_EQ(FirstDifference(src, dst), std::nullopt);
  }
}

// A file system that refuses O_DIRECT: tmpfs before Linux 6.6, ramfs always.
TEST(Cp, DirectOnAFileSystemWithoutODirect) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src";
  testing::WriteFile(src, RandomBytes(100000, 4));
  std::string script;
  if (testing::ODirectRefused("/dev/shm")) {
    ScratchDir shm("/dev/shm");
    ASSERT_TRUE(shm.ok());
    RunResult run = RunProgram({Tool(), "cp", "--direct", "1", src, shm / "dst"}, dir.path());
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_TRUE(Contains(run.err, "does not accept O_DIRECT")) << run.err;
    EXPECT_FALSE(Exists(shm / "dst"));
    return;
  }
  std::string mnt = dir / "mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  if (!PrivateMountsWork(mnt)) {
    GTEST_SKIP() << "tmpfs accepts O_DIRECT here and no private mount namespace for a ramfs";
  }
  // In a private mount namespace: a ramfs, a refused --direct 1 (DST removed),
  // then --direct auto falling back to buffered I/O.
  RunResult run =
      RunProgram({"unshare", "--mount", "--propagation", "private", "sh", "-c",
                  "mount -t ramfs none \"$1\" || exit 99; "
                  "\"$0\" cp --direct 1 \"$2\" \"$1/dst\"; echo \"rc=$?\"; "
                  "test -e \"$1/dst\" && echo left-behind; "
                  "\"$0\" cp --direct auto \"$2\" \"$1/dst\" && cmp \"$2\" \"$1/dst\" && "
                  "echo auto-ok",
                  Tool(), mnt, src},
                 dir.path());
  ASSERT_NE(run.exit_code, 99) << "mount -t ramfs failed: " << run.err;
  EXPECT_TRUE(Contains(run.out, "rc=2")) << run.out << run.err;
  EXPECT_TRUE(
      Contains(run.err, "--direct 1: the file system of " + mnt + "/dst does not accept O_DIRECT"))
      << run.err;
  EXPECT_FALSE(Contains(run.out, "left-behind")) << run.out;
  EXPECT_TRUE(Contains(run.out, "direct no")) << run.out;
  EXPECT_TRUE(Contains(run.out, "buffered I/O: the file system of")) << run.out;
  EXPECT_TRUE(Contains(run.out, "auto-ok")) << run.out << run.err;
}

TEST(Cp, FullDiskRemovesACreatedDstAndEmptiesAnExistingOne) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src", mnt = dir / "mnt";
  testing::WriteFile(src, RandomBytes(1u << 20, 5));
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  if (!PrivateMountsWork(mnt)) GTEST_SKIP() << "no private mount namespace for a small tmpfs";
  RunResult run = RunProgram({"unshare", "--mount", "--propagation", "private", "sh", "-c",
                              "mount -t tmpfs -o size=256k none \"$1\" || exit 99; "
                              "\"$0\" cp --direct 0 \"$2\" \"$1/new\"; echo \"rc=$?\"; "
                              "test -e \"$1/new\" && echo new-left-behind; "
                              "echo old > \"$1/old\"; "
                              "\"$0\" cp --direct 0 \"$2\" \"$1/old\"; echo \"rc=$?\"; "
                              "echo \"old-size=$(stat -c %s \"$1/old\")\"",
                              Tool(), mnt, src},
                             dir.path());
  ASSERT_NE(run.exit_code, 99) << "mount -t tmpfs failed: " << run.err;
  EXPECT_FALSE(Contains(run.out, "rc=0")) << run.out;
  EXPECT_TRUE(Contains(run.err, "writing DST " + mnt + "/new at offset")) << run.err;
  EXPECT_TRUE(Contains(run.err, "FAIO_E_DISK_FULL")) << run.err;
  EXPECT_TRUE(Contains(run.err, mnt + "/new removed")) << run.err;
  EXPECT_FALSE(Contains(run.out, "new-left-behind")) << run.out;
  EXPECT_TRUE(Contains(run.err, mnt + "/old (which existed) left truncated to 0 bytes")) << run.err;
  EXPECT_TRUE(Contains(run.out, "old-size=0")) << run.out;
}

TEST(Cp, InterruptStopsDrainsAndRemovesDst) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string src = dir / "src", dst = dir / "dst";
  // 64 MiB copied 512 bytes at a time, one request in flight: far longer than
  // the moment it takes to interrupt it.
  std::vector<char> chunk(1 << 20, 'x');
  for (int i = 0; i < 64; ++i) testing::WriteAt(src, static_cast<uint64_t>(i) << 20, chunk);
  std::vector<std::string> argv = {Tool(), "cp",       "--bs", "512", "--iodepth",
                                   "1",    "--direct", "0",    src,   dst};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  std::string err = dir / "err";
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  // DST appears (at its full size) when the copy starts; let it run a little.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Exists(dst) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << "the copy finished before the interrupt?";
  std::vector<char> e = testing::ReadFile(err);
  std::string text(e.begin(), e.end());
  EXPECT_TRUE(Contains(text, "interrupted; " + dst + " removed")) << text;
  EXPECT_FALSE(Exists(dst));
}

}  // namespace
}  // namespace faio::tool
