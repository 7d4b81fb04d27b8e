// api_fuzz.cc - libFuzzer target: random sequences of faio API calls (create,
// prepare, submit, cancel, wait with odd sizes, wakeup, destroy, stale
// handles) on a context of the "fault" backend, checked against a model of
// the caller-visible states.
//
// Input: byte 0 picks a fault spec, byte 1 the inner backend and the
// capacity, the rest is a program of (opcode, argument) byte pairs over eight
// request slots. Invariants checked (docs/contract.md):
//   - every call returns the status the model predicts (or one of the
//     statuses the contract allows where timing decides);
//   - a refused batch leaves every request as it was; a partly accepted one
//     is a prefix (the rest are prepared);
//   - each accepted request comes back exactly once, from a wait or a
//     successful cancel, never twice and never lost (the final drain finds
//     them all); a wait never returns more than its array holds;
//   - the context can be destroyed exactly when the model counts nothing.
// A failed invariant aborts (libFuzzer reports it with the input).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "faio/faio.h"

namespace {

void Check(bool ok, const char* what, int got = 0) {
  if (!ok) {
    fprintf(stderr, "api_fuzz: invariant failed: %s (got %s)\n", what, faio_status_name(got));
    abort();
  }
}

const char* const kSpecs[] = {
    "",
    "eio%3",
    "submit-eagain%4",
    "submit-eio%5,short%3",
    "reorder=1ms,corrupt/read%2",
    "delay=1ms%2,eio/flush%2",
    "crash#7",
    "enospc/write#2+,eintr/read%3",
    "submit-eintr%2,reorder=500us",
    "efbig/write%2,submit-enospc/flush#1+",
};

enum class St { kNone, kIdle, kPrepared, kSubmitted, kCompleted, kDead };

constexpr size_t kSlots = 8;
constexpr size_t kBuf = 8192;

struct Slot {
  faio_req* req = nullptr;
  St st = St::kNone;
  unsigned char buf[kBuf];
};

int ScratchFile() {
  static int fd = -1;
  if (fd >= 0) return fd;
  char path[] = "/tmp/faio-fuzz-XXXXXX";
  fd = mkstemp(path);
  Check(fd >= 0, "scratch file");
  unlink(path);
  std::vector<unsigned char> fill(65536, 0x5A);
  Check(pwrite(fd, fill.data(), fill.size(), 0) == static_cast<ssize_t>(fill.size()), "fill");
  return fd;
}

const std::vector<std::string>& Inners() {
  static std::vector<std::string> names = [] {
    std::vector<std::string> v;
    faio_backend_info info[16];
    size_t n = 0;
    if (faio_get_backends(info, 16, &n) == FAIO_OK) {
      for (size_t i = 0; i < n && i < 16; ++i) {
        if (info[i].available && strcmp(info[i].name, "fault") != 0) v.push_back(info[i].name);
      }
    }
    return v;
  }();
  return names;
}

class Session {
 public:
  Session(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  void Run() {
    if (size_ < 2 || Inners().empty()) return;
    spec_ = std::string("inner=") + Inners()[data_[1] % Inners().size()];
    const char* rules = kSpecs[data_[0] % (sizeof(kSpecs) / sizeof(kSpecs[0]))];
    if (*rules != '\0') spec_ += std::string(",seed=") + std::to_string(data_[0]) + "," + rules;
    capacity_ = (data_[1] >> 4) % 5;  // 0: unlimited, or 1..4
    Open();
    for (size_t i = 2; i + 1 < size_; i += 2) Step(data_[i], data_[i + 1]);
    Drain();
    for (Slot& s : slots_) {
      if (s.st != St::kNone && s.st != St::kDead) {
        Check(faio_req_destroy(s.req) == FAIO_OK, "destroy at end");
      }
    }
    int st = faio_ctx_destroy(ctx_);
    Check(st == FAIO_OK, "destroy the context at end", st);
  }

 private:
  void Open() {
    faio_ctx_options o;
    faio_ctx_options_init(&o);
    o.backend = "fault";
    o.faults = spec_.c_str();
    o.capacity = capacity_;
    o.threads = 2;
    int st = faio_ctx_create_ex(&ctx_, &o);
    Check(st == FAIO_OK, "create the context", st);
  }

  void Step(uint8_t op, uint8_t arg) {
    Slot& s = slots_[arg % kSlots];
    switch (op % 12) {
      case 0:  // create
        if (s.st == St::kNone || s.st == St::kDead) {
          int st = faio_req_create(&s.req);
          Check(st == FAIO_OK, "create", st);
          s.st = St::kIdle;
        }
        break;
      case 1: {  // destroy
        if (s.st == St::kNone) break;
        int st = faio_req_destroy(s.req);
        if (s.st == St::kDead) {
          Check(st == FAIO_E_INVALID_HANDLE, "destroy a stale handle", st);
        } else if (s.st == St::kSubmitted) {
          Check(st == FAIO_E_IN_PROGRESS, "destroy a submitted request", st);
        } else {
          Check(st == FAIO_OK, "destroy", st);
          s.st = St::kDead;  // the handle is kept: stale from now on
        }
        break;
      }
      case 2:
      case 3:
      case 4: {  // prepare read / write / flush
        if (s.st == St::kNone) break;
        int fd = ScratchFile();
        int64_t off = static_cast<int64_t>(arg >> 3) * 1536;
        size_t len = 1 + (static_cast<size_t>(arg) * 97) % kBuf;
        int st = op % 12 == 2   ? faio_req_prepare_read(s.req, fd, off, s.buf, len, &s)
                 : op % 12 == 3 ? faio_req_prepare_write(s.req, fd, off, s.buf, len, &s)
                                : faio_req_prepare_flush(s.req, fd, &s);
        if (s.st == St::kDead) {
          Check(st == FAIO_E_INVALID_HANDLE, "prepare a stale handle", st);
        } else if (s.st == St::kSubmitted) {
          Check(st == FAIO_E_IN_PROGRESS, "prepare a submitted request", st);
        } else {
          Check(st == FAIO_OK, "prepare", st);
          s.st = St::kPrepared;
        }
        break;
      }
      case 5:
        Submit(arg);
        break;
      case 6: {  // cancel
        if (s.st == St::kNone) break;
        int st = faio_req_cancel(s.req);
        if (s.st == St::kDead) {
          Check(st == FAIO_E_INVALID_HANDLE, "cancel a stale handle", st);
        } else if (s.st != St::kSubmitted) {
          Check(st == FAIO_E_NOT_SUBMITTED, "cancel an unsubmitted request", st);
        } else if (st == FAIO_OK) {
          Check(faio_req_result(s.req, nullptr) == FAIO_E_CANCELLED, "cancelled result");
          s.st = St::kCompleted;
          --inflight_;
        } else {
          Check(st == FAIO_E_COMPLETED || st == FAIO_E_IN_PROGRESS, "cancel", st);
        }
        break;
      }
      case 7:
        Wait(arg);
        break;
      case 8:
        Check(faio_ctx_wakeup(ctx_) == FAIO_OK, "wakeup");
        break;
      case 9: {  // result and user value
        if (s.st == St::kNone) break;
        size_t n = 0;
        int st = faio_req_result(s.req, &n);
        switch (s.st) {
          case St::kDead:
            Check(st == FAIO_E_INVALID_HANDLE, "result of a stale handle", st);
            Check(faio_req_user(s.req) == nullptr, "user value of a stale handle");
            break;
          case St::kIdle:
          case St::kPrepared:
            Check(st == FAIO_E_NOT_SUBMITTED, "result before submit", st);
            break;
          case St::kSubmitted:
            Check(st == FAIO_E_IN_PROGRESS, "result while submitted", st);
            break;
          case St::kCompleted:
            Check(st != FAIO_E_IN_PROGRESS && st != FAIO_E_NOT_SUBMITTED, "result", st);
            Check(st != FAIO_OK || n <= kBuf, "bytes within the buffer");
            Check(faio_req_user(s.req) == &s, "user value");
            break;
          case St::kNone:
            break;
        }
        break;
      }
      case 10: {  // destroy the context (busy while anything is counted)
        int st = faio_ctx_destroy(ctx_);
        if (inflight_ > 0) {
          Check(st == FAIO_E_BUSY, "destroy a busy context", st);
        } else {
          Check(st == FAIO_OK, "destroy an idle context", st);
          Open();
        }
        break;
      }
      case 11:  // a request appears twice in a batch, after a valid one
        Submit(static_cast<uint8_t>(arg | 0x80));
        break;
    }
  }

  // Submits 1..4 slots named by arg's bits (bit 7: repeat the first).
  void Submit(uint8_t arg) {
    std::vector<Slot*> batch;
    size_t n = 1 + (arg & 3);
    for (size_t i = 0; i < n; ++i) {
      Slot* s = &slots_[(arg / 4 + i * 3) % kSlots];
      if (s->st == St::kNone) continue;
      batch.push_back(s);
    }
    if (batch.empty()) return;
    if ((arg & 0x80) != 0) batch.push_back(batch.front());
    std::vector<faio_req*> reqs;
    for (Slot* s : batch) reqs.push_back(s->req);
    // The model's verdict on the whole batch before anything is submitted.
    int expect = FAIO_OK;
    for (size_t i = 0; i < batch.size() && expect == FAIO_OK; ++i) {
      bool dup = false;
      for (size_t j = 0; j < i; ++j) dup = dup || batch[j] == batch[i];
      if (batch[i]->st == St::kDead) {
        expect = FAIO_E_INVALID_HANDLE;
      } else if (batch[i]->st != St::kPrepared || dup) {
        expect = FAIO_E_INVALID_STATE;
      }
    }
    int st = faio_ctx_submit(ctx_, reqs.data(), reqs.size());
    if (expect != FAIO_OK) {
      Check(st == expect, "a refused batch", st);
      for (Slot* s : batch) {
        if (s->st == St::kPrepared) {
          Check(faio_req_result(s->req, nullptr) == FAIO_E_NOT_SUBMITTED, "refused stays prepared");
        }
      }
      return;
    }
    Check(st == FAIO_OK || st == FAIO_E_INSUFFICIENT_RESOURCES, "submit", st);
    bool rest = false;
    size_t accepted = 0;
    for (Slot* s : batch) {
      bool out = faio_req_result(s->req, nullptr) == FAIO_E_NOT_SUBMITTED;
      Check(!(rest && !out), "accepted requests are a prefix");
      rest = rest || out;
      if (!out) {
        s->st = St::kSubmitted;
        ++inflight_;
        ++accepted;
      }
    }
    Check(st != FAIO_OK || accepted == batch.size(), "OK accepts the whole batch", st);
    Check(st == FAIO_OK || accepted < batch.size(), "a partial submit", st);
    Check(capacity_ == 0 || inflight_ <= static_cast<int64_t>(faio_ctx_capacity(ctx_)),
          "within the capacity");
  }

  // Reaps with an array of exactly the size asked for (ASan sees overruns).
  int Wait(uint8_t arg) {
    size_t size = 1 + (arg & 7);
    size_t min = (arg >> 3) & 7;
    uint32_t timeout = (arg & 0x40) != 0 ? 1 : 0;
    std::vector<faio_req*> out(size);
    uint32_t count = UINT32_MAX;
    int st = faio_ctx_wait(ctx_, min, timeout, out.data(), size, &count);
    Check(count <= size, "a wait returns at most its size", st);
    if (min > size) {
      Check(st == FAIO_E_OUT_OF_RANGE && count == 0, "min over size", st);
      return st;
    }
    if (inflight_ == 0) {
      Check(st == FAIO_E_NO_REQUEST && count == 0, "wait with nothing counted", st);
      return st;
    }
    Check(st == FAIO_OK || st == FAIO_E_TIMEOUT || st == FAIO_E_INTERRUPTED ||
              st == FAIO_E_NO_REQUEST,
          "wait", st);
    Check(st != FAIO_OK || count >= 1, "a successful wait reaps one at least", st);
    for (uint32_t i = 0; i < count; ++i) {
      Slot* s = nullptr;
      for (Slot& c : slots_) {
        if (c.req == out[i] && c.st == St::kSubmitted) s = &c;
      }
      Check(s != nullptr, "a wait returns only submitted, unreaped requests");
      int r = faio_req_result(s->req, nullptr);
      Check(r != FAIO_E_IN_PROGRESS && r != FAIO_E_NOT_SUBMITTED && r != FAIO_E_CANCELLED,
            "a reaped request's result", r);
      s->st = St::kCompleted;
      --inflight_;
    }
    return st;
  }

  void Drain() {
    int idle = 0;
    while (inflight_ > 0) {
      size_t before = static_cast<size_t>(inflight_);
      std::vector<faio_req*> out(kSlots);
      uint32_t count = 0;
      int st = faio_ctx_wait(ctx_, 1, 2000, out.data(), out.size(), &count);
      Check(st == FAIO_OK || st == FAIO_E_INTERRUPTED || st == FAIO_E_TIMEOUT, "drain", st);
      for (uint32_t i = 0; i < count; ++i) {
        Slot* s = nullptr;
        for (Slot& c : slots_) {
          if (c.req == out[i] && c.st == St::kSubmitted) s = &c;
        }
        Check(s != nullptr, "drain returns only submitted requests");
        s->st = St::kCompleted;
        --inflight_;
      }
      if (static_cast<size_t>(inflight_) == before && ++idle > 3) {
        Check(false, "a submitted request never came back");
      }
    }
    uint32_t count = 0;
    faio_req* out[1];
    int st = faio_ctx_wait(ctx_, 1, 0, out, 1, &count);
    Check(st == FAIO_E_NO_REQUEST || st == FAIO_E_INTERRUPTED, "nothing left", st);
    Check(count == 0, "nothing left to reap");
  }

  const uint8_t* data_;
  size_t size_;
  std::string spec_;
  uint32_t capacity_ = 0;
  faio_ctx* ctx_ = nullptr;
  Slot slots_[kSlots];
  int64_t inflight_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  Session s(data, size);
  s.Run();
  return 0;
}
