// TABLE_MAP events: the column types of the table the next row events change, and, with
// binlog_row_metadata=FULL, their names, signedness, charsets, ENUM/SET values and primary key.
//
// Names come only from the event, never from the server's current schema: a row event written
// before an ALTER TABLE must be read with the columns it was written with.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"
#include "syncer/event.h"

namespace binlog::syncer {

// MySQL's enum_field_types, as the binlog writes them.
enum ColumnType : uint8_t {
  kTypeDecimal = 0,
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,
  kTypeDatetime = 12,
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeTimestamp2 = 17,
  kTypeDatetime2 = 18,
  kTypeTime2 = 19,
  kTypeBlobCompressed = 140,     // MariaDB: a COMPRESSED blob/text column
  kTypeVarcharCompressed = 141,  // MariaDB: a COMPRESSED varchar column
  kTypeJson = 245,               // MySQL's binary JSON (MariaDB's JSON is a LONGTEXT)
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,
  kTypeGeometry = 255,
};

// The charset number of binary strings (BINARY, VARBINARY, BLOB, BIT-like bytes).
inline constexpr uint32_t kBinaryCollation = 63;

struct ColumnDef {
  std::string name;
  uint8_t type = 0;       // as in the event (STRING also for ENUM and SET)
  uint8_t real_type = 0;  // STRING's real type (ENUM, SET or STRING); = type otherwise
  // The type's metadata: VARCHAR/CHAR maximum bytes, BLOB length bytes, DECIMAL precision,
  // fractional-second digits, FLOAT/DOUBLE size, BIT bits, ENUM/SET storage bytes.
  uint32_t length = 0;
  uint8_t scale = 0;  // DECIMAL scale
  bool nullable = true;
  bool is_unsigned = false;
  bool primary_key = false;
  uint32_t collation = 0;  // character and ENUM/SET columns; 0 when unknown or not one
  std::string charset;     // "utf8mb4", "binary", "latin1", ... from the collation
  bool utf8 = false;       // values are UTF-8 text (string_value), else bytes_value
  std::vector<std::string> enum_values;  // ENUM's or SET's member names, in order
};

struct TableMap {
  uint64_t table_id = 0;
  std::string schema;
  std::string table;
  std::vector<ColumnDef> columns;
  // Built once per map: what every TableChanges of this table carries.
  std::vector<pb::ColumnInfo> infos;
};

// Parses a TABLE_MAP event. Without column names in it (binlog_row_metadata is not FULL) the
// result is InvalidArgument with the SET GLOBAL statement that fixes it.
Result<TableMap> ParseTableMap(const Event& ev, const FormatDescription& fd);

// The MySQL type as SHOW CREATE TABLE spells it, lower case ("int unsigned", "varchar(20)",
// "decimal(10,2)", "datetime(6)", "enum('a','b')").
std::string MysqlTypeName(const ColumnDef& col);

// Charset name and maximum bytes per character of a collation number (Connector/C's table).
struct CharsetInfo {
  std::string name;  // empty when the number is unknown
  unsigned max_bytes = 1;
};
CharsetInfo LookupCollation(uint32_t collation);

}  // namespace binlog::syncer
