// run.h - the engine of `faio verify`: writes a file of self-describing
// blocks (block_format.h) through faio, then reads it back and names every bad
// block. verify.cc turns the command line into a VerifyConfig and prints the
// VerifyReport; tests call RunVerify directly.
//
// Threads: RunVerify runs on the calling thread; it reads the process-wide
// interrupt flag (host/host.h) but installs no signal handler.
#ifndef FAIO_TOOLS_FAIO_VERIFY_RUN_H_
#define FAIO_TOOLS_FAIO_VERIFY_RUN_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "verify/block_format.h"

namespace faio::tool {

// Exit codes of `faio verify` (as cmp and diff: 1 means "differences found").
inline constexpr int kVerifyClean = 0;
inline constexpr int kVerifyBad = 1;      // at least one bad block
inline constexpr int kVerifyTrouble = 2;  // bad options, or the check could not run

// kMaxListed is how many bad blocks a report keeps (those at the lowest offsets).
inline constexpr size_t kMaxListed = 1000;

struct VerifyConfig {
  std::string path;
  uint64_t size = uint64_t{64} << 20;  // bytes to write / check; a multiple of bs
  bool size_given = false;             // verify_only without it: the file's size, rounded up to bs
  uint32_t bs = 4096;
  uint32_t iodepth = 16;
  std::string backend = "auto";
  bool direct = false;
  uint64_t seed = 1;
  uint64_t sequence = 1;
  bool verify_only = false;
  bool progress = false;  // draw a progress line on stderr
};

struct BadBlock {
  uint64_t offset = 0;
  BlockKind kind = BlockKind::kGood;
  std::string detail;
};

struct VerifyReport {
  VerifyConfig config;     // as run (size filled in for verify_only)
  std::string backend;     // the backend the context runs on
  bool created = false;    // the write phase created the file
  uint64_t file_size = 0;  // the file's size when it was checked
  double write_seconds = 0;
  double check_seconds = 0;
  uint64_t blocks = 0;                         // blocks checked
  std::array<uint64_t, kBlockKinds> counts{};  // per BlockKind (kGood included)
  std::map<uint64_t, BadBlock> bad;            // the kMaxListed bad blocks at the lowest offsets
  std::vector<std::string> hints;              // sentences that explain a pattern of bad blocks

  uint64_t BadCount() const { return blocks - counts[static_cast<int>(BlockKind::kGood)]; }
};

// RunVerify writes (unless config.verify_only) and checks config.path. Throws
// ToolError with kVerifyTrouble for bad options and for failures that keep the
// check from running (the file cannot be opened, a write or the flush fails,
// the context cannot be created), and with kExitInterrupted on Ctrl-C. Bad
// blocks are not errors: they are in the report.
VerifyReport RunVerify(const VerifyConfig& config);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_VERIFY_RUN_H_
