// engine.cc - see engine.h.
//
// The loop, per iteration:
//   1. submit what is prepared, at most --iodepth_batch_submit per
//      faio_ctx_submit call (0: all in one call), reading the clock once after
//      each call: that is the issue time of every request the call took;
//   2. faio_ctx_wait with min --iodepth_batch_complete_min (250 ms timeout, so
//      that the end of the run and Ctrl-C are noticed), then read the clock
//      once: that is the completion time of every request reaped, and the start
//      time of the batch prepared from them;
//   3. record each reaped request's latencies, prepare it again at a new offset
//      (no allocation: requests, buffers and the timestamp arrays are per slot);
//      once --fsync writes have completed, the next slot carries a flush.
#include "bench/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <span>

#include "io/submit.h"

namespace faio::tool {
namespace {

constexpr uint8_t kDirSync = 2;  // dir_ of a slot that carries a flush
constexpr uint32_t kWaitTimeoutMs = 250;
constexpr uint64_t kNoLimit = UINT64_MAX;

// Next advances a xorshift64* generator: a few instructions, plenty for
// picking blocks and directions.
inline uint64_t Next(uint64_t& s) {
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 0x2545F4914F6CDD1DULL;
}

// Below returns a number in [0, n) (Lemire's multiply-shift, no division).
inline uint64_t Below(uint64_t& s, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(Next(s)) * n) >> 64);
}

// FillPattern fills the write buffers with pseudo-random bytes once, so that
// written data does not compress or deduplicate to nothing.
void FillPattern(std::byte* p, size_t n, uint64_t seed) {
  uint64_t s = seed | 1;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = Next(s);
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<std::byte>(Next(s));
}

}  // namespace

uint64_t NowNs() {
  // CLOCK_MONOTONIC through the vDSO on Linux, QueryPerformanceCounter on Windows.
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

BenchJob::BenchJob(const BenchSpec& spec, uint32_t index)
    : spec_(spec), index_(index), result_(std::make_unique<JobResult>()) {}

BenchJob::~BenchJob() {
  // After a failed wait the kernel may still own buffers of requests in flight:
  // they must outlive this process's use of them, so they are leaked.
  if (leak_buffers_) (void)mem_.release();
}

void BenchJob::Setup(faio::Context ctx, faio_file file, uint64_t file_size, size_t alignment) {
  const uint32_t depth = spec_.iodepth;
  const size_t area = static_cast<size_t>(depth) * spec_.bs;
  mem_ = AllocAligned(alignment, area);
  if (!mem_) {
    throw ToolError(kExitFailure,
                    fmt::format("job {}: out of memory for {} bytes of I/O buffers", index_, area));
  }
  FillPattern(mem_.get(), area, 0x9E3779B97F4A7C15ULL * (index_ + 1));
  ctx_ = std::move(ctx);
  file_ = file;
  blocks_ = file_size / spec_.bs;

  for (uint32_t i = 0; i < depth; ++i) {
    auto r = faio::Request::Create();
    if (!r.ok()) {
      throw ToolError(kExitFailure, "faio_req_create: " + StatusText(static_cast<int>(r.status())));
    }
    reqs_.push_back(std::move(r).value());
  }
  pending_.reserve(depth);
  pending_slot_.reserve(depth);
  reaped_.assign(depth, nullptr);
  start_ns_.assign(depth, 0);
  issue_ns_.assign(depth, 0);
  dir_.assign(depth, kDirRead);

  const char* backend = ctx_.Backend() != nullptr ? ctx_.Backend() : "?";
  if (spec_.registerfiles) {
    int st = faio_ctx_associate_file(ctx_.native(), file_);
    if (st != FAIO_OK) {
      throw ToolError(kExitFailure,
                      fmt::format("--registerfiles: faio_ctx_associate_file: {}", StatusText(st)));
    }
    registerfiles_note_ = std::string_view(backend) == "io_uring"
                              ? "yes"
                              : fmt::format("nothing to register on {}", backend);
  }
  if (spec_.fixedbufs) {
    faio_buffer buf{mem_.get(), area};
    int st = faio_ctx_register_buffers(ctx_.native(), &buf, 1);
    if (st == FAIO_OK) {
      fixedbufs_note_ = "yes";
    } else if (st == FAIO_E_NOT_SUPPORTED) {
      fixedbufs_note_ = fmt::format("not supported by {}", backend);
    } else {
      // The job runs without them; the report says why.
      fixedbufs_note_ = fmt::format("no ({})", StatusText(st));
    }
  }
  std::random_device rd;
  rng_ = ((uint64_t{rd()} << 32) ^ rd() ^ (uint64_t{index_} << 48)) | 1;
  // Without --time_based a job stops issuing once --size bytes went out; with
  // an existing --filename and no --size, once the file's size went out (fio's
  // size= defaults to the file's size).
  size_limit_ = spec_.time_based ? kNoLimit : spec_.size_given ? spec_.size : file_size;
}

// Prepare makes slot ready for its next transfer and queues it; false when the
// job has issued --size bytes already, or the prepare failed.
bool BenchJob::Prepare(uint32_t slot, uint64_t now) {
  if (issued_bytes_ >= size_limit_) return false;
  bool write;
  if (spec_.reads && spec_.writes) {
    write = Below(rng_, 100) >= spec_.rwmixread;
  } else {
    write = spec_.writes;
  }
  uint64_t block;
  if (spec_.random) {
    block = Below(rng_, blocks_);
  } else {
    block = seq_block_;
    seq_block_ = seq_block_ + 1 == blocks_ ? 0 : seq_block_ + 1;
  }
  const int64_t off = static_cast<int64_t>(block * spec_.bs);
  std::byte* buf = mem_.get() + static_cast<size_t>(slot) * spec_.bs;
  faio_req* r = reqs_[slot].native();
  void* user = reinterpret_cast<void*>(static_cast<uintptr_t>(slot));
  int st = write ? faio_req_prepare_write(r, file_, off, buf, spec_.bs, user)
                 : faio_req_prepare_read(r, file_, off, buf, spec_.bs, user);
  if (st != FAIO_OK) {
    NoteError(fmt::format("faio_req_prepare_{}: {}", write ? "write" : "read", StatusText(st)), 0);
    return false;
  }
  start_ns_[slot] = now;
  dir_[slot] = write ? kDirWrite : kDirRead;
  issued_bytes_ += spec_.bs;
  pending_.push_back(r);
  pending_slot_.push_back(slot);
  return true;
}

void BenchJob::NoteError(const std::string& what, int host_error) {
  JobResult& res = *result_;
  if (res.first_error.empty()) {
    res.first_error = what;
    res.error = host_error != 0 ? host_error : EIO;
  }
}

void BenchJob::Run() noexcept {
  try {
    RunLoop();
  } catch (const std::exception& e) {  // std::bad_alloc from a message, at worst
    NoteError(e.what(), 0);
  }
  live_.done.store(true, std::memory_order_release);
}

void BenchJob::RunLoop() {
  const BenchSpec& s = spec_;
  JobResult& res = *result_;
  const uint32_t depth = s.iodepth;
  faio_ctx* const ctx = ctx_.native();

  const uint64_t t_begin = NowNs();
  uint64_t stats_start = t_begin;
  bool ramping = s.ramp_ns > 0;
  const uint64_t ramp_end = t_begin + s.ramp_ns;
  const uint64_t t_end = s.runtime_ns != 0 ? ramp_end + s.runtime_ns : kNoLimit;
  CpuUsage cpu0 = CpuUsage::Now();

  uint64_t total_ios[kDirections] = {0, 0};  // since t_begin, for live_
  uint64_t total_bytes[kDirections] = {0, 0};
  uint64_t writes_since_flush = 0;
  size_t inflight = 0;
  bool stopping = false;
  uint64_t last_completion = t_begin;

  uint64_t now = t_begin;
  for (uint32_t slot = 0; slot < depth; ++slot) {
    if (!Prepare(slot, now)) break;
  }
  stopping = res.failed() || pending_.empty();

  // PrepareFlush turns slot into a flush (fio's fsync=N: once N writes have
  // completed, the next free slot carries a flush; a flush thus takes a place
  // of the --iodepth, and several may be in flight).
  auto prepare_flush = [&](uint32_t slot, uint64_t t) {
    faio_req* f = reqs_[slot].native();
    int st = faio_req_prepare_flush(f, file_, reinterpret_cast<void*>(uintptr_t{slot}));
    if (st != FAIO_OK) {
      NoteError("faio_req_prepare_flush: " + StatusText(st), 0);
      stopping = true;
      return;
    }
    writes_since_flush -= s.fsync;
    start_ns_[slot] = t;
    dir_[slot] = kDirSync;
    pending_.push_back(f);
    pending_slot_.push_back(slot);
  };

  while (true) {
    // 1. Submit.
    size_t done = 0;
    while (!stopping && done < pending_.size()) {
      size_t n = pending_.size() - done;
      if (s.batch_submit != 0) n = std::min<size_t>(n, s.batch_submit);
      int st = FAIO_OK;
      size_t took = SubmitBatch(ctx, pending_.data() + done, n, &st);
      const uint64_t issued = NowNs();
      // slat: run-length recording (a batch shares its start time).
      int run_dir = -1;
      uint64_t run_val = 0, run_len = 0;
      for (size_t i = done; i < done + took; ++i) {
        const uint32_t slot = pending_slot_[i];
        issue_ns_[slot] = issued;
        int d = dir_[slot];
        if (d == kDirSync) continue;
        uint64_t v = issued - start_ns_[slot];
        if (d == run_dir && v == run_val) {
          ++run_len;
        } else {
          if (run_len != 0) res.dir[run_dir].slat.RecordN(run_val, run_len);
          run_dir = d;
          run_val = v;
          run_len = 1;
        }
      }
      if (run_len != 0) res.dir[run_dir].slat.RecordN(run_val, run_len);
      inflight += took;
      done += took;
      if (st == FAIO_OK) continue;
      if (st == FAIO_E_INSUFFICIENT_RESOURCES && inflight > 0) break;  // again after a wait
      NoteError("faio_ctx_submit: " + StatusText(st), 0);
      stopping = true;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(done));
    pending_slot_.erase(pending_slot_.begin(),
                        pending_slot_.begin() + static_cast<ptrdiff_t>(done));
    if (inflight == 0) break;

    // 2. Reap.
    uint32_t count = 0;
    size_t min = std::min<size_t>(s.batch_complete_min, inflight);
    int wst = faio_ctx_wait(ctx, min, kWaitTimeoutMs, reaped_.data(), reaped_.size(), &count);
    now = NowNs();

    // 3. Record and prepare again.
    for (uint32_t i = 0; i < count; ++i) {
      faio_req* r = reaped_[i];
      uint32_t slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(faio_req_user(r)));
      size_t got = 0;
      int st = faio_req_result(r, &got);
      const int d = dir_[slot];
      if (d == kDirSync) {
        if (st == FAIO_OK) {
          ++res.sync.ios;
          res.sync.lat.Record(now - issue_ns_[slot]);
        } else {
          ++res.sync.errors;
          NoteError("flush failed: " + StatusText(st, faio_req_host_error(r)),
                    faio_req_host_error(r));
          stopping = true;
        }
      } else {
        DirStats& ds = res.dir[d];
        if (st == FAIO_OK) {
          ++ds.ios;
          ds.bytes += got;
          ++total_ios[d];
          total_bytes[d] += got;
          if (got != s.bs) ++ds.short_ios;
          ds.clat.Record(now - issue_ns_[slot]);
          ds.lat.Record(now - start_ns_[slot]);
          if (d == kDirWrite) ++writes_since_flush;
        } else {
          ++ds.errors;
          NoteError(fmt::format("{} failed: {}", d == kDirRead ? "read" : "write",
                                StatusText(st, faio_req_host_error(r))),
                    faio_req_host_error(r));
          stopping = true;
        }
      }
      if (stopping) continue;
      if (s.fsync != 0 && writes_since_flush >= s.fsync) {
        prepare_flush(slot, now);
      } else {
        Prepare(slot, now);
      }
    }
    inflight -= count;
    if (count != 0) {
      last_completion = now;
      for (int d = 0; d < kDirections; ++d) {
        live_.ios[d].store(total_ios[d], std::memory_order_relaxed);
        live_.bytes[d].store(total_bytes[d], std::memory_order_relaxed);
      }
    }
    if (wst != FAIO_OK && wst != FAIO_E_TIMEOUT && wst != FAIO_E_INTERRUPTED) {
      NoteError("faio_ctx_wait: " + StatusText(wst), 0);
      stopping = true;
      if (count == 0) break;  // the context is broken; nothing more will come back
    }
    if (res.failed()) stopping = true;
    if (ramping && now >= ramp_end) {
      // The ramp is over: the figures start from zero (fio's ramp_time).
      ramping = false;
      for (DirStats& ds : res.dir) ds = DirStats();
      res.sync = SyncStats();
      stats_start = now;
      last_completion = now;
      cpu0 = CpuUsage::Now();
    }
    if (now >= t_end) stopping = true;
    if (Interrupted()) {
      stopping = true;
      res.interrupted = true;
    }
  }
  if (inflight != 0) leak_buffers_ = true;
  const uint64_t t_stop = NowNs();
  res.cpu = CpuUsage::Now() - cpu0;
  res.runtime_ns = last_completion > stats_start ? last_completion - stats_start : 0;
  res.min_runtime_ns = res.runtime_ns;
  res.cpu_base_ns = t_stop > stats_start ? t_stop - stats_start : 0;
  res.elapsed_ns = t_stop - t_begin;
}

}  // namespace faio::tool
