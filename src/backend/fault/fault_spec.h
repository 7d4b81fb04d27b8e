// fault_spec.h - the fault backend's configuration language: what to inject,
// into which requests, and when. Header-only so that the unit tests and the
// fuzzers parse specs without a context.
//
// Grammar (docs/reliability.md has the user's version, with examples):
//
//   spec    := [item {',' item}]        blanks around an item are ignored
//   item    := 'seed=' N                seed of every random choice (default 1)
//            | 'inner=' NAME            the backend under the faults (default:
//                                       the first backend "auto" would
//                                       try that works; never "fault")
//            | 'log'                    print each injected fault to stderr
//            | rule
//   rule    := fault ['/' op {'+' op}] [trigger]
//   op      := 'read' | 'write' | 'flush'          (default: every op the fault
//                                                   applies to)
//   trigger := '#' N        the Nth matching request (from 1), once
//            | '#' N '+'    the Nth matching request and every later one
//            | '%' N        each matching request with probability 1/N
//            | (nothing)    every matching request
//   fault   := ERR          the host does the request, then it completes with ERR
//            | 'submit-' ERR  the host refuses the request at submission
//            | 'short'      the host is asked for fewer bytes (reads, writes)
//            | 'corrupt'    one byte of a read's buffer is damaged (reads)
//            | 'delay=' D   the completion is held back for D
//            | 'reorder' ['=' D]  held back a random time in [0, D] (default 2ms)
//            | 'crash'      power is lost (see fault_backend.h)
//   ERR     := 'eio' | 'enospc' | 'efbig' | 'eintr' | 'eagain'
//   D       := N ('us' | 'ms' | 's'), at most 60 s
//
// Each rule counts the requests it matches on its own, in the order they are
// offered to the host.
//
// Threads: the parser is pure; a FaultSpec is a plain value.
#ifndef FAIO_SRC_BACKEND_FAULT_FAULT_SPEC_H_
#define FAIO_SRC_BACKEND_FAULT_FAULT_SPEC_H_

#include <errno.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace faio::detail {

enum class FaultKind : uint8_t {
  kError,        // completes with `error` after the host did it
  kSubmitError,  // refused by the host at submission
  kShort,
  kCorrupt,
  kDelay,
  kReorder,
  kCrash,
};

// Operation bits of FaultRule::ops.
enum : uint8_t { kFaultRead = 1, kFaultWrite = 2, kFaultFlush = 4, kFaultAllOps = 7 };

enum class FaultTrigger : uint8_t {
  kAlways,   // every matching request
  kNth,      // the nth, once
  kFromNth,  // the nth and every later one
  kOneIn,    // each with probability 1/n
};

struct FaultRule {
  FaultKind kind = FaultKind::kError;
  int error = 0;  // errno value for kError / kSubmitError
  uint8_t ops = kFaultAllOps;
  FaultTrigger trigger = FaultTrigger::kAlways;
  uint64_t n = 0;
  std::chrono::microseconds delay{0};  // kDelay: exact; kReorder: upper bound
  std::string text;                    // the rule as written, for the log
};

struct FaultSpec {
  uint64_t seed = 1;
  std::string inner;  // empty: the automatic choice
  bool log = false;
  std::vector<FaultRule> rules;
};

namespace fault_spec_internal {

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ParseN reads a decimal number in [1, 2^63) that fills all of s.
inline bool ParseN(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0 || v >= (uint64_t{1} << 63)) return false;
  *out = v;
  return true;
}

inline bool ParseDuration(std::string_view s, std::chrono::microseconds* out) {
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  std::string_view unit = s.substr(digits);
  uint64_t v = 0;
  if (digits == 0 || digits > 9) return false;
  for (size_t i = 0; i < digits; ++i) v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  uint64_t us;
  if (unit == "us") {
    us = v;
  } else if (unit == "ms") {
    us = v * 1000;
  } else if (unit == "s") {
    us = v * 1000000;
  } else {
    return false;
  }
  if (us > 60000000) return false;
  *out = std::chrono::microseconds(static_cast<int64_t>(us));
  return true;
}

inline int ErrorByName(std::string_view s) {
  if (s == "eio") return EIO;
  if (s == "enospc") return ENOSPC;
  if (s == "efbig") return EFBIG;
  if (s == "eintr") return EINTR;
  if (s == "eagain") return EAGAIN;
  return 0;
}

inline bool Fail(std::string* error, std::string_view item, const char* why) {
  if (error != nullptr) {
    *error = "fault spec: '";
    error->append(item);
    error->append("': ");
    error->append(why);
  }
  return false;
}

inline bool ParseRule(std::string_view item, FaultRule* rule, std::string* error) {
  rule->text = std::string(item);
  // Split off the trigger, then the ops, from the right.
  std::string_view rest = item;
  size_t t = rest.find_first_of("#%");
  if (t != std::string_view::npos) {
    std::string_view trig = rest.substr(t + 1);
    bool from = false;
    if (rest[t] == '#' && !trig.empty() && trig.back() == '+') {
      from = true;
      trig.remove_suffix(1);
    }
    if (!ParseN(trig, &rule->n)) {
      return Fail(error, item, "a trigger needs a whole number from 1 ('#3', '#3+', '%10')");
    }
    rule->trigger = rest[t] == '%' ? FaultTrigger::kOneIn
                    : from         ? FaultTrigger::kFromNth
                                   : FaultTrigger::kNth;
    rest = rest.substr(0, t);
  }
  uint8_t ops = 0;
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view list = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    for (;;) {
      size_t plus = list.find('+');
      std::string_view op = list.substr(0, plus);
      uint8_t bit = op == "read" ? kFaultRead : op == "write" ? kFaultWrite : op == "flush" ? kFaultFlush : 0;
      if (bit == 0) return Fail(error, item, "ops are 'read', 'write', 'flush', joined by '+'");
      ops |= bit;
      if (plus == std::string_view::npos) break;
      list = list.substr(plus + 1);
    }
  }
  // The fault itself.
  uint8_t allowed = kFaultAllOps;
  if (rest.substr(0, 7) == "submit-") {
    rule->kind = FaultKind::kSubmitError;
    rule->error = ErrorByName(rest.substr(7));
    if (rule->error == 0) {
      return Fail(error, item, "errors are eio, enospc, efbig, eintr, eagain");
    }
  } else if (int e = ErrorByName(rest); e != 0) {
    rule->kind = FaultKind::kError;
    rule->error = e;
  } else if (rest == "short") {
    rule->kind = FaultKind::kShort;
    allowed = kFaultRead | kFaultWrite;
  } else if (rest == "corrupt") {
    rule->kind = FaultKind::kCorrupt;
    allowed = kFaultRead;
  } else if (rest.substr(0, 6) == "delay=") {
    rule->kind = FaultKind::kDelay;
    if (!ParseDuration(rest.substr(6), &rule->delay)) {
      return Fail(error, item, "a delay is a number with us, ms or s, at most 60 s ('delay=5ms')");
    }
  } else if (rest == "reorder" || rest.substr(0, 8) == "reorder=") {
    rule->kind = FaultKind::kReorder;
    rule->delay = std::chrono::microseconds(2000);
    if (rest.size() > 7 && !ParseDuration(rest.substr(8), &rule->delay)) {
      return Fail(error, item, "a delay is a number with us, ms or s, at most 60 s ('reorder=1ms')");
    }
  } else if (rest == "crash") {
    rule->kind = FaultKind::kCrash;
    if (rule->trigger == FaultTrigger::kOneIn || rule->trigger == FaultTrigger::kFromNth) {
      return Fail(error, item, "power is lost once: 'crash' or 'crash#N'");
    }
  } else {
    return Fail(error, item,
                "unknown fault (eio, enospc, efbig, eintr, eagain, submit-ERR, short, corrupt, "
                "delay=D, reorder, crash; or seed=, inner=, log)");
  }
  if (ops == 0) ops = allowed;
  if ((ops & ~allowed) != 0) {
    return Fail(error, item,
                rule->kind == FaultKind::kShort ? "'short' applies to reads and writes only"
                                                : "'corrupt' applies to reads only");
  }
  rule->ops = ops;
  return true;
}

}  // namespace fault_spec_internal

// ParseFaultSpec parses text (the grammar above) into *out. On a bad spec it
// returns false and, when error is not null, a sentence naming the bad item.
// A null or empty text is a valid spec with no faults.
inline bool ParseFaultSpec(const char* text, FaultSpec* out, std::string* error) {
  namespace in = fault_spec_internal;
  *out = FaultSpec();
  if (text == nullptr) return true;
  std::string_view s(text);
  if (s.size() > 4096) return in::Fail(error, s.substr(0, 32), "spec longer than 4096 characters");
  if (in::Trim(s).empty()) return true;
  for (bool more = true; more;) {
    size_t comma = s.find(',');
    std::string_view item = in::Trim(s.substr(0, comma));
    more = comma != std::string_view::npos;
    if (more) s = s.substr(comma + 1);
    if (item.empty()) {
      return in::Fail(error, item, "empty item (two commas in a row, or a stray comma)");
    }
    if (item.substr(0, 5) == "seed=") {
      std::string_view v = item.substr(5);
      uint64_t seed = 0;
      if (v == "0") {
        seed = 0;
      } else if (!in::ParseN(v, &seed)) {
        return in::Fail(error, item, "a seed is a whole number below 2^63");
      }
      out->seed = seed;
    } else if (item.substr(0, 6) == "inner=") {
      std::string_view v = item.substr(6);
      if (v.empty() || v == "fault") {
        return in::Fail(error, item, "the inner backend is a real one (io_uring, threads, ...)");
      }
      out->inner = std::string(v);
    } else if (item == "log") {
      out->log = true;
    } else {
      FaultRule rule;
      if (!in::ParseRule(item, &rule, error)) return false;
      out->rules.push_back(std::move(rule));
    }
  }
  return true;
}

}  // namespace faio::detail

#endif  // FAIO_SRC_BACKEND_FAULT_FAULT_SPEC_H_
