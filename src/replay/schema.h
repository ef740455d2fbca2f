// The destination's own table definitions, which decide how a row is found again: the binlog
// carries column names, types and the primary key, but not unique keys, and the destination's
// keys are the ones its statements are planned with. Internal to src/replay; tools/sync-diff
// reads both servers' definitions with it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace binlog::replay {

struct ColumnSchema {
  std::string name;
  bool nullable = true;
  std::string collation;  // "utf8mb4_general_ci"; empty for columns without one
  std::string data_type;  // "int", "varchar", "decimal", ...
  bool generated = false;  // AS (expr), VIRTUAL or STORED: the server computes it, none is written
  // ON UPDATE CURRENT_TIMESTAMP: an UPDATE that does not set it sets it to the destination's
  // clock, so every UPDATE sets it, also to the value it had.
  bool on_update = false;
  // A string compared without regard to case (and trailing spaces): keys normalize it.
  bool case_insensitive() const;
};

struct KeySchema {
  std::string name;          // "PRIMARY" for the primary key
  std::vector<int> columns;  // indexes into TableSchema::columns, in key order
  bool not_null = true;      // every column NOT NULL: a row is found by it exactly
};

struct TableSchema {
  std::string db, table;
  std::vector<ColumnSchema> columns;
  std::vector<KeySchema> unique_keys;  // the primary key first, then the unique keys
  // The key rows are found by: the primary key, else the first unique key whose columns are all
  // NOT NULL; -1 when there is none (rows are then matched on every column, LIMIT 1).
  int row_key = -1;
  // The tables this one references by foreign keys, and that reference it ("db.t", lower case):
  // changes to linked tables keep their order.
  std::vector<std::string> linked_tables;

  int ColumnIndex(std::string_view name) const;  // -1 when absent (case-insensitive)
  const KeySchema* RowKey() const { return row_key < 0 ? nullptr : &unique_keys[row_key]; }
};

// Runs one statement and returns its rows (a destination connection); shared by the readers
// of information_schema below.
using QueryFn =
    std::function<Result<std::vector<std::vector<std::optional<std::string>>>>(std::string_view)>;

// Table definitions read from information_schema once per table, and again after Invalidate (a
// DDL). Thread-safe; the query function is called under its lock.
class SchemaCache {
 public:
  explicit SchemaCache(QueryFn query) : query_(std::move(query)) {}
  // NotFound when the destination has no such table.
  Result<std::shared_ptr<const TableSchema>> Get(const std::string& db, const std::string& table);
  void Invalidate(const std::string& db, const std::string& table);
  void InvalidateAll();

 private:
  Result<std::shared_ptr<const TableSchema>> Load(const std::string& db, const std::string& table);
  QueryFn query_;
  std::mutex mu_;
  // By db and table as they are spelled: on Linux MariaDB tells `T` from `t`.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const TableSchema>> tables_;
};

// "db.table" lower-cased, for conflict keys: coarser than the server's names at worst (a server
// with lower_case_table_names = 0 tells `T` from `t`), which only serializes more.
std::string TableKey(std::string_view db, std::string_view table);

}  // namespace binlog::replay
