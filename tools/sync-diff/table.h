// The tables sync-diff compares: listed on both servers, filtered, their definitions compared,
// and for each the key that orders and cuts it into chunks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/status.h"
#include "mysql/mysql.h"
#include "replay/filter.h"
#include "replay/schema.h"

namespace binlog::syncdiff {

struct TablePlan {
  enum class State {
    kCompare,        // same columns on both sides: compared row by row
    kOnlySource,     // missing in the target
    kOnlyTarget,     // extra in the target
    kColumnsDiffer,  // not compared: `detail` says how the definitions differ
  };
  std::string db, table;
  State state = State::kCompare;
  std::string detail;
  // The compared columns, the source's, in table order. Generated columns are left out: the
  // server computes them and a fix cannot write them.
  std::vector<replay::ColumnSchema> columns;
  // Indexes into `columns` of the key that orders rows and bounds chunks: the primary key, else
  // the first unique key whose columns are NOT NULL and not generated. Empty: the table has
  // none and is compared whole, ordered by every column.
  std::vector<int> key;
  // One integer column: chunks are cut by value, without walking the key first.
  bool integer_key = false;
  uint64_t estimated_rows = 0;  // the source's statistics (information_schema.TABLES)

  std::string Name() const;  // `db`.`table`
};

// Every base table of either server that `filter` accepts, in (db, table) order, each planned.
Result<std::vector<TablePlan>> PlanTables(mysql::Connection* source, mysql::Connection* target,
                                          const replay::Filter& filter);

// A value the server sent as text, typed as its column reads it back from a literal: bytes for
// binary strings, BIT and spatial types; digits for integers and DECIMAL; a double for FLOAT and
// DOUBLE; a string for the rest (text, dates and times, ENUM, SET, JSON).
pb::Value ValueOf(const std::optional<std::string>& text, const replay::ColumnSchema& column);

// `text` as the SQL literal `column` compares equal to (replay's literals); NULL for nullopt.
std::string Literal(const std::optional<std::string>& text, const replay::ColumnSchema& column);

}  // namespace binlog::syncdiff
