// ParseSize and ParseGoDuration: the unit syntaxes TiDB-Binlog's configs use.
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "common/config.h"

namespace binlog {
namespace {

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Digits with at most one '.', at least one digit. Returns the length consumed, 0 if none.
size_t ScanDecimal(std::string_view s) {
  size_t i = 0, digits = 0;
  bool dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      ++digits;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  return digits == 0 ? 0 : i;
}

// The value of a decimal scanned by ScanDecimal; not strtod, which obeys the C locale's point.
long double DecimalValue(std::string_view s) {
  long double whole = 0, scale = 1;
  bool frac = false;
  for (char c : s) {
    if (c == '.') {
      frac = true;
      continue;
    }
    if (frac) scale /= 10;
    whole = whole * 10 + (c - '0');
  }
  return whole * scale;
}

std::optional<uint64_t> SizeUnit(std::string_view unit) {
  static const std::pair<std::string_view, int> kUnits[] = {
      {"", 0},   {"b", 0},   {"k", 1}, {"kb", 1}, {"kib", 1}, {"m", 2},
      {"mb", 2}, {"mib", 2}, {"g", 3}, {"gb", 3}, {"gib", 3}, {"t", 4},
      {"tb", 4}, {"tib", 4}, {"p", 5}, {"pb", 5}, {"pib", 5}};
  for (const auto& [name, power] : kUnits) {
    if (unit == name) return uint64_t{1} << (10 * power);
  }
  return std::nullopt;
}

}  // namespace

Status BadConfigValue(std::string_view where, std::string_view key, std::string_view expected,
                      std::string_view got) {
  return Status::InvalidArgument(
      fmt::format("{}: key \"{}\": expected {}, got \"{}\"", where, key, expected, got));
}

Result<uint64_t> ParseSize(std::string_view text) {
  const auto bad = [&] {
    return Status::InvalidArgument(fmt::format(
        "bad size \"{}\": expected a number of bytes with an optional unit like \"512MB\", "
        "\"64k\" or \"10 GiB\"",
        text));
  };
  const std::string_view s = TrimSpace(text);
  const size_t n = ScanDecimal(s);
  if (n == 0) return bad();
  const std::string_view number = s.substr(0, n);
  const std::optional<uint64_t> unit = SizeUnit(Lower(TrimSpace(s.substr(n))));
  if (!unit) return bad();
  if (number.find('.') == std::string_view::npos) {
    // Integers stay exact: a double would round sizes past 2^53.
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || end != number.data() + number.size() || value > UINT64_MAX / *unit) {
      return Status::InvalidArgument(fmt::format("bad size \"{}\": too large", text));
    }
    return value * *unit;
  }
  const long double bytes = DecimalValue(number) * static_cast<long double>(*unit);
  if (bytes >= 18446744073709551615.0L) {
    return Status::InvalidArgument(fmt::format("bad size \"{}\": too large", text));
  }
  return static_cast<uint64_t>(bytes);
}

namespace {

// Go's unitMap, in seconds. "µs" is U+00B5 (micro sign) and "μs" U+03BC (Greek mu), as in Go.
// With days, also "d" (24h), which Go's lacks.
std::optional<double> DurationUnit(std::string_view unit, bool days) {
  static const std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6}, {"\xCE\xBCs", 1e-6},
      {"ms", 1e-3}, {"s", 1},     {"m", 60},           {"h", 3600}};
  for (const auto& [name, seconds] : kUnits) {
    if (unit == name) return seconds;
  }
  if (days && unit == "d") return 86400.0;
  return std::nullopt;
}

Result<double> ParseDuration(std::string_view text, bool days) {
  const auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(
        fmt::format("bad duration \"{}\": {}expected a {}", text, why,
                    days ? "duration like \"7d\", \"24h\", \"90m\" or \"1d12h\""
                         : "Go duration like \"300ms\", \"1.5h\" or \"2h45m\""));
  };
  std::string_view s = TrimSpace(text);
  double sign = 1;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    if (s[0] == '-') sign = -1;
    s.remove_prefix(1);
  }
  if (s == "0") return 0.0;
  if (s.empty()) return bad("");
  long double total = 0;
  while (!s.empty()) {
    const size_t n = ScanDecimal(s);
    if (n == 0) return bad("");
    const long double value = DecimalValue(s.substr(0, n));
    s.remove_prefix(n);
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && (s[u] < '0' || s[u] > '9')) ++u;
    if (u == 0) return bad("missing unit; ");
    const std::optional<double> unit = DurationUnit(s.substr(0, u), days);
    if (!unit) return bad(fmt::format("unknown unit \"{}\"; ", s.substr(0, u)));
    total += value * *unit;
    s.remove_prefix(u);
  }
  // Go rejects what overflows int64 nanoseconds (about 292 years).
  if (total > 9.223372036854775807e9L) return bad("too large; ");
  return static_cast<double>(sign * total);
}

}  // namespace

Result<double> ParseGoDuration(std::string_view text) { return ParseDuration(text, false); }

Result<double> ParseDaysDuration(std::string_view text) { return ParseDuration(text, true); }

}  // namespace binlog
