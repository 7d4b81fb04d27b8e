// cp_verify_common.h - what `faio cp` and `faio verify` share: the context they
// run on, the --direct option, the progress line on a terminal, and Pump, the
// loop that keeps a fixed set of requests in flight through faio.
//
// Threads: everything here is used from the one thread that runs the subcommand.
// Errors: setup failures throw ToolError (common.h); I/O failures inside a Pump
// run are recorded (Pump::Fail) and read back by the caller after Run.
#ifndef FAIO_TOOLS_FAIO_CP_VERIFY_COMMON_H_
#define FAIO_TOOLS_FAIO_CP_VERIFY_COMMON_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <faio/faio.hpp>
#include <functional>
#include <string>
#include <vector>

#include "common.h"

namespace faio::tool {

// Errno is "No such file or directory (errno 2)".
std::string Errno(int e);

// DirectMode is the value of a --direct option.
enum class DirectMode { kOff, kOn, kAuto };

// ParseDirect parses --direct: 0/false, 1/true, and (if allow_auto) auto.
// Throws UsageError naming the option otherwise.
DirectMode ParseDirect(const std::string& text, bool allow_auto);

// OpenContext creates the context a subcommand runs on: `backend` is "auto"
// (honours FAIO_BACKEND) or a backend name; capacity is the most requests in
// flight. A name that is unknown, not compiled in or unavailable here is an
// error that says why (UsageError for a bad name, ToolError otherwise).
faio::Context OpenContext(const std::string& backend, uint32_t capacity);

// BufferAlignment is the alignment every I/O buffer gets: a page, or more if
// the backend (faio_get_limits) or `file_memory_alignment` asks for more.
size_t BufferAlignment(uint32_t file_memory_alignment = 0);

// Progress draws a one-line progress report on stderr ("\r..."), at most five
// times a second, when enabled (the caller decides: a TTY and no
// --no-progress). Finish erases the line.
class Progress {
 public:
  Progress(std::string label, uint64_t total, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Update reports `done` bytes of `total` handled so far (`position`: where in
  // the file the work has got to, for the percentage).
  void Update(uint64_t done, uint64_t position);
  void Finish();

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

// ProgressWanted says whether a progress line should be drawn: stderr is a
// terminal and the user did not say --no-progress.
bool ProgressWanted(bool no_progress);

// Pump keeps up to `slots` requests in flight on a context. Each slot owns one
// faio request and `buffers` buffers of `slot_bytes` bytes (aligned to
// `alignment`). The caller drives it with two functions:
//   refill(slot):   start new work on an idle slot (call Read or Write on it);
//                   return false when there is no more work (it is not called
//                   again after that);
//   complete(slot, status, transferred, host_error): a request of the slot came
//                   back; the function may queue the slot's next step (Read or
//                   Write) or leave it idle.
// Run submits what was queued in batches, reaps with faio_ctx_wait (250 ms at
// most, so that Ctrl-C and the progress line are served), and returns once
// nothing is in flight and no more work comes. After Fail or an interrupt
// (Interrupted(), common.h) nothing new is queued; what is in flight is drained
// and still passed to complete.
//
// The buffers stay valid for the Pump's life; if a broken context leaves
// requests in flight, the destructor leaks them rather than free memory the
// kernel may still write.
class Pump {
 public:
  using Refill = std::function<bool(uint32_t slot)>;
  using Complete =
      std::function<void(uint32_t slot, int status, size_t transferred, int host_error)>;
  using Tick = std::function<void()>;

  Pump(faio::Context& ctx, uint32_t slots, size_t slot_bytes, size_t alignment, int buffers = 1);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  uint32_t slots() const { return static_cast<uint32_t>(reqs_.size()); }
  std::byte* Buffer(uint32_t slot, int which = 0) const;

  // Read/Write prepare the slot's request and queue it for the next submit.
  // They return false (and queue nothing) once the pump is stopping, or when the
  // prepare fails (which is recorded with Fail).
  bool Read(uint32_t slot, int fd, uint64_t off, std::byte* buf, size_t len);
  bool Write(uint32_t slot, int fd, uint64_t off, const std::byte* buf, size_t len);

  // Fail records the first error and stops the pump from taking new work.
  void Fail(std::string message);

  void Run(const Refill& refill, const Complete& complete, const Tick& tick);

  // Flush runs one flush of fd through the context (after Run) and waits for
  // it: FAIO_OK or the failure's status; *host_error gets the host's code.
  int Flush(int fd, bool full, int* host_error);

  bool stopping() const { return !error_.empty() || interrupted_; }
  const std::string& error() const { return error_; }
  bool interrupted() const { return interrupted_; }

 private:
  enum class SlotState { kIdle, kQueued, kInFlight };
  bool Queue(uint32_t slot, faio::Status prepared, const char* what);

  faio::Context& ctx_;
  size_t slot_bytes_;
  int buffers_;
  AlignedBuffer mem_;
  std::vector<faio::Request> reqs_;
  std::vector<SlotState> state_;
  std::vector<faio_req*> pending_;
  size_t inflight_ = 0;
  std::string error_;
  bool interrupted_ = false;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_CP_VERIFY_COMMON_H_
