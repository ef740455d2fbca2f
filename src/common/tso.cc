#include "common/tso.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <time.h>

#include <charconv>
#include <chrono>
#include <exception>
#include <optional>

namespace binlog {
namespace {

using Micros = std::chrono::microseconds;
using SysMicros = date::sys_time<Micros>;
using LocalMicros = date::local_time<Micros>;

constexpr std::string_view kDatetimeShape = "YYYY-MM-DD hh:mm:ss[.ffffff]";

// A zone is either an IANA zone from the tz database or a fixed offset from UTC.
struct Zone {
  const date::time_zone* tz = nullptr;
  std::chrono::minutes offset{0};
};

Status BadZone(std::string_view zone, std::string_view why = {}) {
  std::string msg = fmt::format(
      "unknown time zone \"{}\": expected an IANA name like \"Asia/Shanghai\", \"UTC\" or an "
      "offset like \"+08:00\"",
      zone);
  if (!why.empty()) msg += fmt::format(" ({})", why);
  return Status::InvalidArgument(msg);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// "+08:00", "-0500", "+08".
std::optional<std::chrono::minutes> ParseOffset(std::string_view text) {
  if (text.size() < 3 || (text[0] != '+' && text[0] != '-')) return std::nullopt;
  int hours = 0, minutes = 0;
  if (!Digits(text, 1, 2, &hours)) return std::nullopt;
  std::string_view rest = text.substr(3);
  if (!rest.empty() && rest[0] == ':') rest.remove_prefix(1);
  if (!rest.empty() && (rest.size() != 2 || !Digits(rest, 0, 2, &minutes))) return std::nullopt;
  if (hours > 23 || minutes > 59) return std::nullopt;
  const std::chrono::minutes offset(hours * 60 + minutes);
  return text[0] == '-' ? -offset : offset;
}

Result<Zone> ResolveZone(std::string_view name) {
  if (name == "UTC" || name == "utc" || name == "Z") return Zone{};
  if (auto offset = ParseOffset(name)) return Zone{nullptr, *offset};
  if (!name.empty() && (name[0] == '+' || name[0] == '-')) return BadZone(name);
  try {
    if (name.empty()) {
      try {
        return Zone{date::current_zone()};
      } catch (const std::exception&) {
        // A container without /etc/localtime: UTC is what the C library assumes too.
        return Zone{};
      }
    }
    return Zone{date::locate_zone(name)};
  } catch (const std::exception& e) {
    return BadZone(name, e.what());
  }
}

Result<LocalMicros> ToLocal(const Zone& zone, SysMicros tp, std::string_view name) {
  if (zone.tz == nullptr) return LocalMicros(tp.time_since_epoch() + zone.offset);
  try {
    return zone.tz->to_local(tp);
  } catch (const std::exception& e) {
    return BadZone(name, e.what());
  }
}

Result<SysMicros> ToSys(const Zone& zone, LocalMicros tp, std::string_view name) {
  if (zone.tz == nullptr) return SysMicros(tp.time_since_epoch() - zone.offset);
  try {
    // A time skipped by a DST jump maps to the jump; a repeated one to its first occurrence.
    return zone.tz->to_sys(tp, date::choose::earliest);
  } catch (const std::exception& e) {
    return BadZone(name, e.what());
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

Status BadDatetime(std::string_view text, std::string_view why) {
  return Status::InvalidArgument(fmt::format("bad datetime \"{}\": {}", text, why));
}

// Strict "YYYY-MM-DD hh:mm:ss[.f{1,6}]" (or 'T' for the space); nullopt when it does not match.
std::optional<LocalMicros> ParseLocal(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (s.size() < 19 || !Digits(s, 0, 4, &year) || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != ' ' && s[10] != 'T') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return std::nullopt;
  }
  int64_t micros = 0;
  if (s.size() > 19) {
    const size_t frac = s.size() - 20;
    if (s[19] != '.' || frac < 1 || frac > 6) return std::nullopt;
    int value;
    if (!Digits(s, 20, frac, &value)) return std::nullopt;
    micros = value;
    for (size_t i = frac; i < 6; ++i) micros *= 10;
  }
  const date::year_month_day ymd{date::year(year), date::month(static_cast<unsigned>(month)),
                                 date::day(static_cast<unsigned>(day))};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  return date::local_days(ymd) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second) + Micros(micros);
}

}  // namespace

Result<std::string> FormatTSDatetime(uint64_t ts, std::string_view zone) {
  ASSIGN_OR_RETURN(Zone z, ResolveZone(zone));
  const SysMicros tp{Micros(TSPhysicalMs(ts) * 1000)};
  ASSIGN_OR_RETURN(LocalMicros local, ToLocal(z, tp, zone));
  const auto days = date::floor<date::days>(local);
  const date::year_month_day ymd(days);
  const date::hh_mm_ss<Micros> hms(local - days);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

Result<uint64_t> ParseDatetimeToTS(std::string_view text, std::string_view zone) {
  const std::string_view trimmed = Trim(text);
  const std::optional<LocalMicros> local = ParseLocal(trimmed);
  if (!local) return BadDatetime(text, fmt::format("expected {}", kDatetimeShape));
  ASSIGN_OR_RETURN(Zone z, ResolveZone(zone));
  ASSIGN_OR_RETURN(SysMicros tp, ToSys(z, *local, zone));
  const int64_t us = tp.time_since_epoch().count();
  if (us < 0) return BadDatetime(text, "before 1970-01-01 00:00:00 UTC");
  const int64_t ms = us / 1000;
  if (static_cast<uint64_t>(ms) >= (uint64_t{1} << (64 - kLogicalBits))) {
    return BadDatetime(text, "beyond the range of a TSO");
  }
  return ComposeTS(ms, 0);
}

Result<uint64_t> ParseTSOrDatetime(std::string_view text, std::string_view zone) {
  const std::string_view trimmed = Trim(text);
  const bool all_digits =
      !trimmed.empty() && trimmed.find_first_not_of("0123456789") == std::string_view::npos;
  if (!all_digits) return ParseDatetimeToTS(text, zone);
  uint64_t ts = 0;
  const auto [end, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), ts);
  if (ec != std::errc() || end != trimmed.data() + trimmed.size()) {
    return Status::InvalidArgument(fmt::format("bad TSO \"{}\": out of range", text));
  }
  return ts;
}

std::string FormatCompactLocal(int64_t unix_micros) {
  // Floor, so a time just before the epoch does not round up into the next second.
  int64_t secs = unix_micros / 1000000;
  if (unix_micros % 1000000 < 0) --secs;
  const time_t t = static_cast<time_t>(secs);
  struct tm tm;
  if (localtime_r(&t, &tm) == nullptr) return "00000000000000";
  return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace binlog
