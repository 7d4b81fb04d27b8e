// job_file.cc - see job_file.h.
#include "bench/job_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "cli/common.h"
#include "cli/options.h"
#include "io/pump.h"

namespace faio::tool {
namespace {

constexpr size_t kLayoutChunk = size_t{1} << 20;  // bytes per layout write
constexpr uint32_t kLayoutDepth = 8;              // layout writes in flight at most
constexpr size_t kStampBlock = 4096;              // each 4 KiB block carries its offset

// Fill writes the layout pattern for file offset `off` into buf[0..len): each
// 4 KiB block starts with its own offset (so a later verify can tell blocks
// apart), the rest is a non-zero byte pattern.
void Fill(std::byte* buf, size_t len, uint64_t off) {
  for (size_t i = 0; i < len; ++i) {
    buf[i] = static_cast<std::byte>(0xA5 ^ ((off + i) >> 12 & 0x3F) ^ (i & 0x0F));
  }
  for (size_t b = 0; b + sizeof(uint64_t) <= len; b += kStampBlock) {
    uint64_t stamp = off + b;
    std::memcpy(buf + b, &stamp, sizeof stamp);
    // A block at offset 0 would start with zero bytes: keep the data non-zero.
    if (stamp == 0) buf[b] = std::byte{0xFF};
  }
}

}  // namespace

JobFile JobFile::CreateTemporary(faio::Context& ctx, uint64_t size, uint32_t depth) {
  std::string dir = TemporaryDir();
  std::string path;
  int e = 0;
  File f = CreateTemporaryFile(dir, "faio-bench", &path, &e);
  if (!f.is_open()) {
    throw ToolError(kExitFailure,
                    fmt::format("cannot create a temporary file in {}: {} (set TMPDIR to a "
                                "writable directory, or use --filename)",
                                dir, FileErrorText(e)));
  }
  return Created(ctx, std::move(f), path, size, depth, /*temporary=*/true);
}

JobFile JobFile::Open(faio::Context& ctx, const std::string& path, uint64_t size, bool size_given,
                      bool direct, uint32_t depth, bool writable) {
  JobFile f;
  f.path_ = path;
  int e = 0;
  f.file_ =
      OpenFile(path, {writable ? Access::kReadWrite : Access::kRead, Create::kNo, direct}, &e);
  if (!f.file_.is_open() && IsError(e, FileError::kNotFound)) {
    File created = OpenFile(path, {Access::kReadWrite, Create::kExclusive}, &e);
    if (!created.is_open()) {
      throw ToolError(kExitFailure,
                      fmt::format("--filename {}: cannot create: {}", path, FileErrorText(e)));
    }
    return Created(ctx, std::move(created), path, size, depth, /*temporary=*/false);
  }
  if (!f.file_.is_open()) {
    if (direct && IsError(e, FileError::kDirectRefused)) {
      throw UsageError(
          fmt::format("--direct 1: the file system of {} does not support "
                      "O_DIRECT; use --direct 0",
                      path));
    }
    throw ToolError(kExitFailure,
                    fmt::format("--filename {}: cannot open: {}", path, FileErrorText(e)));
  }
  f.direct_ = direct;
  FileStatus st;
  if (!StatFile(f.file(), &st, &e)) {
    throw ToolError(kExitFailure, fmt::format("--filename {}: {}", path, FileErrorText(e)));
  }
  if (st.kind != FileKind::kRegular && st.kind != FileKind::kBlockDevice) {
    throw UsageError(fmt::format("--filename {}: not a regular file or a block device", path));
  }
  if (size_given && size > st.size) {
    throw UsageError(fmt::format("--size {}: larger than {} ({})", FormatBytes(size), path,
                                 FormatBytes(st.size)));
  }
  f.size_ = size_given ? size : st.size;
  // Start cold, as fio does by default (invalidate=1): drop the file's cached
  // pages (best effort; a block device's cache is left alone).
  if (st.kind == FileKind::kRegular) DropCache(f.file());
  return f;
}

void JobFile::EnableDirect() {
  if (direct_) return;
  std::string where = path_;
  if (temporary_) {
    auto slash = where.find_last_of("/\\");
    where = slash == std::string::npos ? std::string(".") : where.substr(0, slash);
  }
  int e = 0;
  if (SetDirect(file(), &e)) {
    direct_ = true;
    return;
  }
  if (!IsError(e, FileError::kNotSupported)) {
    if (IsError(e, FileError::kDirectRefused)) {
      throw UsageError(
          fmt::format("--direct 1: the file system of {} does not support O_DIRECT (tmpfs?); use "
                      "--direct 0, or --filename / TMPDIR on another file system",
                      where));
    }
    throw ToolError(kExitFailure, fmt::format("--direct 1: cannot set O_DIRECT on {}: {}", where,
                                              FileErrorText(e)));
  }
  // The host cannot change the open file's buffering: open the same file again,
  // unbuffered. Both stay open; a temporary file lasts until the last goes.
  File twin = ReopenDirect(file(), path_, Access::kReadWrite, &e);
  if (!twin.is_open()) twin = ReopenDirect(file(), path_, Access::kRead, &e);
  if (!twin.is_open()) {
    throw ToolError(kExitFailure, fmt::format("--direct 1: cannot open {} unbuffered: {}", path_,
                                              FileErrorText(e)));
  }
  first_ = std::move(file_);
  file_ = std::move(twin);
  direct_ = true;
}

JobFile JobFile::Created(faio::Context& ctx, File file, const std::string& path, uint64_t size,
                         uint32_t depth, bool temporary) {
  JobFile f;
  f.file_ = std::move(file);
  f.path_ = path;
  f.size_ = size;
  f.temporary_ = temporary;
  f.created_ = true;
  // On stderr: stdout may be a JSON document.
  if (!temporary) fmt::print(stderr, "faio bench: laying out {} ({})\n", path, FormatBytes(size));
  try {
    f.LayOut(ctx, depth);
  } catch (...) {
    f.file_.Close();                   // a temporary file goes with its descriptor
    if (!temporary) RemoveFile(path);  // do not leave a half-written file behind
    throw;
  }
  return f;
}

void JobFile::LayOut(faio::Context& ctx, uint32_t depth) {
  // Reserve the blocks first so that a full disk is reported before any writing.
  int e = 0;
  if (!Reserve(file(), size_, &e)) {
    throw ToolError(
        kExitFailure,
        fmt::format("{} for --size {} next to {}: {}",
                    IsError(e, FileError::kNoSpace) ? "no room" : "cannot size the file",
                    FormatBytes(size_), path_, FileErrorText(e)));
  }

  Pump pump(ctx, std::clamp<uint32_t>(depth, 1, kLayoutDepth), kLayoutChunk, 4096);
  std::vector<uint64_t> slot_offset(pump.slots());
  uint64_t next = 0;
  auto refill = [&](uint32_t slot) {
    if (next >= size_) return false;
    size_t len = static_cast<size_t>(std::min<uint64_t>(kLayoutChunk, size_ - next));
    Fill(pump.Buffer(slot), len, next);
    slot_offset[slot] = next;
    pump.Write(slot, file(), next, pump.Buffer(slot), len);
    next += len;
    return true;
  };
  auto complete = [&](uint32_t slot, int st, size_t n, int host_error) {
    uint64_t want = std::min<uint64_t>(kLayoutChunk, size_ - slot_offset[slot]);
    if (st != FAIO_OK) {
      pump.Fail(fmt::format("write at offset {} failed: {}", slot_offset[slot],
                            StatusText(st, host_error)));
    } else if (n != want) {
      pump.Fail(
          fmt::format("short write at offset {}: {} of {} bytes", slot_offset[slot], n, want));
    }
  };
  pump.Run(refill, complete, nullptr);
  if (!pump.error().empty()) {
    throw ToolError(kExitFailure, fmt::format("laying out {}: {}", path_, pump.error()));
  }
  if (pump.interrupted()) {
    throw ToolError(kExitInterrupted, "interrupted while laying out the file");
  }

  // Make the data durable through faio too, then drop it from the page cache so
  // that the read job starts cold (fio's invalidate=1).
  int host_error = 0;
  int st = pump.Flush(file(), /*full=*/false, &host_error);
  if (st != FAIO_OK) {
    throw ToolError(kExitFailure, fmt::format("laying out {}: flush failed: {}", path_,
                                              StatusText(st, host_error)));
  }
  DropCache(file());
}

}  // namespace faio::tool
