// kernel_faults.h - what the kernel fault tests set up: the FUSE injector
// mount (faio_faultfs), tmpfs mounts, ext4 images on loop devices, and helper
// processes.
//
// Every object here owns what it creates (mount points, mounts, loop devices,
// image files, injector processes) and removes it when it dies, also when a
// test fails half-way. Should the test process die instead (a sanitizer abort,
// a ctest timeout), the kernel cleans up: the process makes its mounts in a
// mount namespace of its own (they vanish with it), loop devices are set to
// detach themselves once the last user is gone (LO_FLAGS_AUTOCLEAR) and their
// image is already unlinked, and an injector started here ends with the test
// process (PR_SET_PDEATHSIG) and unmounts as it ends. (The namespace cannot
// be made in a process that already has threads, e.g. under TSan; mounts are
// then made in the caller's namespace and only the destructors clean up.)
// Setup methods return "" on
// success or a sentence saying why the fault could not be set up, which the
// tests turn into GTEST_SKIP() (not root, no /dev/fuse, no loop device, ...).
//
// Single-threaded use: a test creates and destroys these on its main thread.
#ifndef FAIO_TESTS_KERNEL_FAULTS_KERNEL_FAULTS_H_
#define FAIO_TESTS_KERNEL_FAULTS_KERNEL_FAULTS_H_

#include <fcntl.h>
#include <ftw.h>
#include <linux/loop.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace faio_kf {

// PrivateMounts moves the process into a mount namespace of its own, whose
// mounts do not propagate back; true if it did. Run once, before main (while
// the process has one thread; unshare(CLONE_NEWNS) refuses otherwise).
inline bool PrivateMounts() {
  if (geteuid() != 0) return false;
  if (unshare(CLONE_NEWNS) != 0) return false;
  return mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
}
inline const bool kPrivateMounts = PrivateMounts();

// NeedRoot returns "" as root, else why a test must skip.
inline std::string NeedRoot() {
  return geteuid() == 0 ? std::string() : std::string("needs root (mounts, loop devices)");
}

// MakeTempDir creates a fresh directory under base; "" on failure.
inline std::string MakeTempDir(const std::string& base, const char* prefix) {
  std::string tmpl = base + "/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

// RemoveTree deletes a directory tree (not crossing into mounts); best effort.
inline void RemoveTree(const std::string& path) {
  if (path.empty()) return;
  nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int type, struct FTW*) -> int {
        if (type == FTW_DP) {
          rmdir(p);
        } else {
          unlink(p);
        }
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

// RunCommand runs argv (searched in PATH, then /sbin and /usr/sbin), waits for
// it, and returns its exit status (-1 if it could not run or was killed). Its
// standard output and error go to *output (if not null).
inline int RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr) {
  // Everything the child needs is allocated before fork (no malloc after it).
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string alt1 = "/usr/sbin/" + argv[0];
  const std::string alt2 = "/sbin/" + argv[0];
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execvp(args[0], args.data());
    execv(alt1.c_str(), args.data());
    execv(alt2.c_str(), args.data());
    static const char kMsg[] = "cannot run the command\n";
    (void)!write(2, kMsg, sizeof kMsg - 1);
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (output != nullptr) *output = out;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// WaitExit waits up to ms for pid to end; true if it was reaped.
inline bool WaitExit(pid_t pid, int ms, int* status = nullptr) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      if (status != nullptr) *status = st;
      return true;
    }
    if (r < 0 && errno != EINTR) return true;  // not our child any more
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Unmount unmounts dir: cleanly if it can within a few tries, else lazily.
inline void Unmount(const std::string& dir) {
  for (int i = 0; i < 50; i++) {
    if (umount2(dir.c_str(), 0) == 0 || errno == EINVAL || errno == ENOENT) return;
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  umount2(dir.c_str(), MNT_DETACH);
}

inline bool IsMountedWith(const std::string& dir, long magic) {
  struct statfs sf;
  return statfs(dir.c_str(), &sf) == 0 && static_cast<long>(sf.f_type) == magic;
}

inline std::string ReadFileText(const std::string& path) {
  std::string s;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return s;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return s;
}

// ---- the FUSE injector -----------------------------------------------------------

// FaultFs mounts faio_faultfs (path FAIO_FAULTFS_PATH, given by CMake) on a
// fresh directory, passing through to a fresh backing directory in /var/tmp.
class FaultFs {
 public:
  struct Counters {
    long long read = -1, write = -1, fsync = -1, flush = -1;
  };

  FaultFs() = default;
  ~FaultFs() { Stop(); }
  FaultFs(const FaultFs&) = delete;
  FaultFs& operator=(const FaultFs&) = delete;

  // Start mounts it with the given injector arguments (--rule ..., --direct-io,
  // --writeback, --threaded). "" or why not.
  std::string Start(const std::vector<std::string>& args) {
    std::string why = NeedRoot();
    if (!why.empty()) return why;
    const char* exe = FAIO_FAULTFS_PATH;
    if (exe[0] == '\0')
      return "faio_faultfs was not built (libfuse3-dev missing at configure time)";
    if (access("/dev/fuse", R_OK | W_OK) != 0) {
      return std::string("/dev/fuse is not usable: ") + std::strerror(errno) +
             " (modprobe fuse; apt-get install fuse3)";
    }
    backing_ = MakeTempDir("/var/tmp", "faio-faultfs-backing");
    mnt_ = MakeTempDir("/tmp", "faio-faultfs-mnt");
    log_ = MakeTempDir("/tmp", "faio-faultfs-log");
    if (backing_.empty() || mnt_.empty() || log_.empty()) {
      return std::string("mkdtemp failed: ") + std::strerror(errno);
    }
    log_ += "/log";
    std::vector<std::string> argv = {exe};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(backing_);
    argv.push_back(mnt_);
    std::vector<char*> a;
    for (const std::string& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return std::string("fork failed: ") + std::strerror(errno);
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(1);
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execv(a[0], a.data());
      static const char kMsg[] = "cannot execute faio_faultfs\n";
      (void)!write(2, kMsg, sizeof kMsg - 1);
      _exit(127);
    }
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!IsMountedWith(mnt_, 0x65735546 /* FUSE_SUPER_MAGIC */)) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return "faio_faultfs exited before mounting: " + ReadFileText(log_);
      }
      if (std::chrono::steady_clock::now() >= end) return "faio_faultfs did not mount within 10 s";
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    mounted_ = true;
    return "";
  }

  // Stop unmounts, ends the injector and removes the directories.
  void Stop() {
    if (mounted_) Unmount(mnt_);
    mounted_ = false;
    if (pid_ > 0) {
      if (!WaitExit(pid_, 3000)) {
        kill(pid_, SIGTERM);
        if (!WaitExit(pid_, 2000)) {
          kill(pid_, SIGKILL);
          WaitExit(pid_, 2000);
        }
      }
      pid_ = -1;
    }
    if (!mnt_.empty()) rmdir(mnt_.c_str());
    RemoveTree(backing_);
    if (!log_.empty()) {
      unlink(log_.c_str());
      rmdir(log_.substr(0, log_.size() - 4).c_str());
    }
    mnt_.clear();
    backing_.clear();
    log_.clear();
  }

  const std::string& mnt() const { return mnt_; }
  const std::string& backing() const { return backing_; }

  // Control sends commands ("rule ...", "clear", "reset"); true on success.
  bool Control(const std::string& cmd) const {
    int fd = open((mnt_ + "/.faultfs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = write(fd, cmd.data(), cmd.size());
    close(fd);
    return n == static_cast<ssize_t>(cmd.size());
  }

  std::string Status() const { return ReadFileText(mnt_ + "/.faultfs"); }

  Counters Ops() const {
    Counters c;
    std::string s = Status();
    std::sscanf(s.c_str(), "ops read=%lld write=%lld fsync=%lld flush=%lld", &c.read, &c.write,
                &c.fsync, &c.flush);
    return c;
  }

  // Held returns how many operations the injector holds now (a hold= rule), or
  // -1.
  long long Held() const {
    std::string s = Status();
    size_t at = s.find(" held=");
    return at == std::string::npos ? -1 : std::atoll(s.c_str() + at + 6);
  }

  // WaitHeld waits up to ms for Held() to reach n; true if it did.
  bool WaitHeld(long long n, int ms) const {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (Held() != n) {
      if (std::chrono::steady_clock::now() >= end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  // Release lets every held operation go on.
  bool Release() const { return Control("release"); }

  // Fired returns how often rule i fired, or -1.
  long long Fired(int i) const {
    std::string s = Status();
    std::string key = "rule " + std::to_string(i) + " fired=";
    size_t at = s.find(key);
    if (at == std::string::npos) return -1;
    return std::atoll(s.c_str() + at + key.size());
  }

 private:
  std::string backing_, mnt_, log_;
  pid_t pid_ = -1;
  bool mounted_ = false;
};

// ---- tmpfs ---------------------------------------------------------------------

// Tmpfs mounts a tmpfs of a given size on a fresh directory.
class Tmpfs {
 public:
  ~Tmpfs() { Stop(); }
  std::string Start(size_t bytes) {
    std::string why = NeedRoot();
    if (!why.empty()) return why;
    mnt_ = MakeTempDir("/tmp", "faio-tmpfs");
    if (mnt_.empty()) return std::string("mkdtemp failed: ") + std::strerror(errno);
    std::string opts = "size=" + std::to_string(bytes) + ",mode=0700";
    if (mount("tmpfs", mnt_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      std::string e = std::string("mount -t tmpfs failed: ") + std::strerror(errno);
      rmdir(mnt_.c_str());
      mnt_.clear();
      return e;
    }
    mounted_ = true;
    return "";
  }
  void Stop() {
    if (mounted_) Unmount(mnt_);
    mounted_ = false;
    if (!mnt_.empty()) rmdir(mnt_.c_str());
    mnt_.clear();
  }
  const std::string& mnt() const { return mnt_; }

 private:
  std::string mnt_;
  bool mounted_ = false;
};

// ---- ext4 on a loop device -----------------------------------------------------------

// LoopExt4 makes an ext4 file system in a sparse image file (in /var/tmp by
// default), attaches it to a free loop device and mounts it on a fresh
// directory next to the image.
class LoopExt4 {
 public:
  ~LoopExt4() { Stop(); }

  // Start makes a file system of `mib` MiB with mkfs.ext4 and mkfs_args, its
  // image in image_dir (a sparse file: a small tmpfs there makes a thin
  // device that runs out of space under the file system), and mounts it with
  // mount_options.
  std::string Start(size_t mib, const std::vector<std::string>& mkfs_args = {},
                    const std::string& image_dir = "/var/tmp", std::string mount_options = "") {
    std::string why = NeedRoot();
    if (!why.empty()) return why;
    mount_options_ = std::move(mount_options);
    dir_ = MakeTempDir(image_dir, "faio-loop");
    if (dir_.empty()) return std::string("mkdtemp failed: ") + std::strerror(errno);
    image_ = dir_ + "/ext4.img";
    mnt_ = dir_ + "/mnt";
    if (mkdir(mnt_.c_str(), 0700) != 0) return std::string("mkdir: ") + std::strerror(errno);
    int fd = open(image_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return std::string("creating the image: ") + std::strerror(errno);
    int r = ftruncate(fd, static_cast<off_t>(mib) << 20);
    close(fd);
    if (r != 0) return std::string("sizing the image: ") + std::strerror(errno);
    std::vector<std::string> mk = {"mkfs.ext4", "-q", "-F"};
    mk.insert(mk.end(), mkfs_args.begin(), mkfs_args.end());
    mk.push_back(image_);
    std::string out;
    if (RunCommand(mk, &out) != 0) return "mkfs.ext4 failed (e2fsprogs installed?): " + out;
    if (RunCommand({"losetup", "--find", "--show", image_}, &out) != 0 || out.empty()) {
      return "losetup --find --show failed (util-linux; loop module?): " + out;
    }
    dev_ = out;
    // Hold the device open and let it detach itself when the last user (this
    // descriptor, a mount) is gone; the image goes with it.
    dev_fd_ = open(dev_.c_str(), O_RDONLY | O_CLOEXEC);
    struct loop_info64 info;
    if (dev_fd_ >= 0 && ioctl(dev_fd_, LOOP_GET_STATUS64, &info) == 0) {
      info.lo_flags |= LO_FLAGS_AUTOCLEAR;
      ioctl(dev_fd_, LOOP_SET_STATUS64, &info);
    }
    unlink(image_.c_str());
    image_.clear();
    return Mount();
  }

  // Mount mounts the device (again), with Start's options; "" or why not.
  std::string Mount() {
    if (mount(dev_.c_str(), mnt_.c_str(), "ext4", 0, mount_options_.c_str()) != 0) {
      return "mounting " + dev_ + " (ext4) failed: " + std::strerror(errno);
    }
    mounted_ = true;
    return "";
  }
  void Unmount() {
    if (mounted_) faio_kf::Unmount(mnt_);
    mounted_ = false;
  }

  void Stop() {
    Unmount();
    if (dev_fd_ >= 0) close(dev_fd_);
    dev_fd_ = -1;
    if (!dev_.empty() && Attached()) {  // autoclear did not happen (yet)
      for (int i = 0; i < 20 && Attached() && RunCommand({"losetup", "-d", dev_}) != 0; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    dev_.clear();
    if (!image_.empty()) unlink(image_.c_str());
    if (!mnt_.empty()) rmdir(mnt_.c_str());
    if (!dir_.empty()) rmdir(dir_.c_str());
    image_.clear();
    mnt_.clear();
    dir_.clear();
  }

  const std::string& mnt() const { return mnt_; }
  const std::string& dev() const { return dev_; }

 private:
  // Attached: the loop device still has a backing file.
  bool Attached() const {
    std::string name = dev_.substr(dev_.rfind('/') + 1);
    return access(("/sys/block/" + name + "/loop/backing_file").c_str(), F_OK) == 0;
  }

  std::string dir_, image_, mnt_, dev_, mount_options_;
  int dev_fd_ = -1;
  bool mounted_ = false;
};

}  // namespace faio_kf

#endif  // FAIO_TESTS_KERNEL_FAULTS_KERNEL_FAULTS_H_
