// copy.cc - see copy.h.
//
// The copy runs --iodepth slots, each with a --bs buffer, each cycling
// read SRC -> write DST through one faio request; slots run independently, so
// reads and writes are in flight together and writes complete in any order.
// Only the data extents of SRC (SEEK_DATA/SEEK_HOLE) are read; DST is first cut
// to SRC's size (ftruncate), so what is not written stays a hole.
//
// Direct I/O needs offsets and lengths aligned to the files' direct-I/O
// alignment. Extents are widened to it (reading a little of a hole reads
// zeros), and the last block, where SRC ends inside an aligned unit, is read
// short and written padded with zeros to the alignment; DST is then cut back to
// SRC's exact size with ftruncate before the final flush.
#include "cp/copy.h"

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
#include <vector>

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

constexpr uint64_t kMaxTransfer = 0x7ffff000;  // the largest single Linux transfer
constexpr uint64_t kMaxBufferBytes = uint64_t{4} << 30;
constexpr uint32_t kMaxIodepth = 4096;
constexpr uint32_t kAssumedAlignment = 4096;  // when O_DIRECT works but statx cannot tell

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(-1); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// DstGuard undoes DST on every way out of CopyFile but success: removes the
// file it created, or empties the file it overwrote.
class DstGuard {
 public:
  DstGuard(std::string path, int fd, bool created)
      : path_(std::move(path)), fd_(fd), created_(created) {}
  ~DstGuard() {
    if (!armed_) return;
    if (created_) {
      unlink(path_.c_str());
    } else {
      (void)ftruncate(fd_, 0);
    }
  }
  DstGuard(const DstGuard&) = delete;
  DstGuard& operator=(const DstGuard&) = delete;
  void Disarm() { armed_ = false; }
  std::string Undone() const {
    return created_ ? fmt::format("{} removed", path_)
                    : fmt::format("{} (which existed) left truncated to 0 bytes", path_);
  }

 private:
  std::string path_;
  int fd_;
  bool created_;
  bool armed_ = true;
};

uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
uint64_t RoundDown(uint64_t v, uint64_t a) { return v / a * a; }

std::string Dirname(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// Extents walks the data extents of a file with SEEK_DATA/SEEK_HOLE. Where the
// file system cannot tell (EINVAL, EOPNOTSUPP), the whole file is one extent.
class Extents {
 public:
  Extents(int fd, uint64_t size) : fd_(fd), size_(size) {}
  // Next finds the next extent at or after `pos`: true and [*start, *end), or
  // false with *error empty at the end, or with the reason on failure.
  bool Next(uint64_t pos, uint64_t* start, uint64_t* end, std::string* error) {
    if (pos >= size_) return false;
    if (!sparse_) {
      *start = pos;
      *end = size_;
      return true;
    }
    off_t d = lseek(fd_, static_cast<off_t>(pos), SEEK_DATA);
    if (d < 0) {
      if (errno == ENXIO) return false;
      if (errno == EINVAL || errno == EOPNOTSUPP) {
        sparse_ = false;
        *start = pos;
        *end = size_;
        return true;
      }
      *error = fmt::format("lseek(SEEK_DATA) at {}: {}", pos, FileErrorText(errno));
      return false;
    }
    if (static_cast<uint64_t>(d) >= size_) return false;
    off_t h = lseek(fd_, d, SEEK_HOLE);
    uint64_t e = h < 0 ? size_ : std::min<uint64_t>(static_cast<uint64_t>(h), size_);
    *start = static_cast<uint64_t>(d);
    *end = e > *start ? e : size_;
    return true;
  }

 private:
  int fd_;
  uint64_t size_;
  bool sparse_ = true;
};

// DirectPlan is how --direct came out: the descriptors to use for the I/O and
// the alignment they need.
struct DirectPlan {
  bool on = false;
  uint64_t align = 1;   // offset/length alignment of both files
  uint32_t memory = 0;  // buffer alignment both files need
  std::string note;     // why auto chose buffered I/O
  Fd src, dst;          // O_DIRECT descriptors when on
};

DirectPlan PlanDirect(const CopyOptions& o, const std::string& dst_path, int dst_fd) {
  DirectPlan p;
  if (o.direct == DirectMode::kOff) return p;
  bool must = o.direct == DirectMode::kOn;
  auto refuse = [&](std::string why, bool usage) {
    if (must) {
      if (usage) throw UsageError("--direct 1: " + why + "; use --direct 0 or auto");
      throw ToolError(kExitFailure, "--direct 1: " + why);
    }
    p.note = why;
    p.src.Reset(-1);
    p.dst.Reset(-1);
  };
  int s = open(o.src.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  if (s < 0) {
    int e = errno;
    refuse(e == EINVAL ? fmt::format("the file system of {} does not accept O_DIRECT", o.src)
                       : fmt::format("cannot open {} with O_DIRECT: {}", o.src, FileErrorText(e)),
           e == EINVAL);
    return p;
  }
  p.src.Reset(s);
  // The same open file as dst_fd, not whatever the name points to now.
  std::string self = fmt::format("/proc/self/fd/{}", dst_fd);
  int d = open(self.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
  if (d < 0 && errno == ENOENT) d = open(dst_path.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
  if (d < 0) {
    int e = errno;
    refuse(e == EINVAL
               ? fmt::format("the file system of {} does not accept O_DIRECT", dst_path)
               : fmt::format("cannot open {} with O_DIRECT: {}", dst_path, FileErrorText(e)),
           e == EINVAL);
    return p;
  }
  p.dst.Reset(d);
  uint64_t align = 512;
  uint32_t memory = 0;
  for (int fd : {p.src.get(), p.dst.get()}) {
    faio_alignment al{};
    if (faio_file_alignment(fd, &al) == FAIO_OK && al.offset > 0) {
      align = std::max<uint64_t>(align, al.offset);
      memory = std::max(memory, al.memory);
    } else {
      align = std::max<uint64_t>(align, kAssumedAlignment);
      memory = std::max(memory, kAssumedAlignment);
    }
  }
  if (o.bs % align != 0) {
    refuse(fmt::format("--bs {} is not a multiple of the direct-I/O alignment ({} bytes)", o.bs,
                       align),
           true);
    return p;
  }
  p.on = true;
  p.align = align;
  p.memory = memory;
  return p;
}

// SlotsFor is how many slots a file of `size` bytes can keep busy: a small
// file gets no more buffers than it has blocks.
uint32_t SlotsFor(uint64_t size, uint64_t bs, uint32_t iodepth) {
  return static_cast<uint32_t>(std::clamp<uint64_t>((size + bs - 1) / bs, 1, iodepth));
}

// CopySlot is what one slot is doing.
struct CopySlot {
  uint64_t off = 0;  // where the block starts in both files
  size_t len = 0;    // bytes asked of SRC (aligned when direct)
  size_t want = 0;   // bytes SRC has there (less than len only at its end)
  size_t wlen = 0;   // bytes written to DST (want, padded when direct)
  size_t done = 0;   // bytes transferred so far in this phase
  int phase = 0;     // 0 read SRC, 1 write DST (copy); 0 SRC, 1 DST (compare)
};

// Compare reads both files back and returns the first offset where they
// differ, or size when they are equal. Throws on read failures.
uint64_t Compare(faio::Context& ctx, const CopyOptions& o, const std::string& dst_path, int src_fd,
                 int dst_fd, const DirectPlan& plan, uint64_t size) {
  Pump pump(ctx, SlotsFor(size, o.bs, o.iodepth), o.bs, BufferAlignment(plan.memory), 2);
  std::vector<CopySlot> slots(pump.slots());
  uint64_t next = 0, first_diff = size, compared = 0;
  std::string diff_note;
  Progress progress("verifying", size, o.progress);

  auto refill = [&](uint32_t slot) {
    if (next >= size || first_diff < size) return false;
    CopySlot& s = slots[slot];
    s = CopySlot{};
    s.off = next;
    s.want = static_cast<size_t>(std::min<uint64_t>(o.bs, size - next));
    s.len = plan.on ? static_cast<size_t>(RoundUp(s.want, plan.align)) : s.want;
    next += s.want;
    pump.Read(slot, src_fd, s.off, pump.Buffer(slot, 0), s.len);
    return true;
  };
  auto complete = [&](uint32_t slot, int st, size_t n, int host_error) {
    CopySlot& s = slots[slot];
    const std::string& name = s.phase == 0 ? o.src : dst_path;
    int fd = s.phase == 0 ? src_fd : dst_fd;
    std::byte* buf = pump.Buffer(slot, s.phase);
    if (st != FAIO_OK) {
      pump.Fail(fmt::format("verify: reading {} at offset {} failed: {}", name, s.off + s.done,
                            StatusText(st, host_error)));
      return;
    }
    s.done += n;
    if (s.done < s.want) {
      if (n == 0) {
        if (s.off + s.done < first_diff) {
          first_diff = s.off + s.done;
          diff_note = fmt::format("{} ends there, before {} bytes", name, size);
        }
        return;
      }
      pump.Read(slot, fd, s.off + s.done, buf + s.done, s.len - s.done);
      return;
    }
    if (s.phase == 0) {
      s.phase = 1;
      s.done = 0;
      pump.Read(slot, dst_fd, s.off, pump.Buffer(slot, 1), s.len);
      return;
    }
    const std::byte* a = pump.Buffer(slot, 0);
    const std::byte* b = pump.Buffer(slot, 1);
    if (std::memcmp(a, b, s.want) != 0) {
      size_t i = 0;
      while (a[i] == b[i]) ++i;
      if (s.off + i < first_diff) {
        first_diff = s.off + i;
        diff_note = fmt::format("byte {:#04x} in {}, {:#04x} in {}", std::to_integer<int>(a[i]),
                                o.src, std::to_integer<int>(b[i]), dst_path);
      }
    }
    compared += s.want;
  };
  pump.Run(refill, complete, [&] { progress.Update(compared, next); });
  progress.Finish();
  if (pump.interrupted()) throw ToolError(kExitInterrupted, "interrupted while verifying");
  if (!pump.error().empty()) throw ToolError(kExitFailure, pump.error());
  if (first_diff < size) {
    throw ToolError(kExitFailure, fmt::format("verify: {} and {} differ at offset {}: {}", o.src,
                                              dst_path, first_diff, diff_note));
  }
  return size;
}

}  // namespace

CopyResult CopyFile(const CopyOptions& o) {
  if (o.bs == 0 || o.bs > kMaxTransfer) {
    throw UsageError(fmt::format("--bs {}: must be from 1 byte to {} bytes", o.bs, kMaxTransfer));
  }
  if (o.iodepth == 0 || o.iodepth > kMaxIodepth) {
    throw UsageError(fmt::format("--iodepth {}: must be from 1 to {}", o.iodepth, kMaxIodepth));
  }
  if (o.bs * o.iodepth * (o.verify ? 2 : 1) > kMaxBufferBytes) {
    throw UsageError(fmt::format("--bs {} with --iodepth {}: needs more than {} of buffers",
                                 FormatBytes(o.bs), o.iodepth, FormatBytes(kMaxBufferBytes)));
  }

  CopyResult r;
  Fd src(open(o.src.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) {
    throw ToolError(kExitFailure,
                    fmt::format("cannot open SRC {}: {}", o.src, FileErrorText(errno)));
  }
  struct stat sst;
  if (fstat(src.get(), &sst) != 0) {
    throw ToolError(kExitFailure, fmt::format("SRC {}: {}", o.src, FileErrorText(errno)));
  }
  if (S_ISDIR(sst.st_mode)) {
    throw ToolError(kExitFailure,
                    fmt::format("SRC {} is a directory (faio cp copies one file)", o.src));
  }
  if (!S_ISREG(sst.st_mode)) {
    throw ToolError(kExitFailure, fmt::format("SRC {} is not a regular file", o.src));
  }
  const uint64_t size = static_cast<uint64_t>(sst.st_size);

  r.dst = o.dst;
  struct stat dst_st;
  bool dst_exists = stat(r.dst.c_str(), &dst_st) == 0;
  if (dst_exists && S_ISDIR(dst_st.st_mode)) {
    r.dst = (o.dst.back() == '/' ? o.dst : o.dst + "/") + Basename(o.src);
    dst_exists = stat(r.dst.c_str(), &dst_st) == 0;
  }
  if (dst_exists && dst_st.st_dev == sst.st_dev && dst_st.st_ino == sst.st_ino) {
    throw ToolError(kExitFailure, fmt::format("SRC {} and DST {} are the same file", o.src, r.dst));
  }
  if (dst_exists && S_ISDIR(dst_st.st_mode)) {
    throw ToolError(kExitFailure, fmt::format("DST {} is a directory", r.dst));
  }

  // The context first: a backend that cannot run fails before DST is touched.
  faio::Context ctx = OpenContext(o.backend, o.iodepth + 1);
  r.backend = ctx.Backend() != nullptr ? ctx.Backend() : "?";

  mode_t mode = sst.st_mode & 0777;
  bool created = true;
  Fd dst(open(r.dst.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (dst.get() < 0 && errno == EEXIST) {
    if (o.no_clobber) {
      throw ToolError(kExitFailure,
                      fmt::format("DST {} exists (--no-clobber: not overwritten)", r.dst));
    }
    created = false;
    dst.Reset(open(r.dst.c_str(), O_RDWR | O_TRUNC | O_CLOEXEC));
  }
  if (dst.get() < 0) {
    int e = errno;
    std::string dir = Dirname(r.dst);
    struct stat dir_st;
    std::string why;
    if (e == ENOENT && stat(dir.c_str(), &dir_st) != 0) {
      why = fmt::format(" (the directory {} does not exist)", dir);
    }
    throw ToolError(kExitFailure, fmt::format("cannot {} DST {}: {}{}", created ? "create" : "open",
                                              r.dst, FileErrorText(e), why));
  }
  r.overwrote = !created;
  DstGuard guard(r.dst, dst.get(), created);

  DirectPlan plan = PlanDirect(o, r.dst, dst.get());
  r.direct = plan.on;
  r.direct_note = plan.note;
  const int rfd = plan.on ? plan.src.get() : src.get();
  const int wfd = plan.on ? plan.dst.get() : dst.get();

  // DST takes SRC's size now: what is not written stays a hole. It also finds
  // a file-size limit before any data moves.
  if (ftruncate(dst.get(), static_cast<off_t>(size)) != 0) {
    throw ToolError(kExitFailure, fmt::format("cannot extend DST {} to {} bytes: {}", r.dst, size,
                                              FileErrorText(errno)));
  }

  const Clock::time_point start = Clock::now();
  {
    Pump pump(ctx, SlotsFor(size, o.bs, o.iodepth), o.bs, BufferAlignment(plan.memory));
    std::vector<CopySlot> slots(pump.slots());
    Extents extents(src.get(), size);
    uint64_t cur = 0, cur_end = 0, scan = 0, copied = 0;
    Progress progress("copying", size, o.progress);

    auto refill = [&](uint32_t slot) {
      while (cur >= cur_end) {
        uint64_t s = 0, e = 0;
        std::string error;
        if (!extents.Next(scan, &s, &e, &error)) {
          if (!error.empty()) pump.Fail(fmt::format("SRC {}: {}", o.src, error));
          return false;
        }
        scan = e;
        if (plan.on) {
          s = RoundDown(s, plan.align);
          e = std::min(RoundUp(e, plan.align), RoundUp(size, plan.align));
        }
        s = std::max(s, cur_end);
        if (s < e) {
          cur = s;
          cur_end = e;
          ++r.extents;
        }
      }
      CopySlot& c = slots[slot];
      c = CopySlot{};
      c.off = cur;
      c.len = static_cast<size_t>(std::min<uint64_t>(o.bs, cur_end - cur));
      c.want = static_cast<size_t>(std::min<uint64_t>(c.len, size - cur));
      cur += c.len;
      pump.Read(slot, rfd, c.off, pump.Buffer(slot), c.len);
      return true;
    };
    auto complete = [&](uint32_t slot, int st, size_t n, int host_error) {
      CopySlot& c = slots[slot];
      std::byte* buf = pump.Buffer(slot);
      if (c.phase == 0) {
        if (st != FAIO_OK) {
          pump.Fail(fmt::format("reading SRC {} at offset {} ({} bytes) failed: {}", o.src,
                                c.off + c.done, c.len - c.done, StatusText(st, host_error)));
          return;
        }
        c.done += n;
        if (c.done < c.want) {
          if (n == 0) {
            pump.Fail(
                fmt::format("SRC {} ends at offset {}, before its size {} (did it shrink "
                            "during the copy?)",
                            o.src, c.off + c.done, size));
          } else if (plan.on && c.done % plan.align != 0) {
            pump.Fail(
                fmt::format("reading SRC {} at offset {}: a direct read returned {} bytes, "
                            "not a multiple of the alignment {}",
                            o.src, c.off, c.done, plan.align));
          } else {
            pump.Read(slot, rfd, c.off + c.done, buf + c.done, c.len - c.done);
          }
          return;
        }
        c.phase = 1;
        c.done = 0;
        c.wlen = plan.on ? static_cast<size_t>(RoundUp(c.want, plan.align)) : c.want;
        if (c.wlen > c.want) std::memset(buf + c.want, 0, c.wlen - c.want);
        pump.Write(slot, wfd, c.off, buf, c.wlen);
        return;
      }
      if (st != FAIO_OK || n == 0) {
        pump.Fail(fmt::format("writing DST {} at offset {} ({} bytes) failed: {}", r.dst,
                              c.off + c.done, c.wlen - c.done,
                              st != FAIO_OK ? StatusText(st, host_error)
                                            : std::string("the write transferred nothing")));
        return;
      }
      c.done += n;
      if (c.done < c.wlen) {
        pump.Write(slot, wfd, c.off + c.done, buf + c.done, c.wlen - c.done);
        return;
      }
      copied += c.want;
    };
    pump.Run(refill, complete, [&] { progress.Update(copied, cur); });
    progress.Finish();
    if (pump.interrupted()) {
      throw ToolError(kExitInterrupted, fmt::format("interrupted; {}", guard.Undone()));
    }
    if (!pump.error().empty()) {
      throw ToolError(kExitFailure, fmt::format("{}; {}", pump.error(), guard.Undone()));
    }
    r.data_bytes = copied;

    // A padded last block went past SRC's size: cut DST back to it.
    if (plan.on && ftruncate(dst.get(), static_cast<off_t>(size)) != 0) {
      throw ToolError(kExitFailure, fmt::format("cannot cut DST {} to {} bytes: {}; {}", r.dst,
                                                size, FileErrorText(errno), guard.Undone()));
    }
    int host_error = 0;
    int st = pump.Flush(dst.get(), /*full=*/true, &host_error);
    if (st != FAIO_OK) {
      throw ToolError(kExitFailure, fmt::format("flushing DST {} failed: {}; {}", r.dst,
                                                StatusText(st, host_error), guard.Undone()));
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.size = size;

  if (o.verify) {
    Clock::time_point t = Clock::now();
    // The copy is durable; drop DST's clean pages so that it is read back from
    // the device, not from the page cache (a best effort).
    (void)posix_fadvise(dst.get(), 0, 0, POSIX_FADV_DONTNEED);
    try {
      Compare(ctx, o, r.dst, rfd, plan.on ? plan.dst.get() : dst.get(), plan, size);
    } catch (const ToolError& e) {
      throw ToolError(e.exit_code(), fmt::format("{}; {}", e.what(), guard.Undone()));
    }
    r.verified = true;
    r.verify_seconds = std::chrono::duration<double>(Clock::now() - t).count();
  }
  guard.Disarm();
  return r;
}

}  // namespace faio::tool
