// probe.cc - `faio info`'s direct-I/O probe of a path on POSIX hosts (ProbeDirect,
// host/file.h).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/magic.h>
#include <sys/vfs.h>
#endif

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "host/file.h"

namespace faio::tool {
namespace {

#ifdef __linux__
// FsName names the common Linux file systems (statfs f_type), for the report.
std::string FsName(int fd) {
  struct statfs sfs;
  if (fstatfs(fd, &sfs) != 0) return "unknown";
  switch (static_cast<unsigned long>(sfs.f_type)) {
    case EXT4_SUPER_MAGIC:
      return "ext2/3/4";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case TMPFS_MAGIC:
      return "tmpfs";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlayfs";
    case NFS_SUPER_MAGIC:
      return "nfs";
    case 0xF2F52010UL:
      return "f2fs";
    case 0x2FC12FC1UL:
      return "zfs";
    case 0x62656572UL:
      return "sysfs";
    case 0x9fa0UL:
      return "proc";
    case 0x6a656a63UL:
      return "fakeowner";
    case 0x65735546UL:
      return "fuse";
    case BDEVFS_MAGIC:
      return "bdev";
    default:
      return fmt::format("type {:#x}", static_cast<unsigned long>(sfs.f_type));
  }
}
#else
std::string FsName(int) { return "unknown"; }
#endif

std::string Refusal(int e) { return fmt::format("{} (errno {})", std::strerror(e), e); }

}  // namespace

bool ProbeDirect(const std::string& path, DirectProbe* out, std::string* error, bool* probe_file) {
  out->flag = "O_DIRECT";
  *probe_file = false;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    *error = fmt::format("{}: {}", path, std::strerror(errno));
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    std::string templ = path + "/.faio-info.XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    int fd = mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) {
      *error = fmt::format("direct I/O on {}: cannot create a probe file there: {}", path,
                           std::strerror(errno));
      *probe_file = true;
      return false;
    }
    unlink(name.data());  // the probe lives only as long as its descriptor
    out->file = File(fd);
    int fl = fcntl(fd, F_GETFL);
    bool direct_ok = fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
    out->refusal = direct_ok ? std::string() : Refusal(errno);
    out->what = fmt::format("{} (probe file, removed)", path);
    out->fs_name = FsName(fd);
    return true;
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = fmt::format("{}: cannot open: {}", path, std::strerror(errno));
    return false;
  }
  out->file = File(fd);
  int dfd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  out->refusal = dfd < 0 ? Refusal(errno) : std::string();
  if (dfd >= 0) close(dfd);
  out->what = path;
  out->fs_name = FsName(fd);
  return true;
}

}  // namespace faio::tool
