// options_fuzz.cc - libFuzzer target: the faio tool's option value parsers
// (tools/faio/options.h) on arbitrary text.
//
// Invariants: no crash, hang or sanitizer report; ParseSize accepts only
// positive sizes and every size FormatBytes writes reads back as itself;
// ParseDuration accepts only positive finite durations; ParseUnsigned stays
// within the bounds it is given. The first two bytes of the input choose the
// bounds of ParseUnsigned, the rest is the text.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cli/options.h"

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint64_t lo = data[0];
  const uint64_t hi = lo + (uint64_t{data[1]} << 24);
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  if (auto v = faio::tool::ParseSize(text)) {
    Check(*v > 0);
    auto back = faio::tool::ParseSize(faio::tool::FormatBytes(*v));
    Check(back.has_value() && *back == *v);
  }
  if (auto d = faio::tool::ParseDuration(text)) {
    Check(std::isfinite(*d) && *d > 0);
  }
  if (auto u = faio::tool::ParseUnsigned(text, lo, hi)) {
    Check(*u >= lo && *u <= hi);
  }
  if (auto u = faio::tool::ParseUnsigned(text, 0, UINT64_MAX)) {
    (void)faio::tool::FormatCount(static_cast<double>(*u));
  }
  return 0;
}
