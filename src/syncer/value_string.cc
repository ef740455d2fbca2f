// String row-image formats: a little-endian length (1 or 2 bytes for CHAR/VARCHAR by the
// column's maximum byte length, 1-4 bytes for BLOB/TEXT by the metadata) and the bytes; ENUM
// and SET as their index or bitmask, turned into names with the table map's member lists.
#include <fmt/format.h>

#include <cstring>

#include "syncer/value.h"

namespace binlog::syncer {

namespace {

void SetText(const ColumnDef& col, std::string_view bytes, ValueOut* out) {
  // A utf8mb4 column holding bytes that are not UTF-8 (possible with some sql_modes) must not
  // become a protobuf string, which refuses to serialize: keep the bytes as they are.
  if (col.utf8 && IsValidUtf8(bytes)) {
    out->set_string_value(bytes);
  } else {
    out->set_bytes_value(bytes);
  }
}

Status NoMembers(const ColumnDef& col) {
  return Status::InvalidArgument(fmt::format(
      "{} column without its member names in the table map (binlog_row_metadata must be FULL)",
      col.real_type == kTypeEnum ? "ENUM" : "SET"));
}

}  // namespace

Status DecodeString(const ColumnDef& col, ByteReader* r, ValueOut* out) {
  switch (col.real_type) {
    case kTypeString: {
      size_t len = col.length > 255 ? r->U16() : r->U8();
      std::string_view b = r->Bytes(len);
      if (!r->ok()) break;
      // The binlog drops trailing pad bytes. CHAR's pad is a space, which SELECT strips too;
      // BINARY(n)'s is 0x00, which SELECT returns: put it back.
      if (col.collation == kBinaryCollation && b.size() < col.length) {
        std::string padded(b);
        padded.resize(col.length, '\0');
        out->set_bytes_value(padded);
      } else {
        SetText(col, b, out);
      }
      break;
    }
    case kTypeVarchar:
    case kTypeVarString: {
      size_t len = col.length > 255 ? r->U16() : r->U8();
      std::string_view b = r->Bytes(len);
      if (r->ok()) SetText(col, b, out);
      break;
    }
    case kTypeBlob:
    case kTypeGeometry: {
      if (col.length < 1 || col.length > 4) {
        return Status::Corruption(fmt::format("BLOB length of {} bytes", col.length));
      }
      uint64_t len = r->LE(col.length);
      std::string_view b = r->Bytes(len);
      if (!r->ok()) break;
      if (col.real_type == kTypeGeometry) {
        out->set_bytes_value(b);
      } else {
        SetText(col, b, out);
      }
      break;
    }
    case kTypeEnum: {
      uint64_t index = r->LE(col.length == 2 ? 2 : 1);
      if (!r->ok()) break;
      // 0 is the empty string MariaDB stores for an invalid value in non-strict mode.
      if (index == 0) {
        out->set_string_value("");
        break;
      }
      if (col.enum_values.empty()) return NoMembers(col);
      if (index > col.enum_values.size()) {
        return Status::Corruption(
            fmt::format("ENUM index {} past its {} members", index, col.enum_values.size()));
      }
      SetText(col, col.enum_values[index - 1], out);
      break;
    }
    case kTypeSet: {
      if (col.length < 1 || col.length > 8) {
        return Status::Corruption(fmt::format("SET of {} bytes", col.length));
      }
      uint64_t bits = r->LE(col.length);
      if (!r->ok()) break;
      if (bits != 0 && col.enum_values.empty()) return NoMembers(col);
      std::string names;
      for (size_t i = 0; i < 64 && (bits >> i) != 0; ++i) {
        if (((bits >> i) & 1) == 0) continue;
        if (i >= col.enum_values.size()) {
          return Status::Corruption(
              fmt::format("SET bit {} past its {} members", i, col.enum_values.size()));
        }
        if (!names.empty()) names += ',';
        names += col.enum_values[i];
      }
      SetText(col, names, out);
      break;
    }
    case kTypeJson:
      return Status::Unsupported(
          "MySQL's binary JSON (MariaDB's JSON is LONGTEXT and is decoded as text)");
    case kTypeBlobCompressed:
    case kTypeVarcharCompressed:
      return Status::Unsupported("MariaDB COMPRESSED columns");
    default:
      return Status::Unsupported(fmt::format("{} is not a string type", MysqlTypeName(col)));
  }
  if (!r->ok()) return Status::Corruption("row image ends inside the value");
  return Status::OK();
}

Status DecodeValue(const ColumnDef& col, ByteReader* r, ValueOut* out) {
  switch (col.type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeFloat:
    case kTypeDouble:
    case kTypeYear:
    case kTypeBit:
    case kTypeNewDecimal:
      return DecodeNumeric(col, r, out);
    case kTypeDate:
    case kTypeNewDate:
    case kTypeTime:
    case kTypeTime2:
    case kTypeDatetime:
    case kTypeDatetime2:
    case kTypeTimestamp:
    case kTypeTimestamp2:
      return DecodeTemporal(col, r, out);
    case kTypeString:
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeBlob:
    case kTypeGeometry:
    case kTypeEnum:
    case kTypeSet:
    case kTypeJson:
    case kTypeBlobCompressed:
    case kTypeVarcharCompressed:
      return DecodeString(col, r, out);
    default:
      return Status::Unsupported(fmt::format("column type {} ({})", col.type, MysqlTypeName(col)));
  }
}

}  // namespace binlog::syncer
