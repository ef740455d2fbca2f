// MysqlTypeName: the column type text every ColumnInfo carries, rebuilt from the binlog's type
// code and metadata (the server's schema is never consulted).
#include <fmt/format.h>

#include "syncer/table_map.h"

namespace binlog::syncer {

namespace {

std::string Fsp(const char* base, uint32_t fsp) {
  return fsp == 0 ? std::string(base) : fmt::format("{}({})", base, fsp);
}

std::string QuotedList(const char* kind, const std::vector<std::string>& values) {
  std::string out = std::string(kind) + "(";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '\'';
    for (char c : values[i]) {
      if (c == '\'') out += '\'';
      out += c;
    }
    out += '\'';
  }
  return out + ")";
}

// Characters from bytes: CHAR(10) in utf8mb4 is 40 bytes in the binlog.
uint32_t Chars(const ColumnDef& col) {
  unsigned max_bytes = LookupCollation(col.collation).max_bytes;
  return max_bytes > 1 ? col.length / max_bytes : col.length;
}

std::string Integer(const char* base, const ColumnDef& col) {
  return col.is_unsigned ? std::string(base) + " unsigned" : std::string(base);
}

}  // namespace

std::string MysqlTypeName(const ColumnDef& col) {
  bool binary = col.collation == kBinaryCollation;
  switch (col.real_type) {
    case kTypeTiny:
      return Integer("tinyint", col);
    case kTypeShort:
      return Integer("smallint", col);
    case kTypeInt24:
      return Integer("mediumint", col);
    case kTypeLong:
      return Integer("int", col);
    case kTypeLongLong:
      return Integer("bigint", col);
    case kTypeFloat:
      return Integer("float", col);
    case kTypeDouble:
      return Integer("double", col);
    case kTypeNewDecimal:
      return Integer(fmt::format("decimal({},{})", col.length, col.scale).c_str(), col);
    case kTypeDecimal:
      return "decimal";
    case kTypeNull:
      return "null";
    case kTypeDate:
    case kTypeNewDate:
      return "date";
    case kTypeTime:
      return "time";
    case kTypeTime2:
      return Fsp("time", col.length);
    case kTypeDatetime:
      return "datetime";
    case kTypeDatetime2:
      return Fsp("datetime", col.length);
    case kTypeTimestamp:
      return "timestamp";
    case kTypeTimestamp2:
      return Fsp("timestamp", col.length);
    case kTypeYear:
      return "year";
    case kTypeBit:
      return fmt::format("bit({})", col.length);
    case kTypeVarchar:
    case kTypeVarString:
      return binary ? fmt::format("varbinary({})", col.length)
                    : fmt::format("varchar({})", Chars(col));
    case kTypeVarcharCompressed:
      return binary ? fmt::format("varbinary({}) compressed", col.length)
                    : fmt::format("varchar({}) compressed", Chars(col));
    case kTypeString:
      return binary ? fmt::format("binary({})", col.length) : fmt::format("char({})", Chars(col));
    case kTypeEnum:
      return QuotedList("enum", col.enum_values);
    case kTypeSet:
      return QuotedList("set", col.enum_values);
    case kTypeBlob:
    case kTypeBlobCompressed: {
      static const char* const kPrefix[] = {"", "tiny", "", "medium", "long"};
      std::string name =
          std::string(col.length <= 4 ? kPrefix[col.length] : "") + (binary ? "blob" : "text");
      return col.real_type == kTypeBlobCompressed ? name + " compressed" : name;
    }
    case kTypeGeometry:
      return "geometry";
    case kTypeJson:
      return "json";
    default:
      return fmt::format("type{}", col.real_type);
  }
}

}  // namespace binlog::syncer
