// fault_util.h - what the fault-injection tests share: scratch files, contexts
// on the "fault" backend, and a driver that submits and reaps through the
// public API only.
#ifndef FAIO_TESTS_FAULTS_FAULT_UTIL_H_
#define FAIO_TESTS_FAULTS_FAULT_UTIL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "faio/faio.h"

namespace faio_fault_test {

using Bytes = std::vector<unsigned char>;

#define EXPECT_ST(expected, actual)                                                   \
  EXPECT_EQ(expected, actual) << "expected " << faio_status_name(expected) << ", got " \
                              << faio_status_name(actual)
#define ASSERT_ST(expected, actual)                                                   \
  ASSERT_EQ(expected, actual) << "expected " << faio_status_name(expected) << ", got " \
                              << faio_status_name(actual)

// A scratch file, removed (and closed) on destruction.
class TempFile {
 public:
  explicit TempFile(int flags = O_RDWR) {
    const char* dir = getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/faio-fault-XXXXXX";
    fd_ = mkstemp(path_.data());
    if (fd_ >= 0 && flags != O_RDWR) {
      ::close(fd_);
      fd_ = ::open(path_.c_str(), flags | O_CLOEXEC);
    }
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Contents through a fresh descriptor (what the disk holds now).
  Bytes Read() const {
    Bytes out;
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    unsigned char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      out.insert(out.end(), buf, buf + n);
    }
    ::close(fd);
    return out;
  }
  bool Write(const Bytes& data, off_t off = 0) const {
    return ::pwrite(fd_, data.data(), data.size(), off) == static_cast<ssize_t>(data.size());
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Pattern fills n bytes that differ per (tag, position).
inline Bytes Pattern(size_t n, uint32_t tag) {
  Bytes b(n);
  uint32_t x = tag * 2654435761u + 12345u;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    b[i] = static_cast<unsigned char>(x >> 16);
  }
  return b;
}

// A context on the fault backend with spec (capacity 0). Two workers for the
// threads backend: the sweeps create hundreds of contexts, and sixteen
// threads each make them slow under TSan.
inline int FaultCtx(const char* spec, faio_ctx** out, uint32_t flags = 0) {
  faio_ctx_options o;
  faio_ctx_options_init(&o);
  o.backend = "fault";
  o.flags = flags;
  o.faults = spec;
  o.threads = 2;
  return faio_ctx_create_ex(out, &o);
}

// The compiled-in, available backends a fault context can wrap.
inline std::vector<std::string> InnerBackends() {
  std::vector<std::string> names;
  faio_backend_info info[16];
  size_t n = 0;
  if (faio_get_backends(info, 16, &n) != FAIO_OK) return names;
  for (size_t i = 0; i < n && i < 16; ++i) {
    if (strcmp(info[i].name, "fault") != 0) names.push_back(info[i].name);
  }
  return names;
}

// True when backend `name` can run here (else *why says why not).
inline bool BackendAvailable(const std::string& name, std::string* why) {
  faio_backend_info info[16];
  size_t n = 0;
  if (faio_get_backends(info, 16, &n) != FAIO_OK) return false;
  for (size_t i = 0; i < n && i < 16; ++i) {
    if (name == info[i].name) {
      *why = info[i].reason;
      return info[i].available != 0;
    }
  }
  *why = "not compiled in";
  return false;
}

// One finished request as the caller sees it.
struct Outcome {
  int status = FAIO_E_NOT_SUBMITTED;
  int host_error = 0;
  size_t bytes = 0;
};

inline Outcome ResultOf(faio_req* r) {
  Outcome o;
  o.status = faio_req_result(r, &o.bytes);
  o.host_error = faio_req_host_error(r);
  return o;
}

// RunOne submits one prepared request and waits for it (10 s at most).
inline Outcome RunOne(faio_ctx* c, faio_req* r) {
  Outcome o;
  o.status = faio_ctx_submit(c, &r, 1);
  if (o.status != FAIO_OK) return o;
  faio_req* got = nullptr;
  uint32_t count = 0;
  int st = faio_ctx_wait(c, 1, 10000, &got, 1, &count);
  if (st != FAIO_OK || count != 1 || got != r) {
    o.status = st == FAIO_OK ? FAIO_E_HOST : st;
    return o;
  }
  return ResultOf(r);
}

}  // namespace faio_fault_test

#endif  // FAIO_TESTS_FAULTS_FAULT_UTIL_H_
