#include "syncer/table_map.h"

#include <fmt/format.h>
#include <mysql.h>

#include "syncer/byte_reader.h"
#include "syncer/value.h"

namespace binlog::syncer {

namespace {

// Optional metadata field types (MySQL 8.0 / MariaDB 10.5 TLVs after the null bitmap).
enum MetadataField : uint8_t {
  kSignedness = 1,
  kDefaultCharset = 2,
  kColumnCharset = 3,
  kColumnName = 4,
  kSetStrValue = 5,
  kEnumStrValue = 6,
  kGeometryType = 7,
  kSimplePrimaryKey = 8,
  kPrimaryKeyWithPrefix = 9,
  kEnumAndSetDefaultCharset = 10,
  kEnumAndSetColumnCharset = 11,
  kColumnVisibility = 12,
};

constexpr const char* kNeedFullMetadata =
    "the binlog carries no column names: binlog_row_metadata is not FULL on the upstream; run "
    "SET GLOBAL binlog_row_metadata = FULL (and set it in the server's config)";

bool IsNumeric(uint8_t type) {
  switch (type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeNewDecimal:
    case kTypeFloat:
    case kTypeDouble:
      return true;
    default:
      return false;
  }
}

bool IsCharacter(uint8_t real_type) {
  switch (real_type) {
    case kTypeString:
    case kTypeVarString:
    case kTypeVarchar:
    case kTypeBlob:
    case kTypeGeometry:  // stored as a blob, so the server lists its (binary) charset
    case kTypeBlobCompressed:
    case kTypeVarcharCompressed:
      return true;
    default:
      return false;
  }
}

bool IsEnumOrSet(uint8_t real_type) { return real_type == kTypeEnum || real_type == kTypeSet; }

// Reads the type metadata of one column from the table map's metadata block.
Status ReadTypeMetadata(ByteReader* r, ColumnDef* col) {
  col->real_type = col->type;
  switch (col->type) {
    case kTypeFloat:
    case kTypeDouble:
    case kTypeBlob:
    case kTypeGeometry:
    case kTypeJson:
    case kTypeTimestamp2:
    case kTypeDatetime2:
    case kTypeTime2:
    case kTypeBlobCompressed:
      col->length = r->U8();
      return Status::OK();
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeVarcharCompressed:
      col->length = r->U16();
      return Status::OK();
    case kTypeBit: {
      uint8_t bits = r->U8();
      uint8_t bytes = r->U8();
      col->length = bytes * 8u + bits;
      return Status::OK();
    }
    case kTypeNewDecimal:
      col->length = r->U8();  // precision
      col->scale = r->U8();
      return Status::OK();
    case kTypeString:
    case kTypeEnum:
    case kTypeSet: {
      uint8_t b0 = r->U8();
      uint8_t b1 = r->U8();
      // A CHAR longer than 255 bytes keeps its length's two high bits, inverted, in bits 4-5 of
      // the real-type byte (the real types all have both bits set).
      if ((b0 & 0x30) != 0x30) {
        col->length = b1 | (((b0 & 0x30) ^ 0x30) << 4);
        b0 |= 0x30;
      } else {
        col->length = b1;
      }
      col->real_type = b0;
      return Status::OK();
    }
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeNull:
    case kTypeDate:
    case kTypeNewDate:
    case kTypeTime:
    case kTypeDatetime:
    case kTypeTimestamp:
    case kTypeYear:
      return Status::OK();
    default:
      return Status::Unsupported(
          fmt::format("column type {} has no known metadata layout", col->type));
  }
}

// DEFAULT_CHARSET: the default collation, then (index among the eligible columns, collation)
// pairs for the columns that differ. COLUMN_CHARSET: one collation per eligible column.
void ApplyCharsets(ByteReader* r, bool per_column, std::vector<ColumnDef*>& eligible) {
  if (per_column) {
    for (ColumnDef* col : eligible) {
      if (r->remaining() == 0) break;
      col->collation = static_cast<uint32_t>(r->LenEnc());
    }
    return;
  }
  uint32_t def = static_cast<uint32_t>(r->LenEnc());
  for (ColumnDef* col : eligible) col->collation = def;
  while (r->ok() && r->remaining() > 0) {
    uint64_t index = r->LenEnc();
    uint32_t collation = static_cast<uint32_t>(r->LenEnc());
    if (index < eligible.size()) eligible[index]->collation = collation;
  }
}

void ReadStringValues(ByteReader* r, std::vector<ColumnDef*>& columns) {
  for (ColumnDef* col : columns) {
    if (!r->ok() || r->remaining() == 0) break;
    uint64_t count = r->LenEnc();
    for (uint64_t i = 0; i < count && r->ok(); ++i) {
      uint64_t len = r->LenEnc();
      col->enum_values.emplace_back(r->Bytes(len));
    }
  }
}

Status ParseOptionalMetadata(std::string_view data, TableMap* map, bool* has_names) {
  std::vector<ColumnDef*> numeric, character, enum_or_set, enums, sets;
  for (ColumnDef& col : map->columns) {
    if (IsNumeric(col.type)) numeric.push_back(&col);
    if (IsCharacter(col.real_type)) character.push_back(&col);
    if (IsEnumOrSet(col.real_type)) enum_or_set.push_back(&col);
    if (col.real_type == kTypeEnum) enums.push_back(&col);
    if (col.real_type == kTypeSet) sets.push_back(&col);
  }
  ByteReader tlv(data);
  while (tlv.ok() && tlv.remaining() > 0) {
    uint8_t field = tlv.U8();
    uint64_t len = tlv.LenEnc();
    ByteReader r(tlv.Bytes(len));
    if (!tlv.ok()) break;
    switch (field) {
      case kSignedness: {
        // One bit per numeric column, most significant bit first; set means UNSIGNED.
        std::string_view bits = r.Bytes(r.remaining());
        for (size_t i = 0; i < numeric.size() && i / 8 < bits.size(); ++i) {
          numeric[i]->is_unsigned = (static_cast<uint8_t>(bits[i / 8]) & (0x80 >> (i % 8))) != 0;
        }
        break;
      }
      case kDefaultCharset:
      case kColumnCharset:
        ApplyCharsets(&r, field == kColumnCharset, character);
        break;
      case kEnumAndSetDefaultCharset:
      case kEnumAndSetColumnCharset:
        ApplyCharsets(&r, field == kEnumAndSetColumnCharset, enum_or_set);
        break;
      case kColumnName:
        for (ColumnDef& col : map->columns) {
          uint64_t n = r.LenEnc();
          col.name = std::string(r.Bytes(n));
          // Names are UTF-8 (MariaDB's system charset); they go into protobuf strings.
          if (!IsValidUtf8(col.name)) {
            return Status::Corruption(
                fmt::format("a column name of table {}.{} is not UTF-8", map->schema, map->table));
          }
        }
        *has_names = r.ok();
        break;
      case kSetStrValue:
        ReadStringValues(&r, sets);
        break;
      case kEnumStrValue:
        ReadStringValues(&r, enums);
        break;
      case kSimplePrimaryKey:
        while (r.ok() && r.remaining() > 0) {
          uint64_t index = r.LenEnc();
          if (index < map->columns.size()) map->columns[index].primary_key = true;
        }
        break;
      case kPrimaryKeyWithPrefix:
        while (r.ok() && r.remaining() > 0) {
          uint64_t index = r.LenEnc();
          r.LenEnc();  // prefix length
          if (index < map->columns.size()) map->columns[index].primary_key = true;
        }
        break;
      default:
        break;  // geometry subtypes, visibility, and fields newer than this reader
    }
    if (!r.ok()) {
      return Status::Corruption(
          fmt::format("optional metadata field {} of table {}.{} is malformed", field, map->schema,
                      map->table));
    }
  }
  if (!tlv.ok()) {
    return Status::Corruption(
        fmt::format("optional metadata of table {}.{} is truncated", map->schema, map->table));
  }
  return Status::OK();
}

}  // namespace

CharsetInfo LookupCollation(uint32_t collation) {
  CharsetInfo info;
  if (collation == kBinaryCollation) {
    info.name = "binary";
    return info;
  }
  const MARIADB_CHARSET_INFO* cs = mariadb_get_charset_by_nr(collation);
  if (cs != nullptr && cs->csname != nullptr) {
    info.name = cs->csname;
    info.max_bytes = cs->char_maxlen > 0 ? cs->char_maxlen : 1;
  }
  return info;
}

Result<TableMap> ParseTableMap(const Event& ev, const FormatDescription& fd) {
  ByteReader r(ev.body);
  TableMap map;
  map.table_id = fd.post_header_len[kTableMapEvent] == 6 ? r.U32() : r.U48();
  r.Skip(2);  // flags
  uint8_t db_len = r.U8();
  map.schema = std::string(r.Bytes(db_len));
  r.Skip(1);
  uint8_t table_len = r.U8();
  map.table = std::string(r.Bytes(table_len));
  r.Skip(1);
  uint64_t count = r.LenEnc();
  if (r.ok() && (!IsValidUtf8(map.schema) || !IsValidUtf8(map.table))) {
    return Status::Corruption(fmt::format(
        "Table_map event (log_pos {}): its schema or table name is not UTF-8", ev.header.log_pos));
  }
  if (!r.ok() || count > 4096) {
    return Status::Corruption(
        fmt::format("Table_map event (log_pos {}) is malformed", ev.header.log_pos));
  }
  std::string_view types = r.Bytes(count);
  uint64_t meta_len = r.LenEnc();
  ByteReader meta(r.Bytes(meta_len));
  std::string_view nulls = r.Bytes((count + 7) / 8);
  if (!r.ok()) {
    return Status::Corruption(fmt::format("Table_map event of {}.{} (log_pos {}) is truncated",
                                          map.schema, map.table, ev.header.log_pos));
  }
  map.columns.resize(count);
  for (size_t i = 0; i < count; ++i) {
    ColumnDef& col = map.columns[i];
    col.type = static_cast<uint8_t>(types[i]);
    col.nullable = (static_cast<uint8_t>(nulls[i / 8]) >> (i % 8)) & 1;
    Status s = ReadTypeMetadata(&meta, &col);
    if (!s.ok()) {
      return s.WithContext(fmt::format("table {}.{} column #{} (log_pos {})", map.schema, map.table,
                                       i + 1, ev.header.log_pos));
    }
  }
  if (!meta.ok()) {
    return Status::Corruption(
        fmt::format("Table_map event of {}.{} (log_pos {}): type metadata "
                    "shorter than its columns need",
                    map.schema, map.table, ev.header.log_pos));
  }
  bool has_names = false;
  RETURN_IF_ERROR(ParseOptionalMetadata(r.rest(), &map, &has_names));
  if (!has_names && count > 0) {
    return Status::InvalidArgument(fmt::format("table {}.{} at log_pos {}: {}", map.schema,
                                               map.table, ev.header.log_pos, kNeedFullMetadata));
  }
  map.infos.reserve(count);
  for (ColumnDef& col : map.columns) {
    if (col.collation != 0) {
      CharsetInfo cs = LookupCollation(col.collation);
      col.charset = cs.name.empty() ? fmt::format("collation#{}", col.collation) : cs.name;
      col.utf8 =
          cs.name == "utf8mb4" || cs.name == "utf8mb3" || cs.name == "utf8" || cs.name == "ascii";
    }
    pb::ColumnInfo& info = map.infos.emplace_back();
    info.set_name(col.name);
    info.set_mysql_type(MysqlTypeName(col));
    info.set_is_primary_key(col.primary_key);
    info.set_is_unsigned(col.is_unsigned);
    info.set_is_nullable(col.nullable);
    if (IsCharacter(col.real_type) || IsEnumOrSet(col.real_type)) info.set_charset(col.charset);
  }
  return map;
}

}  // namespace binlog::syncer
