// TiDB-style timestamps (TSO): (unix milliseconds << 18) | logical counter.
//
// Datetimes convert through the physical part only. A zone is an IANA name ("Asia/Shanghai"),
// "UTC", a fixed offset ("+08:00", "-05:00"), or empty for the machine's local zone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace binlog {

inline constexpr int kLogicalBits = 18;
inline constexpr uint64_t kLogicalMask = (uint64_t{1} << kLogicalBits) - 1;

constexpr uint64_t ComposeTS(int64_t unix_ms, uint64_t logical) {
  return (static_cast<uint64_t>(unix_ms) << kLogicalBits) | (logical & kLogicalMask);
}
constexpr int64_t TSPhysicalMs(uint64_t ts) { return static_cast<int64_t>(ts >> kLogicalBits); }
constexpr uint64_t TSLogical(uint64_t ts) { return ts & kLogicalMask; }

// "2021-01-18 12:40:40.644000" in the zone (microsecond digits always printed, 6 of them).
Result<std::string> FormatTSDatetime(uint64_t ts, std::string_view zone = {});
// Accepts "YYYY-MM-DD hh:mm:ss[.ffffff]" (also with 'T' between date and time) in the zone and
// returns the TSO of that instant with logical 0. Errors name the text and what was expected.
Result<uint64_t> ParseDatetimeToTS(std::string_view text, std::string_view zone = {});
// A command-line time: a plain integer is a TSO, anything else a datetime as above.
Result<uint64_t> ParseTSOrDatetime(std::string_view text, std::string_view zone = {});

// "YYYYMMDDhhmmss" of a unix time in microseconds, in the local zone (segment file names).
std::string FormatCompactLocal(int64_t unix_micros);

}  // namespace binlog
