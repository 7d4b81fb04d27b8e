// run.cc - see run.h.
//
// I/O goes in chunks of whole blocks (up to 1 MiB, at least one block), one
// chunk per request, --iodepth requests in flight. When a chunk cannot be read,
// its blocks are read again one by one, so that a failing sector marks only its
// own block "unreadable".
#include "verify/run.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

// Fd closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

ToolError Trouble(const std::string& message) { return ToolError(kVerifyTrouble, message); }

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// OpenFile opens the file to write or check, and checks --direct against it.
int OpenFile(const VerifyConfig& c, bool* created) {
  int dflag = c.direct ? O_DIRECT : 0;
  int fd = -1;
  *created = false;
  if (c.verify_only) {
    fd = open(c.path.c_str(), O_RDONLY | O_CLOEXEC | dflag);
  } else {
    fd = open(c.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | dflag, 0644);
    if (fd >= 0) {
      *created = true;
    } else if (errno == EEXIST) {
      fd = open(c.path.c_str(), O_RDWR | O_CLOEXEC | dflag);
    }
  }
  if (fd < 0) {
    int e = errno;
    if (e == EINVAL && c.direct) {
      throw UsageError(fmt::format(
          "--direct 1: the file system of {} does not accept O_DIRECT; use --direct 0", c.path));
    }
    throw Trouble(fmt::format("{}: cannot {}: {}", c.path,
                              c.verify_only ? "open" : "open or create", FileErrorText(e)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    close(fd);
    throw Trouble(fmt::format("{}: {}", c.path,
                              S_ISDIR(st.st_mode) ? "is a directory"
                              : e != 0            ? FileErrorText(e)
                                                  : "not a regular file"));
  }
  if (c.direct) {
    faio_alignment al{};
    int s = faio_file_alignment(fd, &al);
    uint32_t need = s == FAIO_OK ? al.offset : 512;
    if (need > 1 && c.bs % need != 0) {
      close(fd);
      throw UsageError(
          fmt::format("--bs {}: not a multiple of the direct-I/O alignment of {} ({} "
                      "bytes)",
                      c.bs, c.path, need));
    }
  }
  return fd;
}

uint32_t MemoryAlignment(int fd) {
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

void WriteFile(faio::Context& ctx, int fd, const VerifyConfig& c, size_t chunk) {
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

void CheckFile(faio::Context& ctx, int fd, VerifyReport& r, size_t chunk) {
  const VerifyConfig& c = r.config;
  Pump pump(ctx, SlotsFor(c.size, chunk, c.iodepth), chunk, BufferAlignment(MemoryAlignment(fd)));
  std::vector<SlotJob> jobs(pump.slots());
  uint64_t next = 0, checked = 0;
  Hints hints;
  Progress progress("checking", c.size, c.progress);

  auto judge = [&](const std::byte* data, uint64_t off, size_t valid) {
    Expected want{off, c.sequence, c.seed, c.bs};
    Verdict v = ClassifyBlock(std::span<const std::byte>(data, c.bs), valid, want);
    if (v.header_valid) {
      ++hints.headers;
      if (v.kind == BlockKind::kMismatch) {
        if (v.header.block_len != c.bs) {
          ++hints.lengths[v.header.block_len];
        } else if (v.header.seed != c.seed) {
          ++hints.seeds[v.header.seed];
        } else {
          ++hints.sequences[v.header.sequence];
        }
      }
    }
    ++r.blocks;
    Record(r, off, v.kind, std::move(v.detail));
  };
  // Judge the blocks of a chunk whose read got `got` bytes and ended there
  // (the end of the file).
  auto judge_chunk = [&](uint32_t slot, size_t got) {
    SlotJob& j = jobs[slot];
    std::byte* buf = pump.Buffer(slot);
    std::memset(buf + got, 0, j.len - got);
    for (size_t b = 0; b < j.len; b += c.bs) {
      size_t valid = got > b ? std::min<size_t>(got - b, c.bs) : 0;
      judge(buf + b, j.off + b, valid);
    }
    checked += j.len;
  };
  auto read_single = [&](uint32_t slot) {
    SlotJob& j = jobs[slot];
    j.done = 0;
    pump.Read(slot, fd, j.off + j.block, pump.Buffer(slot) + j.block, c.bs);
  };

  auto refill = [&](uint32_t slot) {
    if (next >= c.size) return false;
    SlotJob& j = jobs[slot];
    j = SlotJob{next, static_cast<size_t>(std::min<uint64_t>(chunk, c.size - next)), 0};
    next += j.len;
    pump.Read(slot, fd, j.off, pump.Buffer(slot), j.len);
    return true;
  };
  auto complete = [&](uint32_t slot, int st, size_t n, int host_error) {
    SlotJob& j = jobs[slot];
    if (pump.stopping()) return;  // interrupted: the report is not printed anyway
    if (!j.single) {
      if (st != FAIO_OK) {
        if (j.len == c.bs) {  // a one-block chunk: that block is unreadable
          ++r.blocks;
          Record(r, j.off, BlockKind::kUnreadable,
                 fmt::format("the read failed: {}", StatusText(st, host_error)));
          checked += j.len;
          return;
        }
        j.single = true;  // find out which blocks of the chunk are unreadable
        j.block = 0;
        read_single(slot);
        return;
      }
      j.done += n;
      if (n > 0 && j.done < j.len && j.off + j.done < r.file_size) {
        pump.Read(slot, fd, j.off + j.done, pump.Buffer(slot) + j.done, j.len - j.done);
        return;
      }
      judge_chunk(slot, j.done);
      return;
    }
    // Block by block.
    std::byte* buf = pump.Buffer(slot) + j.block;
    uint64_t off = j.off + j.block;
    if (st != FAIO_OK) {
      ++r.blocks;
      Record(r, off, BlockKind::kUnreadable,
             fmt::format("the read failed: {}", StatusText(st, host_error)));
    } else {
      j.done += n;
      if (n > 0 && j.done < c.bs && off + j.done < r.file_size) {
        pump.Read(slot, fd, off + j.done, buf + j.done, c.bs - j.done);
        return;
      }
      std::memset(buf + j.done, 0, c.bs - j.done);
      judge(buf, off, j.done);
    }
    j.block += c.bs;
    if (j.block < j.len) {
      read_single(slot);
    } else {
      checked += j.len;
    }
  };
  pump.Run(refill, complete, [&] { progress.Update(checked, checked); });
  progress.Finish();
  if (pump.interrupted()) throw ToolError(kExitInterrupted, "interrupted while checking");
  if (!pump.error().empty()) throw Trouble(pump.error());

  // Explain patterns.
  for (const auto& [seed, n] : hints.seeds) {
    r.hints.push_back(
        fmt::format("{} block(s) were written with --seed {}, not --seed {}", n, seed, c.seed));
  }
  for (const auto& [len, n] : hints.lengths) {
    r.hints.push_back(
        fmt::format("{} block(s) were written with --bs {}, not --bs {}", n, len, c.bs));
  }
  for (const auto& [seq, n] : hints.sequences) {
    r.hints.push_back(
        fmt::format("{} block(s) carry sequence {}, newer than --sequence {}", n, seq, c.sequence));
  }
  if (hints.headers == 0 && r.blocks > 0 && r.counts[static_cast<int>(BlockKind::kCorrupted)] > 0) {
    r.hints.push_back(
        fmt::format("no block of {} has a faio verify header: was it written by "
                    "`faio verify`?",
                    c.path));
  }
  if (r.file_size < c.size) {
    r.hints.push_back(fmt::format(
        "the file is {} bytes, shorter than the {} checked: blocks past its end count as lost",
        r.file_size, c.size));
  }
}

}  // namespace

VerifyReport RunVerify(const VerifyConfig& config) {
  VerifyReport r;
  r.config = config;
  VerifyConfig& c = r.config;
  if (c.bs < kHeaderSize) {
    throw UsageError(
        fmt::format("--bs {}: smaller than the block header ({} bytes)", c.bs, kHeaderSize));
  }
  if (c.iodepth == 0) throw UsageError("--iodepth 0: at least 1");
  if (c.size_given && c.size % c.bs != 0) {
    throw UsageError(fmt::format("--size {}: not a multiple of --bs {}", c.size, c.bs));
  }
  if (!c.verify_only && !c.size_given && c.size % c.bs != 0) {
    throw UsageError(
        fmt::format("--bs {}: the default --size {} is not a multiple of it; give "
                    "--size",
                    c.bs, c.size));
  }

  faio::Context ctx;
  try {
    ctx = OpenContext(c.backend, c.iodepth + 1);
  } catch (const ToolError& e) {
    if (e.exit_code() == kExitFailure) throw Trouble(e.what());
    throw;
  }
  r.backend = ctx.Backend() != nullptr ? ctx.Backend() : "?";
  Fd fd(OpenFile(c, &r.created));

  struct stat st;
  if (fstat(fd.get(), &st) != 0) throw Trouble(fmt::format("{}: {}", c.path, FileErrorText(errno)));
  if (c.verify_only && !c.size_given) {
    uint64_t have = static_cast<uint64_t>(st.st_size);
    if (have == 0) {
      throw Trouble(
          fmt::format("{} is empty: nothing to check (give --size to count its blocks "
                      "as lost)",
                      c.path));
    }
    c.size = (have + c.bs - 1) / c.bs * c.bs;
  }
  if (c.size == 0) throw UsageError("--size 0: nothing to do");
  const size_t chunk =
      static_cast<size_t>(std::max<uint64_t>(1, kChunkTarget / c.bs)) * static_cast<size_t>(c.bs);

  if (!c.verify_only) {
    Clock::time_point t = Clock::now();
    WriteFile(ctx, fd.get(), c, chunk);
    r.write_seconds = Since(t);
    if (!c.direct) {
      // Read back from the device, not from the page cache (the data is durable
      // now, so the pages are clean and can be dropped; a best effort).
      (void)posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    }
    if (fstat(fd.get(), &st) != 0)
      throw Trouble(fmt::format("{}: {}", c.path, FileErrorText(errno)));
  }
  r.file_size = static_cast<uint64_t>(st.st_size);

  Clock::time_point t = Clock::now();
  CheckFile(ctx, fd.get(), r, chunk);
  r.check_seconds = Since(t);
  return r;
}

}  // namespace faio::tool
