// copy.h - the engine of `faio cp`: copies one regular file through faio with
// reads and writes in flight together, keeping holes, then flushes (and with
// `verify`, reads both files back and compares them). cp.cc parses the command
// line into CopyOptions and prints the CopyResult; tests call CopyFile directly.
//
// Threads: CopyFile runs on the calling thread; it reads the process-wide
// interrupt flag (host/host.h) but installs no signal handler.
#ifndef FAIO_TOOLS_FAIO_CP_COPY_H_
#define FAIO_TOOLS_FAIO_CP_COPY_H_

#include <cstdint>
#include <string>

#include "cli/options.h"

namespace faio::tool {

struct CopyOptions {
  std::string src;
  std::string dst;  // an existing directory: the copy goes to dst/basename(src)
  uint64_t bs = uint64_t{1} << 20;
  uint32_t iodepth = 16;
  std::string backend = "auto";
  DirectMode direct = DirectMode::kAuto;
  bool verify = false;
  bool no_clobber = false;
  bool progress = false;
};

struct CopyResult {
  std::string dst;          // the file written
  uint64_t size = 0;        // bytes in SRC (and DST)
  uint64_t data_bytes = 0;  // bytes read and written (holes are not)
  uint64_t extents = 0;     // data extents of SRC that were copied
  double seconds = 0;       // from the first read to the end of the flush
  std::string backend;
  bool direct = false;
  std::string direct_note;  // why --direct auto chose buffered I/O, when it did
  bool overwrote = false;   // DST existed and was truncated
  bool verified = false;
  double verify_seconds = 0;
};

// CopyFile copies o.src to o.dst. Throws ToolError: kExitUsage for bad options
// (e.g. --direct 1 where O_DIRECT is refused), kExitFailure for failures (the
// message names the file, the offset and the faio status), kExitInterrupted
// on Ctrl-C. On any failure a DST that CopyFile created is removed, and a DST
// that existed is left truncated to zero bytes (its old content was already
// overwritten; an empty file cannot pass for a good copy).
CopyResult CopyFile(const CopyOptions& o);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_CP_COPY_H_
