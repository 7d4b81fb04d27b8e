// job_file_posix.cc - JobFile's host part on POSIX hosts (see job_file.h).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#endif

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "job_file.h"
#include "options.h"

namespace faio::tool {
namespace {

std::string Errno(int e) { return fmt::format("{} (errno {})", std::strerror(e), e); }

}  // namespace

JobFile JobFile::CreateTemporary(faio::Context& ctx, uint64_t size, uint32_t depth) {
  const char* env = std::getenv("TMPDIR");
  std::string dir = env != nullptr && *env != '\0' ? env : "/var/tmp";
  std::string templ = dir + "/faio-bench.XXXXXX";
  std::vector<char> name(templ.begin(), templ.end());
  name.push_back('\0');
  int fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    throw ToolError(kExitFailure,
                    fmt::format("cannot create a temporary file in {}: {} (set TMPDIR to a "
                                "writable directory, or use --filename)",
                                dir, Errno(errno)));
  }
  unlink(name.data());  // see job_file.h: the descriptor keeps the blocks alive
  return Created(ctx, fd, name.data(), size, depth, /*temporary=*/true);
}

JobFile JobFile::Open(faio::Context& ctx, const std::string& path, uint64_t size, bool size_given,
                      bool direct, uint32_t depth, bool writable) {
  JobFile f;
  f.path_ = path;
  int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | (direct ? O_DIRECT : 0);
  int fd = open(path.c_str(), flags);
  if (fd < 0 && errno == ENOENT) {
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw ToolError(kExitFailure,
                      fmt::format("--filename {}: cannot create: {}", path, Errno(errno)));
    }
    return Created(ctx, fd, path, size, depth, /*temporary=*/false);
  }
  if (fd < 0) {
    int e = errno;
    if (e == EINVAL && direct) {
      throw UsageError(
          fmt::format("--direct 1: the file system of {} does not support "
                      "O_DIRECT; use --direct 0",
                      path));
    }
    throw ToolError(kExitFailure, fmt::format("--filename {}: cannot open: {}", path, Errno(e)));
  }
  f.file_ = fd;
  f.open_ = true;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    throw ToolError(kExitFailure, fmt::format("--filename {}: {}", path, Errno(errno)));
  }
  uint64_t have = 0;
  if (S_ISREG(st.st_mode)) {
    have = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    if (ioctl(fd, BLKGETSIZE64, &have) != 0) {
      throw ToolError(kExitFailure, fmt::format("--filename {}: cannot read the device size: {}",
                                                path, Errno(errno)));
    }
  } else {
    throw UsageError(fmt::format("--filename {}: not a regular file or a block device", path));
  }
  if (size_given && size > have) {
    throw UsageError(
        fmt::format("--size {}: larger than {} ({})", FormatBytes(size), path, FormatBytes(have)));
  }
  f.size_ = size_given ? size : have;
  // Start cold, as fio does by default (invalidate=1): drop the file's cached
  // pages (best effort; a block device's cache is left alone).
  if (S_ISREG(st.st_mode)) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  return f;
}

void JobFile::EnableDirect() {
  int fl = fcntl(file_, F_GETFL);
  if (fl < 0) throw ToolError(kExitFailure, fmt::format("fcntl: {}", Errno(errno)));
  if ((fl & O_DIRECT) != 0) return;
  if (fcntl(file_, F_SETFL, fl | O_DIRECT) != 0) {
    int e = errno;
    std::string where = path_;
    if (temporary_) {
      auto slash = where.rfind('/');
      where = slash == std::string::npos ? std::string(".") : where.substr(0, slash);
    }
    if (e == EINVAL) {
      throw UsageError(
          fmt::format("--direct 1: the file system of {} does not support O_DIRECT (tmpfs?); use "
                      "--direct 0, or --filename / TMPDIR on another file system",
                      where));
    }
    throw ToolError(kExitFailure,
                    fmt::format("--direct 1: cannot set O_DIRECT on {}: {}", where, Errno(e)));
  }
}

void JobFile::Reserve() {
  int e = posix_fallocate(file_, 0, static_cast<off_t>(size_));
  if (e == ENOSPC || e == EFBIG) {
    throw ToolError(kExitFailure, fmt::format("no room for --size {} next to {}: {}",
                                              FormatBytes(size_), path_, Errno(e)));
  }
}

void JobFile::Remove(const std::string& path) { unlink(path.c_str()); }

void JobFile::DropCache() { posix_fadvise(file_, 0, 0, POSIX_FADV_DONTNEED); }

void JobFile::Close() {
  if (open_) close(file_);
  open_ = false;
}

}  // namespace faio::tool
