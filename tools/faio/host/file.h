// file.h - the files the faio tool opens, on every host: a descriptor (POSIX)
// or an overlapped handle (Windows; faio's iocp backend needs
// FILE_FLAG_OVERLAPPED, the threads backend takes any handle) as a faio_file,
// and the calls around them that differ by host. posix/file.cc and
// windows/file.cc implement it; the callers (bench's JobFile, info, cp,
// verify) are host-neutral.
//
// Errors: a function that fails returns false (or a closed File) and puts the
// host's code (errno, GetLastError()) in *error; FileErrorText describes it and
// IsError classifies it. Paths are UTF-8.
//
// Threads: any; a File is used by one thread at a time.
#ifndef FAIO_TOOLS_FAIO_HOST_FILE_H_
#define FAIO_TOOLS_FAIO_HOST_FILE_H_

#include <faio/faio.h>

#include <cstdint>
#include <string>
#include <vector>

namespace faio::tool {

// FileErrorText describes a host error code of the calls below: "No such file
// or directory (errno 2)" on POSIX, "Windows error 2: The system cannot find
// the file specified." on Windows.
std::string FileErrorText(int error);

enum class FileError {
  kNotFound,       // ENOENT, ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND
  kExists,         // EEXIST, ERROR_FILE_EXISTS / ERROR_ALREADY_EXISTS
  kDirectRefused,  // the file system refuses direct I/O (EINVAL on open)
  kNoSpace,        // ENOSPC / EFBIG, ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL
  kNotSupported,   // ERROR_NOT_SUPPORTED (SetDirect on Windows)
};
bool IsError(int error, FileError what);

// File owns one open faio_file and closes it when it goes.
class File {
 public:
  File() = default;
  explicit File(faio_file f) : f_(f), open_(true) {}
  ~File() { Close(); }
  File(File&& o) noexcept;
  File& operator=(File&& o) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  faio_file get() const { return f_; }
  bool is_open() const { return open_; }
  void Close();

 private:
  faio_file f_{};
  bool open_ = false;
};

enum class Access { kRead, kReadWrite };
enum class Create {
  kNo,         // the file must exist
  kExclusive,  // the file must not exist; it is created with `mode`
  kTruncate,   // the file must exist; it is emptied
};
struct OpenHow {
  Access access = Access::kRead;
  Create create = Create::kNo;
  bool direct = false;   // O_DIRECT, FILE_FLAG_NO_BUFFERING
  uint32_t mode = 0644;  // permission bits of a created file (POSIX)
};

// OpenFile opens path as `how` says.
File OpenFile(const std::string& path, const OpenHow& how, int* error);

// TemporaryDir is $TMPDIR when set, else /var/tmp (POSIX) or GetTempPath's
// directory (Windows).
std::string TemporaryDir();

// CreateTemporaryFile creates a new file, readable and writable, in dir, named
// after `prefix`, and removes it at once: unlinked on POSIX, delete-on-close
// on Windows. Its blocks live as long as the File, so it is gone when the
// process ends by any path. *path receives its name.
File CreateTemporaryFile(const std::string& dir, const std::string& prefix, std::string* path,
                         int* error);

// RemoveFile removes path (best effort).
void RemoveFile(const std::string& path);

enum class FileKind { kRegular, kDirectory, kBlockDevice, kOther };

struct FileStatus {
  FileKind kind = FileKind::kOther;
  uint64_t size = 0;     // bytes; a block device's (or Windows disk's) capacity
  uint32_t mode = 0644;  // permission bits (POSIX)
  // Identity: two paths name the same file when both are equal (st_dev and
  // st_ino; the volume serial number and file index on Windows).
  uint64_t device = 0;
  uint64_t inode = 0;
};

// StatFile / StatPath fill *out for an open file or a path.
bool StatFile(faio_file f, FileStatus* out, int* error);
bool StatPath(const std::string& path, FileStatus* out, int* error);

// SetDirect turns on direct I/O for f in place where the host can (POSIX:
// fcntl O_DIRECT; a no-op when it is on already). Windows cannot change a
// handle's buffering: false with ERROR_NOT_SUPPORTED; use ReopenDirect.
bool SetDirect(faio_file f, int* error);

// ReopenDirect opens the file f (at `path`) a second time with direct I/O and
// `access`: the same open file, even if the name now points elsewhere, where
// the host can tell (Linux: /proc/self/fd).
File ReopenDirect(faio_file f, const std::string& path, Access access, int* error);

// Reserve allocates the first `size` bytes of f (posix_fallocate; on Windows
// the file is extended to `size`): a full disk shows here, before any data.
bool Reserve(faio_file f, uint64_t size, int* error);

// Resize sets f's size (ftruncate, SetEndOfFile); what grows reads as zeros.
bool Resize(faio_file f, uint64_t size, int* error);

// DropCache evicts f's cached pages, so that the next read comes from the
// device (POSIX_FADV_DONTNEED; a best effort, a no-op on Windows, which has no
// such call).
void DropCache(faio_file f);

// DataExtents walks the data of a file, skipping its holes: SEEK_DATA and
// SEEK_HOLE on POSIX, FSCTL_QUERY_ALLOCATED_RANGES on Windows. Where the file
// system cannot tell, the whole file is one extent.
class DataExtents {
 public:
  DataExtents(faio_file f, uint64_t size) : f_(f), size_(size) {}
  // Next finds the next extent at or after `pos`: true and [*start, *end), or
  // false with *error empty at the end, or with the reason on failure.
  bool Next(uint64_t pos, uint64_t* start, uint64_t* end, std::string* error);

 private:
  faio_file f_;
  uint64_t size_;
  bool sparse_ = true;                                 // the file system tells
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;  // Windows: a batch of ranges
  uint64_t ranges_from_ = 0, ranges_to_ = 0;           // the span they cover
};

// PrepareSparse gets f (just emptied, about to be sized) ready to keep holes:
// on Windows it marks f sparse (FSCTL_SET_SPARSE), so that the range that
// Resize adds and the writes do not fill stays unallocated; on POSIX nothing
// is needed. False (and *error) only when the host call fails.
bool PrepareSparse(faio_file f, int* error);

// PunchHoles deallocates [from, to) of a sparse f where the host keeps it
// allocated after a resize (Windows: FSCTL_SET_ZERO_DATA); a no-op on POSIX.
bool PunchHoles(faio_file f, uint64_t from, uint64_t to, int* error);

// DirectProbe is what `faio info` reports about direct I/O on a path.
struct DirectProbe {
  std::string what;       // the path, or "PATH (probe file, removed)"
  std::string fs_name;    // "ext2/3/4", "NTFS", "unknown" ...
  const char* flag = "";  // the host's direct-I/O flag: O_DIRECT, FILE_FLAG_NO_BUFFERING
  std::string refusal;    // empty: the flag was accepted; else why not
  File file;              // the file probed, for faio_file_alignment
};

// ProbeDirect fills *out for path: a file or device is opened, and opened again
// with the direct-I/O flag; a directory gets a probe file, created and removed.
// False and *error (a sentence) when path cannot be opened; *probe_file tells
// whether it was the probe file that could not be created.
bool ProbeDirect(const std::string& path, DirectProbe* out, std::string* error, bool* probe_file);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_HOST_FILE_H_
