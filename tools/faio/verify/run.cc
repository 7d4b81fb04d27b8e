// run.cc - see run.h.
//
// I/O goes in chunks of whole blocks (up to 1 MiB, at least one block), one
// chunk per request, --iodepth requests in flight. When a chunk cannot be read,
// its blocks are read again one by one, so that a failing sector marks only its
// own block "unreadable".
#include "verify/run.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <faio/faio.hpp>
#include <utility>

#include "cli/common.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "host/file.h"
#include "host/host.h"
#include "io/context.h"
#include "io/pump.h"

namespace faio::tool {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kChunkTarget = uint64_t{1} << 20;

ToolError Trouble(const std::string& message) { return ToolError(kVerifyTrouble, message); }

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// OpenTarget opens the file to write or check, and checks --direct against it.
File OpenTarget(const VerifyConfig& c, bool* created) {
  int e = 0;
  File f;
  *created = false;
  if (c.verify_only) {
    f = OpenFile(c.path, {Access::kRead, Create::kNo, c.direct}, &e);
  } else {
    f = OpenFile(c.path, {Access::kReadWrite, Create::kExclusive, c.direct, 0644}, &e);
    if (f.is_open()) {
      *created = true;
    } else if (IsError(e, FileError::kExists)) {
      f = OpenFile(c.path, {Access::kReadWrite, Create::kNo, c.direct}, &e);
    }
  }
  if (!f.is_open()) {
    if (c.direct && IsError(e, FileError::kDirectRefused)) {
      throw UsageError(fmt::format(
          "--direct 1: the file system of {} does not accept O_DIRECT; use --direct 0", c.path));
    }
    throw Trouble(fmt::format("{}: cannot {}: {}", c.path,
                              c.verify_only ? "open" : "open or create", FileErrorText(e)));
  }
  FileStatus st;
  if (!StatFile(f.get(), &st, &e)) throw Trouble(fmt::format("{}: {}", c.path, FileErrorText(e)));
  if (st.kind != FileKind::kRegular) {
    throw Trouble(
        fmt::format("{}: {}", c.path,
                    st.kind == FileKind::kDirectory ? "is a directory" : "not a regular file"));
  }
  if (c.direct) {
    faio_alignment al{};
    int s = faio_file_alignment(f.get(), &al);
    uint32_t need = s == FAIO_OK ? al.offset : 512;
    if (need > 1 && c.bs % need != 0) {
      throw UsageError(
          fmt::format("--bs {}: not a multiple of the direct-I/O alignment of {} ({} bytes)", c.bs,
                      c.path, need));
    }
  }
  return f;
}

// FileSize is the size of the open file.
uint64_t FileSize(faio_file f, const std::string& path) {
  FileStatus st;
  int e = 0;
  if (!StatFile(f, &st, &e)) throw Trouble(fmt::format("{}: {}", path, FileErrorText(e)));
  return st.size;
}

uint32_t MemoryAlignment(faio_file fd) {
  faio_alignment al{};
  return faio_file_alignment(fd, &al) == FAIO_OK ? al.memory : 0;
}

// SlotsFor is how many slots `size` bytes in chunks can keep busy.
uint32_t SlotsFor(uint64_t size, uint64_t chunk, uint32_t iodepth) {
  return static_cast<uint32_t>(std::clamp<uint64_t>((size + chunk - 1) / chunk, 1, iodepth));
}

// SlotJob is what one slot is doing: a chunk of blocks, perhaps block by block.
struct SlotJob {
  uint64_t off = 0;     // first byte of the chunk
  size_t len = 0;       // bytes in the chunk (whole blocks)
  size_t done = 0;      // bytes transferred so far (short transfers continue)
  bool single = false;  // re-reading the chunk block by block after a failed read
  size_t block = 0;     // the block being re-read, when single
};

void WriteFile(faio::Context& ctx, faio_file fd, const VerifyConfig& c, size_t chunk) {
  Pump pump(ctx, SlotsFor(c.size, chunk, c.iodepth), chunk, BufferAlignment(MemoryAlignment(fd)));
  std::vector<SlotJob> jobs(pump.slots());
  uint64_t next = 0, written = 0;
  Progress progress("writing", c.size, c.progress);

  auto refill = [&](uint32_t slot) {
    if (next >= c.size) return false;
    SlotJob& j = jobs[slot];
    j = SlotJob{next, static_cast<size_t>(std::min<uint64_t>(chunk, c.size - next)), 0};
    std::byte* buf = pump.Buffer(slot);
    for (size_t b = 0; b < j.len; b += c.bs) {
      EncodeBlock(std::span<std::byte>(buf + b, c.bs), j.off + b, c.sequence, c.seed);
    }
    next += j.len;
    pump.Write(slot, fd, j.off, buf, j.len);
    return true;
  };
  auto complete = [&](uint32_t slot, int st, size_t n, int host_error) {
    SlotJob& j = jobs[slot];
    if (st != FAIO_OK) {
      pump.Fail(fmt::format("writing {} at offset {} ({} bytes) failed: {}", c.path, j.off + j.done,
                            j.len - j.done, StatusText(st, host_error)));
      return;
    }
    if (n == 0) {
      pump.Fail(fmt::format("writing {} at offset {}: the write transferred nothing", c.path,
                            j.off + j.done));
      return;
    }
    j.done += n;
    written += n;
    if (j.done < j.len) {
      pump.Write(slot, fd, j.off + j.done, pump.Buffer(slot) + j.done, j.len - j.done);
    }
  };
  pump.Run(refill, complete, [&] { progress.Update(written, written); });
  progress.Finish();
  if (pump.interrupted()) throw ToolError(kExitInterrupted, "interrupted while writing");
  if (!pump.error().empty()) throw Trouble(pump.error());

  int host_error = 0;
  int st = pump.Flush(fd, /*full=*/true, &host_error);
  if (st != FAIO_OK) {
    throw Trouble(fmt::format("flushing {} failed: {}", c.path, StatusText(st, host_error)));
  }
}

void Record(VerifyReport& r, uint64_t off, BlockKind kind, std::string detail) {
  ++r.counts[static_cast<int>(kind)];
  if (kind == BlockKind::kGood) return;
  if (r.bad.size() >= kMaxListed && off > r.bad.rbegin()->first) return;
  r.bad[off] = BadBlock{off, kind, std::move(detail)};
  if (r.bad.size() > kMaxListed) r.bad.erase(std::prev(r.bad.end()));
}

// Hints collects what the valid-looking headers of mismatched blocks say.
struct Hints {
  std::map<uint64_t, uint64_t> seeds;      // seed -> blocks written with it
  std::map<uint64_t, uint64_t> sequences;  // newer sequence -> blocks
  std::map<uint32_t, uint64_t> lengths;    // block length -> blocks
  uint64_t headers = 0;                    // blocks that carried the magic
};

// Checker reads the file back in chunks through a Pump and judges every block;
// a chunk whose read fails is read again block by block.
class Checker {
 public:
  Checker(faio::Context& ctx, faio_file fd, VerifyReport& r, size_t chunk)
      : fd_(fd),
        r_(r),
        c_(r.config),
        chunk_(chunk),
        pump_(ctx, SlotsFor(c_.size, chunk, c_.iodepth), chunk,
              BufferAlignment(MemoryAlignment(fd))),
        jobs_(pump_.slots()) {}

  void Run() {
    Progress progress("checking", c_.size, c_.progress);
    pump_.Run([this](uint32_t slot) { return Refill(slot); },
              [this](uint32_t slot, int st, size_t n, int host_error) {
                Complete(slot, st, n, host_error);
              },
              [&] { progress.Update(checked_, checked_); });
    progress.Finish();
    if (pump_.interrupted()) throw ToolError(kExitInterrupted, "interrupted while checking");
    if (!pump_.error().empty()) throw Trouble(pump_.error());
    ExplainPatterns();
  }

 private:
  bool Refill(uint32_t slot) {
    if (next_ >= c_.size) return false;
    SlotJob& j = jobs_[slot];
    j = SlotJob{next_, static_cast<size_t>(std::min<uint64_t>(chunk_, c_.size - next_)), 0};
    next_ += j.len;
    pump_.Read(slot, fd_, j.off, pump_.Buffer(slot), j.len);
    return true;
  }

  void Complete(uint32_t slot, int st, size_t n, int host_error) {
    if (pump_.stopping()) return;  // interrupted: the report is not printed anyway
    if (jobs_[slot].single) {
      BlockDone(slot, st, n, host_error);
    } else {
      ChunkDone(slot, st, n, host_error);
    }
  }

  void ChunkDone(uint32_t slot, int st, size_t n, int host_error) {
    SlotJob& j = jobs_[slot];
    if (st != FAIO_OK) {
      if (j.len == c_.bs) {  // a one-block chunk: that block is unreadable
        Unreadable(j.off, st, host_error);
        checked_ += j.len;
        return;
      }
      j.single = true;  // find out which blocks of the chunk are unreadable
      j.block = 0;
      ReadBlock(slot);
      return;
    }
    j.done += n;
    if (n > 0 && j.done < j.len && j.off + j.done < r_.file_size) {
      pump_.Read(slot, fd_, j.off + j.done, pump_.Buffer(slot) + j.done, j.len - j.done);
      return;
    }
    JudgeChunk(slot, j.done);
  }

  // BlockDone handles a block read alone, after its chunk's read failed.
  void BlockDone(uint32_t slot, int st, size_t n, int host_error) {
    SlotJob& j = jobs_[slot];
    std::byte* buf = pump_.Buffer(slot) + j.block;
    uint64_t off = j.off + j.block;
    if (st != FAIO_OK) {
      Unreadable(off, st, host_error);
    } else {
      j.done += n;
      if (n > 0 && j.done < c_.bs && off + j.done < r_.file_size) {
        pump_.Read(slot, fd_, off + j.done, buf + j.done, c_.bs - j.done);
        return;
      }
      std::memset(buf + j.done, 0, c_.bs - j.done);
      Judge(buf, off, j.done);
    }
    j.block += c_.bs;
    if (j.block < j.len) {
      ReadBlock(slot);
    } else {
      checked_ += j.len;
    }
  }

  void ReadBlock(uint32_t slot) {
    SlotJob& j = jobs_[slot];
    j.done = 0;
    pump_.Read(slot, fd_, j.off + j.block, pump_.Buffer(slot) + j.block, c_.bs);
  }

  void Unreadable(uint64_t off, int st, int host_error) {
    ++r_.blocks;
    Record(r_, off, BlockKind::kUnreadable,
           fmt::format("the read failed: {}", StatusText(st, host_error)));
  }

  // JudgeChunk judges the blocks of a chunk whose read got `got` bytes and
  // ended there (the end of the file).
  void JudgeChunk(uint32_t slot, size_t got) {
    SlotJob& j = jobs_[slot];
    std::byte* buf = pump_.Buffer(slot);
    std::memset(buf + got, 0, j.len - got);
    for (size_t b = 0; b < j.len; b += c_.bs) {
      size_t valid = got > b ? std::min<size_t>(got - b, c_.bs) : 0;
      Judge(buf + b, j.off + b, valid);
    }
    checked_ += j.len;
  }

  void Judge(const std::byte* data, uint64_t off, size_t valid) {
    Expected want{off, c_.sequence, c_.seed, c_.bs};
    Verdict v = ClassifyBlock(std::span<const std::byte>(data, c_.bs), valid, want);
    if (v.header_valid) {
      ++hints_.headers;
      if (v.kind == BlockKind::kMismatch) {
        if (v.header.block_len != c_.bs) {
          ++hints_.lengths[v.header.block_len];
        } else if (v.header.seed != c_.seed) {
          ++hints_.seeds[v.header.seed];
        } else {
          ++hints_.sequences[v.header.sequence];
        }
      }
    }
    ++r_.blocks;
    Record(r_, off, v.kind, std::move(v.detail));
  }

  void ExplainPatterns() {
    for (const auto& [seed, n] : hints_.seeds) {
      r_.hints.push_back(
          fmt::format("{} block(s) were written with --seed {}, not --seed {}", n, seed, c_.seed));
    }
    for (const auto& [len, n] : hints_.lengths) {
      r_.hints.push_back(
          fmt::format("{} block(s) were written with --bs {}, not --bs {}", n, len, c_.bs));
    }
    for (const auto& [seq, n] : hints_.sequences) {
      r_.hints.push_back(fmt::format("{} block(s) carry sequence {}, newer than --sequence {}", n,
                                     seq, c_.sequence));
    }
    if (hints_.headers == 0 && r_.blocks > 0 &&
        r_.counts[static_cast<int>(BlockKind::kCorrupted)] > 0) {
      r_.hints.push_back(fmt::format(
          "no block of {} has a faio verify header: was it written by `faio verify`?", c_.path));
    }
    if (r_.file_size < c_.size) {
      r_.hints.push_back(fmt::format(
          "the file is {} bytes, shorter than the {} checked: blocks past its end count as lost",
          r_.file_size, c_.size));
    }
  }

  faio_file fd_;
  VerifyReport& r_;
  const VerifyConfig& c_;
  size_t chunk_;
  Pump pump_;
  std::vector<SlotJob> jobs_;
  uint64_t next_ = 0, checked_ = 0;
  Hints hints_;
};

// CheckConfig refuses option values that cannot work together.
void CheckConfig(const VerifyConfig& c) {
  if (c.bs < kHeaderSize) {
    throw UsageError(
        fmt::format("--bs {}: smaller than the block header ({} bytes)", c.bs, kHeaderSize));
  }
  if (c.iodepth == 0) throw UsageError("--iodepth 0: at least 1");
  if (c.size_given && c.size % c.bs != 0) {
    throw UsageError(fmt::format("--size {}: not a multiple of --bs {}", c.size, c.bs));
  }
  if (!c.verify_only && !c.size_given && c.size % c.bs != 0) {
    throw UsageError(fmt::format(
        "--bs {}: the default --size {} is not a multiple of it; give --size", c.bs, c.size));
  }
}

}  // namespace

VerifyReport RunVerify(const VerifyConfig& config) {
  VerifyReport r;
  r.config = config;
  VerifyConfig& c = r.config;
  CheckConfig(c);

  faio::Context ctx;
  try {
    ctx = OpenContext(c.backend, c.iodepth + 1);
  } catch (const ToolError& e) {
    if (e.exit_code() == kExitFailure) throw Trouble(e.what());
    throw;
  }
  r.backend = ctx.Backend() != nullptr ? ctx.Backend() : "?";
  File file = OpenTarget(c, &r.created);
  uint64_t have = FileSize(file.get(), c.path);
  if (c.verify_only && !c.size_given) {
    if (have == 0) {
      throw Trouble(fmt::format(
          "{} is empty: nothing to check (give --size to count its blocks as lost)", c.path));
    }
    c.size = (have + c.bs - 1) / c.bs * c.bs;
  }
  if (c.size == 0) throw UsageError("--size 0: nothing to do");
  const size_t chunk =
      static_cast<size_t>(std::max<uint64_t>(1, kChunkTarget / c.bs)) * static_cast<size_t>(c.bs);

  if (!c.verify_only) {
    Clock::time_point t = Clock::now();
    WriteFile(ctx, file.get(), c, chunk);
    r.write_seconds = Since(t);
    // Read back from the device, not from the page cache (the data is durable
    // now, so the pages are clean and can be dropped; a best effort).
    if (!c.direct) DropCache(file.get());
    have = FileSize(file.get(), c.path);
  }
  r.file_size = have;

  Clock::time_point t = Clock::now();
  Checker(ctx, file.get(), r, chunk).Run();
  r.check_seconds = Since(t);
  return r;
}

}  // namespace faio::tool
