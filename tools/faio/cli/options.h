// options.h - parsing of the faio tool's fio-like option values.
//
// The tool takes every value as a string and parses it here, so that a bad value
// is reported with the option's name and the accepted forms ("--bs '4q': ...")
// instead of a generic conversion error.
#ifndef FAIO_TOOLS_FAIO_CLI_OPTIONS_H_
#define FAIO_TOOLS_FAIO_CLI_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace faio::tool {

// ParseSize parses a byte count the way fio does: a number with an optional
// binary suffix, case-insensitive: k/kb/kib = 2^10, m = 2^20, g = 2^30, t = 2^40,
// b or none = bytes. "4k", "256M", "1GiB", "512". Empty on a malformed value,
// zero or overflow.
std::optional<uint64_t> ParseSize(std::string_view text);

// ParseDuration parses a duration in seconds: "5", "5s", "500ms", "2m", "1h",
// "1.5". Empty on a malformed or non-positive value.
std::optional<double> ParseDuration(std::string_view text);

// ParseDurationOrZero is ParseDuration that also accepts zero ("0", "0s").
std::optional<double> ParseDurationOrZero(std::string_view text);

// ParseUnsigned parses a plain decimal integer in [min, max].
std::optional<uint64_t> ParseUnsigned(std::string_view text, uint64_t min, uint64_t max);

// DirectMode is the value of a --direct option of cp and verify.
enum class DirectMode { kOff, kOn, kAuto };

// ParseDirect parses --direct: 0/false, 1/true, and (if allow_auto) auto.
// Throws UsageError naming the option otherwise.
DirectMode ParseDirect(const std::string& text, bool allow_auto);

// FormatBytes renders a byte count with the largest binary unit that divides it
// exactly ("4KiB", "256MiB", "1000B"), so values read back as written.
std::string FormatBytes(uint64_t bytes);

// FormatCount renders a large count briefly, fio-style ("987", "12.3k", "1.52M").
std::string FormatCount(double value);

}  // namespace faio::tool

#endif  // FAIO_TOOLS_FAIO_CLI_OPTIONS_H_
