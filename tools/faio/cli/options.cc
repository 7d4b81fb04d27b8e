// options.cc - see options.h.
#include "cli/options.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "cli/common.h"

namespace faio::tool {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// SplitNumber splits "256M" into its leading number ("256") and suffix ("M").
// Only digits and one '.' count as the number; no sign is accepted.
void SplitNumber(std::string_view text, std::string_view* number, std::string_view* suffix) {
  size_t i = 0;
  bool dot = false;
  while (i < text.size()) {
    char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '.' && !dot) {
      dot = true;
      ++i;
    } else {
      break;
    }
  }
  *number = text.substr(0, i);
  *suffix = text.substr(i);
}

}  // namespace

std::optional<uint64_t> ParseSize(std::string_view text) {
  std::string_view number, suffix;
  SplitNumber(text, &number, &suffix);
  if (number.empty() || number == ".") return std::nullopt;
  std::string unit = Lower(suffix);
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    shift = 10;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    shift = 20;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    shift = 30;
  } else if (unit == "t" || unit == "tb" || unit == "tib") {
    shift = 40;
  } else {
    return std::nullopt;
  }
  if (number.find('.') == std::string_view::npos) {
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
    if (ec != std::errc() || ptr != number.data() + number.size()) return std::nullopt;
    if (v == 0 || v > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
    return v << shift;
  }
  // A fraction ("1.5G") must come out as a whole number of bytes.
  double v = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (ec != std::errc() || ptr != number.data() + number.size()) return std::nullopt;
  double bytes = std::ldexp(v, shift);
  if (!(bytes >= 1) || bytes > 9.0e18 || bytes != std::floor(bytes)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

namespace {

std::optional<double> ParseSeconds(std::string_view text, bool allow_zero) {
  std::string_view number, suffix;
  SplitNumber(text, &number, &suffix);
  if (number.empty() || number == ".") return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (ec != std::errc() || ptr != number.data() + number.size()) return std::nullopt;
  std::string unit = Lower(suffix);
  double scale;
  if (unit.empty() || unit == "s" || unit == "sec") {
    scale = 1;
  } else if (unit == "ms" || unit == "msec") {
    scale = 1e-3;
  } else if (unit == "us" || unit == "usec") {
    scale = 1e-6;
  } else if (unit == "m" || unit == "min") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else {
    return std::nullopt;
  }
  double seconds = v * scale;
  if (!std::isfinite(seconds) || seconds > 366.0 * 86400) return std::nullopt;
  if (!(seconds > 0) && !(allow_zero && seconds == 0)) return std::nullopt;
  return seconds;
}

}  // namespace

std::optional<double> ParseDuration(std::string_view text) { return ParseSeconds(text, false); }

std::optional<double> ParseDurationOrZero(std::string_view text) {
  return ParseSeconds(text, true);
}

std::optional<uint64_t> ParseUnsigned(std::string_view text, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (v < min || v > max) return std::nullopt;
  return v;
}

DirectMode ParseDirect(const std::string& text, bool allow_auto) {
  if (text == "0" || text == "false") return DirectMode::kOff;
  if (text == "1" || text == "true") return DirectMode::kOn;
  if (allow_auto && text == "auto") return DirectMode::kAuto;
  throw UsageError(
      fmt::format("--direct '{}': must be {}", text, allow_auto ? "auto, 0 or 1" : "0 or 1"));
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (unit < 4 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{}{}", bytes, kUnits[unit]);
}

std::string FormatCount(double value) {
  if (value < 10000) return fmt::format("{:.0f}", value);
  if (value < 1e6) return fmt::format("{:.1f}k", value / 1e3);
  if (value < 1e9) return fmt::format("{:.2f}M", value / 1e6);
  return fmt::format("{:.2f}G", value / 1e9);
}

}  // namespace faio::tool
