// job_file.h - the file a bench job reads or writes: an existing file or block device, or a
// file the tool creates and fills through faio (a temporary one by default).
#ifndef FAIO_TOOLS_FAIO_BENCH_JOB_FILE_H_
#define FAIO_TOOLS_FAIO_BENCH_JOB_FILE_H_

#include <faio/faio.h>

#include <cstdint>
#include <faio/faio.hpp>
#include <string>

#include "host/file.h"

namespace faio::tool {

// JobFile owns the descriptor (POSIX) or handle (Windows, opened with
// FILE_FLAG_OVERLAPPED) of the job's file (host/file.h).
//
// A temporary file is unlinked as soon as it is created (on Windows: opened with
// FILE_FLAG_DELETE_ON_CLOSE): its blocks live only as long as the descriptor, so
// the file is gone when the tool exits by any path (normal end, error, SIGINT,
// even SIGKILL) and no cleanup code has to run.
//
// The host's calls are in host/file.h; laying out the data goes through faio
// (io/pump.h).
class JobFile {
 public:
  JobFile() = default;
  JobFile(JobFile&& o) noexcept = default;
  JobFile& operator=(JobFile&& o) noexcept = default;
  JobFile(const JobFile&) = delete;
  JobFile& operator=(const JobFile&) = delete;

  faio_file file() const { return file_.get(); }
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  bool temporary() const { return temporary_; }
  bool created() const { return created_; }

  // CreateTemporary creates a file of `size` bytes in $TMPDIR (or /var/tmp; on
  // Windows $TMPDIR or else GetTempPath's directory),
  // unlinks it at once, and fills it with non-zero data written through ctx with
  // up to `depth` writes in flight. Then it is flushed (through ctx) and its pages
  // dropped from the page cache, as fio does before a read job (POSIX only:
  // Windows has no call for that; use --direct 1 to read past the cache).
  static JobFile CreateTemporary(faio::Context& ctx, uint64_t size, uint32_t depth);

  // Open opens `path` for reading (and writing, when `writable`). A missing
  // file is created with `size` bytes (laid out as above, and kept, as fio keeps
  // the files it lays out; removed again if the layout fails). An existing
  // regular file or block device is used as it is; `size`, when given
  // explicitly (size_given), limits the part used.
  static JobFile Open(faio::Context& ctx, const std::string& path, uint64_t size, bool size_given,
                      bool direct, uint32_t depth, bool writable = false);

  // EnableDirect switches the descriptor to O_DIRECT (a no-op when it already is).
  // On Windows the file is opened again with FILE_FLAG_NO_BUFFERING (the first
  // handle stays open until the JobFile goes). Throws a ToolError naming --direct
  // when the file system refuses.
  void EnableDirect();

 private:
  void LayOut(faio::Context& ctx, uint32_t depth);
  // Created takes a file just created (by Open, or a temporary one already
  // unlinked or delete-on-close) and lays it out; on failure the file is closed,
  // and removed unless temporary, before the error goes on.
  static JobFile Created(faio::Context& ctx, File file, const std::string& path, uint64_t size,
                         uint32_t depth, bool temporary);

  File file_;
  File first_;  // the buffered handle that EnableDirect replaced (Windows)
  bool direct_ = false;
  std::string path_;
  uint64_t size_ = 0;
  bool temporary_ = false;
  bool created_ = false;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_BENCH_JOB_FILE_H_
