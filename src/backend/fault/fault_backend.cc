// fault_backend.cc - see fault_backend.h.
//
// Shape: every request offered to Enqueue gets a decision (FaultBackend::Decide)
// from the rules, in order. Requests that go to the host are handed to the inner
// backend in runs; what must happen to a request later (an error to report, a
// length to restore, a buffer to corrupt, a completion to hold) is kept in
// plans_, keyed by the request and its submission. The inner backend's raw
// completions come back through Reap, which applies the plans to them (Apply)
// before the core finishes them; held ones are handed in by a later Reap.
#include "backend/fault/fault_backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/fault/fault_spec.h"
#include "backend/registry.h"
#include "core/context.h"
#include "platform/host.h"

namespace faio::detail {
namespace {

uint64_t NextRandom(uint64_t* state) {  // splitmix64
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint8_t OpBit(Op op) {
  switch (op) {
    case Op::kRead:
      return kFaultRead;
    case Op::kWrite:
      return kFaultWrite;
    case Op::kFlush:
      return kFaultFlush;
    case Op::kNone:
      break;
  }
  return 0;
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kRead:
      return "read";
    case Op::kWrite:
      return "write";
    case Op::kFlush:
      return "flush";
    case Op::kNone:
      break;
  }
  return "none";
}

// ---- the host calls of the power-loss simulation and of short transfers ----
// A file is known by a key (device, inode) and reached through a descriptor of
// our own. Windows has none of this yet: 'crash' is refused there.
#if !defined(_WIN32)
constexpr bool kCanCrash = true;

bool FileKey(faio_file f, uint64_t* dev, uint64_t* ino, int64_t* size) {
  struct stat st;
  if (::fstat(f, &st) != 0) return false;
  *dev = static_cast<uint64_t>(st.st_dev);
  *ino = static_cast<uint64_t>(st.st_ino);
  *size = static_cast<int64_t>(st.st_size);
  return true;
}

// A readable, writable descriptor of f's file without O_DIRECT that outlives
// f: reopened through /proc/self/fd where there is one, else a duplicate.
int OwnDescriptor(faio_file f) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", f);
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  return fd >= 0 ? fd : ::fcntl(f, F_DUPFD_CLOEXEC, 0);
}

void CloseOwn(int fd) { ::close(fd); }

bool SizeOf(int fd, int64_t* size) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  *size = static_cast<int64_t>(st.st_size);
  return true;
}

// Reads up to len bytes at off; returns how many (fewer at end of file).
size_t ReadOld(int fd, unsigned char* buf, size_t len, int64_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t k = ::pread(fd, buf + got, len - got, static_cast<off_t>(off + static_cast<int64_t>(got)));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += static_cast<size_t>(k);
  }
  return got;
}

bool WriteBack(int fd, const unsigned char* buf, size_t len, int64_t off) {
  size_t put = 0;
  while (put < len) {
    ssize_t k = ::pwrite(fd, buf + put, len - put, static_cast<off_t>(off + static_cast<int64_t>(put)));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    put += static_cast<size_t>(k);
  }
  return true;
}

bool CutTo(int fd, int64_t size) { return ::ftruncate(fd, static_cast<off_t>(size)) == 0; }

// The length unit of transfers on f: its direct-I/O block when f is open
// with O_DIRECT, else 1.
size_t TransferUnit(faio_file f) {
#if defined(O_DIRECT)
  int fl = ::fcntl(f, F_GETFL);
  faio_alignment al{};
  if (fl >= 0 && (fl & O_DIRECT) != 0 && platform::FileAlignment(f, &al) == FAIO_OK) {
    return std::max<size_t>(1, al.offset);
  }
#else
  (void)f;
#endif
  return 1;
}
#else
constexpr bool kCanCrash = false;
bool FileKey(faio_file, uint64_t*, uint64_t*, int64_t*) { return false; }
int OwnDescriptor(faio_file) { return -1; }
void CloseOwn(int) {}
bool SizeOf(int, int64_t*) { return false; }
size_t ReadOld(int, unsigned char*, size_t, int64_t) { return 0; }
bool WriteBack(int, const unsigned char*, size_t, int64_t) { return false; }
bool CutTo(int, int64_t) { return false; }
size_t TransferUnit(faio_file) { return 1; }
#endif

struct RuleState {
  FaultRule rule;
  uint64_t seen = 0;  // matching requests offered so far
  uint64_t rng = 0;   // this rule's own random sequence ('%N')
};

// What the backend does to one submission after the host has it.
struct Plan {
  uint32_t seq32 = 0;
  uint64_t number = 0;  // ordinal among the requests offered, for the log
  int error = 0;        // completion error (errno), 0: none
  size_t orig_len = 0;  // nonzero: the host was asked for fewer bytes
  SegCut cut;           // ... and how the request was cut (Uncut restores it)
  bool corrupt = false;
  bool hold = false;
  Clock::duration delay{};
  uint64_t undo = 0;   // the write's undo record (crash rules)
  uint64_t flush = 0;  // the flush's id (crash rules)
  uint64_t dev = 0, ino = 0;
  int64_t size = 0;  // a flush: the file's size when it went to the host
};

struct Held {
  HostCompletion c;
  Clock::time_point due;
  bool signalled = false;  // the pollable handle was made ready for it
};

// A write not yet covered by a successful flush: what it overwrote.
struct Undo {
  uint64_t id = 0;
  int fd = -1;  // our descriptor of the file; -1: no snapshot could be taken
  uint64_t dev = 0, ino = 0;
  int64_t off = 0;
  size_t len = 0;
  std::vector<unsigned char> old;  // bytes [off, off + old.size()) before it
  bool done = false;               // the host finished it (any outcome)
  uint64_t flush = 0;              // the flush in flight that covers it, 0: none
};

// A file written under a crash rule.
struct FileRec {
  int fd = -1;
  int64_t durable_size = 0;  // its size as of the last successful flush
};

enum class Action { kForward, kRefuse, kComplete };

struct Decision {
  Action action = Action::kForward;
  int error = 0;
};

class FaultBackend final : public Backend {
 public:
  FaultBackend(const BackendParams& p, FaultSpec spec, std::unique_ptr<Backend> inner)
      : ctx_(p.ctx), inner_(std::move(inner)), log_(spec.log), rng_(spec.seed) {
    for (size_t i = 0; i < spec.rules.size(); ++i) {
      RuleState rs;
      rs.rule = std::move(spec.rules[i]);
      rs.rng = spec.seed ^ (0xA0761D6478BD642Full * (i + 1));
      if (rs.rule.kind == FaultKind::kCrash) has_crash_ = true;
      if (rs.rule.kind == FaultKind::kCrash && rs.rule.trigger == FaultTrigger::kAlways) {
        crash_at_destroy_ = true;
      }
      rules_.push_back(std::move(rs));
    }
  }

  ~FaultBackend() override {
    if (timer_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        timer_stop_ = true;
      }
      timer_cv_.notify_one();
      timer_.join();
    }
    inner_.reset();  // nothing is in flight (destroy is refused while busy)
    if (crashed_ || crash_at_destroy_) PowerLoss();
    for (auto& [key, f] : files_) {
      if (f.fd >= 0) CloseOwn(f.fd);
    }
  }

  const char* name() const override { return "fault"; }
  uint32_t capacity() const override { return inner_->capacity(); }

  size_t Enqueue(Request* const* reqs, size_t n, int* host_error) override {
    if (rules_.empty()) return inner_->Enqueue(reqs, n, host_error);
    size_t i = 0;
    while (i < n) {
      // A run of requests for the host, up to the first that is not.
      size_t start = i;
      Decision d;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (; i < n; ++i) {
          d = Decide(reqs[i]);
          if (d.action != Action::kForward) break;
        }
      }
      if (i > start) {
        int err = 0;
        size_t got = inner_->Enqueue(reqs + start, i - start, &err);
        if (got < i - start) {
          std::lock_guard<std::mutex> lock(mu_);
          for (size_t j = start + got; j < i; ++j) Undecide(reqs[j]);
          *host_error = err;
          return start + got;
        }
      }
      if (i == n) break;
      if (d.action == Action::kRefuse) {
        *host_error = d.error;
        return i;
      }
      ctx_->CompleteFromHost(reqs[i], d.error);
      ++i;
    }
    return n;
  }

  void Commit() override { inner_->Commit(); }

  size_t Reap(HostCompletion* out, size_t max, bool block, Clock::time_point deadline) override {
    size_t n = ReleaseDue(out, max);
    if (n >= max) return n;
    // The inner backend blocks no longer than the first held completion is due.
    bool inner_block = block && n == 0;
    Clock::time_point dl = deadline;
    if (inner_block) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Held& h : held_) dl = std::min(dl, h.due);
    }
    size_t got = inner_->Reap(out + n, max - n, inner_block, dl);
    if (!rules_.empty()) got = Apply(out + n, got);
    n += got;
    if (n < max) n += ReleaseDue(out + n, max - n);
    return n;
  }

  void Kick() override { inner_->Kick(); }

  CancelOutcome Cancel(Request* r, uint32_t seq32) override {
    if (!rules_.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Held& h : held_) {
        if (h.c.req == r && h.c.seq32 == seq32) return CancelOutcome::kNotFound;  // done, pending
      }
    }
    CancelOutcome outcome = inner_->Cancel(r, seq32);
    if (outcome == CancelOutcome::kCancelled && !rules_.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = plans_.find(r);
      if (it != plans_.end() && it->second.seq32 == seq32) {
        Plan p = it->second;
        plans_.erase(it);
        if (p.orig_len != 0) Uncut(r, p.cut);
        if (p.undo != 0) MarkDone(p.undo);
        if (p.flush != 0) SettleFlush(p, false);
      }
    }
    return outcome;
  }

  // The inner backend's handle, and for held completions (delay faults) a
  // timer thread that makes it ready when each falls due: a loop that waits
  // only on the handle would otherwise never reap them.
  // The inner backend's deadlines: its withdrawals come through Apply.
  bool OwnsDeadlines() const override { return inner_->OwnsDeadlines(); }
  bool HasPollable() const override { return inner_->HasPollable(); }
  bool OwnsPollable() const override { return inner_->OwnsPollable(); }
  void SignalPollable() override { inner_->SignalPollable(); }
  void ResetPollable() override { inner_->ResetPollable(); }
  int WatchPollable(const platform::Notify& n, faio_file* out) override {
    int st = inner_->WatchPollable(n, out);
    if (st != FAIO_OK || rules_.empty()) return st;
    notify_ = n;
    try {
      timer_ = std::thread([this] { Timer(); });
    } catch (const std::system_error&) {
      return FAIO_E_INSUFFICIENT_RESOURCES;
    }
    return FAIO_OK;
  }

  int AssociateFile(faio_file f) override { return inner_->AssociateFile(f); }
  int RegisterBuffers(const faio_buffer* bufs, size_t count) override {
    return inner_->RegisterBuffers(bufs, count);
  }

  // Apply runs the plans of the inner backend's n raw completions in cs (the
  // waiting thread): each is rewritten in place or held back for later.
  // Returns how many are left, in order, at the front of cs.
  size_t Apply(HostCompletion* cs, size_t n) {
    size_t kept = 0;
    bool held = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < n; ++i) {
        HostCompletion c = cs[i];
        if (Plan p; Take(c, &p) && p.hold) {
          held_.push_back(Held{c, Clock::now() + p.delay});
          held = true;
          continue;
        }
        cs[kept++] = c;
      }
    }
    if (held && timer_.joinable()) timer_cv_.notify_one();
    return kept;
  }

 private:
  // Under mu_: applies the plan of c's submission to c, and hands it out
  // (false: nothing planned, or a stale event the core drops).
  bool Take(HostCompletion& c, Plan* out) {
    Request* const r = c.req;
    auto it = plans_.find(r);
    if (it == plans_.end() || it->second.seq32 != c.seq32) {
      if (crashed_) Fail(&c, EIO);
      return false;
    }
    Plan p = it->second;
    plans_.erase(it);
    if (p.orig_len != 0) Uncut(r, p.cut);
    if (p.undo != 0) MarkDone(p.undo);
    if (crashed_) {
      Fail(&c, EIO);
    } else {
      if (p.corrupt && c.result > 0) {
        const auto bytes = static_cast<size_t>(c.result);
        size_t at = static_cast<size_t>(NextRandom(&rng_) % bytes);
        *ByteAt(r, at) ^= static_cast<unsigned char>(1 + NextRandom(&rng_) % 255);
        Log(p.number, r, "corrupt", "byte %llu of %llu changed",
            static_cast<unsigned long long>(at), static_cast<unsigned long long>(bytes));
      }
      if (p.error != 0) {
        Fail(&c, p.error);
        Log(p.number, r, "error", "%s at completion", strerror(p.error));
      }
    }
    if (p.flush != 0) SettleFlush(p, c.result >= 0);
    *out = p;
    return true;
  }

  static void Fail(HostCompletion* c, int err) { c->result = -err; }

#if defined(__GNUC__)
  __attribute__((format(printf, 5, 6)))
#endif
  void Log(uint64_t number, const Request* r, const char* what, const char* fmt, ...) {
    if (!log_) return;
    char detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    fprintf(stderr, "faio fault: request %llu (%s, %llu bytes at %lld): %s: %s\n",
            static_cast<unsigned long long>(number), OpName(r->op.load(std::memory_order_relaxed)),
            static_cast<unsigned long long>(r->len), static_cast<long long>(r->offset), what, detail);
  }

  // Under mu_: the fate of r, offered to the host now. Every rule counts it.
  Decision Decide(Request* r) {
    const Op op = r->op.load(std::memory_order_relaxed);
    const uint8_t bit = OpBit(op);
    const uint64_t number = ++offered_;
    Decision d;
    if (crashed_) {
      d.action = Action::kComplete;
      d.error = EIO;
      Log(number, r, "crash", "power is off");
      return d;
    }
    Plan p;
    p.seq32 = r->seq32;
    p.number = number;
    int submit_error = 0;
    bool crash = false;
    for (RuleState& rs : rules_) {
      const FaultRule& rule = rs.rule;
      if ((rule.ops & bit) == 0) continue;
      ++rs.seen;
      bool hit = false;
      switch (rule.trigger) {
        case FaultTrigger::kAlways:
          hit = rule.kind != FaultKind::kCrash;  // a bare crash is at destroy
          break;
        case FaultTrigger::kNth:
          hit = rs.seen == rule.n;
          break;
        case FaultTrigger::kFromNth:
          hit = rs.seen >= rule.n;
          break;
        case FaultTrigger::kOneIn:
          hit = NextRandom(&rs.rng) % rule.n == 0;
          break;
      }
      if (!hit) continue;
      switch (rule.kind) {
        case FaultKind::kCrash:
          crash = true;
          break;
        case FaultKind::kSubmitError:
          if (submit_error == 0) submit_error = rule.error;
          break;
        case FaultKind::kError:
          if (p.error == 0) p.error = rule.error;
          break;
        case FaultKind::kShort:
          if (p.orig_len == 0) p.orig_len = ShortLength(r);
          break;
        case FaultKind::kCorrupt:
          p.corrupt = true;
          break;
        case FaultKind::kDelay:
          p.hold = true;
          p.delay = std::max<Clock::duration>(p.delay, rule.delay);
          break;
        case FaultKind::kReorder: {
          p.hold = true;
          auto us = static_cast<int64_t>(NextRandom(&rng_) %
                                         static_cast<uint64_t>(rule.delay.count() + 1));
          p.delay = std::max<Clock::duration>(p.delay, std::chrono::microseconds(us));
          break;
        }
      }
    }
    if (crash) {
      crashed_ = true;
      d.action = Action::kComplete;
      d.error = EIO;
      Log(number, r, "crash", "power lost here");
      return d;
    }
    if (submit_error != 0) {
      bool transient = submit_error == EAGAIN || submit_error == EINTR;
      d.action = transient ? Action::kRefuse : Action::kComplete;
      d.error = submit_error;
      Log(number, r, "submit", "%s (%s)", strerror(submit_error),
          transient ? "refused, not taken" : "rejected, completes with it");
      return d;
    }
    // To the host.
    if (p.orig_len != 0) {
      size_t shorter = p.orig_len;
      p.orig_len = r->len;
      p.cut = Cut(r, shorter);
      Log(number, r, "short", "host asked for %llu of %llu bytes",
          static_cast<unsigned long long>(shorter), static_cast<unsigned long long>(p.orig_len));
    }
    if (has_crash_ && op == Op::kWrite) p.undo = Snapshot(r);
    if (has_crash_ && op == Op::kFlush) TagFlush(r, &p);
    if (p.error != 0 || p.orig_len != 0 || p.corrupt || p.hold || p.undo != 0 || p.flush != 0) {
      if (p.hold) {
        Log(number, r, "delay", "completion held %lld us",
            static_cast<long long>(
                std::chrono::duration_cast<std::chrono::microseconds>(p.delay).count()));
      }
      plans_[r] = p;
    }
    return d;
  }

  // Under mu_: r was decided for the host but the host did not take it.
  void Undecide(Request* r) {
    auto it = plans_.find(r);
    if (it == plans_.end() || it->second.seq32 != r->seq32) return;
    Plan p = it->second;
    plans_.erase(it);
    if (p.orig_len != 0) Uncut(r, p.cut);
    if (p.undo != 0) {
      for (auto u = undo_.begin(); u != undo_.end(); ++u) {
        if (u->id == p.undo) {
          undo_.erase(u);
          break;
        }
      }
    }
    if (p.flush != 0) SettleFlush(p, false);
  }

  // A length in [1, len) (a multiple of the direct-I/O block for O_DIRECT
  // files), or 0 when none can be shorter.
  size_t ShortLength(const Request* r) {
    size_t len = r->len;
    size_t unit = TransferUnit(r->file);
    size_t units = len / unit;
    if (units < 2) return 0;
    return unit * (1 + static_cast<size_t>(NextRandom(&rng_) % (units - 1)));
  }

  // Under mu_: the record of r's file (opening our own descriptor the first
  // time), or null when r's descriptor is not a file we can stat.
  FileRec* FileOf(const Request* r, uint64_t* dev, uint64_t* ino) {
    int64_t size = 0;
    if (!FileKey(r->file, dev, ino, &size)) return nullptr;
    auto [it, fresh] = files_.try_emplace({*dev, *ino});
    if (fresh) {
      it->second.durable_size = size;
      it->second.fd = OwnDescriptor(r->file);
    }
    return &it->second;
  }

  // Under mu_: copies what write r is about to overwrite. Returns its id.
  uint64_t Snapshot(Request* r) {
    Undo u;
    u.id = ++undo_ids_;
    u.off = r->offset;
    u.len = r->len;
    FileRec* f = FileOf(r, &u.dev, &u.ino);
    if (f != nullptr && f->fd >= 0) {
      u.old.resize(u.len);
      u.old.resize(ReadOld(f->fd, u.old.data(), u.len, u.off));
      u.fd = f->fd;
    }
    undo_.push_back(std::move(u));
    return undo_.back().id;
  }

  // Under mu_: flush r goes to the host; it covers every finished write of its
  // file not yet covered.
  void TagFlush(Request* r, Plan* p) {
    FileRec* f = FileOf(r, &p->dev, &p->ino);
    if (f == nullptr) return;
    p->flush = ++flush_ids_;
    if (f->fd < 0 || !SizeOf(f->fd, &p->size)) p->size = f->durable_size;
    for (Undo& u : undo_) {
      if (u.dev == p->dev && u.ino == p->ino && u.done && u.flush == 0) u.flush = p->flush;
    }
  }

  // Under mu_: flush p finished (ok: successfully) or never reached the host.
  void SettleFlush(const Plan& p, bool ok) {
    if (ok) {
      undo_.erase(std::remove_if(undo_.begin(), undo_.end(),
                                 [&](const Undo& u) { return u.flush == p.flush; }),
                  undo_.end());
      auto it = files_.find({p.dev, p.ino});
      if (it != files_.end()) it->second.durable_size = p.size;
    } else {
      for (Undo& u : undo_) {
        if (u.flush == p.flush) u.flush = 0;
      }
    }
  }

  void MarkDone(uint64_t id) {
    for (Undo& u : undo_) {
      if (u.id == id) {
        u.done = true;
        return;
      }
    }
  }

  // Nothing in flight: undo every write no successful flush covered, newest
  // first, and cut each file back to its durable size.
  void PowerLoss() {
    size_t undone = 0;
    for (auto u = undo_.rbegin(); u != undo_.rend(); ++u) {
      if (u->fd < 0) continue;
      // The old bytes, then zeros where the file had ended (a hole reads so).
      std::vector<unsigned char> data = u->old;
      data.resize(u->len, 0);
      if (!WriteBack(u->fd, data.data(), data.size(), u->off) && log_) {
        fprintf(stderr, "faio fault: power loss: cannot undo a write: %s\n", strerror(errno));
      }
      ++undone;
    }
    for (auto& [key, f] : files_) {
      int64_t size = 0;
      if (f.fd >= 0 && SizeOf(f.fd, &size) && size > f.durable_size && !CutTo(f.fd, f.durable_size) &&
          log_) {
        fprintf(stderr, "faio fault: power loss: ftruncate: %s\n", strerror(errno));
      }
    }
    if (log_) {
      fprintf(stderr, "faio fault: power loss: %llu unflushed writes undone\n",
              static_cast<unsigned long long>(undone));
    }
    undo_.clear();
  }

  // The pollable handle's timer (see WatchPollable).
  void Timer() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!timer_stop_) {
      Clock::time_point next = Clock::time_point::max();
      for (const Held& h : held_) {
        if (!h.signalled) next = std::min(next, h.due);
      }
      if (next == Clock::time_point::max()) {
        timer_cv_.wait(lock);
        continue;
      }
      Clock::time_point now = Clock::now();
      if (next > now) {
        timer_cv_.wait_until(lock, next);
        continue;
      }
      for (Held& h : held_) {
        if (h.due <= now) h.signalled = true;
      }
      if (inner_->OwnsPollable()) {
        inner_->SignalPollable();
      } else {
        platform::SignalNotify(notify_);
      }
    }
  }

  // Hands in the held completions that are due (waiting thread).
  size_t ReleaseDue(HostCompletion* out, size_t max) {
    if (rules_.empty()) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    if (held_.empty()) return 0;
    Clock::time_point now = Clock::now();
    std::sort(held_.begin(), held_.end(),
              [](const Held& a, const Held& b) { return a.due < b.due; });
    size_t k = 0;
    while (k < held_.size() && k < max && held_[k].due <= now) {
      out[k] = held_[k].c;
      ++k;
    }
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(k));
    return k;
  }

  Context* const ctx_;
  std::unique_ptr<Backend> inner_;
  const bool log_;
  bool has_crash_ = false;
  bool crash_at_destroy_ = false;
  std::vector<RuleState> rules_;  // immutable but for counters (under mu_)

  std::mutex mu_;
  uint64_t rng_;                                 // guarded by mu_
  uint64_t offered_ = 0;                         // guarded by mu_
  bool crashed_ = false;                         // guarded by mu_
  std::unordered_map<Request*, Plan> plans_;     // guarded by mu_
  std::vector<Held> held_;                       // guarded by mu_
  std::deque<Undo> undo_;                        // guarded by mu_, oldest first
  std::map<std::pair<uint64_t, uint64_t>, FileRec> files_;  // guarded by mu_
  uint64_t undo_ids_ = 0;                        // guarded by mu_
  uint64_t flush_ids_ = 0;                       // guarded by mu_
  platform::Notify notify_;                      // faio_ctx_pollable's
  std::thread timer_;                            // see WatchPollable
  std::condition_variable timer_cv_;
  bool timer_stop_ = false;                      // guarded by mu_
};

}  // namespace

bool ProbeFaultBackend(Unavailable* why) {
  FaultSpec spec;
  std::string error;
  if (!ParseFaultSpec(getenv("FAIO_FAULTS"), &spec, &error)) {
    why->status = FAIO_E_INVALID_PARAMETER;
    why->reason = "FAIO_FAULTS: " + error;
    return false;
  }
  // A fault context is made over its inner backend: it is available when that
  // one is (the automatic choice when FAIO_FAULTS names none; FAIO_BACKEND names
  // the outer backend, often this one, and is not consulted).
  Unavailable inner;
  bool auto_inner = spec.inner.empty() || spec.inner == "auto";
  if (ProbeBackend(auto_inner ? nullptr : spec.inner.c_str(), &inner)) return true;
  why->status = inner.status;
  why->host_error = inner.host_error;
  why->reason = "inner backend '" + (auto_inner ? std::string("auto") : spec.inner) +
                "': " + inner.reason;
  return false;
}

int FaultBackendLimits(faio_limits* out) {
  // A process-wide question: only FAIO_FAULTS can name the inner backend here
  // (a context's options may name another one).
  FaultSpec spec;
  std::string error;
  if (!ParseFaultSpec(getenv("FAIO_FAULTS"), &spec, &error)) return FAIO_E_INVALID_PARAMETER;
  return LimitsOf(spec.inner.empty() || spec.inner == "auto" ? nullptr : spec.inner.c_str(), out);
}

std::unique_ptr<Backend> CreateFaultBackend(const BackendParams& p, Unavailable* why) {
  const char* text = p.faults != nullptr ? p.faults : getenv("FAIO_FAULTS");
  FaultSpec spec;
  std::string error;
  if (!ParseFaultSpec(text, &spec, &error)) {
    why->status = FAIO_E_INVALID_PARAMETER;
    why->reason = error;
    return nullptr;
  }
  for (const FaultRule& rule : spec.rules) {
    if (rule.kind == FaultKind::kCrash && !kCanCrash) {
      why->status = FAIO_E_NOT_SUPPORTED;
      why->reason = "fault spec: '" + rule.text + "': power loss is simulated on POSIX hosts only";
      return nullptr;
    }
  }
  BackendParams ip = p;
  ip.faults = nullptr;
  std::unique_ptr<Backend> inner;
  Unavailable iwhy;
  // The inner backend when the spec names none: the automatic choice, which
  // stops at an exhausted backend as "auto" does. FAIO_BACKEND is not consulted:
  // it names the outer backend (often this one), and inner= names the inner one.
  int st = spec.inner.empty() || spec.inner == "auto"
               ? CreateAutoBackend(ip, &inner, &iwhy)
               : CreateBackend(spec.inner.c_str(), ip, &inner, &iwhy);
  if (st != FAIO_OK) {
    // The inner backend's own answer: absent (not supported), exhausted
    // (insufficient resources, no memory), or no such backend.
    why->status = st;
    why->host_error = iwhy.host_error;
    why->reason = "fault spec: inner backend '" + (spec.inner.empty() ? "auto" : spec.inner) +
                  "': " +
                  (st == FAIO_E_INVALID_PARAMETER ? std::string("no such backend") : iwhy.reason);
    return nullptr;
  }
  auto b = std::unique_ptr<FaultBackend>(
      new (std::nothrow) FaultBackend(p, std::move(spec), std::move(inner)));
  if (b == nullptr) {
    why->status = FAIO_E_NO_MEMORY;
    why->reason = "out of memory";
  }
  return b;
}

}  // namespace faio::detail
