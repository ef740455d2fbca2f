// The syncer applying to a downstream MariaDB ([to] with a host, no type): TiDB-Binlog's
// syncer.toml replicates as written; a restart from an earlier downstream position applies
// nothing twice (the ts the syncer gives a transaction is a function of the upstream's events
// from that position); the downstream restarted mid-sync is retried and converges.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "syncer/mysql_fixture.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;

class MysqlSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    up_ = SharedMariaDB();
    ASSERT_NE(up_, nullptr);
    ASSERT_OK_AND_ASSIGN(down_, MariaDBServer::Start());
    start_ = EndOfBinlog(up_);
    ASSERT_OK(SaveMeta(Env::Posix(), dir_.Sub("syncer.meta"), start_));
  }
  // The seed-style config as the syncer reads it.
  SyncerConfig Config(uint32_t server_id, const std::string& extra = "") {
    auto c = ParseSyncerConfig(SeedStyleConfig(up_, down_.get(), dir_.path(), server_id, extra),
                               "syncer.toml");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : SyncerConfig();
  }
  static SyncerOptions FastRetry() {
    SyncerOptions o;
    o.retry_base_seconds = 0.05;
    o.retry_max_seconds = 0.5;
    return o;
  }

  MariaDBServer* up_ = nullptr;
  std::unique_ptr<MariaDBServer> down_;
  TempDir dir_;
  BinlogPosition start_;
};

TEST_F(MysqlSinkTest, SeedConfigReplicatesInsertsUpdatesDeletesAndDdl) {
  SyncerConfig config = Config(101);
  EXPECT_EQ(config.to.type, "mysql");
  EXPECT_EQ(config.to.mysql.port, down_->port());
  EXPECT_EQ(config.worker_count, 16);
  EXPECT_EQ(config.batch, 1000);
  EXPECT_FALSE(config.safe_mode);
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config, FastRetry()));

  ApplyWorkload work(up_, "seed");
  ASSERT_OK(work.CreateTables());
  for (int i = 0; i < 120; ++i) ASSERT_OK(work.RunOne());
  // DDL between DML: a column added, a table renamed and dropped, rows changed after each.
  ASSERT_OK(up_->Exec(
      "ALTER TABLE seed.keyed ADD COLUMN note TEXT; UPDATE seed.keyed SET note = 'n' WHERE id < "
      "10; RENAME TABLE seed.extra_19 TO seed.renamed; INSERT INTO seed.renamed VALUES (1, "
      "'after rename'); DROP TABLE seed.extra_39; DELETE FROM seed.loose WHERE k = 3"));
  for (int i = 0; i < 10; ++i) ASSERT_OK(work.RunOne());
  ASSERT_TRUE(running->WaitCaughtUp(up_, 60)) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());

  ExpectSameDatabase(up_, down_.get(), "seed");
  ExpectPositionsAt(down_.get(), 101, config.meta, EndOfBinlog(up_));
  SyncerStats st = running->syncer()->Stats();
  EXPECT_GE(st.ddl, 8u);
  EXPECT_GT(st.rows, 300u);
  // The engine's progress is the task's, and the position carries its ts: caught up, that of
  // the last transaction.
  ASSERT_OK_AND_ASSIGN(std::string low, down_->QueryValue("SELECT low_ts FROM "
                                                          "tidb_binlog.replay_progress WHERE "
                                                          "task = 'syncer-101'"));
  ASSERT_OK_AND_ASSIGN(std::string ts, down_->QueryValue("SELECT commit_ts FROM "
                                                         "tidb_binlog.syncer_position WHERE "
                                                         "server_id = 101"));
  EXPECT_EQ(ts, low);
  EXPECT_GT(std::stoull(ts), 0u);
}

// Transactions applied above the engine's low ts are recognised after a restart only by their
// commit ts, so the ts must come out the same when the upstream is read again. A first run
// applies transactions with pauses that let heartbeats come between them, and bursts within
// one second; a trigger copies every record of what was applied. Then the downstream is put
// back into the state of a run that applied all of it without recording a low ts: the low ts
// at 0, the records in tidb_binlog.replay_applied, the position where the syncer started
// (syncer.meta is further on: the downstream wins). The restart reads everything again, and
// must apply nothing twice.
TEST_F(MysqlSinkTest, RereadTransactionsAreRecognisedByTheirTs) {
  SyncerConfig config = Config(102);
  ASSERT_OK(down_->Exec(
      "CREATE DATABASE testlog; CREATE TABLE testlog.applied (task VARCHAR(128), commit_ts "
      "BIGINT UNSIGNED, below_ts MEDIUMTEXT)"));
  ApplyWorkload work(up_, "reread");
  {
    ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config, FastRetry()));
    ASSERT_TRUE(running->WaitFor([](const SyncerStats& st) { return st.state == "running"; }));
    ASSERT_OK(down_->Exec(
        "CREATE TRIGGER tidb_binlog.copy_applied AFTER INSERT ON tidb_binlog.replay_applied FOR "
        "EACH ROW INSERT INTO testlog.applied VALUES (NEW.task, NEW.commit_ts, NEW.below_ts)"));
    ASSERT_OK(work.CreateTables());
    for (int i = 0; i < 45; ++i) {
      ASSERT_OK(work.RunOne());
      if (i % 6 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(700));
    }
    ASSERT_TRUE(running->WaitCaughtUp(up_, 60)) << running->syncer()->Stats().last_error;
    ASSERT_OK(running->StopAndJoin());
  }
  ExpectSameDatabase(up_, down_.get(), "reread");
  ASSERT_OK_AND_ASSIGN(std::string copied, down_->QueryValue("SELECT COUNT(*) FROM "
                                                             "testlog.applied"));
  EXPECT_GT(std::stoi(copied), 20);
  ASSERT_OK(down_->Exec(fmt::format(
      "DROP TRIGGER tidb_binlog.copy_applied; "
      "DELETE FROM tidb_binlog.replay_applied WHERE task = 'syncer-102'; "
      "INSERT INTO tidb_binlog.replay_applied SELECT * FROM testlog.applied; "
      "UPDATE tidb_binlog.replay_progress SET low_ts = 0 WHERE task = 'syncer-102'; "
      "UPDATE tidb_binlog.syncer_position SET binlog_name = '{}', binlog_pos = {}, binlog_gtid = "
      "'', commit_ts = 0 WHERE server_id = 102",
      start_.name, start_.pos)));

  ASSERT_OK_AND_ASSIGN(auto again, RunningSyncer::Start(config, FastRetry()));
  ASSERT_TRUE(again->WaitCaughtUp(up_, 60)) << again->syncer()->Stats().last_error;
  ASSERT_OK(again->StopAndJoin());
  SyncerStats st = again->syncer()->Stats();
  EXPECT_GE(st.skipped, 45u) << "the restart did not find the transactions held already";
  ExpectSameDatabase(up_, down_.get(), "reread");
  ExpectPositionsAt(down_.get(), 102, config.meta, EndOfBinlog(up_));
}

// Nothing is written after a rotation until the next transaction: the heartbeat that comes
// while the upstream is idle takes the new file to the downstream and syncer.meta, so a restart
// does not need the old file (which may be purged by then).
TEST_F(MysqlSinkTest, AHeartbeatTakesARotationToTheDownstream) {
  SyncerConfig config = Config(104);
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config, FastRetry()));
  ApplyWorkload work(up_, "rotate");
  ASSERT_OK(work.CreateTables());
  for (int i = 0; i < 5; ++i) ASSERT_OK(work.RunOne());
  ASSERT_TRUE(running->WaitCaughtUp(up_, 60)) << running->syncer()->Stats().last_error;
  const std::string old_file = EndOfBinlog(up_).name;
  ASSERT_OK(up_->Exec("FLUSH BINARY LOGS"));
  const std::string new_file = EndOfBinlog(up_).name;
  ASSERT_NE(new_file, old_file);
  EXPECT_TRUE(
      running->WaitFor([&](const SyncerStats& st) { return st.position.name == new_file; }, 30));
  ASSERT_OK(running->StopAndJoin());
  ASSERT_OK_AND_ASSIGN(BinlogPosition kept, DownstreamPosition(down_.get(), 104));
  EXPECT_EQ(kept.name, new_file);
  auto meta = LoadMeta(Env::Posix(), config.meta);
  ASSERT_TRUE(meta.ok() && *meta);
  EXPECT_EQ((*meta)->name, new_file);
  EXPECT_EQ((*meta)->pos, kept.pos);
  ExpectSameDatabase(up_, down_.get(), "rotate");
}

// The replay engine does not take a transaction in parts yet: the syncer stops at its first
// part with the transaction named, having applied what came before it and nothing of it.
TEST_F(MysqlSinkTest, ATransactionInPartsIsAppliedWholeInOneDownstreamTransaction) {
  SyncerConfig config = Config(105);
  SyncerOptions options = FastRetry();
  options.part_bytes = 4 << 10;
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config, options));
  ASSERT_OK(up_->Exec(
      "DROP DATABASE IF EXISTS parts; CREATE DATABASE parts; CREATE TABLE parts.t (id INT "
      "PRIMARY KEY, s VARCHAR(40)); INSERT INTO parts.t VALUES (1, 'before')"));
  ASSERT_TRUE(running->WaitCaughtUp(up_, 60)) << running->syncer()->Stats().last_error;
  std::string rows;
  for (int i = 2; i < 2000; ++i) rows += fmt::format("{}({}, 'row {}')", i > 2 ? "," : "", i, i);
  ASSERT_OK(up_->Exec("INSERT INTO parts.t VALUES " + rows));  // ~60 KiB: ~15 parts
  ASSERT_OK(up_->Exec("INSERT INTO parts.t VALUES (2000, 'after')"));
  // Seen from the downstream, the big transaction is there whole or not at all.
  std::set<std::string> seen;
  for (int i = 0; i < 600; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string count, down_->QueryValue("SELECT COUNT(*) FROM parts.t"));
    seen.insert(count);
    if (count == "2000") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(running->WaitCaughtUp(up_, 60)) << running->syncer()->Stats().last_error;
  for (const std::string& c : seen) EXPECT_TRUE(c == "1" || c == "1999" || c == "2000") << c;
  ASSERT_OK_AND_ASSIGN(std::string count, down_->QueryValue("SELECT COUNT(*) FROM parts.t"));
  EXPECT_EQ(count, "2000");
  ASSERT_OK(running->StopAndJoin());
}

TEST_F(MysqlSinkTest, DownstreamRestartedMidSyncIsRetriedAndConverges) {
  SyncerConfig config = Config(103);
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config, FastRetry()));
  ApplyWorkload work(up_, "restart");
  ASSERT_OK(work.CreateTables());
  work.Start(/*pause_ms=*/3);
  auto wait_for_transactions = [&](int n) {
    for (int i = 0; i < 2000 && work.transactions() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  wait_for_transactions(60);
  ASSERT_OK(down_->Kill());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_OK(down_->Restart());
  const int at_restart = work.transactions();
  wait_for_transactions(at_restart + 60);
  ASSERT_OK(work.Stop());

  ASSERT_TRUE(running->WaitCaughtUp(up_, 90)) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());
  EXPECT_GT(work.transactions(), at_restart);
  ExpectSameDatabase(up_, down_.get(), "restart");
  ExpectPositionsAt(down_.get(), 103, config.meta, EndOfBinlog(up_));
}

}  // namespace
}  // namespace binlog::syncer::testing
