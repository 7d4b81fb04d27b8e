// cp_verify_common.cc - see cp_verify_common.h.
#include "cp_verify_common.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

#include "options.h"

namespace faio::tool {
namespace {

void* SlotUser(uint32_t slot) { return reinterpret_cast<void*>(static_cast<uintptr_t>(slot)); }

uint32_t UserSlot(faio_req* r) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(faio_req_user(r)));
}

std::string Mib(double bytes) { return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024.0)); }

}  // namespace

std::string Errno(int e) { return fmt::format("{} (errno {})", std::strerror(e), e); }

DirectMode ParseDirect(const std::string& text, bool allow_auto) {
  if (text == "0" || text == "false") return DirectMode::kOff;
  if (text == "1" || text == "true") return DirectMode::kOn;
  if (allow_auto && text == "auto") return DirectMode::kAuto;
  throw UsageError(
      fmt::format("--direct '{}': must be {}", text, allow_auto ? "auto, 0 or 1" : "0 or 1"));
}

faio::Context OpenContext(const std::string& backend, uint32_t capacity) {
  if (backend.empty()) throw UsageError("--backend: empty name (use auto, io_uring, threads, ...)");
  bool is_auto = backend == "auto";
  std::string who = CheckBackend(backend);
  faio::Options opts;
  opts.capacity = capacity;
  opts.backend = is_auto ? nullptr : backend.c_str();
  auto ctx = faio::Context::Create(opts);
  if (!ctx.ok()) {
    int st = static_cast<int>(ctx.status());
    throw ToolError(kExitFailure,
                    fmt::format("{}: cannot create a context of capacity {}: {}",
                                is_auto ? "faio_ctx_create" : who, capacity, StatusText(st)));
  }
  faio::Context c = std::move(ctx).value();
  if (c.Capacity() < capacity) {
    throw ToolError(kExitFailure,
                    fmt::format("--iodepth: the context holds only {} requests, {} needed",
                                c.Capacity(), capacity));
  }
  return c;
}

size_t BufferAlignment(uint32_t file_memory_alignment) {
  size_t alignment = 4096;
  faio_limits limits{};
  if (faio_get_limits(&limits) == FAIO_OK && limits.buffer_alignment > alignment) {
    alignment = limits.buffer_alignment;
  }
  if (file_memory_alignment > alignment) alignment = file_memory_alignment;
  return alignment;
}

// ---- Progress -----------------------------------------------------------------------

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() { Finish(); }

bool ProgressWanted(bool no_progress) { return !no_progress && isatty(STDERR_FILENO) == 1; }

void Progress::Update(uint64_t done, uint64_t position) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  double pct = total_ > 0 ? 100.0 * static_cast<double>(std::min(position, total_)) /
                                static_cast<double>(total_)
                          : 100.0;
  std::string line =
      fmt::format("{}: {:5.1f}%  {} of {}  {}/s", label_, pct, Mib(static_cast<double>(done)),
                  Mib(static_cast<double>(total_)), Mib(rate));
  fmt::print(stderr, "\r{:<78}", line);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (!drawn_) return;
  fmt::print(stderr, "\r{:<78}\r", "");
  std::fflush(stderr);
  drawn_ = false;
}

// ---- Pump ---------------------------------------------------------------------------

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
#ifdef MADV_HUGEPAGE
  if (huge) (void)madvise(mem_.get(), total, MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
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

bool Pump::Read(uint32_t slot, int fd, uint64_t off, std::byte* buf, size_t len) {
  if (stopping()) return false;
  return Queue(slot,
               reqs_[slot].PrepareRead(fd, static_cast<int64_t>(off),
                                       std::span<std::byte>(buf, len), SlotUser(slot)),
               "faio_req_prepare_read");
}

bool Pump::Write(uint32_t slot, int fd, uint64_t off, const std::byte* buf, size_t len) {
  if (stopping()) return false;
  return Queue(slot,
               reqs_[slot].PrepareWrite(fd, static_cast<int64_t>(off),
                                        std::span<const std::byte>(buf, len), SlotUser(slot)),
               "faio_req_prepare_write");
}

void Pump::Fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

void Pump::Run(const Refill& refill, const Complete& complete, const Tick& tick) {
  std::vector<uint32_t> idle;
  for (uint32_t i = slots(); i > 0; --i) {
    if (state_[i - 1] == SlotState::kIdle) idle.push_back(i - 1);
  }
  std::vector<faio_req*> reaped(std::max<size_t>(reqs_.size(), 1));
  bool exhausted = false;

  while (true) {
    if (Interrupted()) interrupted_ = true;
    while (!stopping() && !exhausted && !idle.empty()) {
      uint32_t slot = idle.back();
      if (!refill(slot)) {
        exhausted = true;
        break;
      }
      if (state_[slot] == SlotState::kIdle) {
        Fail("internal error: the refill step queued no request");
        break;
      }
      idle.pop_back();
    }
    if (stopping()) {
      // Queued but not submitted: nothing happened to them yet; drop them.
      for (faio_req* r : pending_) {
        uint32_t slot = UserSlot(r);
        state_[slot] = SlotState::kIdle;
        idle.push_back(slot);
      }
      pending_.clear();
    }
    if (!pending_.empty()) {
      int st = 0;
      size_t took = SubmitBatch(ctx_.native(), pending_.data(), pending_.size(), &st);
      for (size_t i = 0; i < took; ++i) state_[UserSlot(pending_[i])] = SlotState::kInFlight;
      inflight_ += took;
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(took));
      if (st != FAIO_OK && !(st == FAIO_E_INSUFFICIENT_RESOURCES && inflight_ > 0)) {
        Fail("faio_ctx_submit: " + StatusText(st));
        continue;  // drops what is still queued, then drains
      }
    }
    if (inflight_ == 0) {
      if (pending_.empty() && (exhausted || stopping())) break;
      continue;
    }

    auto w = ctx_.Wait(1, std::span<faio_req*>(reaped), std::chrono::milliseconds(250));
    size_t n = w.value().count;
    inflight_ -= n;
    for (size_t i = 0; i < n; ++i) {
      faio_req* r = reaped[i];
      uint32_t slot = UserSlot(r);
      state_[slot] = SlotState::kIdle;
      size_t got = 0;
      int st = faio_req_result(r, &got);
      complete(slot, st, got, st == FAIO_OK ? 0 : faio_req_host_error(r));
      if (state_[slot] == SlotState::kIdle) idle.push_back(slot);
    }
    if (!w.ok() && w.status() != faio::Status::kTimeout &&
        w.status() != faio::Status::kInterrupted) {
      Fail("faio_ctx_wait: " + StatusText(static_cast<int>(w.status())));
      if (n == 0) break;  // the context is broken; nothing more will come back
    }
    if (tick) tick();
  }
}

int Pump::Flush(int fd, bool full, int* host_error) {
  *host_error = 0;
  faio::Request& req = reqs_.at(0);
  faio::Status s = req.PrepareFlush(fd, nullptr, full);
  if (s == faio::Status::kOk) s = ctx_.Submit(req);
  if (s != faio::Status::kOk) return static_cast<int>(s);
  ++inflight_;
  faio_req* out = nullptr;
  auto w = ctx_.Wait(1, std::span<faio_req*>(&out, 1));
  if (w.value().count != 1) return static_cast<int>(w.status());
  --inflight_;
  int st = faio_req_result(out, nullptr);
  if (st != FAIO_OK) *host_error = faio_req_host_error(out);
  return st;
}

}  // namespace faio::tool
