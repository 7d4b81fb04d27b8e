// smoke_files.cc - what the smoke tests of faio cp and faio verify (smoke.cmake)
// do to files that CMake cannot: punch a hole, corrupt a byte, tell how much of
// a file is allocated. The same commands on every host (under Wine for the
// Windows build); only the host calls differ.
//
//   faio_smoke_files punch PATH OFFSET LENGTH   deallocate [OFFSET, +LENGTH): a
//                                               hole (fallocate PUNCH_HOLE;
//                                               FSCTL_SET_SPARSE + SET_ZERO_DATA)
//   faio_smoke_files corrupt PATH OFFSET        flip the bits of one byte
//   faio_smoke_files allocated PATH             print "allocated N size M"
//
// Exit status 0; 3 when the host cannot punch holes; else 1 with a message on
// stderr.
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winioctl.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "faio_smoke_files: %s\n", what.c_str());
  return 1;
}

// Unsupported: the host (or its file system) cannot punch holes: exit 3, so
// that the caller can make the hole another way (Wine implements none of the
// sparse-file FSCTLs).
int Unsupported(const std::string& why) {
  std::fprintf(stderr, "faio_smoke_files: no holes here: %s\n", why.c_str());
  return 3;
}

#ifdef _WIN32

std::string Why() { return "Windows error " + std::to_string(GetLastError()); }

HANDLE Open(const char* path) {
  return CreateFileA(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                     nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
}

int Punch(const char* path, uint64_t off, uint64_t len) {
  HANDLE h = Open(path);
  if (h == INVALID_HANDLE_VALUE) return Fail(std::string("open ") + path + ": " + Why());
  DWORD got = 0;
  FILE_SET_SPARSE_BUFFER sparse{TRUE};
  FILE_ZERO_DATA_INFORMATION zero;
  zero.FileOffset.QuadPart = static_cast<LONGLONG>(off);
  zero.BeyondFinalZero.QuadPart = static_cast<LONGLONG>(off + len);
  bool ok =
      DeviceIoControl(h, FSCTL_SET_SPARSE, &sparse, sizeof sparse, nullptr, 0, &got, nullptr) &&
      DeviceIoControl(h, FSCTL_SET_ZERO_DATA, &zero, sizeof zero, nullptr, 0, &got, nullptr);
  DWORD e = ok ? 0 : GetLastError();
  std::string why = ok ? "" : Why();
  CloseHandle(h);
  if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION) return Unsupported(why);
  return ok ? 0 : Fail("punching a hole: " + why);
}

int Corrupt(const char* path, uint64_t off) {
  HANDLE h = Open(path);
  if (h == INVALID_HANDLE_VALUE) return Fail(std::string("open ") + path + ": " + Why());
  OVERLAPPED ov{};
  ov.Offset = static_cast<DWORD>(off);
  ov.OffsetHigh = static_cast<DWORD>(off >> 32);
  unsigned char b = 0;
  DWORD n = 0;
  bool ok = ReadFile(h, &b, 1, &n, &ov) && n == 1;
  b = static_cast<unsigned char>(~b);
  ok = ok && WriteFile(h, &b, 1, &n, &ov) && n == 1;
  std::string why = ok ? "" : Why();
  CloseHandle(h);
  return ok ? 0 : Fail("corrupting: " + why);
}

int Allocated(const char* path) {
  WIN32_FILE_ATTRIBUTE_DATA attrs;
  if (!GetFileAttributesExA(path, GetFileExInfoStandard, &attrs)) return Fail(Why());
  DWORD high = 0;
  DWORD low = GetCompressedFileSizeA(path, &high);
  if (low == INVALID_FILE_SIZE && GetLastError() != NO_ERROR) return Fail(Why());
  uint64_t size = (uint64_t{attrs.nFileSizeHigh} << 32) | attrs.nFileSizeLow;
  std::printf("allocated %llu size %llu\n",
              static_cast<unsigned long long>((uint64_t{high} << 32) | low),
              static_cast<unsigned long long>(size));
  return 0;
}

#else

std::string Why() { return std::strerror(errno); }

int Punch(const char* path, uint64_t off, uint64_t len) {
  int fd = open(path, O_RDWR);
  if (fd < 0) return Fail(std::string("open ") + path + ": " + Why());
#ifdef FALLOC_FL_PUNCH_HOLE
  int r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                    static_cast<off_t>(len));
#else
  errno = EOPNOTSUPP;
  int r = -1;
#endif
  int e = r == 0 ? 0 : errno;
  std::string why = r == 0 ? "" : Why();
  close(fd);
  if (e == EOPNOTSUPP) return Unsupported(why);
  return r == 0 ? 0 : Fail("punching a hole: " + why);
}

int Corrupt(const char* path, uint64_t off) {
  int fd = open(path, O_RDWR);
  if (fd < 0) return Fail(std::string("open ") + path + ": " + Why());
  unsigned char b = 0;
  bool ok = pread(fd, &b, 1, static_cast<off_t>(off)) == 1;
  b = static_cast<unsigned char>(~b);
  ok = ok && pwrite(fd, &b, 1, static_cast<off_t>(off)) == 1;
  std::string why = ok ? "" : Why();
  close(fd);
  return ok ? 0 : Fail("corrupting: " + why);
}

int Allocated(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) return Fail(Why());
  std::printf("allocated %llu size %llu\n", static_cast<unsigned long long>(st.st_blocks) * 512,
              static_cast<unsigned long long>(st.st_size));
  return 0;
}

#endif

uint64_t Number(const char* s) { return std::strtoull(s, nullptr, 0); }

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "punch" && argc == 5) return Punch(argv[2], Number(argv[3]), Number(argv[4]));
  if (cmd == "corrupt" && argc == 4) return Corrupt(argv[2], Number(argv[3]));
  if (cmd == "allocated" && argc == 3) return Allocated(argv[2]);
  return Fail("usage: punch PATH OFFSET LENGTH | corrupt PATH OFFSET | allocated PATH");
}
