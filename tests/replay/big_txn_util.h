// A big transaction of generated rows, made part by part (never whole in memory), and the check
// that a destination holds exactly its rows: the big transaction tests' common ground (replay
// and reparo).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "binlog.pb.h"

namespace binlog::replay::testing {

// db.big: a primary key, so a row applied twice fails (no safe mode).
inline std::string BigTableSql(const std::string& db) {
  return fmt::format(
      "CREATE TABLE `{}`.big (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, pad VARBINARY(2000) "
      "NOT NULL) ENGINE = InnoDB",
      db);
}

// Row id's pad, `bytes` long: its id in hex and '|', repeated. BigPadSql computes the same.
inline std::string BigPad(int64_t id, size_t bytes) {
  const std::string unit = fmt::format("{:012X}|", id);
  std::string pad;
  pad.reserve(bytes + unit.size());
  while (pad.size() < bytes) pad += unit;
  pad.resize(bytes);
  return pad;
}
inline std::string BigPadSql(size_t bytes) {
  return fmt::format("LEFT(REPEAT(CONCAT(LPAD(HEX(id), 12, '0'), '|'), {}), {})", bytes / 13 + 1,
                     bytes);
}

struct BigTxn {
  std::string db;
  uint64_t commit_ts = 0;
  int64_t first_id = 1;
  int64_t rows = 0;
  int64_t rows_per_part = 0;
  size_t pad_bytes = 1000;

  int64_t parts() const { return (rows + rows_per_part - 1) / rows_per_part; }
  // Part p: inserts of ids [first_id + p * rows_per_part, ...), a COMMIT binlog with the
  // transaction's commit ts, self-describing (its table's names and columns).
  pb::Binlog Part(int64_t p) const {
    pb::Binlog b;
    b.set_tp(pb::COMMIT);
    b.set_start_ts(static_cast<int64_t>(commit_ts - 1));
    b.set_commit_ts(static_cast<int64_t>(commit_ts));
    pb::TableChanges* t = b.add_tables();
    t->set_schema_name(db);
    t->set_table_name("big");
    for (const char* name : {"id", "k", "pad"}) {
      pb::ColumnInfo* c = t->add_columns();
      c->set_name(name);
      c->set_mysql_type(name == std::string("pad")  ? "varbinary(2000)"
                        : name == std::string("id") ? "bigint"
                                                    : "int");
      c->set_is_primary_key(name == std::string("id"));
    }
    const int64_t from = first_id + p * rows_per_part;
    const int64_t to = std::min(first_id + rows, from + rows_per_part);
    for (int64_t id = from; id < to; ++id) {
      pb::TableMutation* m = t->add_mutations();
      m->set_type(pb::INSERT);
      pb::Row* row = m->mutable_row();
      row->add_columns()->set_int64_value(id);
      row->add_columns()->set_int64_value(id % 1000);
      row->add_columns()->set_bytes_value(BigPad(id, pad_bytes));
    }
    return b;
  }
  // Serialized bytes of the whole transaction, roughly (every part is alike).
  uint64_t ApproxBytes() const {
    return static_cast<uint64_t>(Part(0).ByteSizeLong()) * static_cast<uint64_t>(parts());
  }
  // One row: count, ids, and every row as it should be (0 rows differ); compare with Expected.
  std::string CheckSql() const {
    return fmt::format(
        "SELECT COUNT(*), COALESCE(MIN(id), 0), COALESCE(MAX(id), 0), COALESCE(SUM(pad <> {} OR "
        "k <> id % 1000), 0) FROM `{}`.big WHERE id BETWEEN {} AND {}",
        BigPadSql(pad_bytes), db, first_id, first_id + rows - 1);
  }
  std::string Expected() const {
    return fmt::format("{} {} {} 0", rows, first_id, first_id + rows - 1);
  }
};

}  // namespace binlog::replay::testing
