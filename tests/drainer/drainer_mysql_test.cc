// The drainer into a real MariaDB: the downstream equals what the pumps committed, DDL between
// DML, the checkpoint table, the downstream restarting, and kill -9 of the real drainer binary
// under load, each transaction applied once.
#include <signal.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include <fstream>
#include <set>

#include "drainer/checkpoint.h"
#include "drainer/drainer_test_util.h"
#include "testutil/mariadb_server.h"

namespace binlog::drainer::testing {
namespace {

using binlog::testing::MariaDBServer;

class DrainerMysqlTest : public DrainerFixture {
 protected:
  void SetUp() override {
    auto server = MariaDBServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    dest_ = std::move(*server);
    ASSERT_OK(dest_->Exec("CREATE DATABASE test"));
  }
  // The drainer goes before its downstream does.
  void TearDown() override { drainer_.reset(); }

  DrainerConfig MysqlConfig() {
    DrainerConfig c = BaseConfig(SinkType::kMysql);
    c.to.host = dest_->host();
    c.to.port = dest_->port();
    c.to.user = "root";
    c.worker_count = 4;
    c.max_retry = 1000;
    return c;
  }

  // What the writers committed, as `id=v` lines ordered by id.
  std::string Expected() const {
    std::map<int64_t, std::string> all;
    for (const auto& w : writers_) all.insert(w->model().begin(), w->model().end());
    std::string out;
    for (const auto& [id, v] : all) out += std::to_string(id) + "=" + v + "\n";
    return out;
  }
  std::string Downstream() {
    auto rows = dest_->Query("SELECT id, v FROM test.t ORDER BY id");
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::string out;
    for (const auto& r : rows.ok() ? *rows : std::vector<binlog::testing::SqlRow>{}) {
      out += r[0].value_or("NULL") + "=" + r[1].value_or("NULL") + "\n";
    }
    return out;
  }
  Result<Checkpoint> TableCheckpoint() {
    ASSIGN_OR_RETURN(std::string text, dest_->QueryValue("SELECT checkPoint FROM "
                                                          "tidb_binlog.checkpoint WHERE clusterID = 1"));
    return DecodeCheckpoint(text, "tidb_binlog.checkpoint");
  }

  std::unique_ptr<MariaDBServer> dest_;
  std::vector<std::unique_ptr<Writer>> writers_;
};

TEST_F(DrainerMysqlTest, ThreePumpsWithDdlBetweenDmlLandAsTheyCommitted) {
  StartPumps(3);
  StartDrainer(MysqlConfig());
  WriteFromEveryPump(0, &writers_);  // the writers, nothing written yet
  ASSERT_NE(writers_[0]->WriteDdl("test", kCreateTable), 0u);
  WriteFromEveryPump(60, &writers_);
  ASSERT_NE(writers_[1]->WriteDdl("test", "ALTER TABLE t ADD COLUMN note VARCHAR(10) DEFAULT 'x'"), 0u);
  ASSERT_NE(writers_[2]->WriteDdl("test", "CREATE TABLE other (k INT PRIMARY KEY)"), 0u);
  std::vector<uint64_t> all = WriteFromEveryPump(60, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  const std::string expected = Expected();
  EXPECT_EQ(Downstream(), expected);
  ASSERT_OK_AND_ASSIGN(std::string note, dest_->QueryValue("SELECT COUNT(*) FROM test.t WHERE note = 'x'"));
  EXPECT_EQ(note, std::to_string(std::count(expected.begin(), expected.end(), '\n')));
  ASSERT_OK_AND_ASSIGN(Checkpoint running, TableCheckpoint());
  EXPECT_FALSE(running.consistent);
  ASSERT_OK(drainer_->Shutdown());
  ASSERT_OK_AND_ASSIGN(Checkpoint stopped, TableCheckpoint());
  EXPECT_TRUE(stopped.consistent);
  EXPECT_GE(stopped.commit_ts, all.back());
  EXPECT_EQ(drainer_->Stats().merge.disorder, 0u);
}

TEST_F(DrainerMysqlTest, FiltersKeepIgnoredTablesOut) {
  StartPumps(2);
  DrainerConfig c = MysqlConfig();
  c.filter.ignore_tables.push_back(replay::TableRule{"test", "other"});
  StartDrainer(c);
  WriteFromEveryPump(0, &writers_);
  ASSERT_NE(writers_[0]->WriteDdl("test", kCreateTable), 0u);
  ASSERT_NE(writers_[1]->WriteDdl("test", "CREATE TABLE other (k INT PRIMARY KEY)"), 0u);
  std::vector<uint64_t> all = WriteFromEveryPump(20, &writers_);
  ASSERT_TRUE(WaitCheckpoint(all.back()));
  EXPECT_EQ(Downstream(), Expected());
  ASSERT_OK_AND_ASSIGN(std::string others,
                       dest_->QueryValue("SELECT COUNT(*) FROM information_schema.tables WHERE "
                                         "table_schema = 'test' AND table_name = 'other'"));
  EXPECT_EQ(others, "0");
}

TEST_F(DrainerMysqlTest, ADownstreamRestartMidSyncIsRetriedAndConverges) {
  StartPumps(2);
  StartDrainer(MysqlConfig());
  WriteFromEveryPump(0, &writers_);
  ASSERT_NE(writers_[0]->WriteDdl("test", kCreateTable), 0u);
  std::vector<uint64_t> first = WriteFromEveryPump(20, &writers_);
  ASSERT_TRUE(WaitCheckpoint(first.back()));
  ASSERT_OK(dest_->Stop());
  std::vector<uint64_t> second = WriteFromEveryPump(30, &writers_);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_LT(drainer_->Stats().checkpoint_ts, second.back());
  ASSERT_OK(dest_->Restart());
  ASSERT_TRUE(WaitCheckpoint(second.back()));
  EXPECT_GT(drainer_->Stats().engine.retries, 0u);
  EXPECT_EQ(Downstream(), Expected());
}

// The real binary, killed with SIGKILL at random points while the pumps are written to; every
// restart resumes from the checkpoint in the downstream. A trigger counts the row changes that
// reached test.t: an upstream transaction applied twice would count its changes twice.
TEST_F(DrainerMysqlTest, KilledAtRandomPointsUnderLoadEachTransactionIsAppliedOnce) {
  ASSERT_OK_AND_ASSIGN(auto plan, binlog::testing::CrashPlanFromEnv(20261203, 10));
  StartPumps(3);
  ASSERT_OK(dest_->Exec("USE test; " + std::string(kCreateTable)));
  ASSERT_OK(dest_->Exec("CREATE TABLE test.ops (k INT PRIMARY KEY, n BIGINT NOT NULL); "
                        "INSERT INTO test.ops VALUES (1, 0)"));
  for (const char* ev : {"INSERT", "UPDATE", "DELETE"}) {
    ASSERT_OK(dest_->Exec(fmt::format("CREATE TRIGGER test.count_{0} AFTER {0} ON test.t FOR EACH ROW "
                                      "UPDATE test.ops SET n = n + 1 WHERE k = 1",
                                      ev)));
  }
  const std::string config = tmp_.Sub("drainer.toml");
  std::ofstream(config) << fmt::format(
      "addr = \"127.0.0.1:0\"\nnode-id = \"drainer-k\"\ndata-dir = \"{}\"\nregistry-dir = \"{}\"\ninitial-commit-ts = 0\n"
      "detect-interval = 0.2\n[syncer]\ndb-type = \"mysql\"\nworker-count = 4\n"
      "[syncer.to]\nhost = \"{}\"\nport = {}\nuser = \"root\"\n",
      tmp_.Sub("drainer"), tmp_.Sub("registry"), dest_->host(), dest_->port());
  WriteFromEveryPump(0, &writers_);
  std::atomic<bool> stop_writing{false};
  std::atomic<uint64_t> last_commit{0};
  std::vector<std::thread> threads;
  for (size_t p = 0; p < writers_.size(); ++p) {
    threads.emplace_back([&, p] {
      while (!stop_writing) {
        uint64_t ts = writers_[p]->WriteRows();
        if (ts == 0) return;
        uint64_t prev = last_commit.load();
        while (prev < ts && !last_commit.compare_exchange_weak(prev, ts)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  uint64_t last_checkpoint = 0;
  for (int t = plan.Begin(); t < plan.End(); ++t) {
    SCOPED_TRACE(plan.Trace(t));
    std::mt19937 rng = plan.Rng(t);
    pid_t pid = binlog::testing::SpawnLogged(
        {binlog::testing::ToolPath("drainer"), "-config", config, "-L", "warn"},
        tmp_.Sub("drainer.log"), true);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1500));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    Result<Checkpoint> cp = TableCheckpoint();
    if (cp.ok()) {
      EXPECT_GE(cp->commit_ts, last_checkpoint) << "the checkpoint went back";
      last_checkpoint = cp->commit_ts;
    }
  }
  stop_writing = true;
  for (auto& th : threads) th.join();
  EXPECT_GT(last_checkpoint, 0u) << "no kill came after the first checkpoint";
  // The last run, to the end.
  pid_t pid = binlog::testing::SpawnLogged(
      {binlog::testing::ToolPath("drainer"), "-config", config, "-L", "warn"},
      tmp_.Sub("drainer.log"), true);
  ASSERT_GT(pid, 0);
  const uint64_t target = last_commit.load();
  bool done = WaitFor([&] {
    Result<Checkpoint> cp = TableCheckpoint();
    return cp.ok() && cp->commit_ts >= target;
  }, std::chrono::seconds(120));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(done) << "the drainer did not catch up";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(Downstream(), Expected());
  uint64_t changes = 0;
  for (const auto& w : writers_) changes += w->changes();
  ASSERT_OK_AND_ASSIGN(std::string counted, dest_->QueryValue("SELECT n FROM test.ops"));
  EXPECT_EQ(counted, std::to_string(changes)) << "row changes applied downstream vs committed";
  ASSERT_OK_AND_ASSIGN(Checkpoint final_cp, TableCheckpoint());
  EXPECT_TRUE(final_cp.consistent);
}

}  // namespace
}  // namespace binlog::drainer::testing
