// info.cc - see info.h.
#include "info.h"

#include <memory>

#include "subcommand.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <faio/faio.hpp>
#include <vector>

#include "common.h"

namespace faio::tool {
namespace {

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

std::string Bytes(uint32_t n) { return n <= 1 ? "any" : fmt::format("{} bytes", n); }

void PrintBackends() {
  std::vector<faio_backend_info> backends = Backends();
  fmt::print("backends (compiled in, in the order auto tries them):\n");
  if (backends.empty()) fmt::print("  none\n");
  for (const faio_backend_info& b : backends) {
    const char* only_named = b.automatic ? "" : " (not tried by auto: only when named)";
    if (b.available) {
      fmt::print("  {:<10} available{}\n", b.name != nullptr ? b.name : "?", only_named);
    } else {
      std::string reason =
          b.reason[0] != '\0' ? std::string(b.reason) : StatusText(b.status, b.host_error);
      fmt::print("  {:<10} unavailable{}: {}\n", b.name != nullptr ? b.name : "?", only_named,
                 reason);
    }
  }
}

void PrintAutoAndLimits() {
  const char* env = std::getenv("FAIO_BACKEND");
  std::string via = env != nullptr && *env != '\0' ? fmt::format(" (FAIO_BACKEND={})", env) : "";
  faio_ctx* ctx = nullptr;
  int st = faio_ctx_create(&ctx, 1, 0);
  if (st == FAIO_OK) {
    const char* name = faio_ctx_backend(ctx);
    fmt::print("auto picks: {}{}\n", name != nullptr ? name : "?", via);
    (void)faio_ctx_destroy(ctx);
  } else {
    fmt::print("auto picks: nothing{}: {}\n", via, StatusText(st));
  }
  faio_limits limits{};
  st = faio_get_limits(&limits);
  if (st == FAIO_OK) {
    fmt::print("limits: max_requests={}, buffer_alignment={}\n",
               limits.max_requests == FAIO_UNLIMITED ? std::string("unlimited")
                                                     : fmt::format("{}", limits.max_requests),
               limits.buffer_alignment == 0 ? std::string("none")
                                            : fmt::format("{}", limits.buffer_alignment));
  } else {
    fmt::print("limits: unknown: {}\n", StatusText(st));
  }
}

// ProbeDirect prints the direct-I/O alignment of `fd` and whether the file
// system takes O_DIRECT at all (`direct_ok`, `direct_errno`).
void PrintAlignment(const std::string& what, int fd, bool direct_ok, int direct_errno) {
  faio_alignment al{};
  int st = faio_file_alignment(fd, &al);
  fmt::print("direct I/O on {} ({}):\n", what, FsName(fd));
  if (st == FAIO_OK) {
    fmt::print("  alignment: memory {}, offset and length {}\n", Bytes(al.memory),
               Bytes(al.offset));
  } else {
    fmt::print("  alignment: not known: {}\n", StatusText(st));
  }
  if (direct_ok) {
    fmt::print("  O_DIRECT: accepted\n");
  } else {
    fmt::print("  O_DIRECT: refused: {} (errno {})\n", std::strerror(direct_errno), direct_errno);
  }
}

int ProbePath(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    int e = errno;
    throw ToolError(kExitFailure, fmt::format("{}: {}", path, std::strerror(e)));
  }
  if (S_ISDIR(st.st_mode)) {
    std::string templ = path + "/.faio-info.XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    int fd = mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      fmt::print("direct I/O on {}: cannot create a probe file there: {}\n", path,
                 std::strerror(e));
      return kExitFailure;
    }
    unlink(name.data());  // the probe lives only as long as its descriptor
    int fl = fcntl(fd, F_GETFL);
    bool direct_ok = fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
    int direct_errno = direct_ok ? 0 : errno;
    PrintAlignment(fmt::format("{} (probe file, removed)", path), fd, direct_ok, direct_errno);
    close(fd);
    return kExitOk;
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    throw ToolError(kExitFailure, fmt::format("{}: cannot open: {}", path, std::strerror(e)));
  }
  int dfd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  int direct_errno = dfd < 0 ? errno : 0;
  if (dfd >= 0) close(dfd);
  PrintAlignment(path, fd, dfd >= 0, direct_errno);
  close(fd);
  return kExitOk;
}

}  // namespace

int RunInfo(const std::string& path) {
  fmt::print("faio {} (headers {}.{}.{})\n", VersionString(), FAIO_VERSION_MAJOR,
             FAIO_VERSION_MINOR, FAIO_VERSION_PATCH);
  PrintBackends();
  PrintAutoAndLimits();
  return ProbePath(path);
}

Subcommand AddInfo(CLI::App& parent) {
  auto path = std::make_shared<std::string>(".");
  CLI::App* app = parent.add_subcommand(
      "info",
      "Print the library version, the compiled-in backends (available or why not), the "
      "limits, the backend auto picks, and the direct-I/O alignment of PATH.");
  app->add_option("PATH", *path,
                  "file, block device or directory (a probe file is created and removed)")
      ->capture_default_str();
  return {app, [path] { return RunInfo(*path); }};
}

}  // namespace faio::tool
