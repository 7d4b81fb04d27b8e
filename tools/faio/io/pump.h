// pump.h - Pump, the one way the faio tool keeps a set of requests in flight
// (cp, verify, and laying out bench's files; the bench engine keeps its own
// loop for its timing, over submit.h).
//
// Threads: a Pump is used from the one thread that runs it.
// Errors: setup failures throw ToolError (cli/common.h); I/O failures inside a
// run are recorded (Pump::Fail) and read back by the caller after Run.
#ifndef FAIO_TOOLS_FAIO_IO_PUMP_H_
#define FAIO_TOOLS_FAIO_IO_PUMP_H_

#include <faio/faio.h>

#include <cstddef>
#include <cstdint>
#include <faio/faio.hpp>
#include <functional>
#include <string>
#include <vector>

#include "host/host.h"

namespace faio::tool {

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
// (Interrupted(), host/host.h) nothing new is queued; what is in flight is drained
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
  bool Read(uint32_t slot, faio_file f, uint64_t off, std::byte* buf, size_t len);
  bool Write(uint32_t slot, faio_file f, uint64_t off, const std::byte* buf, size_t len);

  // Fail records the first error and stops the pump from taking new work.
  void Fail(std::string message);

  void Run(const Refill& refill, const Complete& complete, const Tick& tick);

  // Flush runs one flush of f through the context (after Run) and waits for
  // it (FlushAndWait, submit.h): FAIO_OK or the failure's status; *host_error
  // gets the host's code.
  int Flush(faio_file f, bool full, int* host_error);

  bool stopping() const { return !error_.empty() || interrupted_; }
  const std::string& error() const { return error_; }
  bool interrupted() const { return interrupted_; }

 private:
  enum class SlotState { kIdle, kQueued, kInFlight };
  bool Queue(uint32_t slot, faio::Status prepared, const char* what);
  void FillIdle(const Refill& refill);
  void DropQueued();
  bool SubmitQueued();                  // false: the submit failed (recorded with Fail)
  bool Reap(const Complete& complete);  // false: the context is broken

  faio::Context& ctx_;
  size_t slot_bytes_;
  int buffers_;
  AlignedBuffer mem_;
  std::vector<faio::Request> reqs_;
  std::vector<SlotState> state_;
  std::vector<faio_req*> pending_;
  std::vector<uint32_t> idle_;  // slots with nothing queued or in flight
  std::vector<faio_req*> reaped_;
  size_t inflight_ = 0;
  bool exhausted_ = false;  // refill said there is no more work
  std::string error_;
  bool interrupted_ = false;
};

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_IO_PUMP_H_
