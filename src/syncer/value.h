// Column values of row images: the binlog's storage format of each MySQL/MariaDB type, decoded
// into pb::Value (as wire bytes, see ValueOut) with the same text SELECT returns (see
// docs/SYNCER.md for the mapping).
//
// Each decoder reads exactly the value's bytes from r. A type it cannot decode is Unsupported
// and bytes running short Corruption; the caller adds the table, column and binlog position.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/text.h"
#include "syncer/byte_reader.h"
#include "syncer/table_map.h"
#include "syncer/wire.h"

namespace binlog::syncer {

// One element of Row.columns (field 1, a pb::Value) appended to a buffer as protobuf wire
// bytes. A decoder calls one setter, once it has the whole value; a column absent from the row
// image gets Absent() (a Value with no field set). The setters keep pb::Value's names.
class ValueOut {
 public:
  explicit ValueOut(std::string* buf) : buf_(buf) {}

  void Absent() { Element(0, 0); }
  void set_is_null(bool v) { Varint(1, v ? 1 : 0); }
  void set_int64_value(int64_t v) { Varint(2, static_cast<uint64_t>(v)); }
  void set_uint64_value(uint64_t v) { Varint(3, v); }
  void set_double_value(double v) {
    Element(1 + 8, 4 << 3 | wire::kFixed64);
    uint64_t bits = std::bit_cast<uint64_t>(v);
    char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<char>(bits >> (8 * i));
    buf_->append(le, 8);
  }
  void set_bytes_value(std::string_view v) { Bytes(5, v); }
  void set_string_value(std::string_view v) { Bytes(6, v); }
  void set_decimal_value(std::string_view v) { Bytes(7, v); }

 private:
  // The element's tag and length, then its one field's tag (none when len is 0).
  void Element(size_t len, uint8_t field_tag) {
    wire::PutTag(buf_, 1, wire::kLen);
    wire::PutVarint(buf_, len);
    if (len > 0) buf_->push_back(static_cast<char>(field_tag));
  }
  void Varint(uint32_t field, uint64_t v) {
    Element(1 + wire::VarintSize(v), static_cast<uint8_t>(field << 3 | wire::kVarint));
    wire::PutVarint(buf_, v);
  }
  void Bytes(uint32_t field, std::string_view v) {
    Element(1 + wire::VarintSize(v.size()) + v.size(),
            static_cast<uint8_t>(field << 3 | wire::kLen));
    wire::PutVarint(buf_, v.size());
    buf_->append(v);
  }

  std::string* buf_;
};

// Dispatches on the column's type to one of the families below.
Status DecodeValue(const ColumnDef& col, ByteReader* r, ValueOut* out);

// Integers, FLOAT, DOUBLE, DECIMAL, BIT, YEAR (value_numeric.cc).
Status DecodeNumeric(const ColumnDef& col, ByteReader* r, ValueOut* out);
// DATE, TIME, DATETIME, TIMESTAMP in the old and the MySQL 5.6 (fractional) formats
// (value_temporal.cc). TIMESTAMP is rendered in UTC.
Status DecodeTemporal(const ColumnDef& col, ByteReader* r, ValueOut* out);
// CHAR, VARCHAR, TEXT, BLOB, ENUM, SET, GEOMETRY (value_string.cc).
Status DecodeString(const ColumnDef& col, ByteReader* r, ValueOut* out);

// The binary DECIMAL(precision, scale) format to exact text ("-12.340"). Exposed for tests.
Result<std::string> DecimalToString(std::string_view bytes, int precision, int scale);
// Bytes a DECIMAL(precision, scale) takes in a row image. REQUIRES: a valid type (precision
// 1..65, scale 0..38 and at most precision), as DecimalToString checks.
size_t DecimalBinarySize(int precision, int scale);
// Whether bytes are well-formed UTF-8 (protobuf refuses to parse a string field that is not).
using binlog::IsValidUtf8;

}  // namespace binlog::syncer
