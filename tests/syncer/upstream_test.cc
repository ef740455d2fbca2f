// Servers of their own: settings the syncer must refuse, an upstream restarted mid-stream, a
// start position the upstream has purged.
#include <gtest/gtest.h>

#include <thread>

#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::MariaDBOptions;
using binlog::testing::TempDir;

std::unique_ptr<MariaDBServer> StartServer(std::vector<std::string> args = {}) {
  MariaDBOptions o;
  o.extra_args = std::move(args);
  Result<std::unique_ptr<MariaDBServer>> s = MariaDBServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

Status RunUntilDone(const SyncerConfig& c) {
  Result<std::unique_ptr<RunningSyncer>> r = RunningSyncer::Start(c);
  if (!r.ok()) return r.status();
  return (*r)->Join();
}

// binlog_format, binlog_row_image and binlog_row_metadata: each refusal names the variable and
// the statement that fixes it.
TEST(UpstreamTest, ServerSettingsTheSyncerCannotReadAreRefused) {
  std::unique_ptr<MariaDBServer> server = StartServer({"--binlog-format=STATEMENT"});
  ASSERT_NE(server, nullptr);
  TempDir dir;
  SyncerConfig c = TestConfig(server.get(), dir.path());
  ASSERT_OK(SaveMeta(Env::Posix(), c.meta, EndOfBinlog(server.get())));

  Status s = RunUntilDone(c);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("binlog_format = STATEMENT"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("SET GLOBAL binlog_format = ROW"), std::string::npos);

  ASSERT_OK(server->Exec("SET GLOBAL binlog_format = ROW, GLOBAL binlog_row_image = MINIMAL"));
  s = RunUntilDone(c);
  EXPECT_NE(s.message().find("SET GLOBAL binlog_row_image = FULL"), std::string::npos)
      << s.ToString();

  ASSERT_OK(
      server->Exec("SET GLOBAL binlog_row_image = FULL, GLOBAL binlog_row_metadata = "
                   "MINIMAL"));
  s = RunUntilDone(c);
  EXPECT_NE(s.message().find("SET GLOBAL binlog_row_metadata = FULL"), std::string::npos)
      << s.ToString();
}

// MariaDB 5.3's fractional temporal format is logged without its precision: a server making
// new such columns is refused naming the variable; a row of an existing such table stops the
// syncer with the hint; converted, it decodes (and old zero-fraction columns always do).
TEST(UpstreamTest, OldFractionalTemporalFormatIsRefused) {
  std::unique_ptr<MariaDBServer> server = StartServer({"--mysql56-temporal-format=OFF"});
  ASSERT_NE(server, nullptr);
  TempDir dir;
  SyncerConfig c = TestConfig(server.get(), dir.path());
  ASSERT_OK(
      server->Exec("CREATE DATABASE o; CREATE TABLE o.t (id INT PRIMARY KEY, t TIME(3), "
                   "d DATETIME, t0 TIME, ts0 TIMESTAMP NULL)"));
  ASSERT_OK(SaveMeta(Env::Posix(), c.meta, EndOfBinlog(server.get())));
  Status s = RunUntilDone(c);
  EXPECT_NE(s.message().find("SET GLOBAL mysql56_temporal_format = ON"), std::string::npos)
      << s.ToString();

  ASSERT_OK(server->Exec("SET GLOBAL mysql56_temporal_format = ON"));
  ASSERT_OK(
      server->Exec("INSERT INTO o.t VALUES (1, '-01:02:03.456', '2024-01-02 03:04:05', "
                   "'-838:59:59', '2024-01-02 03:04:05')"));
  s = RunUntilDone(c);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("MariaDB 5.3's format"), std::string::npos) << s.ToString();

  ASSERT_OK(server->Exec("ALTER TABLE o.t MODIFY t TIME(3)"));
  ASSERT_OK(SaveMeta(Env::Posix(), c.meta, EndOfBinlog(server.get())));
  ASSERT_OK(
      server->Exec("INSERT INTO o.t VALUES (2, '-01:02:03.456', '2024-01-02 03:04:05', "
                   "'-838:59:59', '2024-01-02 03:04:05')"));
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(c));
  ASSERT_TRUE(running->WaitCaughtUp(server.get())) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());
  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(c.to.dir));
  auto txns = CheckedTransactions(archive);
  ASSERT_EQ(txns.size(), 1u);
  const pb::Row& row = txns[0].tables(0).mutations(0).row();
  EXPECT_EQ(row.columns(1).string_value(), "-01:02:03.456");
  EXPECT_EQ(row.columns(2).string_value(), "2024-01-02 03:04:05");
  EXPECT_EQ(row.columns(3).string_value(), "-838:59:59");
  EXPECT_EQ(row.columns(4).string_value(), "2024-01-02 03:04:05");  // the session is UTC
  // The old formats (no fraction) have type codes of their own.
  EXPECT_EQ(txns[0].tables(0).columns(2).mysql_type(), "datetime");
  EXPECT_EQ(txns[0].tables(0).columns(3).mysql_type(), "time");
}

// The upstream killed and restarted while a workload runs: the syncer reconnects from its meta
// and the archive has every transaction once.
TEST(UpstreamTest, UpstreamRestartedMidStream) {
  std::unique_ptr<MariaDBServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  TempDir dir;
  SyncerConfig c = TestConfig(server.get(), dir.path());
  c.max_retry = 50;
  ASSERT_OK(server->Exec("CREATE DATABASE r; CREATE TABLE r.t (id INT PRIMARY KEY, v INT)"));
  ASSERT_OK(SaveMeta(Env::Posix(), c.meta, EndOfBinlog(server.get())));
  SyncerOptions o;
  o.retry_base_seconds = 0.05;
  o.retry_max_seconds = 0.5;
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(c, o));
  int id = 0;
  auto work = [&](int txns) {
    for (int i = 0; i < txns; ++i, ++id) {
      ASSERT_OK(server->Exec(fmt::format("INSERT INTO r.t VALUES ({0}, {0})", id)));
    }
  };
  work(50);
  ASSERT_TRUE(running->WaitFor([](const SyncerStats& st) { return st.transactions >= 10; }));
  ASSERT_OK(server->Kill());  // a crash: the connection drops without a goodbye
  work(0);
  ASSERT_OK(server->Restart());
  work(50);
  ASSERT_OK(server->Stop());  // a clean shutdown: the server ends the dump itself
  ASSERT_OK(server->Restart());
  work(50);
  ASSERT_TRUE(running->WaitCaughtUp(server.get(), 60)) << running->syncer()->Stats().last_error;
  SyncerStats st = running->syncer()->Stats();
  ASSERT_OK(running->StopAndJoin());
  EXPECT_GE(st.reconnects, 2u);

  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(c.to.dir));
  auto txns = CheckedTransactions(archive);
  Replica replica;
  for (const pb::Binlog& b : txns) replica.Apply(b);
  EXPECT_EQ(replica.applied(), 150u);
  EXPECT_EQ(replica.Rows("r.t"), SelectAll(server.get(), "r.t"));
}

// The start position's file was purged: a clear error naming the oldest file still there.
TEST(UpstreamTest, PurgedStartPositionNamesTheOldestFile) {
  std::unique_ptr<MariaDBServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  TempDir dir;
  SyncerConfig c = TestConfig(server.get(), dir.path());
  BinlogPosition old = EndOfBinlog(server.get());
  ASSERT_OK(SaveMeta(Env::Posix(), c.meta, old));
  ASSERT_OK(server->Exec("FLUSH BINARY LOGS"));
  ASSERT_OK(server->Exec("FLUSH BINARY LOGS"));
  BinlogPosition now = EndOfBinlog(server.get());
  // A file is purged only once the engines have checkpointed past it: retry until it is gone.
  bool purged = false;
  for (int i = 0; i < 500 && !purged; ++i) {
    ASSERT_OK(server->Exec("PURGE BINARY LOGS TO '" + now.name + "'"));
    ASSERT_OK_AND_ASSIGN(std::string oldest, server->QueryValue("SHOW BINARY LOGS"));
    purged = oldest == now.name;
    if (!purged) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(purged) << old.name << " was never purged";
  Status s = RunUntilDone(c);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find(old.name), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("the oldest file is " + now.name), std::string::npos) << s.ToString();
}

// Rotation: the syncer follows FLUSH BINARY LOGS into the next files, and the meta moves to
// the new file even before a transaction lands there.
TEST(UpstreamTest, FollowsRotation) {
  std::unique_ptr<MariaDBServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  TempDir dir;
  SyncerConfig c = TestConfig(server.get(), dir.path());
  ASSERT_OK(SaveMeta(Env::Posix(), c.meta, EndOfBinlog(server.get())));
  ASSERT_OK(server->Exec("CREATE DATABASE r; CREATE TABLE r.t (id INT PRIMARY KEY)"));
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(c));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(server->Exec(fmt::format("INSERT INTO r.t VALUES ({})", i)));
    ASSERT_OK(server->Exec("FLUSH BINARY LOGS"));
  }
  BinlogPosition end = EndOfBinlog(server.get());
  ASSERT_TRUE(running->WaitFor([&](const SyncerStats& st) {
    return st.position.name == end.name && st.position.pos == 4;
  })) << running->syncer()->Stats().position.ToString();
  ASSERT_OK(running->StopAndJoin());
  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(c.to.dir));
  auto txns = CheckedTransactions(archive);
  ASSERT_EQ(txns.size(), 5u);
  EXPECT_NE(txns[2].source().file(), txns[4].source().file());
}

}  // namespace
}  // namespace binlog::syncer::testing
