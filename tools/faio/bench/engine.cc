// engine.cc - see engine.h.
//
// The loop, per iteration:
//   1. submit what is prepared, at most --iodepth_batch_submit per
//      faio_ctx_submit call (0: all in one call; auto, the default: the Shape
//      BatchTuner measures as best for rate and CPU, e.g. a quarter of the
//      depth first and the rest in one call), reading the clock once after
//      each call:
//      that is the issue time of every request the call took;
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

#include "host/host.h"
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
    : tuner_(spec.iodepth, ThreadCpuClock),
      spec_(spec),
      index_(index),
      result_(std::make_unique<JobResult>()) {}

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
  // Not asked for (*_auto): used where the backend has them; a refusal is
  // then only reported, and the report's note starts with "auto: ".
  auto note = [](bool automatic, std::string what) { return automatic ? "auto: " + what : what; };
  if (spec_.registerfiles) {
    int st = faio_ctx_associate_file(ctx_.native(), file_);
    if (st != FAIO_OK && !spec_.registerfiles_auto) {
      throw ToolError(kExitFailure,
                      fmt::format("--registerfiles: faio_ctx_associate_file: {}", StatusText(st)));
    }
    registerfiles_note_ =
        note(spec_.registerfiles_auto, st != FAIO_OK ? fmt::format("no ({})", StatusText(st))
                                       : std::string_view(backend) == "io_uring"
                                           ? "yes"
                                           : fmt::format("nothing to register on {}", backend));
  }
  if (spec_.fixedbufs) {
    faio_buffer buf{mem_.get(), area};
    int st = faio_ctx_register_buffers(ctx_.native(), &buf, 1);
    // Refused: the job runs without them and the report says why.
    fixedbufs_note_ = note(spec_.fixedbufs_auto, st == FAIO_OK ? std::string("yes")
                                                 : st == FAIO_E_NOT_SUPPORTED
                                                     ? fmt::format("not supported by {}", backend)
                                                     : fmt::format("no ({})", StatusText(st)));
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
  StartLoop();
  while (true) {
    SubmitPending();
    if (loop_.inflight == 0) break;
    Reap();
    if (loop_.broken) break;
    if (spec_.batch_submit_auto) tuner_.Observe(loop_.now, loop_.total_ios[0] + loop_.total_ios[1]);
    EndRampOrRun();
  }
  FinishLoop();
}

void BenchJob::StartLoop() {
  Loop& l = loop_;
  l = Loop();
  l.t_begin = NowNs();
  l.stats_start = l.t_begin;
  l.ramping = spec_.ramp_ns > 0;
  l.ramp_end = l.t_begin + spec_.ramp_ns;
  l.t_end = spec_.runtime_ns != 0 ? l.ramp_end + spec_.runtime_ns : kNoLimit;
  l.cpu0 = CpuUsage::Now();
  l.last_completion = l.t_begin;
  l.now = l.t_begin;
  for (uint32_t slot = 0; slot < spec_.iodepth; ++slot) {
    if (!Prepare(slot, l.now)) break;
  }
  l.stopping = result_->failed() || pending_.empty();
}

// PrepareFlush turns slot into a flush (fio's fsync=N: once N writes have
// completed, the next free slot carries a flush; a flush thus takes a place
// of the --iodepth, and several may be in flight).
void BenchJob::PrepareFlush(uint32_t slot) {
  faio_req* f = reqs_[slot].native();
  int st = faio_req_prepare_flush(f, file_, reinterpret_cast<void*>(uintptr_t{slot}));
  if (st != FAIO_OK) {
    NoteError("faio_req_prepare_flush: " + StatusText(st), 0);
    loop_.stopping = true;
    return;
  }
  loop_.writes_since_flush -= spec_.fsync;
  start_ns_[slot] = loop_.now;
  dir_[slot] = kDirSync;
  pending_.push_back(f);
  pending_slot_.push_back(slot);
}

// SubmitPending submits what is prepared, at most --iodepth_batch_submit per
// call (auto: as the tuner's Shape says for the first call and the later
// ones), and reads the clock once after each call: the issue time of every
// request the call took.
void BenchJob::SubmitPending() {
  Loop& l = loop_;
  size_t done = 0;
  size_t calls = 0;
  while (!l.stopping && done < pending_.size()) {
    size_t n = pending_.size() - done;
    const uint32_t cap =
        spec_.batch_submit_auto ? tuner_.shape().Limit(calls++) : spec_.batch_submit;
    if (cap != 0) n = std::min<size_t>(n, cap);
    int st = FAIO_OK;
    size_t took = SubmitBatch(ctx_.native(), pending_.data() + done, n, &st);
    RecordSlat(done, done + took, NowNs());
    l.inflight += took;
    done += took;
    if (st == FAIO_OK) continue;
    if (st == FAIO_E_INSUFFICIENT_RESOURCES && l.inflight > 0) break;  // again after a wait
    NoteError("faio_ctx_submit: " + StatusText(st), 0);
    l.stopping = true;
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(done));
  pending_slot_.erase(pending_slot_.begin(), pending_slot_.begin() + static_cast<ptrdiff_t>(done));
}

// RecordSlat stamps pending_[from, to) as issued at `issued` and records their
// submission latencies, run-length encoded (a batch shares its start time).
void BenchJob::RecordSlat(size_t from, size_t to, uint64_t issued) {
  JobResult& res = *result_;
  int run_dir = -1;
  uint64_t run_val = 0, run_len = 0;
  for (size_t i = from; i < to; ++i) {
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
}

// Reap waits for --iodepth_batch_complete_min completions (250 ms at most, so
// that the end of the run and Ctrl-C are noticed), reads the clock once (the
// completion time of every request reaped, and the start time of the batch
// prepared from them) and completes each.
void BenchJob::Reap() {
  Loop& l = loop_;
  uint32_t count = 0;
  size_t min = std::min<size_t>(spec_.batch_complete_min, l.inflight);
  int wst =
      faio_ctx_wait(ctx_.native(), min, kWaitTimeoutMs, reaped_.data(), reaped_.size(), &count);
  l.now = NowNs();
  for (uint32_t i = 0; i < count; ++i) Complete(reaped_[i]);
  l.inflight -= count;
  if (count != 0) {
    l.last_completion = l.now;
    for (int d = 0; d < kDirections; ++d) {
      live_.ios[d].store(l.total_ios[d], std::memory_order_relaxed);
      live_.bytes[d].store(l.total_bytes[d], std::memory_order_relaxed);
    }
  }
  if (wst != FAIO_OK && wst != FAIO_E_TIMEOUT && wst != FAIO_E_INTERRUPTED) {
    NoteError("faio_ctx_wait: " + StatusText(wst), 0);
    l.stopping = true;
    if (count == 0) l.broken = true;
  }
}

// Complete records one reaped request's latencies and prepares its slot again
// at a new offset (no allocation: requests, buffers and the timestamp arrays
// are per slot); once --fsync writes have completed, the slot carries a flush.
void BenchJob::Complete(faio_req* r) {
  uint32_t slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(faio_req_user(r)));
  size_t got = 0;
  int st = faio_req_result(r, &got);
  int host_error = st == FAIO_OK ? 0 : faio_req_host_error(r);
  if (dir_[slot] == kDirSync) {
    CompleteFlush(slot, st, host_error);
  } else {
    CompleteTransfer(slot, st, got, host_error);
  }
  if (loop_.stopping) return;
  if (spec_.fsync != 0 && loop_.writes_since_flush >= spec_.fsync) {
    PrepareFlush(slot);
  } else {
    Prepare(slot, loop_.now);
  }
}

void BenchJob::CompleteFlush(uint32_t slot, int status, int host_error) {
  JobResult& res = *result_;
  if (status == FAIO_OK) {
    ++res.sync.ios;
    res.sync.lat.Record(loop_.now - issue_ns_[slot]);
    return;
  }
  ++res.sync.errors;
  NoteError("flush failed: " + StatusText(status, host_error), host_error);
  loop_.stopping = true;
}

void BenchJob::CompleteTransfer(uint32_t slot, int status, size_t got, int host_error) {
  Loop& l = loop_;
  const int d = dir_[slot];
  DirStats& ds = result_->dir[d];
  if (status != FAIO_OK) {
    ++ds.errors;
    NoteError(fmt::format("{} failed: {}", d == kDirRead ? "read" : "write",
                          StatusText(status, host_error)),
              host_error);
    l.stopping = true;
    return;
  }
  ++ds.ios;
  ds.bytes += got;
  ++l.total_ios[d];
  l.total_bytes[d] += got;
  if (got != spec_.bs) ++ds.short_ios;
  ds.clat.Record(l.now - issue_ns_[slot]);
  ds.lat.Record(l.now - start_ns_[slot]);
  if (d == kDirWrite) ++l.writes_since_flush;
}

// EndRampOrRun starts the figures from zero once the ramp is over (fio's
// ramp_time), and stops the job at its end time, after an error or on Ctrl-C.
void BenchJob::EndRampOrRun() {
  Loop& l = loop_;
  JobResult& res = *result_;
  if (res.failed()) l.stopping = true;
  if (l.ramping && l.now >= l.ramp_end) {
    l.ramping = false;
    for (DirStats& ds : res.dir) ds = DirStats();
    res.sync = SyncStats();
    l.stats_start = l.now;
    l.last_completion = l.now;
    l.cpu0 = CpuUsage::Now();
  }
  if (l.now >= l.t_end) l.stopping = true;
  if (Interrupted()) {
    l.stopping = true;
    res.interrupted = true;
  }
}

void BenchJob::FinishLoop() {
  const Loop& l = loop_;
  JobResult& res = *result_;
  if (l.inflight != 0) leak_buffers_ = true;
  const uint64_t t_stop = NowNs();
  if (spec_.batch_submit_auto) {
    res.submit_batch = "auto: " + (tuner_.decided() ? tuner_.chosen() : tuner_.shape()).Describe();
  } else {
    res.submit_batch = spec_.batch_submit == 0 ? "all ready" : std::to_string(spec_.batch_submit);
  }
  res.cpu = CpuUsage::Now() - l.cpu0;
  res.runtime_ns = l.last_completion > l.stats_start ? l.last_completion - l.stats_start : 0;
  res.min_runtime_ns = res.runtime_ns;
  res.cpu_base_ns = t_stop > l.stats_start ? t_stop - l.stats_start : 0;
  res.elapsed_ns = t_stop - l.t_begin;
}

}  // namespace faio::tool
