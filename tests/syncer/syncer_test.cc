// The syncer end to end against a real server, writing a local journal: a mixed workload of
// 100k row changes archived once and in order, DDL between DML, stop-on-ddl, heartbeats, the
// restart check after a crash between archive and meta, status HTTP.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "common/tso.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;

class SyncerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedMariaDB();
    ASSERT_NE(server_, nullptr);
    db_ = std::string("s_") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_OK(server_->Exec(fmt::format(
        "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0} CHARACTER SET utf8mb4", db_)));
    config_ = TestConfig(server_, dir_.path());
    ASSERT_OK(SaveMeta(Env::Posix(), config_.meta, EndOfBinlog(server_)));
  }
  std::string T(const std::string& table) { return db_ + "." + table; }

  MariaDBServer* server_ = nullptr;
  TempDir dir_;
  std::string db_;
  SyncerConfig config_;
};

TEST_F(SyncerTest, MixedWorkloadOf100kRowChangesArchivedOnceInOrder) {
  for (const char* t : {"a", "b", "c", "d"}) {
    ASSERT_OK(server_->Exec(
        fmt::format("CREATE TABLE {} (id INT PRIMARY KEY, v INT, s VARCHAR(40), d DECIMAL(12,3), "
                    "ts DATETIME(6))",
                    T(t))));
  }
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  // Multi-row statements in big transactions keep this fast: 100 transactions of 1000 rows.
  uint64_t changes = 0;
  auto insert = [&](const std::string& table, int from, int n) {
    std::string sql = "INSERT INTO " + table + " VALUES ";
    for (int i = from; i < from + n; ++i) {
      sql += fmt::format("{}({}, {}, 'row {} ü', {}.{:03}, '2024-01-01 00:00:{:02}.{:06}')",
                         i == from ? "" : ",", i, i * 7, i, i - 5000, i % 1000, i % 60, i);
    }
    ASSERT_OK(server_->Exec(sql));
    changes += static_cast<uint64_t>(n);
  };
  const char* tables[] = {"a", "b", "c", "d"};
  for (int round = 0; round < 15; ++round) {
    for (const char* t : tables) insert(T(t), round * 1000, 1000);
  }
  for (int round = 0; round < 5; ++round) {
    for (const char* t : tables) {
      ASSERT_OK(server_->Exec(
          fmt::format("UPDATE {} SET v = v + 1, s = CONCAT(s, '+') WHERE id >= {} AND id < {}",
                      T(t), round * 1000, round * 1000 + 1000)));
      changes += 1000;
    }
  }
  for (int round = 5; round < 10; ++round) {
    for (const char* t : tables) {
      ASSERT_OK(server_->Exec(fmt::format("DELETE FROM {} WHERE id >= {} AND id < {}", T(t),
                                          round * 1000, round * 1000 + 1000)));
      changes += 1000;
    }
  }
  // Transactions over several tables.
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(server_->Exec(fmt::format(
        "BEGIN; INSERT INTO {0} VALUES ({2}, 1, 'x', 1.5, NULL); UPDATE {1} SET v = -v WHERE id "
        "= {3}; DELETE FROM {1} WHERE id = {4}; COMMIT",
        T("a"), T("b"), 100000 + i, 10000 + i, 11000 + i)));
    changes += 3;
  }
  ASSERT_GE(changes, 100000u);
  ASSERT_TRUE(running->WaitCaughtUp(server_, 60)) << running->syncer()->Stats().last_error;
  SyncerStats st = running->syncer()->Stats();
  ASSERT_OK(running->StopAndJoin());
  EXPECT_EQ(st.rows, changes);

  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(config_.to.dir));
  std::vector<pb::Binlog> txns = CheckedTransactions(archive);
  EXPECT_EQ(txns.size(), 4u + 60u + 20u + 20u + 20u);  // CREATE TABLEs too
  Replica replica;
  for (const pb::Binlog& b : txns) replica.Apply(b);
  EXPECT_EQ(replica.applied(), changes);
  for (const char* t : tables) {
    EXPECT_EQ(replica.Rows(T(t)), SelectAll(server_, T(t))) << "table " << t;
  }
  // The meta points at the end of what was archived.
  ASSERT_OK_AND_ASSIGN(auto meta, LoadMeta(Env::Posix(), config_.meta));
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->pos, txns.back().source().pos());
  EXPECT_EQ(meta->name, txns.back().source().file());
}

TEST_F(SyncerTest, DdlBetweenDml) {
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  ASSERT_OK(
      server_->Exec(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY, a VARCHAR(10))", T("t"))));
  ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES (1, 'one')", T("t"))));
  ASSERT_OK(server_->Exec(fmt::format("USE {}", db_)));
  ASSERT_OK(server_->Exec("ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 5 AFTER id"));
  ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES (2, 7, 'two')", T("t"))));
  ASSERT_OK(server_->Exec(fmt::format("UPDATE {} SET b = b * 10", T("t"))));
  ASSERT_OK(server_->Exec("USE mysql"));
  ASSERT_TRUE(running->WaitCaughtUp(server_)) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());

  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(config_.to.dir));
  std::vector<pb::Binlog> txns = CheckedTransactions(archive);
  ASSERT_EQ(txns.size(), 5u);
  EXPECT_NE(txns[0].ddl_query().find("CREATE TABLE"), std::string::npos);
  ASSERT_EQ(txns[1].tables(0).columns_size(), 2);
  EXPECT_EQ(txns[1].tables(0).columns(1).name(), "a");
  // The DDL, with the database it ran in (the statement names the table unqualified).
  EXPECT_EQ(txns[2].ddl_query(), "ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 5 AFTER id");
  EXPECT_EQ(txns[2].ddl_schema(), db_);
  EXPECT_EQ(txns[2].tables_size(), 0);
  // Rows after it carry the new column, by name, where the ALTER put it.
  const pb::TableChanges& ins = txns[3].tables(0);
  ASSERT_EQ(ins.columns_size(), 3);
  EXPECT_EQ(ins.columns(1).name(), "b");
  EXPECT_EQ(ins.columns(1).mysql_type(), "int");
  EXPECT_FALSE(ins.columns(1).is_nullable());
  EXPECT_EQ(ins.mutations(0).row().columns(1).int64_value(), 7);
  EXPECT_EQ(ins.mutations(0).row().columns(2).string_value(), "two");
  const pb::TableChanges& upd = txns[4].tables(0);
  ASSERT_EQ(upd.mutations_size(), 2);
  EXPECT_EQ(upd.mutations(0).before().columns(1).int64_value(), 5);
  EXPECT_EQ(upd.mutations(0).row().columns(1).int64_value(), 50);
}

TEST_F(SyncerTest, StopOnDdlStopsBeforeItWithThePositionSaved) {
  ASSERT_OK(server_->Exec(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY)", T("t"))));
  ASSERT_OK(SaveMeta(Env::Posix(), config_.meta, EndOfBinlog(server_)));
  ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES (1)", T("t"))));
  BinlogPosition before_ddl = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec(fmt::format("ALTER TABLE {} ADD COLUMN c INT", T("t"))));
  ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES (2, 2)", T("t"))));

  SyncerConfig c = config_;
  c.stop_on_ddl = true;
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(c));
  ASSERT_OK(running->Join());
  EXPECT_TRUE(running->syncer()->stopped_on_ddl());
  ASSERT_OK_AND_ASSIGN(auto meta, LoadMeta(Env::Posix(), c.meta));
  EXPECT_EQ(meta->name, before_ddl.name);
  EXPECT_EQ(meta->pos, before_ddl.pos);
  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(c.to.dir));
  auto txns = CheckedTransactions(archive);
  ASSERT_EQ(txns.size(), 1u);
  EXPECT_EQ(txns[0].tables(0).mutations_size(), 1);
  running.reset();

  // Without stop-on-ddl it goes on with exactly the DDL.
  ASSERT_OK_AND_ASSIGN(running, RunningSyncer::Start(config_));
  ASSERT_TRUE(running->WaitCaughtUp(server_)) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());
  ASSERT_OK_AND_ASSIGN(archive, ReadArchive(c.to.dir));
  txns = CheckedTransactions(archive);
  ASSERT_EQ(txns.size(), 3u);
  EXPECT_NE(txns[1].ddl_query().find("ADD COLUMN c"), std::string::npos);
  EXPECT_EQ(txns[2].tables(0).columns_size(), 2);
}

TEST_F(SyncerTest, HeartbeatsMoveTheArchiveWhenIdle) {
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  ASSERT_TRUE(running->WaitFor([](const SyncerStats& st) { return st.heartbeats >= 3; }, 10));
  ASSERT_OK(running->StopAndJoin());
  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(config_.to.dir));
  ASSERT_GE(archive.size(), 3u);
  for (const pb::Binlog& b : archive) {
    EXPECT_EQ(b.tp(), pb::FAKE);
    EXPECT_EQ(b.tables_size(), 0);
    EXPECT_EQ(b.start_ts(), 0);
  }
  // Their ts are wall-clock TSO: after the previous ones, near now.
  int64_t now_ms = Env::Posix()->NowMicros() / 1000;
  EXPECT_NEAR(static_cast<double>(TSPhysicalMs(archive.back().commit_ts())),
              static_cast<double>(now_ms), 5000);
}

// A crash between the archive write and the meta write leaves the meta behind: the restart
// resumes after the archive's newest record and archives nothing twice.
TEST_F(SyncerTest, ArchiveAheadOfMetaIsNotArchivedTwice) {
  ASSERT_OK(server_->Exec(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY)", T("t"))));
  BinlogPosition start = EndOfBinlog(server_);
  ASSERT_OK(SaveMeta(Env::Posix(), config_.meta, start));
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES ({})", T("t"), i)));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
    ASSERT_TRUE(running->WaitCaughtUp(server_));
    ASSERT_OK(running->StopAndJoin());
  }
  ASSERT_OK(SaveMeta(Env::Posix(), config_.meta, start));  // as if the meta write was lost
  for (int i = 5; i < 8; ++i) {
    ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES ({})", T("t"), i)));
  }
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  ASSERT_TRUE(running->WaitCaughtUp(server_));
  ASSERT_OK(running->StopAndJoin());
  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(config_.to.dir));
  auto txns = CheckedTransactions(archive);
  ASSERT_EQ(txns.size(), 8u);
}

TEST_F(SyncerTest, StatusAndMetricsOverHttp) {
  config_.status_addr = "127.0.0.1:0";
  ASSERT_OK(server_->Exec(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY)", T("t"))));
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES (1), (2), (3)", T("t"))));
  ASSERT_TRUE(running->WaitCaughtUp(server_));
  std::string addr = running->syncer()->status_addr();
  ASSERT_FALSE(addr.empty());
  httplib::Client client("http://" + addr);
  auto status = client.Get("/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  auto j = nlohmann::json::parse(status->body);
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["rows"], 3);
  EXPECT_EQ(j["transactions"], 2);
  EXPECT_EQ(j["binlog-name"], EndOfBinlog(server_).name);
  EXPECT_EQ(j["binlog-pos"], EndOfBinlog(server_).pos);
  EXPECT_TRUE(j.contains("lag-seconds"));
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name : {"binlog_syncer_events_total", "binlog_syncer_rows_total 3",
                           "binlog_syncer_lag_seconds", "binlog_syncer_position{file="}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name << " in\n" << metrics->body;
  }
  ASSERT_OK(running->StopAndJoin());
}

TEST_F(SyncerTest, StartsFromAGtidAlone) {
  ASSERT_OK(server_->Exec(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY)", T("t"))));
  ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES (1)", T("t"))));
  ASSERT_OK_AND_ASSIGN(std::string gtid, server_->QueryValue("SELECT @@gtid_binlog_pos"));
  ASSERT_OK(server_->Exec(fmt::format("INSERT INTO {} VALUES (2)", T("t"))));
  ASSERT_OK(SaveMeta(Env::Posix(), config_.meta, BinlogPosition{"", 0, gtid}));
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  ASSERT_TRUE(running->WaitCaughtUp(server_)) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());
  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(config_.to.dir));
  auto txns = CheckedTransactions(archive);
  ASSERT_EQ(txns.size(), 1u);
  EXPECT_EQ(txns[0].tables(0).mutations(0).row().columns(0).int64_value(), 2);
  ASSERT_OK_AND_ASSIGN(auto meta, LoadMeta(Env::Posix(), config_.meta));
  EXPECT_EQ(meta->name, EndOfBinlog(server_).name) << "the file is learnt from the stream";
  EXPECT_EQ(meta->gtid, txns[0].source().gtid());
}

TEST_F(SyncerTest, MissingReplicationPrivilegeIsNamed) {
  ASSERT_OK(server_->Exec(
      "CREATE USER IF NOT EXISTS 'nopriv'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO "
      "'nopriv'@'%'"));
  config_.from.user = "nopriv";
  config_.from.password = "pw";
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  Status s = running->Join();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("REPLICATION SLAVE"), std::string::npos) << s.ToString();
}

TEST_F(SyncerTest, ServerIdOfTheUpstreamIsRefused) {
  config_.server_id = 1;  // the test server's own
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  Status s = running->Join();
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("server-id 1"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace binlog::syncer::testing
