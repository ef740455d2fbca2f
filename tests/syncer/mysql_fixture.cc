#include "syncer/mysql_fixture.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <vector>

#include "common/env.h"
#include "testutil/testutil.h"

namespace binlog::syncer::testing {

using binlog::testing::MariaDBConnection;

std::string SeedStyleConfig(MariaDBServer* up, MariaDBServer* down, const std::string& dir,
                            uint32_t server_id, const std::string& extra) {
  std::string config = fmt::format(R"(log-level = "info"
log-file = "{0}/syncer.log"
log-rotate = "day"

server-id = {1}

meta = "{0}/syncer.meta"
worker-count = 16
batch = 1000
flavor = "mysql"

# The testing address for pprof. It can also be used by Prometheus to pull Syncer metrics.
status-addr = ""

# If you set its value to true, Syncer stops and exits when it encounters the DDL operation.
stop-on-ddl = false

# max-retry is used for retry during network interruption.
max-retry = 100

heartbeat-interval = "100ms"
)",
                                   dir, server_id);
  config += extra;
  config += fmt::format(R"(
[from]
host = "{}"
user = "{}"
password = "{}"
port = {}

[to]
host = "{}"
user = "root"
password = ""
port = {}
)",
                        up->host(), MariaDBServer::kReplUser, MariaDBServer::kReplPassword,
                        up->port(), down->host(), down->port());
  return config;
}

ApplyWorkload::ApplyWorkload(MariaDBServer* server, std::string db)
    : server_(server), db_(std::move(db)) {}

Status ApplyWorkload::CreateTables() {
  return server_->Exec(fmt::format(
      "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0} CHARACTER SET utf8mb4; "
      "CREATE TABLE {0}.keyed (id INT PRIMARY KEY, v VARCHAR(40)); "
      "CREATE TABLE {0}.loose (k INT, v VARCHAR(40)); "
      "CREATE TABLE {0}.counter (id INT PRIMARY KEY, n BIGINT NOT NULL); "
      "INSERT INTO {0}.counter VALUES (1, 0)",
      db_));
}

std::string ApplyWorkload::Transaction(int i) const {
  if (i % 20 == 19) {
    return fmt::format(
        "CREATE TABLE {0}.extra_{1} (id INT PRIMARY KEY, note VARCHAR(20)); "
        "INSERT INTO {0}.extra_{1} VALUES ({1}, 'made by DDL')",
        db_, i);
  }
  std::string sql = fmt::format(
      "BEGIN; INSERT INTO {0}.keyed (id, v) VALUES ({1}, 'v{1}'); "
      "INSERT INTO {0}.loose VALUES ({2}, 'l{1}'), ({2}, 'same');",
      db_, i, i % 7);
  if (i % 3 == 0) sql += fmt::format(" UPDATE {}.counter SET n = n + 1 WHERE id = 1;", db_);
  if (i % 5 == 2) sql += fmt::format(" UPDATE {}.keyed SET v = CONCAT(v, '+') WHERE id = {};", db_, i - 1);
  if (i % 5 == 4) {
    sql += fmt::format(" DELETE FROM {0}.keyed WHERE id = {1}; DELETE FROM {0}.loose WHERE v = "
                       "'l{1}';",
                       db_, i - 3);
  }
  return sql + " COMMIT";
}

Status ApplyWorkload::RunOne() {
  RETURN_IF_ERROR(server_->Exec(Transaction(txns_.load())));
  txns_++;
  return Status::OK();
}

void ApplyWorkload::Start(int pause_ms) {
  thread_ = std::thread([this, pause_ms] {
    auto conn = MariaDBConnection::Open(server_->host(), server_->port(), "root", "");
    if (!conn.ok()) {
      status_ = conn.status();
      return;
    }
    std::mt19937 rng(static_cast<uint32_t>(db_.size()));
    while (!stop_) {
      status_ = (*conn)->Exec(Transaction(txns_.load()));
      if (!status_.ok()) return;
      txns_++;
      std::this_thread::sleep_for(
          std::chrono::milliseconds(rng() % static_cast<uint32_t>(pause_ms + 1)));
    }
  });
}

Status ApplyWorkload::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return status_;
}

namespace {

std::vector<std::string> Rows(MariaDBServer* server, const std::string& table) {
  std::vector<std::string> out;
  auto rows = server->Query("SELECT * FROM " + table);
  EXPECT_TRUE(rows.ok()) << table << ": " << rows.status().ToString();
  if (!rows.ok()) return out;
  for (const auto& r : *rows) {
    std::string line;
    for (const auto& v : r) line += (v ? "'" + *v + "'" : std::string("NULL")) + " ";
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Tables(MariaDBServer* server, const std::string& db) {
  std::vector<std::string> out;
  auto rows = server->Query(fmt::format(
      "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' ORDER BY 1", db));
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (rows.ok()) {
    for (const auto& r : *rows) out.push_back(r[0].value_or(""));
  }
  return out;
}

}  // namespace

void ExpectSameDatabase(MariaDBServer* up, MariaDBServer* down, const std::string& db) {
  std::vector<std::string> tables = Tables(up, db);
  EXPECT_FALSE(tables.empty()) << db;
  EXPECT_EQ(Tables(down, db), tables) << "the downstream's tables of " << db;
  for (const std::string& t : tables) {
    std::vector<std::string> want = Rows(up, db + "." + t);
    std::vector<std::string> got = Rows(down, db + "." + t);
    EXPECT_EQ(got.size(), want.size()) << db << "." << t << ": rows downstream vs upstream";
    EXPECT_EQ(got, want) << db << "." << t;
  }
}

Result<BinlogPosition> DownstreamPosition(MariaDBServer* down, uint32_t server_id) {
  ASSIGN_OR_RETURN(auto rows, down->Query(fmt::format(
                                  "SELECT binlog_name, binlog_pos, binlog_gtid FROM "
                                  "tidb_binlog.syncer_position WHERE server_id = {}",
                                  server_id)));
  if (rows.empty()) return Status::NotFound("no row in tidb_binlog.syncer_position");
  return BinlogPosition{rows[0][0].value_or(""), std::stoull(rows[0][1].value_or("0")),
                        rows[0][2].value_or("")};
}

void ExpectPositionsAt(MariaDBServer* down, uint32_t server_id, const std::string& meta_path,
                       const BinlogPosition& end) {
  auto meta = LoadMeta(Env::Posix(), meta_path);
  ASSERT_TRUE(meta.ok() && *meta) << meta_path;
  auto kept = DownstreamPosition(down, server_id);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ((*meta)->name, end.name);
  EXPECT_EQ((*meta)->pos, end.pos);
  EXPECT_EQ(kept->name, end.name);
  EXPECT_EQ(kept->pos, end.pos);
  EXPECT_EQ(kept->gtid, (*meta)->gtid);
  EXPECT_FALSE(kept->gtid.empty()) << "a MariaDB upstream gives every transaction a GTID";
}

}  // namespace binlog::syncer::testing
