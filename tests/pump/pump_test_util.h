// Helpers for pump tests: a TSO clock, binlog builders, reading binlog/ back.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "binlog.pb.h"
#include "common/tso.h"
#include "pump/pump.h"

namespace binlog::pump::testing {

// Hands out strictly increasing TSOs from the wall clock, as PD does for TiDB.
class TsoClock {
 public:
  uint64_t Next() {
    uint64_t now = ComposeTS(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count(),
                             0);
    uint64_t prev = last_.load();
    while (true) {
      uint64_t next = std::max(prev + 1, now);
      if (last_.compare_exchange_weak(prev, next)) return next;
    }
  }

 private:
  std::atomic<uint64_t> last_{0};
};

inline pb::Binlog Prewrite(uint64_t start_ts, int rows = 3) {
  pb::Binlog b;
  b.set_tp(pb::PREWRITE);
  b.set_start_ts(static_cast<int64_t>(start_ts));
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("test");
  t->set_table_name("t");
  pb::ColumnInfo* id = t->add_columns();
  id->set_name("id");
  id->set_mysql_type("bigint");
  id->set_is_primary_key(true);
  pb::ColumnInfo* c = t->add_columns();
  c->set_name("c");
  c->set_mysql_type("varchar(255)");
  for (int i = 0; i < rows; ++i) {
    pb::TableMutation* m = t->add_mutations();
    m->set_type(pb::INSERT);
    m->mutable_row()->add_columns()->set_int64_value(static_cast<int64_t>(start_ts % 100000) * 10 +
                                                     i);
    m->mutable_row()->add_columns()->set_string_value(std::string(200, 'a' + i % 26));
  }
  return b;
}

inline pb::Binlog Commit(uint64_t start_ts, uint64_t commit_ts) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(static_cast<int64_t>(start_ts));
  b.set_commit_ts(static_cast<int64_t>(commit_ts));
  return b;
}

inline pb::Binlog Rollback(uint64_t start_ts) {
  pb::Binlog b;
  b.set_tp(pb::ROLLBACK);
  b.set_start_ts(static_cast<int64_t>(start_ts));
  return b;
}

struct Pulled {
  std::vector<uint64_t> commits;   // COMMIT records' commit_ts, in order read
  std::vector<uint64_t> all_ts;    // every record's ts, FAKE included
  std::vector<uint64_t> start_ts;  // COMMIT records' start_ts
  size_t bad = 0;                  // records that do not parse or lack their changes
  Status status;
};

inline Pulled PullAll(Pump* pump, uint64_t from_ts = 0) {
  Pulled out;
  auto reader = pump->PullBinlogs(from_ts, false);
  if (!reader.ok()) {
    out.status = reader.status();
    return out;
  }
  journal::Record r;
  while (true) {
    auto more = (*reader)->Next(&r);
    if (!more.ok()) {
      out.status = more.status();
      return out;
    }
    if (!*more) break;
    pb::Binlog b;
    out.all_ts.push_back(r.ts);
    if (!b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size())) ||
        static_cast<uint64_t>(b.commit_ts()) != r.ts) {
      ++out.bad;
      continue;
    }
    if (b.tp() == pb::COMMIT) {
      if (b.tables_size() == 0) ++out.bad;
      out.commits.push_back(r.ts);
      out.start_ts.push_back(static_cast<uint64_t>(b.start_ts()));
    }
  }
  return out;
}

// Waits until the pump has written everything up to ts to binlog/ (a status check with
// retries, not a fixed sleep).
inline bool WaitEmitted(Pump* pump, uint64_t ts,
                        std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pump->Stats().emitted_ts >= ts) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace binlog::pump::testing
