// Two real servers, an archive of the first (through the real syncer), and replaying it into the
// second through the engine: the replay tests' common ground.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "replay/replay.h"
#include "testutil/archive.h"
#include "testutil/mariadb_server.h"
#include "testutil/testutil.h"

namespace binlog::replay::testing {

using binlog::testing::MariaDBServer;

// The destination's connection options for a test server (root, no password).
inline mysql::ConnectOptions DestOptions(MariaDBServer* server) {
  mysql::ConnectOptions o;
  o.host = server->host();
  o.port = server->port();
  o.user = "root";
  return o;
}

// Every binlog of the journal in dir, in order.
inline Result<std::vector<pb::Binlog>> ReadJournal(const std::string& dir) {
  ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open(Env::Posix(), dir, {}));
  std::vector<pb::Binlog> out;
  journal::Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&r));
    if (!more) return out;
    pb::Binlog& b = out.emplace_back();
    if (!b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
      return Status::Corruption("a record is not a binlog");
    }
  }
}

// Replays the binlogs into `dest` through a mysql sink; the engine's stats.
inline Result<EngineStats> Replay(const std::vector<pb::Binlog>& binlogs, MariaDBServer* dest,
                                  int workers, bool safe_mode, const std::string& task = "test",
                                  FilterRules rules = {}) {
  MysqlSinkOptions so;
  so.connect = DestOptions(dest);
  so.task = task;
  so.safe_mode = safe_mode;
  ASSIGN_OR_RETURN(auto sink, NewMysqlSink(so));
  ASSIGN_OR_RETURN(Filter filter, Filter::Make(rules));
  EngineOptions eo;
  eo.worker_count = workers;
  ASSIGN_OR_RETURN(auto engine, Engine::Start(sink.get(), std::move(filter), eo));
  for (const pb::Binlog& b : binlogs) RETURN_IF_ERROR(engine->Submit(b));
  RETURN_IF_ERROR(engine->Finish());
  return engine->Stats();
}

// Rows of db.table in both servers, as text, ordered by every column: equal, or the test
// fails naming the table and the first rows that differ.
inline void ExpectSameTable(MariaDBServer* a, MariaDBServer* b, const std::string& db,
                            const std::string& table) {
  std::string sql = "SELECT * FROM `" + db + "`.`" + table + "` ORDER BY ";
  auto cols = a->Query("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" +
                       db + "' AND TABLE_NAME = '" + table + "'");
  ASSERT_TRUE(cols.ok()) << cols.status().ToString();
  int n = std::stoi(*(*cols)[0][0]);
  for (int i = 1; i <= n; ++i) sql += (i > 1 ? ", " : "") + std::to_string(i);
  auto ra = a->Query(sql);
  auto rb = b->Query(sql);
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  ASSERT_TRUE(rb.ok()) << rb.status().ToString();
  EXPECT_EQ(ra->size(), rb->size()) << db << "." << table << ": row counts differ";
  for (size_t i = 0; i < std::min(ra->size(), rb->size()); ++i) {
    if ((*ra)[i] == (*rb)[i]) continue;
    std::string left, right;
    for (const auto& v : (*ra)[i]) left += (v ? *v : "NULL") + " | ";
    for (const auto& v : (*rb)[i]) right += (v ? *v : "NULL") + " | ";
    ADD_FAILURE() << db << "." << table << ": first difference at row " << i
                  << "\n  source:      " << left << "\n  destination: " << right;
    return;
  }
}

}  // namespace binlog::replay::testing
