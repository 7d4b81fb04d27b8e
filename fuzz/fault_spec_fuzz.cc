// fault_spec_fuzz.cc - libFuzzer target: the fault backend's spec parser
// (src/backend/fault/fault_spec.h) on arbitrary text.
//
// Invariants: it never crashes or hangs; a refused spec comes with a sentence
// that starts "fault spec: "; an accepted one holds only rules the backend can
// act on (ops within the fault's ops, triggers from 1, delays within 60 s), and
// its rules, written out again, parse to the same rules.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "backend/fault/fault_spec.h"

using faio::detail::FaultKind;
using faio::detail::FaultSpec;
using faio::detail::FaultTrigger;

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (text.find('\0') != std::string::npos) return 0;  // a C string ends there
  FaultSpec spec;
  std::string error;
  if (!faio::detail::ParseFaultSpec(text.c_str(), &spec, &error)) {
    Check(error.rfind("fault spec: ", 0) == 0);
    return 0;
  }
  std::string again;
  for (const auto& r : spec.rules) {
    Check(r.ops != 0 && (r.ops & ~faio::detail::kFaultAllOps) == 0);
    Check(r.trigger == FaultTrigger::kAlways || r.n >= 1);
    Check(r.delay.count() >= 0 && r.delay.count() <= 60000000);
    if (r.kind == FaultKind::kShort) Check((r.ops & faio::detail::kFaultFlush) == 0);
    if (r.kind == FaultKind::kCorrupt) Check(r.ops == faio::detail::kFaultRead);
    if (r.kind == FaultKind::kError || r.kind == FaultKind::kSubmitError) Check(r.error != 0);
    if (r.kind == FaultKind::kCrash) {
      Check(r.trigger == FaultTrigger::kAlways || r.trigger == FaultTrigger::kNth);
    }
    Check(spec.inner != "fault");
    if (!again.empty()) again += ',';
    again += r.text;
  }
  FaultSpec round;
  Check(faio::detail::ParseFaultSpec(again.c_str(), &round, &error));
  Check(round.rules.size() == spec.rules.size());
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    const auto& a = spec.rules[i];
    const auto& b = round.rules[i];
    Check(a.kind == b.kind && a.error == b.error && a.ops == b.ops && a.trigger == b.trigger &&
          a.n == b.n && a.delay == b.delay);
  }
  return 0;
}
