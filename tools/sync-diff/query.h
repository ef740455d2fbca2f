// The statements sync-diff runs, the same text on both servers: a chunk's checksum, its rows,
// and the key values that cut a table into chunks.
//
// A chunk's checksum is computed by the server: COUNT(*) and the SUM of CRC32 over
// CONCAT_WS(',', every compared column as its bytes, then one ISNULL flag per nullable column),
// so NULL and '' differ and a row's bytes, not its collation's idea of equal, count. The SUM
// (not TiDB's BIT_XOR) keeps two equal rows from cancelling out in a table without a key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mysql/mysql.h"
#include "sync-diff/table.h"

namespace binlog::syncdiff {

// The rows whose key is above `lo` and at most `hi`, as each server compares them; an absent
// bound is open. Bounds hold one SQL literal per key column. With the same bounds the chunks
// of a table cover each server's rows once, whatever rows each has.
struct KeyRange {
  std::optional<std::vector<std::string>> lo, hi;
};

// " WHERE ..." for the range ("" for the whole table).
std::string Where(const TablePlan& t, const KeyRange& r);
// One row: COUNT(*), the SUM of the row checksums (NULL when there are no rows).
std::string ChecksumSql(const TablePlan& t, const KeyRange& r);
// Every compared column of the range, ordered by the key (by every column without a key).
std::string RowsSql(const TablePlan& t, const KeyRange& r);
// The key of the `rows`-th row of the range, in key order (nothing when it has fewer).
std::string BoundarySql(const TablePlan& t, const KeyRange& r, uint64_t rows);
// MIN and MAX of an integer key.
std::string MinMaxSql(const TablePlan& t);

// A row's key as bounds, from a row of key columns (BoundarySql) or of every column (RowsSql).
std::vector<std::string> KeyLiterals(const TablePlan& t, const mysql::Row& row, bool key_only);

}  // namespace binlog::syncdiff
