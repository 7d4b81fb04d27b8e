// test_util.h - what the faio cp / faio verify tests share: a scratch
// directory, files of random bytes, byte comparison, and running the built
// `faio` binary with its output captured.
#ifndef FAIO_TESTS_TOOL_COPY_VERIFY_TEST_UTIL_H_
#define FAIO_TESTS_TOOL_COPY_VERIFY_TEST_UTIL_H_

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace faio::tool::testing {

// ScratchDir is a fresh directory under $TMPDIR (or /var/tmp: a disk file
// system, with O_DIRECT and SEEK_HOLE), removed with its content at the end.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& base = "") {
    std::string root = base;
    if (root.empty()) {
      const char* env = std::getenv("TMPDIR");
      root = env != nullptr && *env != '\0' ? env : "/var/tmp";
    }
    std::string templ = root + "/faio-cv-test.XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    if (mkdtemp(name.data()) != nullptr) path_ = name.data();
  }
  ~ScratchDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// RandomBytes is n reproducible pseudo-random bytes (8 per generator step:
// the sanitizer builds run these tests too, and per-byte loops are slow there).
inline std::vector<char> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<char> v(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = rng();
    std::memcpy(v.data() + i, &w, 8);
  }
  uint64_t w = rng();
  if (i < n) std::memcpy(v.data() + i, &w, n - i);
  return v;
}

inline void WriteAt(const std::string& path, uint64_t off, const std::vector<char>& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(off + done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
}

inline void WriteFile(const std::string& path, const std::vector<char>& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::vector<char> ReadFile(const std::string& path) {
  std::vector<char> v;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return v;
  struct stat st;
  if (fstat(fd, &st) == 0) v.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < v.size()) {
    ssize_t n = pread(fd, v.data() + done, v.size() - done, static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  v.resize(done);
  close(fd);
  return v;
}

// FirstDifference is cmp(1): the first offset where a and b differ (a shorter
// file differs where it ends), or nullopt when they are identical.
inline std::optional<uint64_t> FirstDifference(const std::string& a, const std::string& b) {
  std::vector<char> x = ReadFile(a), y = ReadFile(b);
  size_t n = std::min(x.size(), y.size());
  if (std::memcmp(x.data(), y.data(), n) != 0) {
    for (size_t i = 0; i < n; ++i) {
      if (x[i] != y[i]) return i;
    }
  }
  if (x.size() != y.size()) return n;
  return std::nullopt;
}

inline uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// ODirectRefused says whether creating a file in dir with O_DIRECT fails with
// EINVAL (the file system does not do direct I/O).
inline bool ODirectRefused(const std::string& dir) {
  std::string p = dir + "/.odirect-probe";
  int fd = open(p.c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
  int e = errno;
  if (fd >= 0) close(fd);
  unlink(p.c_str());
  return fd < 0 && e == EINVAL;
}

struct RunResult {
  int exit_code = -1;  // or 128 + signal
  std::string out, err;
};

// RunProgram runs argv[0] with argv (no shell), stdout and stderr captured through
// files in `scratch`.
inline RunResult RunProgram(const std::vector<std::string>& argv, const std::string& scratch) {
  RunResult r;
  std::string out = scratch + "/.stdout", err = scratch + "/.stderr";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = std::string("posix_spawn failed: ") + std::strerror(rc);
    return r;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& p) {
    std::vector<char> v = ReadFile(p);
    return std::string(v.begin(), v.end());
  };
  r.out = slurp(out);
  r.err = slurp(err);
  unlink(out.c_str());
  unlink(err.c_str());
  return r;
}

inline std::string Tool() { return FAIO_TOOL_BINARY; }

}  // namespace faio::tool::testing

#endif  // FAIO_TESTS_TOOL_COPY_VERIFY_TEST_UTIL_H_
