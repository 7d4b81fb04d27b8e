// verify_test.cc - faio verify finds each kind of fault at its exact offset:
// a file is written through RunVerify (or the binary), the test damages it with
// plain pwrite/fallocate, and the check must name every bad block and no other.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/common.h"
#include "test_util.h"
#include "verify/block_format.h"
#include "verify/run.h"

namespace faio::tool {
namespace {

using testing::Exists;
using testing::RunProgram;
using testing::RunResult;
using testing::ScratchDir;
using testing::Tool;

constexpr uint32_t kBs = 4096;
constexpr uint64_t kBlocks = 64;

VerifyConfig Config(const std::string& path) {
  VerifyConfig c;
  c.path = path;
  c.size = kBlocks * kBs;
  c.size_given = true;
  c.bs = kBs;
  c.iodepth = 8;
  c.seed = 1234;
  c.sequence = 2;
  return c;
}

std::vector<char> ReadBlock(const std::string& path, uint64_t block) {
  std::vector<char> b(kBs);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(pread(fd, b.data(), kBs, static_cast<off_t>(block * kBs)), static_cast<ssize_t>(kBs));
  close(fd);
  return b;
}

void WriteBlock(const std::string& path, uint64_t block, const std::vector<char>& b) {
  testing::WriteAt(path, block * kBs, b);
}

std::map<uint64_t, BlockKind> Kinds(const VerifyReport& r) {
  std::map<uint64_t, BlockKind> out;
  for (const auto& [off, b] : r.bad) out[off] = b.kind;
  return out;
}

uint64_t Count(const VerifyReport& r, BlockKind k) { return r.counts[static_cast<int>(k)]; }

TEST(Verify, CleanFilePasses) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  VerifyConfig c = Config(dir / "f");
  VerifyReport w = RunVerify(c);
  EXPECT_TRUE(w.created);
  EXPECT_EQ(w.blocks, kBlocks);
  EXPECT_EQ(w.BadCount(), 0u);
  EXPECT_EQ(testing::FileSize(c.path), kBlocks * kBs);
  c.verify_only = true;
  VerifyReport r = RunVerify(c);
  EXPECT_EQ(r.blocks, kBlocks);
  EXPECT_EQ(r.BadCount(), 0u) << (r.bad.empty() ? "" : r.bad.begin()->second.detail);
  // Without --size, the file's own size.
  c.size_given = false;
  c.size = 0;
  EXPECT_EQ(RunVerify(c).blocks, kBlocks);
}

TEST(Verify, NamesEveryFaultKindAtItsOffset) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  VerifyConfig c = Config(dir / "f");
  ASSERT_EQ(RunVerify(c).BadCount(), 0u);

  // corrupted: one flipped payload byte in block 3.
  std::vector<char> b3 = ReadBlock(c.path, 3);
  b3[1000] = static_cast<char>(b3[1000] ^ 0x10);
  WriteBlock(c.path, 3, b3);
  // lost: block 7 zeroed, block 40 turned into a hole.
  WriteBlock(c.path, 7, std::vector<char>(kBs, 0));
  int fd = open(c.path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 40 * kBs, kBs), 0);
  close(fd);
  // misdirected: blocks 10 and 20 swapped.
  std::vector<char> b10 = ReadBlock(c.path, 10), b20 = ReadBlock(c.path, 20);
  WriteBlock(c.path, 10, b20);
  WriteBlock(c.path, 20, b10);
  // stale: block 30 replaced by its sequence-1 version.
  std::vector<std::byte> old(kBs);
  EncodeBlock(old, 30 * kBs, 1, c.seed);
  WriteBlock(c.path, 30,
             std::vector<char>(reinterpret_cast<char*>(old.data()),
                               reinterpret_cast<char*>(old.data()) + kBs));

  c.verify_only = true;
  VerifyReport r = RunVerify(c);
  std::map<uint64_t, BlockKind> want = {
      {3 * kBs, BlockKind::kCorrupted},    {7 * kBs, BlockKind::kLost},
      {10 * kBs, BlockKind::kMisdirected}, {20 * kBs, BlockKind::kMisdirected},
      {30 * kBs, BlockKind::kStale},       {40 * kBs, BlockKind::kLost},
  };
  EXPECT_EQ(Kinds(r), want);
  EXPECT_EQ(r.blocks, kBlocks);
  EXPECT_EQ(r.BadCount(), 6u);
  EXPECT_EQ(Count(r, BlockKind::kLost), 2u);
  EXPECT_EQ(Count(r, BlockKind::kMisdirected), 2u);
  EXPECT_EQ(Count(r, BlockKind::kStale), 1u);
  EXPECT_EQ(Count(r, BlockKind::kCorrupted), 1u);
  EXPECT_EQ(Count(r, BlockKind::kMismatch), 0u);
  EXPECT_EQ(r.bad.at(10 * kBs).detail, "block for offset 81920 found at 40960 (sequence 2)");
  EXPECT_EQ(r.bad.at(20 * kBs).detail, "block for offset 40960 found at 81920 (sequence 2)");
  EXPECT_EQ(r.bad.at(30 * kBs).detail, "sequence 1, expected 2: an older write");

  // The same through the binary: exit 1, a line per kind, the blocks listed.
  RunResult run = RunProgram({Tool(), "verify", c.path, "--verify_only", "--bs", "4k", "--seed",
                              "1234", "--sequence", "2"},
                             dir.path());
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find("lost:        2"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("misdirected: 2"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("stale:       1"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("corrupted:   1"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("offset 40960 (block 10): misdirected: block for offset 81920 found at "
                         "40960"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("offset 163840 (block 40): lost: all zeros"), std::string::npos)
      << run.out;

  // And as JSON.
  run = RunProgram({Tool(), "verify", c.path, "--verify_only", "--seed", "1234", "--sequence", "2",
                    "--output-format", "json"},
                   dir.path());
  EXPECT_EQ(run.exit_code, 1);
  auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j["bad"], 6);
  EXPECT_EQ(j["counts"]["misdirected"], 2);
  EXPECT_EQ(j["counts"]["stale"], 1);
  ASSERT_EQ(j["bad_blocks"].size(), 6u);
  EXPECT_EQ(j["bad_blocks"][0]["offset"], 3 * kBs);
  EXPECT_EQ(j["bad_blocks"][0]["kind"], "corrupted");
  EXPECT_EQ(j["bad_blocks"][5]["offset"], 40 * kBs);
  EXPECT_EQ(j["bad_blocks_more"], 0);
}

TEST(Verify, RewritingANewSequenceLeavesOnlyTheUnwrittenBlocksStale) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  VerifyConfig c = Config(dir / "f");
  c.sequence = 1;
  ASSERT_EQ(RunVerify(c).BadCount(), 0u);
  // Sequence 2 over the first 16 blocks only (an interrupted rewrite).
  c.sequence = 2;
  c.size = 16 * kBs;
  ASSERT_FALSE(RunVerify(c).created);
  c.size = kBlocks * kBs;
  c.verify_only = true;
  VerifyReport r = RunVerify(c);
  EXPECT_EQ(Count(r, BlockKind::kStale), kBlocks - 16);
  EXPECT_EQ(r.bad.begin()->first, 16 * kBs);
  EXPECT_EQ(Count(r, BlockKind::kGood), 16u);
}

TEST(Verify, WrongSeedIsReportedAsAMismatchWithTheSeedThatWasUsed) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  VerifyConfig c = Config(dir / "f");
  c.seed = 5;
  ASSERT_EQ(RunVerify(c).BadCount(), 0u);
  RunResult run = RunProgram(
      {Tool(), "verify", c.path, "--verify_only", "--seed", "9", "--sequence", "2"}, dir.path());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("mismatch:    64"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("note: 64 block(s) were written with --seed 5, not --seed 9"),
            std::string::npos)
      << run.out;
  // A wrong --bs is named too.
  run = RunProgram(
      {Tool(), "verify", c.path, "--verify_only", "--seed", "5", "--sequence", "2", "--bs", "8k"},
      dir.path());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("--bs 4096, not --bs 8192"), std::string::npos) << run.out;
}

TEST(Verify, TruncatedFileEndsInACorruptedBlockThenLostOnes) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  VerifyConfig c = Config(dir / "f");
  ASSERT_EQ(RunVerify(c).BadCount(), 0u);
  ASSERT_EQ(truncate(c.path.c_str(), 10 * kBs + 2048), 0);
  c.verify_only = true;
  c.size = 16 * kBs;
  VerifyReport r = RunVerify(c);
  EXPECT_EQ(r.file_size, 10 * kBs + 2048);
  ASSERT_EQ(r.bad.size(), 6u);
  EXPECT_EQ(r.bad.begin()->first, 10 * kBs);
  EXPECT_EQ(r.bad.begin()->second.kind, BlockKind::kCorrupted);
  EXPECT_NE(r.bad.begin()->second.detail.find("the file ends 2048 bytes into the block"),
            std::string::npos);
  for (uint64_t b = 11; b < 16; ++b) {
    EXPECT_EQ(r.bad.at(b * kBs).kind, BlockKind::kLost);
    EXPECT_EQ(r.bad.at(b * kBs).detail, "past the end of the file");
  }
  // Without --size: the file's size rounded up to a block.
  c.size_given = false;
  r = RunVerify(c);
  EXPECT_EQ(r.blocks, 11u);
  EXPECT_EQ(r.BadCount(), 1u);
}

TEST(Verify, ListKeepsTheLowestOffsetsAndCountsTheRest) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  VerifyConfig c = Config(dir / "f");
  c.bs = 512;
  c.size = 1100 * 512;
  ASSERT_EQ(RunVerify(c).BadCount(), 0u);
  RunResult run = RunProgram({Tool(), "verify", c.path, "--verify_only", "--bs", "512", "--seed",
                              "1", "--sequence", "2", "--output-format", "json"},
                             dir.path());
  EXPECT_EQ(run.exit_code, 1) << run.err;
  auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j["bad"], 1100);
  EXPECT_EQ(j["counts"]["mismatch"], 1100);
  ASSERT_EQ(j["bad_blocks"].size(), kMaxListed);
  EXPECT_EQ(j["bad_blocks"][0]["offset"], 0);
  EXPECT_EQ(j["bad_blocks"][999]["offset"], 999 * 512);
  EXPECT_EQ(j["bad_blocks_more"], 100);
  // The normal output lists the first 20.
  run = RunProgram(
      {Tool(), "verify", c.path, "--verify_only", "--bs", "512", "--seed", "1", "--sequence", "2"},
      dir.path());
  EXPECT_NE(run.out.find("bad blocks (first 20 of 1100):"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("offset 9728 (block 19)"), std::string::npos);
  EXPECT_EQ(run.out.find("offset 10240 (block 20)"), std::string::npos);
}

TEST(Verify, EveryBackendAndDirectIo) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  for (const faio_backend_info& b : Backends()) {
    if (!b.available) continue;
#if defined(__SANITIZE_THREAD__)
    // glibc's POSIX AIO workers are not instrumented (see the README).
    if (std::string(b.name) == "posix_aio") continue;
#endif
    for (bool direct : {false, true}) {
      if (direct && testing::ODirectRefused(dir.path())) continue;
      SCOPED_TRACE(std::string(b.name) + (direct ? " direct" : " buffered"));
      VerifyConfig c = Config(dir / (std::string(b.name) + (direct ? ".d" : ".b")));
      c.backend = b.name;
      c.direct = direct;
      VerifyReport r = RunVerify(c);
      EXPECT_EQ(r.backend, b.name);
      EXPECT_EQ(r.BadCount(), 0u);
      c.verify_only = true;
      EXPECT_EQ(RunVerify(c).BadCount(), 0u);
    }
  }
}

// A read that fails (EIO from the fault backend: the 1st read, which is the
// whole 256 KiB chunk, and the 4th, which is block 2 when the chunk is re-read
// block by block at --iodepth 1) makes that block, and only it, "unreadable".
TEST(Verify, AFailedReadMarksOnlyItsBlockUnreadable) {
  bool have_fault = false;
  for (const faio_backend_info& b : Backends()) {
    have_fault = have_fault || (b.available && std::string(b.name) == "fault");
  }
  if (!have_fault) GTEST_SKIP() << "the fault backend is not compiled in";
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  VerifyConfig c = Config(dir / "f");
  c.backend = "threads";
  ASSERT_EQ(RunVerify(c).BadCount(), 0u);
  c.backend = "fault";
  c.verify_only = true;
  c.iodepth = 1;
  ASSERT_EQ(setenv("FAIO_FAULTS", "inner=threads,eio/read#1,eio/read#4", 1), 0);
  VerifyReport r = RunVerify(c);
  unsetenv("FAIO_FAULTS");
  EXPECT_EQ(r.blocks, kBlocks);
  EXPECT_EQ(r.BadCount(), 1u);
  EXPECT_EQ(Count(r, BlockKind::kUnreadable), 1u);
  std::map<uint64_t, BlockKind> want = {{2 * kBs, BlockKind::kUnreadable}};
  EXPECT_EQ(Kinds(r), want);
  ASSERT_EQ(r.bad.count(2 * kBs), 1u);
  const std::string& detail = r.bad.at(2 * kBs).detail;
  EXPECT_NE(detail.find("the read failed"), std::string::npos) << detail;
  EXPECT_NE(detail.find("FAIO_E_IO"), std::string::npos) << detail;
}

TEST(Verify, UsageErrorsAndTroubleExitWith2) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  std::string f = dir / "f";
  auto code = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {Tool(), "verify"});
    RunResult r = RunProgram(args, dir.path());
    EXPECT_FALSE(r.err.empty());
    return r.exit_code;
  };
  EXPECT_EQ(code({f, "--bs", "32"}), 2);                     // smaller than the header
  EXPECT_EQ(code({f, "--bs", "4k", "--size", "10000"}), 2);  // not a multiple
  EXPECT_EQ(code({f, "--seed", "x"}), 2);
  EXPECT_EQ(code({f, "--backend", "nosuch"}), 2);
  EXPECT_EQ(code({f, "--output-format", "xml"}), 2);
  EXPECT_EQ(code({dir / "missing", "--verify_only"}), 2);  // nothing to check
  EXPECT_FALSE(Exists(f));                                 // nothing was created by a refused run
  testing::WriteFile(f, {});
  RunResult r = RunProgram({Tool(), "verify", f, "--verify_only"}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is empty"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace faio::tool
