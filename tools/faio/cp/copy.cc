// copy.cc - see copy.h.
//
// The copy runs --iodepth slots, each with a --bs buffer, each cycling
// read SRC -> write DST through one faio request; slots run independently, so
// reads and writes are in flight together and writes complete in any order.
// Only the data extents of SRC are read (host/file.h's DataExtents: SEEK_DATA
// and SEEK_HOLE, FSCTL_QUERY_ALLOCATED_RANGES); DST is first sized to SRC's
// size (made sparse first where the host needs that), so what is not written
// stays a hole.
//
// Direct I/O needs offsets and lengths aligned to the files' direct-I/O
// alignment. Extents are widened to it (reading a little of a hole reads
// zeros), and the last block, where SRC ends inside an aligned unit, is read
// short and written padded with zeros to the alignment; DST is then cut back to
// SRC's exact size before the final flush.
#include "cp/copy.h"

#include <fmt/format.h>

#include <algorithm>
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
constexpr uint32_t kAssumedAlignment = 4096;  // when direct I/O works but the host cannot tell
#ifdef _WIN32
constexpr const char* kSeparators = "/\\";
#else
constexpr const char* kSeparators = "/";
#endif

// DstGuard undoes DST on every way out of CopyFile but success: removes the
// file it created, or empties the file it overwrote.
class DstGuard {
 public:
  DstGuard(std::string path, faio_file f, bool created)
      : path_(std::move(path)), f_(f), created_(created) {}
  ~DstGuard() {
    if (!armed_) return;
    if (created_) {
      RemoveFile(path_);
    } else {
      int e = 0;
      (void)Resize(f_, 0, &e);
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
  faio_file f_;
  bool created_;
  bool armed_ = true;
};

uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
uint64_t RoundDown(uint64_t v, uint64_t a) { return v / a * a; }

std::string Dirname(const std::string& path) {
  auto slash = path.find_last_of(kSeparators);
  if (slash == std::string::npos) return ".";
  if (slash == 0) return path.substr(0, 1);
  return path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && std::strchr(kSeparators, p.back()) != nullptr) p.pop_back();
  auto slash = p.find_last_of(kSeparators);
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

void CheckOptions(const CopyOptions& o) {
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
}

// OpenSource opens SRC and checks that it is a regular file.
File OpenSource(const std::string& src, FileStatus* st) {
  int e = 0;
  FileStatus pre;
  if (StatPath(src, &pre, &e) && pre.kind == FileKind::kDirectory) {
    throw ToolError(kExitFailure,
                    fmt::format("SRC {} is a directory (faio cp copies one file)", src));
  }
  File f = OpenFile(src, {Access::kRead, Create::kNo}, &e);
  if (!f.is_open()) {
    throw ToolError(kExitFailure, fmt::format("cannot open SRC {}: {}", src, FileErrorText(e)));
  }
  if (!StatFile(f.get(), st, &e)) {
    throw ToolError(kExitFailure, fmt::format("SRC {}: {}", src, FileErrorText(e)));
  }
  if (st->kind == FileKind::kDirectory) {
    throw ToolError(kExitFailure,
                    fmt::format("SRC {} is a directory (faio cp copies one file)", src));
  }
  if (st->kind != FileKind::kRegular) {
    throw ToolError(kExitFailure, fmt::format("SRC {} is not a regular file", src));
  }
  return f;
}

// DestinationPath is where the copy goes: DST, or DST/basename(SRC) when DST is
// a directory. Refuses SRC itself and a directory.
std::string DestinationPath(const CopyOptions& o, const FileStatus& src) {
  std::string dst = o.dst;
  FileStatus st;
  int e = 0;
  bool exists = StatPath(dst, &st, &e);
  if (exists && st.kind == FileKind::kDirectory) {
    bool slash = std::strchr(kSeparators, o.dst.back()) != nullptr;
    dst = (slash ? o.dst : o.dst + "/") + Basename(o.src);
    exists = StatPath(dst, &st, &e);
  }
  if (exists && st.device == src.device && st.inode == src.inode) {
    throw ToolError(kExitFailure, fmt::format("SRC {} and DST {} are the same file", o.src, dst));
  }
  if (exists && st.kind == FileKind::kDirectory) {
    throw ToolError(kExitFailure, fmt::format("DST {} is a directory", dst));
  }
  return dst;
}

// OpenDestination creates DST with `mode`, or opens and truncates an existing
// one (unless --no-clobber). *created says which.
File OpenDestination(const CopyOptions& o, const std::string& dst, uint32_t mode, bool* created) {
  int e = 0;
  *created = true;
  File f = OpenFile(dst, {Access::kReadWrite, Create::kExclusive, false, mode}, &e);
  if (!f.is_open() && IsError(e, FileError::kExists)) {
    if (o.no_clobber) {
      throw ToolError(kExitFailure,
                      fmt::format("DST {} exists (--no-clobber: not overwritten)", dst));
    }
    *created = false;
    f = OpenFile(dst, {Access::kReadWrite, Create::kTruncate}, &e);
  }
  if (!f.is_open()) {
    std::string dir = Dirname(dst);
    FileStatus dir_st;
    int dir_error = 0;
    std::string why;
    if (IsError(e, FileError::kNotFound) && !StatPath(dir, &dir_st, &dir_error)) {
      why = fmt::format(" (the directory {} does not exist)", dir);
    }
    throw ToolError(kExitFailure,
                    fmt::format("cannot {} DST {}: {}{}", *created ? "create" : "open", dst,
                                FileErrorText(e), why));
  }
  return f;
}

// DirectPlan is how --direct came out: the files to use for the I/O and the
// alignment they need.
struct DirectPlan {
  bool on = false;
  uint64_t align = 1;   // offset/length alignment of both files
  uint32_t memory = 0;  // buffer alignment both files need
  std::string note;     // why auto chose buffered I/O
  File src, dst;        // opened for direct I/O when on
};

// Alignment fills the plan's alignment from both files.
void PlanAlignment(DirectPlan* p) {
  uint64_t align = 512;
  uint32_t memory = 0;
  for (faio_file f : {p->src.get(), p->dst.get()}) {
    faio_alignment al{};
    if (faio_file_alignment(f, &al) == FAIO_OK && al.offset > 0) {
      align = std::max<uint64_t>(align, al.offset);
      memory = std::max(memory, al.memory);
    } else {
      align = std::max<uint64_t>(align, kAssumedAlignment);
      memory = std::max(memory, kAssumedAlignment);
    }
  }
  p->align = align;
  p->memory = memory;
}

DirectPlan PlanDirect(const CopyOptions& o, const std::string& dst_path, faio_file dst) {
  DirectPlan p;
  if (o.direct == DirectMode::kOff) return p;
  bool must = o.direct == DirectMode::kOn;
  auto refuse = [&](std::string why, bool usage) {
    if (must) {
      if (usage) throw UsageError("--direct 1: " + why + "; use --direct 0 or auto");
      throw ToolError(kExitFailure, "--direct 1: " + why);
    }
    p.note = why;
    p.src.Close();
    p.dst.Close();
  };
  auto refusal = [](const std::string& path, int e) {
    return IsError(e, FileError::kDirectRefused)
               ? fmt::format("the file system of {} does not accept O_DIRECT", path)
               : fmt::format("cannot open {} with O_DIRECT: {}", path, FileErrorText(e));
  };
  int e = 0;
  p.src = OpenFile(o.src, {Access::kRead, Create::kNo, /*direct=*/true}, &e);
  if (!p.src.is_open()) {
    refuse(refusal(o.src, e), IsError(e, FileError::kDirectRefused));
    return p;
  }
  p.dst = ReopenDirect(dst, dst_path, Access::kReadWrite, &e);
  if (!p.dst.is_open()) {
    refuse(refusal(dst_path, e), IsError(e, FileError::kDirectRefused));
    return p;
  }
  PlanAlignment(&p);
  if (o.bs % p.align != 0) {
    refuse(fmt::format("--bs {} is not a multiple of the direct-I/O alignment ({} bytes)", o.bs,
                       p.align),
           true);
    return p;
  }
  p.on = true;
  return p;
}

// SizeDestination gives DST SRC's size: what is not written stays a hole. It
// also finds a file-size limit before any data moves.
void SizeDestination(faio_file dst, const std::string& path, uint64_t size) {
  int e = 0;
  if (!PrepareSparse(dst, &e) || !Resize(dst, size, &e) || !PunchHoles(dst, 0, size, &e)) {
    throw ToolError(kExitFailure, fmt::format("cannot extend DST {} to {} bytes: {}", path, size,
                                              FileErrorText(e)));
  }
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

// Copier moves SRC's data extents to DST through a Pump: Refill starts a read
// of the next block, Complete continues a short read, turns a full one into a
// write, and continues a short write.
class Copier {
 public:
  Copier(faio::Context& ctx, const CopyOptions& o, const std::string& dst, faio_file extents_of,
         faio_file rfd, faio_file wfd, const DirectPlan& plan, uint64_t size)
      : o_(o),
        dst_(dst),
        rfd_(rfd),
        wfd_(wfd),
        plan_(plan),
        size_(size),
        pump_(ctx, SlotsFor(size, o.bs, o.iodepth), o.bs, BufferAlignment(plan.memory)),
        slots_(pump_.slots()),
        extents_(extents_of, size) {}

  // Run copies; on failure it throws ToolError ending with `undone`.
  void Run(const std::string& undone) {
    Progress progress("copying", size_, o_.progress);
    pump_.Run([this](uint32_t slot) { return Refill(slot); },
              [this](uint32_t slot, int st, size_t n, int host_error) {
                Complete(slot, st, n, host_error);
              },
              [&] { progress.Update(copied_, cur_); });
    progress.Finish();
    if (pump_.interrupted()) {
      throw ToolError(kExitInterrupted, fmt::format("interrupted; {}", undone));
    }
    if (!pump_.error().empty()) {
      throw ToolError(kExitFailure, fmt::format("{}; {}", pump_.error(), undone));
    }
  }

  // Finish cuts DST back to SRC's size where a padded last block went past it,
  // and makes the copy durable (a full flush through the context).
  void Finish(faio_file dst, const std::string& undone) {
    int e = 0;
    if (plan_.on && !Resize(dst, size_, &e)) {
      throw ToolError(kExitFailure, fmt::format("cannot cut DST {} to {} bytes: {}; {}", dst_,
                                                size_, FileErrorText(e), undone));
    }
    int host_error = 0;
    int st = pump_.Flush(dst, /*full=*/true, &host_error);
    if (st != FAIO_OK) {
      throw ToolError(kExitFailure, fmt::format("flushing DST {} failed: {}; {}", dst_,
                                                StatusText(st, host_error), undone));
    }
  }

  uint64_t copied() const { return copied_; }
  uint64_t extents() const { return extents_seen_; }

 private:
  // NextExtent moves cur_/cur_end_ to the next data extent (widened to the
  // direct-I/O alignment); false at the end or on failure.
  bool NextExtent() {
    while (cur_ >= cur_end_) {
      uint64_t s = 0, e = 0;
      std::string error;
      if (!extents_.Next(scan_, &s, &e, &error)) {
        if (!error.empty()) pump_.Fail(fmt::format("SRC {}: {}", o_.src, error));
        return false;
      }
      scan_ = e;
      if (plan_.on) {
        s = RoundDown(s, plan_.align);
        e = std::min(RoundUp(e, plan_.align), RoundUp(size_, plan_.align));
      }
      s = std::max(s, cur_end_);
      if (s < e) {
        cur_ = s;
        cur_end_ = e;
        ++extents_seen_;
      }
    }
    return true;
  }

  bool Refill(uint32_t slot) {
    if (!NextExtent()) return false;
    CopySlot& c = slots_[slot];
    c = CopySlot{};
    c.off = cur_;
    c.len = static_cast<size_t>(std::min<uint64_t>(o_.bs, cur_end_ - cur_));
    c.want = static_cast<size_t>(std::min<uint64_t>(c.len, size_ - cur_));
    cur_ += c.len;
    pump_.Read(slot, rfd_, c.off, pump_.Buffer(slot), c.len);
    return true;
  }

  void Complete(uint32_t slot, int st, size_t n, int host_error) {
    if (slots_[slot].phase == 0) {
      ReadDone(slot, st, n, host_error);
    } else {
      WriteDone(slot, st, n, host_error);
    }
  }

  void ReadDone(uint32_t slot, int st, size_t n, int host_error) {
    CopySlot& c = slots_[slot];
    std::byte* buf = pump_.Buffer(slot);
    if (st != FAIO_OK) {
      pump_.Fail(fmt::format("reading SRC {} at offset {} ({} bytes) failed: {}", o_.src,
                             c.off + c.done, c.len - c.done, StatusText(st, host_error)));
      return;
    }
    c.done += n;
    if (c.done < c.want) {
      if (n == 0) {
        pump_.Fail(fmt::format(
            "SRC {} ends at offset {}, before its size {} (did it shrink during the copy?)", o_.src,
            c.off + c.done, size_));
      } else if (plan_.on && c.done % plan_.align != 0) {
        pump_.Fail(
            fmt::format("reading SRC {} at offset {}: a direct read returned {} bytes, not a "
                        "multiple of the alignment {}",
                        o_.src, c.off, c.done, plan_.align));
      } else {
        pump_.Read(slot, rfd_, c.off + c.done, buf + c.done, c.len - c.done);
      }
      return;
    }
    c.phase = 1;
    c.done = 0;
    c.wlen = plan_.on ? static_cast<size_t>(RoundUp(c.want, plan_.align)) : c.want;
    if (c.wlen > c.want) std::memset(buf + c.want, 0, c.wlen - c.want);
    pump_.Write(slot, wfd_, c.off, buf, c.wlen);
  }

  void WriteDone(uint32_t slot, int st, size_t n, int host_error) {
    CopySlot& c = slots_[slot];
    if (st != FAIO_OK || n == 0) {
      pump_.Fail(fmt::format("writing DST {} at offset {} ({} bytes) failed: {}", dst_,
                             c.off + c.done, c.wlen - c.done,
                             st != FAIO_OK ? StatusText(st, host_error)
                                           : std::string("the write transferred nothing")));
      return;
    }
    c.done += n;
    if (c.done < c.wlen) {
      pump_.Write(slot, wfd_, c.off + c.done, pump_.Buffer(slot) + c.done, c.wlen - c.done);
      return;
    }
    copied_ += c.want;
  }

  const CopyOptions& o_;
  const std::string& dst_;
  faio_file rfd_, wfd_;
  const DirectPlan& plan_;
  uint64_t size_;
  Pump pump_;
  std::vector<CopySlot> slots_;
  DataExtents extents_;
  uint64_t cur_ = 0, cur_end_ = 0, scan_ = 0;  // the block to read next, its extent's end
  uint64_t copied_ = 0;
  uint64_t extents_seen_ = 0;
};

// Comparer reads SRC and DST back, block by block into two buffers per slot,
// and finds the first offset where they differ.
class Comparer {
 public:
  Comparer(faio::Context& ctx, const CopyOptions& o, const std::string& dst, faio_file src_fd,
           faio_file dst_fd, const DirectPlan& plan, uint64_t size)
      : o_(o),
        dst_(dst),
        src_fd_(src_fd),
        dst_fd_(dst_fd),
        plan_(plan),
        size_(size),
        first_diff_(size),
        pump_(ctx, SlotsFor(size, o.bs, o.iodepth), o.bs, BufferAlignment(plan.memory), 2),
        slots_(pump_.slots()) {}

  // Run compares; throws ToolError when a read fails or the files differ.
  void Run() {
    Progress progress("verifying", size_, o_.progress);
    pump_.Run([this](uint32_t slot) { return Refill(slot); },
              [this](uint32_t slot, int st, size_t n, int host_error) {
                Complete(slot, st, n, host_error);
              },
              [&] { progress.Update(compared_, next_); });
    progress.Finish();
    if (pump_.interrupted()) throw ToolError(kExitInterrupted, "interrupted while verifying");
    if (!pump_.error().empty()) throw ToolError(kExitFailure, pump_.error());
    if (first_diff_ < size_) {
      throw ToolError(kExitFailure, fmt::format("verify: {} and {} differ at offset {}: {}", o_.src,
                                                dst_, first_diff_, diff_note_));
    }
  }

 private:
  bool Refill(uint32_t slot) {
    if (next_ >= size_ || first_diff_ < size_) return false;
    CopySlot& s = slots_[slot];
    s = CopySlot{};
    s.off = next_;
    s.want = static_cast<size_t>(std::min<uint64_t>(o_.bs, size_ - next_));
    s.len = plan_.on ? static_cast<size_t>(RoundUp(s.want, plan_.align)) : s.want;
    next_ += s.want;
    pump_.Read(slot, src_fd_, s.off, pump_.Buffer(slot, 0), s.len);
    return true;
  }

  void Differ(uint64_t at, std::string note) {
    if (at < first_diff_) {
      first_diff_ = at;
      diff_note_ = std::move(note);
    }
  }

  void Complete(uint32_t slot, int st, size_t n, int host_error) {
    CopySlot& s = slots_[slot];
    const std::string& name = s.phase == 0 ? o_.src : dst_;
    faio_file fd = s.phase == 0 ? src_fd_ : dst_fd_;
    std::byte* buf = pump_.Buffer(slot, s.phase);
    if (st != FAIO_OK) {
      pump_.Fail(fmt::format("verify: reading {} at offset {} failed: {}", name, s.off + s.done,
                             StatusText(st, host_error)));
      return;
    }
    s.done += n;
    if (s.done < s.want) {
      if (n == 0) {
        Differ(s.off + s.done, fmt::format("{} ends there, before {} bytes", name, size_));
      } else {
        pump_.Read(slot, fd, s.off + s.done, buf + s.done, s.len - s.done);
      }
      return;
    }
    if (s.phase == 0) {
      s.phase = 1;
      s.done = 0;
      pump_.Read(slot, dst_fd_, s.off, pump_.Buffer(slot, 1), s.len);
      return;
    }
    CompareBlock(slot);
  }

  void CompareBlock(uint32_t slot) {
    const CopySlot& s = slots_[slot];
    const std::byte* a = pump_.Buffer(slot, 0);
    const std::byte* b = pump_.Buffer(slot, 1);
    if (std::memcmp(a, b, s.want) != 0) {
      size_t i = 0;
      while (a[i] == b[i]) ++i;
      Differ(s.off + i, fmt::format("byte {:#04x} in {}, {:#04x} in {}", std::to_integer<int>(a[i]),
                                    o_.src, std::to_integer<int>(b[i]), dst_));
    }
    compared_ += s.want;
  }

  const CopyOptions& o_;
  const std::string& dst_;
  faio_file src_fd_, dst_fd_;
  const DirectPlan& plan_;
  uint64_t size_;
  uint64_t next_ = 0, first_diff_, compared_ = 0;
  std::string diff_note_;
  Pump pump_;
  std::vector<CopySlot> slots_;
};

}  // namespace

CopyResult CopyFile(const CopyOptions& o) {
  CheckOptions(o);
  CopyResult r;
  FileStatus src_st;
  File src = OpenSource(o.src, &src_st);
  const uint64_t size = src_st.size;
  r.dst = DestinationPath(o, src_st);

  // The context first: a backend that cannot run fails before DST is touched.
  faio::Context ctx = OpenContext(o.backend, o.iodepth + 1);
  r.backend = ctx.Backend() != nullptr ? ctx.Backend() : "?";

  bool created = true;
  File dst = OpenDestination(o, r.dst, src_st.mode & 0777, &created);
  r.overwrote = !created;
  DstGuard guard(r.dst, dst.get(), created);

  DirectPlan plan = PlanDirect(o, r.dst, dst.get());
  r.direct = plan.on;
  r.direct_note = plan.note;
  const faio_file rfd = plan.on ? plan.src.get() : src.get();
  const faio_file wfd = plan.on ? plan.dst.get() : dst.get();
  SizeDestination(dst.get(), r.dst, size);

  const Clock::time_point start = Clock::now();
  {
    Copier copier(ctx, o, r.dst, src.get(), rfd, wfd, plan, size);
    copier.Run(guard.Undone());
    copier.Finish(dst.get(), guard.Undone());
    r.data_bytes = copier.copied();
    r.extents = copier.extents();
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.size = size;

  if (o.verify) {
    Clock::time_point t = Clock::now();
    // The copy is durable; drop DST's clean pages so that it is read back from
    // the device, not from the page cache (a best effort).
    DropCache(dst.get());
    try {
      Comparer(ctx, o, r.dst, rfd, wfd, plan, size).Run();
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
