// Helpers for tests of transactions in parts: building a big transaction's parts, and reading
// binlog/ back as transactions, checking that each one in parts is whole.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/env.h"
#include "common/status.h"
#include "journal/journal.h"
#include "segment/format.h"

namespace binlog::pump::testing {

// One part of a big transaction: `rows` inserts into test.big with ids first_id, first_id + 1,
// ..., each with a ~row_bytes value. A part repeats the table's columns, as the contract wants.
inline pb::Binlog BigPart(pb::BinlogType tp, uint64_t start_ts, uint64_t commit_ts,
                          int64_t first_id, int rows, size_t row_bytes = 200) {
  pb::Binlog b;
  b.set_tp(tp);
  b.set_start_ts(static_cast<int64_t>(start_ts));
  b.set_commit_ts(static_cast<int64_t>(commit_ts));
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("test");
  t->set_table_name("big");
  pb::ColumnInfo* id = t->add_columns();
  id->set_name("id");
  id->set_mysql_type("bigint");
  id->set_is_primary_key(true);
  pb::ColumnInfo* c = t->add_columns();
  c->set_name("c");
  c->set_mysql_type("varchar(255)");
  const std::string value(row_bytes, static_cast<char>('a' + first_id % 26));
  for (int i = 0; i < rows; ++i) {
    pb::TableMutation* m = t->add_mutations();
    m->set_type(pb::INSERT);
    m->mutable_row()->add_columns()->set_int64_value(first_id + i);
    m->mutable_row()->add_columns()->set_string_value(value);
  }
  return b;
}

// A transaction as binlog/ holds it.
struct StoredTxn {
  uint64_t ts = 0;
  uint64_t start_ts = 0;
  uint32_t parts = 0;     // 0: whole
  int64_t rows = 0;       // row changes in all its parts
  int64_t first_id = -1;  // of test.big's rows, in order; -1 when it has none
  bool ids_in_order = true;
  bool heartbeat = false;
};

struct StoredLog {
  std::vector<StoredTxn> txns;  // in binlog/ order
  // Problems, each described: a part out of sequence, a transaction cut before its last part,
  // a ts not above the one before, a record that is not a binlog or disagrees with its ts.
  std::vector<std::string> problems;
};

// Reads an ordered journal (a pump's binlog/) up to stop_ts, without following. REQUIRES: its
// writer has appended everything up to stop_ts (what comes after may be under way).
inline Result<StoredLog> ReadStoredLog(const std::string& dir, uint64_t stop_ts = UINT64_MAX) {
  ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open(Env::Posix(), dir, {}));
  StoredLog log;
  bool open = false;  // inside a transaction in parts
  int64_t next_id = -1;
  journal::Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&r));
    if (!more || r.ts > stop_ts) break;
    pb::Binlog b;
    if (!b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size())) ||
        static_cast<uint64_t>(b.commit_ts()) != r.ts) {
      log.problems.push_back("record at ts " + std::to_string(r.ts) + " is not its binlog");
      continue;
    }
    const uint32_t index = segment::PartIndex(r.part);
    const bool part = segment::IsPart(r.part);
    if (open && (!part || r.ts != log.txns.back().ts || index != log.txns.back().parts)) {
      log.problems.push_back("transaction in parts at ts " + std::to_string(log.txns.back().ts) +
                             " cut after part " + std::to_string(log.txns.back().parts - 1));
      open = false;
    }
    if (!open) {
      if (part && index != 0) {
        log.problems.push_back("part " + std::to_string(index) + " at ts " + std::to_string(r.ts) +
                               " without its beginning");
      }
      if (!log.txns.empty() && r.ts <= log.txns.back().ts) {
        log.problems.push_back("ts " + std::to_string(r.ts) + " not above the one before");
      }
      StoredTxn t;
      t.ts = r.ts;
      t.start_ts = static_cast<uint64_t>(b.start_ts());
      t.heartbeat = b.tp() == pb::FAKE;
      log.txns.push_back(t);
      next_id = -1;
    }
    StoredTxn& t = log.txns.back();
    if (part) ++t.parts;
    for (const pb::TableChanges& tc : b.tables()) {
      for (const pb::TableMutation& m : tc.mutations()) {
        ++t.rows;
        if (tc.table_name() != "big") continue;
        int64_t id = m.row().columns(0).int64_value();
        if (t.first_id < 0) t.first_id = id;
        if (next_id >= 0 && id != next_id) t.ids_in_order = false;
        next_id = id + 1;
      }
    }
    open = part && !segment::IsLastPart(r.part);
  }
  if (open) {
    log.problems.push_back("transaction in parts at ts " + std::to_string(log.txns.back().ts) +
                           " ends after part " + std::to_string(log.txns.back().parts - 1));
  }
  return log;
}

}  // namespace binlog::pump::testing
