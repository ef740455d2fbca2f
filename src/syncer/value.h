// Column values of row images: the binlog's storage format of each MySQL/MariaDB type, decoded
// into pb::Value with the same text SELECT returns (see docs/SYNCER.md for the mapping).
//
// Each decoder reads exactly the value's bytes from r. A type it cannot decode is Unsupported
// and bytes running short Corruption; the caller adds the table, column and binlog position.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "binlog.pb.h"
#include "common/status.h"
#include "syncer/byte_reader.h"
#include "syncer/table_map.h"

namespace binlog::syncer {

// Dispatches on the column's type to one of the families below.
Status DecodeValue(const ColumnDef& col, ByteReader* r, pb::Value* out);

// Integers, FLOAT, DOUBLE, DECIMAL, BIT, YEAR (value_numeric.cc).
Status DecodeNumeric(const ColumnDef& col, ByteReader* r, pb::Value* out);
// DATE, TIME, DATETIME, TIMESTAMP in the old and the MySQL 5.6 (fractional) formats
// (value_temporal.cc). TIMESTAMP is rendered in UTC.
Status DecodeTemporal(const ColumnDef& col, ByteReader* r, pb::Value* out);
// CHAR, VARCHAR, TEXT, BLOB, ENUM, SET, GEOMETRY (value_string.cc).
Status DecodeString(const ColumnDef& col, ByteReader* r, pb::Value* out);

// The binary DECIMAL(precision, scale) format to exact text ("-12.340"). Exposed for tests.
Result<std::string> DecimalToString(std::string_view bytes, int precision, int scale);
// Bytes a DECIMAL(precision, scale) takes in a row image.
size_t DecimalBinarySize(int precision, int scale);
// Whether bytes are well-formed UTF-8 (protobuf refuses to serialize a string field that is not).
bool IsValidUtf8(std::string_view s);

}  // namespace binlog::syncer
