// Temporal row-image formats. The old ones (DATE, TIME, DATETIME, TIMESTAMP) are little-endian
// integers; the MySQL 5.6 ones (TIME2, DATETIME2, TIMESTAMP2, MariaDB's default since 10.1) are
// big-endian packed fields followed by 0-3 bytes of fractional seconds.
//
// Text is what SELECT returns: 'YYYY-MM-DD hh:mm:ss' plus exactly the column's fractional
// digits. TIMESTAMP is stored as seconds since the epoch and rendered in UTC here, whatever
// the upstream's time_zone (a reader wanting local time converts).
#include <fmt/format.h>

#include <cstdlib>

#include "syncer/value.h"

namespace binlog::syncer {

namespace {

constexpr int64_t kTimeIntOffset = 0x800000;          // TIME2 integer part bias
constexpr int64_t kTimeOffset = 0x800000000000;       // TIME2 6-byte form bias
constexpr int64_t kDatetimeIntOffset = 0x8000000000;  // DATETIME2 integer part bias

// ".123" for fsp 3 of 123456 microseconds; empty for fsp 0.
std::string Fraction(uint32_t micros, uint32_t fsp) {
  if (fsp == 0) return {};
  static constexpr uint32_t kDiv[] = {1000000, 100000, 10000, 1000, 100, 10, 1};
  return fmt::format(".{:0{}}", micros / kDiv[fsp], fsp);
}

// Reads the fractional-second bytes of a 5.6-format value as microseconds (unsigned form).
uint32_t ReadFraction(ByteReader* r, uint32_t fsp) {
  switch (fsp) {
    case 1:
    case 2:
      return static_cast<uint32_t>(r->BE(1)) * 10000;
    case 3:
    case 4:
      return static_cast<uint32_t>(r->BE(2)) * 100;
    case 5:
    case 6:
      return static_cast<uint32_t>(r->BE(3));
    default:
      return 0;
  }
}

// Days since 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm).
void CivilFromDays(int64_t z, int* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

std::string EpochToUtc(uint32_t seconds, uint32_t micros, uint32_t fsp) {
  if (seconds == 0 && micros == 0) return "0000-00-00 00:00:00" + Fraction(0, fsp);
  int y;
  unsigned m, d;
  CivilFromDays(seconds / 86400, &y, &m, &d);
  uint32_t sod = seconds % 86400;
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}", y, m, d, sod / 3600, sod / 60 % 60,
                     sod % 60, Fraction(micros, fsp));
}

std::string Time2(ByteReader* r, uint32_t fsp) {
  // The packed form: sign, 10-bit hour, 6-bit minute, 6-bit second, 24-bit microseconds.
  int64_t packed;
  switch (fsp) {
    case 1:
    case 2: {
      int64_t intpart = static_cast<int64_t>(r->BE(3)) - kTimeIntOffset;
      int64_t frac = static_cast<int64_t>(r->BE(1));
      // A negative value with a fraction is stored as (int + 1, frac - 100): undo it.
      if (intpart < 0 && frac != 0) {
        intpart++;
        frac -= 0x100;
      }
      packed = intpart * (int64_t{1} << 24) + frac * 10000;
      break;
    }
    case 3:
    case 4: {
      int64_t intpart = static_cast<int64_t>(r->BE(3)) - kTimeIntOffset;
      int64_t frac = static_cast<int64_t>(r->BE(2));
      if (intpart < 0 && frac != 0) {
        intpart++;
        frac -= 0x10000;
      }
      packed = intpart * (int64_t{1} << 24) + frac * 100;
      break;
    }
    case 5:
    case 6:
      packed = static_cast<int64_t>(r->BE(6)) - kTimeOffset;
      break;
    default:
      packed = (static_cast<int64_t>(r->BE(3)) - kTimeIntOffset) * (int64_t{1} << 24);
      break;
  }
  bool negative = packed < 0;
  uint64_t v = static_cast<uint64_t>(negative ? -packed : packed);
  uint64_t hms = v >> 24;
  uint32_t micros = static_cast<uint32_t>(v % (1 << 24));
  return fmt::format("{}{:02}:{:02}:{:02}{}", negative ? "-" : "", (hms >> 12) % 1024,
                     (hms >> 6) % 64, hms % 64, Fraction(micros, fsp));
}

std::string Datetime2(ByteReader* r, uint32_t fsp) {
  int64_t intpart = static_cast<int64_t>(r->BE(5)) - kDatetimeIntOffset;
  uint32_t micros = ReadFraction(r, fsp);
  if (intpart < 0) intpart = -intpart;  // negative datetimes do not exist; keep digits sane
  uint64_t ymdhms = static_cast<uint64_t>(intpart);
  uint64_t ymd = ymdhms >> 17;
  uint64_t ym = ymd >> 5;
  uint64_t hms = ymdhms % (1 << 17);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}", ym / 13, ym % 13, ymd % 32, hms >> 12,
                     (hms >> 6) % 64, hms % 64, Fraction(micros, fsp));
}

}  // namespace

Status DecodeTemporal(const ColumnDef& col, ByteReader* r, ValueOut* out) {
  if (col.length > 6) {
    return Status::Corruption(fmt::format("{}: fractional-second precision {} (at most 6)",
                                          MysqlTypeName(col), col.length));
  }
  std::string text;
  switch (col.type) {
    case kTypeDate:
    case kTypeNewDate: {
      uint32_t v = r->U24();  // day:5, month:4, year:15 from the low bits
      text = fmt::format("{:04}-{:02}-{:02}", v >> 9, (v >> 5) & 15, v & 31);
      break;
    }
    case kTypeTime: {
      // hh*10000 + mm*100 + ss as a signed 24-bit integer.
      int32_t v = static_cast<int32_t>(r->U24() << 8) >> 8;
      uint32_t a = static_cast<uint32_t>(std::abs(v));
      text =
          fmt::format("{}{:02}:{:02}:{:02}", v < 0 ? "-" : "", a / 10000, a / 100 % 100, a % 100);
      break;
    }
    case kTypeTime2:
      text = Time2(r, col.length);
      break;
    case kTypeDatetime: {
      // YYYYMMDDhhmmss as a decimal number in 8 bytes.
      uint64_t v = r->U64();
      uint64_t date = v / 1000000, time = v % 1000000;
      text = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", date / 10000, date / 100 % 100,
                         date % 100, time / 10000, time / 100 % 100, time % 100);
      break;
    }
    case kTypeDatetime2:
      text = Datetime2(r, col.length);
      break;
    case kTypeTimestamp:
      text = EpochToUtc(r->U32(), 0, 0);
      break;
    case kTypeTimestamp2: {
      uint32_t seconds = static_cast<uint32_t>(r->BE(4));
      uint32_t micros = ReadFraction(r, col.length);
      text = EpochToUtc(seconds, micros, col.length);
      break;
    }
    default:
      return Status::Unsupported(fmt::format("{} is not a temporal type", MysqlTypeName(col)));
  }
  if (!r->ok()) return Status::Corruption("row image ends inside the value");
  out->set_string_value(text);
  return Status::OK();
}

}  // namespace binlog::syncer
