// file.cc - the faio tool's files on POSIX hosts (see host/file.h).
#include "host/file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace faio::tool {

std::string FileErrorText(int error) {
  return fmt::format("{} (errno {})", std::strerror(error), error);
}

bool IsError(int error, FileError what) {
  switch (what) {
    case FileError::kNotFound:
      return error == ENOENT;
    case FileError::kExists:
      return error == EEXIST;
    case FileError::kDirectRefused:
      return error == EINVAL;
    case FileError::kNoSpace:
      return error == ENOSPC || error == EFBIG;
    case FileError::kNotSupported:
      return false;
  }
  return false;
}

File::File(File&& o) noexcept : f_(o.f_), open_(std::exchange(o.open_, false)) {}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    Close();
    f_ = o.f_;
    open_ = std::exchange(o.open_, false);
  }
  return *this;
}

void File::Close() {
  if (open_) close(f_);
  open_ = false;
}

File OpenFile(const std::string& path, const OpenHow& how, int* error) {
  int flags = (how.access == Access::kRead ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (how.direct) flags |= O_DIRECT;
  if (how.create == Create::kExclusive) flags |= O_CREAT | O_EXCL;
  if (how.create == Create::kTruncate) flags |= O_TRUNC;
  int fd = open(path.c_str(), flags, static_cast<mode_t>(how.mode));
  if (fd < 0) {
    *error = errno;
    return File();
  }
  return File(fd);
}

std::string TemporaryDir() {
  const char* env = std::getenv("TMPDIR");
  return env != nullptr && *env != '\0' ? env : "/var/tmp";
}

File CreateTemporaryFile(const std::string& dir, const std::string& prefix, std::string* path,
                         int* error) {
  std::string templ = dir + "/" + prefix + ".XXXXXX";
  std::vector<char> name(templ.begin(), templ.end());
  name.push_back('\0');
  int fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    *error = errno;
    return File();
  }
  unlink(name.data());  // the descriptor keeps the blocks alive
  *path = name.data();
  return File(fd);
}

void RemoveFile(const std::string& path) { unlink(path.c_str()); }

namespace {

bool Fill(int fd, const struct stat& st, FileStatus* out, int* error) {
  out->size = static_cast<uint64_t>(st.st_size);
  out->mode = static_cast<uint32_t>(st.st_mode & 07777);
  out->device = static_cast<uint64_t>(st.st_dev);
  out->inode = static_cast<uint64_t>(st.st_ino);
  if (S_ISREG(st.st_mode)) {
    out->kind = FileKind::kRegular;
  } else if (S_ISDIR(st.st_mode)) {
    out->kind = FileKind::kDirectory;
  } else if (S_ISBLK(st.st_mode)) {
    out->kind = FileKind::kBlockDevice;
#ifdef BLKGETSIZE64
    uint64_t have = 0;
    if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &have) != 0) {
      *error = errno;
      return false;
    }
    out->size = have;
#else
    (void)fd;
    (void)error;
#endif
  } else {
    out->kind = FileKind::kOther;
  }
  return true;
}

}  // namespace

bool StatFile(faio_file f, FileStatus* out, int* error) {
  struct stat st;
  if (fstat(f, &st) != 0) {
    *error = errno;
    return false;
  }
  return Fill(f, st, out, error);
}

bool StatPath(const std::string& path, FileStatus* out, int* error) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    *error = errno;
    return false;
  }
  return Fill(-1, st, out, error);
}

bool SetDirect(faio_file f, int* error) {
  int fl = fcntl(f, F_GETFL);
  if (fl >= 0 && (fl & O_DIRECT) != 0) return true;
  if (fl < 0 || fcntl(f, F_SETFL, fl | O_DIRECT) != 0) {
    *error = errno;
    return false;
  }
  return true;
}

File ReopenDirect(faio_file f, const std::string& path, Access access, int* error) {
  int flags = (access == Access::kRead ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_DIRECT;
  // The same open file as f, not whatever the name points to now.
  std::string self = fmt::format("/proc/self/fd/{}", f);
  int fd = open(self.c_str(), flags);
  if (fd < 0 && errno == ENOENT) fd = open(path.c_str(), flags);
  if (fd < 0) {
    *error = errno;
    return File();
  }
  return File(fd);
}

bool Reserve(faio_file f, uint64_t size, int* error) {
  int e = posix_fallocate(f, 0, static_cast<off_t>(size));
  // A file system without fallocate (EOPNOTSUPP, EINVAL) is no error: the
  // writes will find a full disk instead.
  if (e == ENOSPC || e == EFBIG) {
    *error = e;
    return false;
  }
  return true;
}

bool Resize(faio_file f, uint64_t size, int* error) {
  if (ftruncate(f, static_cast<off_t>(size)) != 0) {
    *error = errno;
    return false;
  }
  return true;
}

void DropCache(faio_file f) { (void)posix_fadvise(f, 0, 0, POSIX_FADV_DONTNEED); }

bool DataExtents::Next(uint64_t pos, uint64_t* start, uint64_t* end, std::string* error) {
  if (pos >= size_) return false;
  if (!sparse_) {
    *start = pos;
    *end = size_;
    return true;
  }
  off_t d = lseek(f_, static_cast<off_t>(pos), SEEK_DATA);
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
  off_t h = lseek(f_, d, SEEK_HOLE);
  uint64_t e = h < 0 ? size_ : std::min<uint64_t>(static_cast<uint64_t>(h), size_);
  *start = static_cast<uint64_t>(d);
  *end = e > *start ? e : size_;
  return true;
}

bool PrepareSparse(faio_file, int*) { return true; }  // a file that grows has holes

bool PunchHoles(faio_file, uint64_t, uint64_t, int*) { return true; }

}  // namespace faio::tool
