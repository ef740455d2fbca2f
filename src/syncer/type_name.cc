// MysqlTypeName: the column type text every ColumnInfo carries, rebuilt from the binlog's type
// code and metadata (the server's schema is never consulted).
#include <fmt/format.h>
#include <iconv.h>
#include <mysql.h>

#include <cstring>

#include "syncer/table_map.h"
#include "syncer/value.h"

namespace binlog::syncer {

namespace {

std::string Fsp(const char* base, uint32_t fsp) {
  return fsp == 0 ? std::string(base) : fmt::format("{}({})", base, fsp);
}

// `in` converted from the charset iconv calls `from` to UTF-8; false when it does not convert.
bool ConvertToUtf8(std::string_view in, const char* from, std::string* out) {
  iconv_t cd = iconv_open("UTF-8", from);
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out->assign(in.size() * 4, '\0');  // no charset takes more than 4 UTF-8 bytes per byte
  char* src = const_cast<char*>(in.data());
  char* dst = out->data();
  size_t src_left = in.size(), dst_left = out->size();
  size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1) || src_left != 0) return false;
  out->resize(out->size() - dst_left);
  return IsValidUtf8(*out);
}

// An ENUM/SET member name, stored in the column's charset, as UTF-8: mysql_type is a protobuf
// string, which cannot hold anything else (the record would not parse). What does not convert
// keeps its ASCII and shows other bytes as \xNN.
std::string MemberUtf8(const ColumnDef& col, const std::string& name) {
  if (col.utf8 && IsValidUtf8(name)) return name;
  const MARIADB_CHARSET_INFO* cs =
      col.utf8 || col.collation == 0 ? nullptr : mariadb_get_charset_by_nr(col.collation);
  if (cs != nullptr && cs->encoding != nullptr) {
    // MariaDB's latin1 is Windows-1252 (0x80 is the euro sign), not ISO-8859-1.
    const char* from = std::strcmp(cs->csname, "latin1") == 0 ? "CP1252" : cs->encoding;
    std::string out;
    if (ConvertToUtf8(name, from, &out)) return out;
  } else if (IsValidUtf8(name)) {
    return name;  // no charset known: take it as it is
  }
  std::string out;
  for (char c : name) {
    auto b = static_cast<unsigned char>(c);
    out += b < 0x80 ? std::string(1, c) : fmt::format("\\x{:02X}", b);
  }
  return out;
}

std::string QuotedList(const char* kind, const ColumnDef& col) {
  std::string out = std::string(kind) + "(";
  for (size_t i = 0; i < col.enum_values.size(); ++i) {
    if (i > 0) out += ',';
    out += '\'';
    for (char c : MemberUtf8(col, col.enum_values[i])) {
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
      return QuotedList("enum", col);
    case kTypeSet:
      return QuotedList("set", col);
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
