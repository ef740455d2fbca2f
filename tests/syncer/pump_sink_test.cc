// The syncer writing to real pumps ([to] type = "pump"): what PullBinlogs serves afterwards is
// every upstream transaction once, in order, with the values SELECT returns, through a pump
// kill -9 and restart, an idle upstream behind the pump's own heartbeats, and a failover.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "common/fault_env.h"
#include "common/tso.h"
#include "syncer/pump_fixture.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::MariaDBConnection;
using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;

SyncerConfig PumpConfig(MariaDBServer* server, const TempDir& dir, std::vector<std::string> addrs) {
  SyncerConfig c = TestConfig(server, dir.path());
  c.to.type = "pump";
  c.to.pump_addrs = std::move(addrs);
  c.batch = 20;
  c.max_retry = 30;
  return c;
}

SyncerOptions FastRetry() {
  SyncerOptions o;
  o.retry_base_seconds = 0.05;
  o.retry_max_seconds = 0.5;
  return o;
}

bool WaitEmitted(pump::Pump* pump, uint64_t ts) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (pump->Stats().emitted_ts < ts) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

uint32_t UpstreamServerId(MariaDBServer* server) {
  auto id = server->QueryValue("SELECT @@server_id");
  EXPECT_TRUE(id.ok());
  return id.ok() ? static_cast<uint32_t>(std::stoul(*id)) : 0;
}

// One mixed transaction: inserts in two tables, an update and (every third) a delete.
std::string MixedTxn(const std::string& db, int i) {
  std::string sql = fmt::format(
      "BEGIN; INSERT INTO {0}.a VALUES ({1}, 'v{1}-é', {1}.25, '2024-01-02 03:04:05.{2:03}');"
      "INSERT INTO {0}.b VALUES ({1}, {3}, REPEAT('x', {4}))",
      db, i, i % 1000, -int64_t{i} * 1000003, i % 50);
  if (i > 0)
    sql += fmt::format("; UPDATE {0}.a SET v = CONCAT(v, '+'), d = -d WHERE id = {1}", db, i - 1);
  if (i % 3 == 2) sql += fmt::format("; DELETE FROM {0}.b WHERE id = {1}", db, i - 2);
  return sql + "; COMMIT";
}

void CreateTables(MariaDBServer* server, const std::string& db) {
  ASSERT_OK(server->Exec(fmt::format(
      "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0};"
      "CREATE TABLE {0}.a (id INT PRIMARY KEY, v VARCHAR(200), d DECIMAL(12,2), t DATETIME(3));"
      "CREATE TABLE {0}.b (id INT PRIMARY KEY, n BIGINT, s TEXT);"
      "CREATE TABLE {0}.c (id INT PRIMARY KEY, v INT)",
      db)));
}

// Waits until the syncer's durable position is the upstream's end, then reads what the pump
// serves up to the syncer's newest ts.
std::vector<pb::Binlog> CaughtUpAndPulled(RunningSyncer* syncer, MariaDBServer* server,
                                          const std::string& addr) {
  EXPECT_TRUE(syncer->WaitCaughtUp(server, 60)) << syncer->syncer()->Stats().last_error;
  auto pulled = PullUntil(addr, syncer->syncer()->Stats().last_ts);
  EXPECT_TRUE(pulled.ok()) << pulled.status().ToString();
  return pulled.ok() ? *pulled : std::vector<pb::Binlog>();
}

void ExpectSameTables(const std::vector<pb::Binlog>& txns, MariaDBServer* server,
                      const std::string& db) {
  Replica replica;
  for (const pb::Binlog& b : txns) replica.Apply(b);
  for (const char* t : {"a", "b", "c"}) {
    std::string table = db + "." + t;
    EXPECT_EQ(replica.Rows(table), SelectAll(server, table)) << table;
  }
}

TEST(PumpSinkTest, MixedWorkloadComesOutOfThePumpOnceInOrderWithItsValues) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, StartPump(dir.path()));
  CreateTables(server, "e2e");
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(server)));
  ASSERT_OK_AND_ASSIGN(
      auto syncer, RunningSyncer::Start(PumpConfig(server, dir, {pump->grpc_addr()}), FastRetry()));
  int txns = 0;
  for (int i = 0; i < 300; ++i, ++txns) ASSERT_OK(server->Exec(MixedTxn("e2e", i)));
  // DDL between DML: a column added, then rows using it.
  ASSERT_OK(server->Exec("ALTER TABLE e2e.c ADD COLUMN extra VARCHAR(10) NULL"));
  ++txns;
  for (int i = 0; i < 20; ++i, ++txns) {
    ASSERT_OK(server->Exec(fmt::format("INSERT INTO e2e.c VALUES ({0}, {0}, 'x{0}')", i)));
  }

  std::vector<pb::Binlog> served = CaughtUpAndPulled(syncer.get(), server, pump->grpc_addr());
  std::vector<pb::Binlog> archived = CheckedTransactions(served);
  ASSERT_EQ(archived.size(), static_cast<size_t>(txns));
  EXPECT_EQ(archived[300].ddl_query(), "ALTER TABLE e2e.c ADD COLUMN extra VARCHAR(10) NULL");
  uint32_t upstream = UpstreamServerId(server);
  for (const pb::Binlog& b : archived) {
    EXPECT_EQ(b.source().server_id(), upstream);
    EXPECT_GT(b.source().event_time(), 0u);
    EXPECT_FALSE(b.source().file().empty());
  }
  ExpectSameTables(archived, server, "e2e");
  // The pump answers for this source with the newest transaction.
  pump::SourceState st = pump->pump()->GetSourceState(upstream);
  ASSERT_TRUE(st.held.has_value());
  EXPECT_EQ(st.held->source.gtid(), archived.back().source().gtid());
  EXPECT_OK(syncer->StopAndJoin());
}

TEST(PumpSinkTest, PumpKilledAndRestartedWhileTheSyncerRuns) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, PumpProcess::Start(dir.path()));
  CreateTables(server, "restart");
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(server)));
  ASSERT_OK_AND_ASSIGN(auto syncer,
                       RunningSyncer::Start(PumpConfig(server, dir, {pump->addr()}), FastRetry()));
  std::atomic<int> txns{0};
  std::atomic<bool> stop{false};
  Status workload_status;
  std::thread workload([&] {
    auto conn = MariaDBConnection::Open(server->host(), server->port(), "root", "");
    if (!conn.ok()) {
      workload_status = conn.status();
      return;
    }
    for (int i = 0; !stop; ++i) {
      workload_status = (*conn)->Exec(MixedTxn("restart", i));
      if (!workload_status.ok()) return;
      txns++;
    }
  });
  std::mt19937 rng(3);
  for (int round = 0; round < 3; ++round) {
    int before = txns;
    while (txns < before + 30 && workload_status.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 100));
    ASSERT_OK(pump->Kill9());
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 300));
    ASSERT_OK(pump->Restart());
  }
  stop = true;
  workload.join();
  ASSERT_OK(workload_status);

  std::vector<pb::Binlog> archived =
      CheckedTransactions(CaughtUpAndPulled(syncer.get(), server, pump->addr()));
  EXPECT_EQ(archived.size(), static_cast<size_t>(txns.load()));
  ExpectSameTables(archived, server, "restart");
  SyncerStats st = syncer->syncer()->Stats();
  EXPECT_EQ(st.state, "running") << st.last_error;
  EXPECT_OK(syncer->StopAndJoin());
}

// The pump's clock an hour ahead of the upstream's event times: what a syncer catching up a
// backlog meets, and what an idle pump's heartbeats cause when writes resume. Every batch after
// such a heartbeat is refused as behind; the sink re-stamps it, and nothing is lost.
TEST(PumpSinkTest, PumpHeartbeatsAheadOfTheUpstreamDoNotStopOrReorderWrites) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TempDir dir;
  FaultInjectionEnv clock(Env::Posix());
  int64_t hour_ahead = Env::Posix()->NowMicros() + 3600ll * 1000000;
  clock.SetNowMicros(hour_ahead);
  ASSERT_OK_AND_ASSIGN(auto pump, StartPump(dir.path(), &clock, /*gen_binlog_interval=*/0));
  ASSERT_OK(pump->pump()->Heartbeat());
  ASSERT_TRUE(WaitEmitted(pump->pump(), ComposeTS(hour_ahead / 1000, 0)));
  CreateTables(server, "idle");
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(server)));
  ASSERT_OK_AND_ASSIGN(
      auto syncer, RunningSyncer::Start(PumpConfig(server, dir, {pump->grpc_addr()}), FastRetry()));
  int txns = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 15; ++i, ++txns) ASSERT_OK(server->Exec(MixedTxn("idle", txns)));
    ASSERT_TRUE(syncer->WaitCaughtUp(server, 60)) << syncer->syncer()->Stats().last_error;
    // Idle: the pump's heartbeat goes past everything the syncer has stamped.
    hour_ahead += 10ll * 1000000;
    clock.SetNowMicros(hour_ahead);
    ASSERT_OK(pump->pump()->Heartbeat());
    // Written in commit order before writes resume: they now have to go above it.
    uint64_t beat = ComposeTS(hour_ahead / 1000, 0);
    ASSERT_TRUE(WaitEmitted(pump->pump(), beat));
  }
  uint64_t refused = pump->pump()->Stats().refused;
  std::vector<pb::Binlog> archived =
      CheckedTransactions(CaughtUpAndPulled(syncer.get(), server, pump->grpc_addr()));
  ASSERT_EQ(archived.size(), static_cast<size_t>(txns));
  ExpectSameTables(archived, server, "idle");
  // The refusals happened (the path is exercised) and were absorbed.
  EXPECT_GE(refused, 3u);
  SyncerStats st = syncer->syncer()->Stats();
  EXPECT_EQ(st.state, "running") << st.last_error;
  EXPECT_EQ(st.last_error, "");
  // The event time still travels with each transaction, though its ts is the pump's hour.
  for (const pb::Binlog& b : archived) {
    EXPECT_GT(TSPhysicalMs(static_cast<uint64_t>(b.commit_ts())) / 1000,
              int64_t{b.source().event_time()} + 3000);
  }
  EXPECT_OK(syncer->StopAndJoin());
}

// pump-addrs lists two pumps; the first dies between batches: the syncer moves to the second,
// and the two archives together hold every transaction once.
TEST(PumpSinkTest, FailsOverToTheNextPumpOfPumpAddrs) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TempDir dir, dir2;
  ASSERT_OK_AND_ASSIGN(auto first, PumpProcess::Start(dir.path()));
  ASSERT_OK_AND_ASSIGN(auto second, StartPump(dir2.path()));
  CreateTables(server, "failover");
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(server)));
  ASSERT_OK_AND_ASSIGN(
      auto syncer, RunningSyncer::Start(
                       PumpConfig(server, dir, {first->addr(), second->grpc_addr()}), FastRetry()));
  int txns = 0;
  for (int i = 0; i < 40; ++i, ++txns) ASSERT_OK(server->Exec(MixedTxn("failover", txns)));
  ASSERT_TRUE(syncer->WaitCaughtUp(server, 60));
  uint64_t first_last = syncer->syncer()->Stats().last_ts;
  ASSERT_OK(first->Kill9());
  for (int i = 0; i < 40; ++i, ++txns) ASSERT_OK(server->Exec(MixedTxn("failover", txns)));
  std::vector<pb::Binlog> later = CaughtUpAndPulled(syncer.get(), server, second->grpc_addr());
  ASSERT_OK(first->Restart());
  ASSERT_OK_AND_ASSIGN(std::vector<pb::Binlog> earlier, PullUntil(first->addr(), first_last));
  std::vector<pb::Binlog> all;
  for (const pb::Binlog& b : earlier) {
    if (b.tp() == pb::COMMIT) all.push_back(b);
  }
  for (const pb::Binlog& b : later) {
    if (b.tp() == pb::COMMIT) all.push_back(b);
  }
  std::vector<pb::Binlog> archived = CheckedTransactions(all);
  EXPECT_EQ(archived.size(), static_cast<size_t>(txns));
  ExpectSameTables(archived, server, "failover");
  EXPECT_OK(syncer->StopAndJoin());
}

}  // namespace
}  // namespace binlog::syncer::testing
