// pump.cc - see pump.h.
#include "io/pump.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <utility>

#include "cli/common.h"
#include "cli/options.h"
#include "io/submit.h"

namespace faio::tool {
namespace {

void* SlotUser(uint32_t slot) { return reinterpret_cast<void*>(static_cast<uintptr_t>(slot)); }

uint32_t UserSlot(faio_req* r) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(faio_req_user(r)));
}

}  // namespace

Pump::Pump(faio::Context& ctx, uint32_t slots, size_t slot_bytes, size_t alignment, int buffers)
    : ctx_(ctx), slot_bytes_(slot_bytes), buffers_(buffers) {
  size_t total = static_cast<size_t>(slots) * slot_bytes * static_cast<size_t>(buffers);
  // Large buffer sets go on transparent huge pages where the host allows it:
  // first-touch page faults of 4 KiB pages cost more than the I/O of a small
  // copy (measured on a VM: 32 MiB touched in 0.62 s with 4 KiB pages, 0.10 s
  // with MADV_HUGEPAGE).
  constexpr size_t kHuge = size_t{2} << 20;
  bool huge = total >= 2 * kHuge;
  if (huge) {
    alignment = std::max(alignment, kHuge);
    total = (total + kHuge - 1) / kHuge * kHuge;
  }
  mem_ = AllocAligned(alignment, std::max<size_t>(total, alignment));
  if (!mem_) {
    throw ToolError(kExitFailure,
                    fmt::format("out of memory for {} of I/O buffers", FormatBytes(total)));
  }
  if (huge) AdviseHugePages(mem_.get(), total);
  // Not cleared: every byte is written (by a read, or by the caller) before it
  // is used, and touching all of it up front costs more than the copy of a
  // small file.
  for (uint32_t i = 0; i < slots; ++i) {
    auto r = faio::Request::Create();
    if (!r.ok()) {
      throw ToolError(kExitFailure, "faio_req_create: " + StatusText(static_cast<int>(r.status())));
    }
    reqs_.push_back(std::move(r).value());
  }
  state_.assign(slots, SlotState::kIdle);
  pending_.reserve(slots);
}

Pump::~Pump() {
  if (inflight_ != 0) {
    // Only after a failing wait: the kernel may still own the buffers.
    (void)mem_.release();
  }
}

std::byte* Pump::Buffer(uint32_t slot, int which) const {
  return mem_.get() +
         (static_cast<size_t>(slot) * static_cast<size_t>(buffers_) + static_cast<size_t>(which)) *
             slot_bytes_;
}

bool Pump::Queue(uint32_t slot, faio::Status prepared, const char* what) {
  if (prepared != faio::Status::kOk) {
    Fail(fmt::format("{}: {}", what, StatusText(static_cast<int>(prepared))));
    return false;
  }
  state_[slot] = SlotState::kQueued;
  pending_.push_back(reqs_[slot].native());
  return true;
}

bool Pump::Read(uint32_t slot, faio_file f, uint64_t off, std::byte* buf, size_t len) {
  if (stopping()) return false;
  return Queue(slot,
               reqs_[slot].PrepareRead(f, static_cast<int64_t>(off), std::span<std::byte>(buf, len),
                                       SlotUser(slot)),
               "faio_req_prepare_read");
}

bool Pump::Write(uint32_t slot, faio_file f, uint64_t off, const std::byte* buf, size_t len) {
  if (stopping()) return false;
  return Queue(slot,
               reqs_[slot].PrepareWrite(f, static_cast<int64_t>(off),
                                        std::span<const std::byte>(buf, len), SlotUser(slot)),
               "faio_req_prepare_write");
}

void Pump::Fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

// Run's steps: fill the idle slots with work, drop what was queued once the
// pump stops, submit what is queued, reap what comes back.
void Pump::FillIdle(const Refill& refill) {
  while (!stopping() && !exhausted_ && !idle_.empty()) {
    uint32_t slot = idle_.back();
    if (!refill(slot)) {
      exhausted_ = true;
      return;
    }
    if (state_[slot] == SlotState::kIdle) {
      Fail("internal error: the refill step queued no request");
      return;
    }
    idle_.pop_back();
  }
}

void Pump::DropQueued() {
  // Queued but not submitted: nothing happened to them yet.
  for (faio_req* r : pending_) {
    uint32_t slot = UserSlot(r);
    state_[slot] = SlotState::kIdle;
    idle_.push_back(slot);
  }
  pending_.clear();
}

bool Pump::SubmitQueued() {
  if (pending_.empty()) return true;
  int st = 0;
  size_t took = SubmitBatch(ctx_.native(), pending_.data(), pending_.size(), &st);
  for (size_t i = 0; i < took; ++i) state_[UserSlot(pending_[i])] = SlotState::kInFlight;
  inflight_ += took;
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(took));
  // Insufficient resources with requests in flight: the rest go after a wait.
  if (st == FAIO_OK || (st == FAIO_E_INSUFFICIENT_RESOURCES && inflight_ > 0)) return true;
  Fail("faio_ctx_submit: " + StatusText(st));
  return false;
}

bool Pump::Reap(const Complete& complete) {
  auto w = ctx_.Wait(1, std::span<faio_req*>(reaped_), std::chrono::milliseconds(250));
  size_t n = w.value().count;
  inflight_ -= n;
  for (size_t i = 0; i < n; ++i) {
    faio_req* r = reaped_[i];
    uint32_t slot = UserSlot(r);
    state_[slot] = SlotState::kIdle;
    size_t got = 0;
    int st = faio_req_result(r, &got);
    complete(slot, st, got, st == FAIO_OK ? 0 : faio_req_host_error(r));
    if (state_[slot] == SlotState::kIdle) idle_.push_back(slot);
  }
  if (w.ok() || w.status() == faio::Status::kTimeout || w.status() == faio::Status::kInterrupted) {
    return true;
  }
  Fail("faio_ctx_wait: " + StatusText(static_cast<int>(w.status())));
  return n != 0;  // nothing back from a failed wait: the context is broken
}

void Pump::Run(const Refill& refill, const Complete& complete, const Tick& tick) {
  idle_.clear();
  for (uint32_t i = slots(); i > 0; --i) {
    if (state_[i - 1] == SlotState::kIdle) idle_.push_back(i - 1);
  }
  reaped_.assign(std::max<size_t>(reqs_.size(), 1), nullptr);
  exhausted_ = false;
  while (true) {
    if (Interrupted()) interrupted_ = true;
    FillIdle(refill);
    if (stopping()) DropQueued();
    if (!SubmitQueued()) continue;  // drops what is still queued, then drains
    if (inflight_ == 0) {
      if (pending_.empty() && (exhausted_ || stopping())) return;
      continue;
    }
    if (!Reap(complete)) return;
    if (tick) tick();
  }
}

int Pump::Flush(faio_file f, bool full, int* host_error) {
  return FlushAndWait(ctx_, reqs_.at(0), f, full, host_error);
}

}  // namespace faio::tool
