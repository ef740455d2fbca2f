// Numeric row-image formats: little-endian integers and IEEE floats, big-endian BIT and the
// binary DECIMAL format (9 decimal digits per 4 bytes, sign in the top bit, negatives inverted).
#include <fmt/format.h>

#include <array>
#include <bit>
#include <cstring>

#include "syncer/value.h"

namespace binlog::syncer {

namespace {

// Bytes for 0..9 leftover decimal digits.
constexpr std::array<int, 10> kDigitBytes = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr uint32_t kPow10[] = {1,      10,      100,      1000,      10000,
                               100000, 1000000, 10000000, 100000000, 1000000000};

int64_t SignExtend(uint64_t v, int bytes) {
  int shift = 64 - bytes * 8;
  return static_cast<int64_t>(v << shift) >> shift;
}

void SetInteger(const ColumnDef& col, uint64_t raw, int bytes, ValueOut* out) {
  if (col.is_unsigned) {
    out->set_uint64_value(raw);
  } else {
    out->set_int64_value(SignExtend(raw, bytes));
  }
}

Status CheckDecimalType(int precision, int scale) {
  if (precision < 1 || precision > 65 || scale < 0 || scale > 38 || scale > precision) {
    return Status::Corruption(fmt::format("DECIMAL({},{}) is not a valid type", precision, scale));
  }
  return Status::OK();
}

}  // namespace

size_t DecimalBinarySize(int precision, int scale) {
  int intg = precision - scale;
  return (intg / 9) * 4 + kDigitBytes[intg % 9] + (scale / 9) * 4 + kDigitBytes[scale % 9];
}

Result<std::string> DecimalToString(std::string_view bytes, int precision, int scale) {
  RETURN_IF_ERROR(CheckDecimalType(precision, scale));
  if (bytes.size() != DecimalBinarySize(precision, scale)) {
    return Status::Corruption(fmt::format("DECIMAL({},{}) needs {} bytes, got {}", precision, scale,
                                          DecimalBinarySize(precision, scale), bytes.size()));
  }
  std::array<uint8_t, 40> buf{};
  std::memcpy(buf.data(), bytes.data(), bytes.size());
  bool negative = (buf[0] & 0x80) == 0;
  buf[0] ^= 0x80;
  if (negative) {
    for (size_t i = 0; i < bytes.size(); ++i) buf[i] = static_cast<uint8_t>(~buf[i]);
  }
  size_t pos = 0;
  bool bad = false;
  auto group = [&](int digits) -> uint32_t {
    int n = digits == 9 ? 4 : kDigitBytes[digits];
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | buf[pos++];
    if (v >= kPow10[digits]) bad = true;
    return v;
  };
  int intg = precision - scale;
  std::string int_part;
  if (intg % 9 != 0) {
    uint32_t v = group(intg % 9);
    if (v != 0) int_part = fmt::format("{}", v);
  }
  for (int i = 0; i < intg / 9; ++i) {
    uint32_t v = group(9);
    if (int_part.empty()) {
      if (v != 0) int_part = fmt::format("{}", v);
    } else {
      int_part += fmt::format("{:09}", v);
    }
  }
  std::string out = negative ? "-" : "";
  out += int_part.empty() ? "0" : int_part;
  if (scale > 0) {
    out += '.';
    for (int i = 0; i < scale / 9; ++i) out += fmt::format("{:09}", group(9));
    if (scale % 9 != 0) out += fmt::format("{:0{}}", group(scale % 9), scale % 9);
  }
  if (bad) {
    return Status::Corruption(
        fmt::format("DECIMAL({},{}) bytes hold a digit group out of range", precision, scale));
  }
  return out;
}

Status DecodeNumeric(const ColumnDef& col, ByteReader* r, ValueOut* out) {
  switch (col.type) {
    case kTypeTiny:
      SetInteger(col, r->LE(1), 1, out);
      break;
    case kTypeShort:
      SetInteger(col, r->LE(2), 2, out);
      break;
    case kTypeInt24:
      SetInteger(col, r->LE(3), 3, out);
      break;
    case kTypeLong:
      SetInteger(col, r->LE(4), 4, out);
      break;
    case kTypeLongLong:
      SetInteger(col, r->LE(8), 8, out);
      break;
    case kTypeFloat:
      out->set_double_value(std::bit_cast<float>(static_cast<uint32_t>(r->LE(4))));
      break;
    case kTypeDouble:
      out->set_double_value(std::bit_cast<double>(r->LE(8)));
      break;
    case kTypeYear: {
      // 0 is the zero year '0000'; otherwise years since 1900.
      uint8_t y = r->U8();
      out->set_int64_value(y == 0 ? 0 : 1900 + y);
      break;
    }
    case kTypeBit: {
      // Big-endian in (bits + 7) / 8 bytes. An integer when it fits in int64 (BIT(64) values
      // with the top bit set are kept as their 8 bytes).
      size_t n = (col.length + 7) / 8;
      std::string_view b = r->Bytes(n);
      if (!r->ok()) break;
      uint64_t v = 0;
      for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
      if (v > static_cast<uint64_t>(INT64_MAX)) {
        out->set_bytes_value(b);
      } else {
        out->set_int64_value(static_cast<int64_t>(v));
      }
      break;
    }
    case kTypeNewDecimal: {
      // The table map's precision and scale size the value: check them before sizing.
      RETURN_IF_ERROR(CheckDecimalType(static_cast<int>(col.length), col.scale));
      std::string_view b = r->Bytes(DecimalBinarySize(col.length, col.scale));
      if (!r->ok()) break;
      ASSIGN_OR_RETURN(std::string text, DecimalToString(b, col.length, col.scale));
      out->set_decimal_value(text);
      break;
    }
    default:
      return Status::Unsupported(fmt::format("{} is not a numeric type", MysqlTypeName(col)));
  }
  if (!r->ok()) return Status::Corruption("row image ends inside the value");
  return Status::OK();
}

}  // namespace binlog::syncer
