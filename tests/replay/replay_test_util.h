// Two real servers, an archive of the first (through the real syncer), and replaying it into the
// second through the engine: the replay tests' common ground.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/text.h"
#include "journal/journal.h"
#include "replay/replay.h"
#include "testutil/archive.h"
#include "testutil/mariadb_server.h"
#include "testutil/testutil.h"

namespace binlog::replay::testing {

using binlog::testing::MariaDBServer;
using binlog::testing::SqlRow;

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

// Replays the binlogs into `dest` through a mysql sink with the engine's options; its stats.
inline Result<EngineStats> Replay(const std::vector<pb::Binlog>& binlogs,
                                  const mysql::ConnectOptions& dest, const EngineOptions& eo,
                                  bool safe_mode, const std::string& task = "test",
                                  FilterRules rules = {}) {
  MysqlSinkOptions so;
  so.connect = dest;
  so.task = task;
  so.safe_mode = safe_mode;
  ASSIGN_OR_RETURN(auto sink, NewMysqlSink(so));
  ASSIGN_OR_RETURN(Filter filter, Filter::Make(rules));
  ASSIGN_OR_RETURN(auto engine, Engine::Start(sink.get(), std::move(filter), eo));
  for (const pb::Binlog& b : binlogs) RETURN_IF_ERROR(engine->Submit(b));
  RETURN_IF_ERROR(engine->Finish());
  return engine->Stats();
}

// Replays the binlogs into `dest` through a mysql sink; the engine's stats.
inline Result<EngineStats> Replay(const std::vector<pb::Binlog>& binlogs, MariaDBServer* dest,
                                  int workers, bool safe_mode, const std::string& task = "test",
                                  FilterRules rules = {}) {
  EngineOptions eo;
  eo.worker_count = workers;
  return Replay(binlogs, DestOptions(dest), eo, safe_mode, task, std::move(rules));
}

// The rows of both servers through `select` (with its own ORDER BY): the first that differs,
// escaped, as a failure names it; empty when they are equal.
inline std::string FirstDifferentRow(MariaDBServer* a, MariaDBServer* b, const std::string& select,
                                     const std::string& what) {
  auto ra = a->Query(select);
  auto rb = b->Query(select);
  if (!ra.ok()) return what + ": " + ra.status().ToString();
  if (!rb.ok()) return what + ": " + rb.status().ToString();
  auto text = [](const std::vector<SqlRow>& rows, size_t i) {
    if (i >= rows.size()) return std::string("(no such row)");
    std::string out;
    for (const auto& v : rows[i]) out += (v ? Printable(*v, 200) : "NULL") + " | ";
    return out;
  };
  // Where two long values part: the column and byte, and the bytes from there.
  auto where = [](const SqlRow& x, const SqlRow& y) {
    std::string out;
    for (size_t c = 0; c < std::min(x.size(), y.size()); ++c) {
      if (x[c] == y[c] || !x[c] || !y[c]) continue;
      size_t k = 0;
      while (k < x[c]->size() && k < y[c]->size() && (*x[c])[k] == (*y[c])[k]) ++k;
      out += "\n  column " + std::to_string(c + 1) + " differs from byte " + std::to_string(k) +
             " (lengths " + std::to_string(x[c]->size()) + ", " + std::to_string(y[c]->size()) +
             "): " + Printable(x[c]->substr(k), 40) + " vs " + Printable(y[c]->substr(k), 40);
    }
    return out;
  };
  for (size_t i = 0; i < std::max(ra->size(), rb->size()); ++i) {
    if (i < ra->size() && i < rb->size() && (*ra)[i] == (*rb)[i]) continue;
    return what + ": first difference at row " + std::to_string(i) + " (source " +
           std::to_string(ra->size()) + " rows, destination " + std::to_string(rb->size()) +
           ")\n  source:      " + text(*ra, i) + "\n  destination: " + text(*rb, i) +
           (i < ra->size() && i < rb->size() ? where((*ra)[i], (*rb)[i]) : "");
  }
  return {};
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
  std::string diff = FirstDifferentRow(a, b, sql, db + "." + table);
  EXPECT_TRUE(diff.empty()) << diff;
}

// CHECKSUM TABLE of db.table in both servers (every byte of every row, which text can hide: a
// FLOAT's last bits, a -0): equal, or the test fails with both sums and the first rows that
// differ, every column in hex.
inline void ExpectSameChecksum(MariaDBServer* a, MariaDBServer* b, const std::string& db,
                               const std::string& table) {
  const std::string name = "`" + db + "`.`" + table + "`";
  auto sa = a->Query("CHECKSUM TABLE " + name + " EXTENDED");
  auto sb = b->Query("CHECKSUM TABLE " + name + " EXTENDED");
  ASSERT_TRUE(sa.ok()) << sa.status().ToString();
  ASSERT_TRUE(sb.ok()) << sb.status().ToString();
  ASSERT_EQ(sa->size(), 1u);
  ASSERT_EQ(sb->size(), 1u);
  if ((*sa)[0][1] == (*sb)[0][1]) return;
  auto cols = a->Query(
      "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + db +
      "' AND TABLE_NAME = '" + table + "' ORDER BY ORDINAL_POSITION");
  ASSERT_TRUE(cols.ok()) << cols.status().ToString();
  // HEX of a FLOAT/DOUBLE is of its integer part: their exact bits as the shortest text that
  // parses back (MariaDB prints doubles so), FORMAT for what text rounds (FLOAT: 6 digits).
  std::string select = "SELECT ", order;
  for (size_t i = 0; i < cols->size(); ++i) {
    const std::string c = "`" + *(*cols)[i][0] + "`";
    const std::string& type = *(*cols)[i][1];
    select += i > 0 ? ", " : "";
    select += type == "float" || type == "double" ? "CONCAT(" + c + ", ' ', FORMAT(" + c + ", 60))"
                                                  : "HEX(" + c + ")";
    order += (i > 0 ? ", " : "") + std::to_string(i + 1);
  }
  select += " FROM " + name + " ORDER BY " + order;
  ADD_FAILURE() << name << ": CHECKSUM TABLE differs, source " << (*sa)[0][1].value_or("NULL")
                << ", destination " << (*sb)[0][1].value_or("NULL") << "\n"
                << FirstDifferentRow(a, b, select, name + " in hex");
}

// Every table of db in A is in B with the same columns (type, nullability, collation), the
// same rows (ExpectSameTable) and the same CHECKSUM TABLE; B has no other table in db.
inline void ExpectSameDatabase(MariaDBServer* a, MariaDBServer* b, const std::string& db) {
  const std::string columns =
      "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME FROM "
      "information_schema.COLUMNS WHERE TABLE_SCHEMA = '" +
      db + "' ORDER BY TABLE_NAME, ORDINAL_POSITION";
  std::string diff = FirstDifferentRow(a, b, columns, db + " columns");
  EXPECT_TRUE(diff.empty()) << diff;
  auto tables = a->Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" +
                         db + "' ORDER BY TABLE_NAME");
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  ASSERT_FALSE(tables->empty()) << "no table in " << db;
  for (const auto& row : *tables) {
    ExpectSameTable(a, b, db, *row[0]);
    ExpectSameChecksum(a, b, db, *row[0]);
  }
}

// Two servers (each started with `options`) and an archive of the first from where its binlog
// ended at SetUp: the round-trip tests' fixture.
class TwoServersTest : public ::testing::Test {
 protected:
  explicit TwoServersTest(binlog::testing::MariaDBOptions options = {})
      : options_(std::move(options)) {}

  void SetUp() override {
    auto a = MariaDBServer::Start(options_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    a_ = std::move(*a);
    auto b = MariaDBServer::Start(options_);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    b_ = std::move(*b);
    ASSERT_OK_AND_ASSIGN(from_, binlog::testing::EndOfServerBinlog(a_.get()));
  }

  // A's binlog since SetUp (or the last MarkStart), through the real syncer.
  std::vector<pb::Binlog> Archive() {
    const std::string dir = dir_.Sub("archive" + std::to_string(archives_++));
    auto s = binlog::testing::ArchiveUntilNow(a_.get(), from_, dir);
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto binlogs = ReadJournal(dir);
    EXPECT_TRUE(binlogs.ok()) << binlogs.status().ToString();
    return binlogs.ok() ? *binlogs : std::vector<pb::Binlog>{};
  }

  // The next Archive starts where A's binlog ends now.
  void MarkStart() { ASSERT_OK_AND_ASSIGN(from_, binlog::testing::EndOfServerBinlog(a_.get())); }

  // Row changes in the binlogs.
  static size_t RowChanges(const std::vector<pb::Binlog>& binlogs) {
    size_t n = 0;
    for (const pb::Binlog& b : binlogs) {
      for (const auto& t : b.tables()) n += static_cast<size_t>(t.mutations_size());
    }
    return n;
  }

  binlog::testing::MariaDBOptions options_;
  binlog::testing::TempDir dir_;
  std::unique_ptr<MariaDBServer> a_, b_;
  syncer::BinlogPosition from_;
  int archives_ = 0;
};

}  // namespace binlog::replay::testing
