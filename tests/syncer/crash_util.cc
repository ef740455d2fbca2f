#include "syncer/crash_util.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <random>

#include "common/env.h"
#include "syncer/pump_fixture.h"

namespace binlog::syncer::testing {

using binlog::testing::MariaDBConnection;

CrashWorkload::CrashWorkload(binlog::testing::MariaDBServer* server, std::string db, uint32_t seed)
    : server_(server), db_(std::move(db)), seed_(seed) {}

Status CrashWorkload::CreateTables() {
  return server_->Exec(
      fmt::format("DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0};"
                  "CREATE TABLE {0}.a (id INT PRIMARY KEY, v VARCHAR(20));"
                  "CREATE TABLE {0}.b (id INT PRIMARY KEY, n BIGINT)",
                  db_));
}

void CrashWorkload::Start() {
  thread_ = std::thread([this] {
    auto conn = MariaDBConnection::Open(server_->host(), server_->port(), "root", "");
    if (!conn.ok()) {
      status_ = conn.status();
      return;
    }
    std::mt19937 rng(seed_);
    for (int id = 0; !stop_; ++id) {
      int rows = 1 + static_cast<int>(rng() % 20);
      std::string sql = fmt::format("BEGIN; INSERT INTO {}.a VALUES ", db_);
      for (int r = 0; r < rows; ++r) {
        sql += fmt::format("{}({}, 'v{}')", r ? "," : "", id * 100 + r, r);
      }
      sql += fmt::format(
          "; INSERT INTO {0}.b VALUES ({1}, {1}); UPDATE {0}.b SET n = n + 1 WHERE id = {2}; "
          "COMMIT",
          db_, id, id / 2);
      status_ = (*conn)->Exec(sql);
      if (!status_.ok()) return;
      txns_++;
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 4));
    }
  });
}

Status CrashWorkload::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return status_;
}

std::string WriteJournalConfig(binlog::testing::MariaDBServer* server, const std::string& dir,
                               const std::string& top, const std::string& to) {
  using binlog::testing::MariaDBServer;
  std::string path = dir + "/syncer.toml";
  std::ofstream out(path);
  out << "log-level = \"info\"\n"
      << "server-id = 777\n"
      << "meta = \"" << dir << "/syncer.meta\"\n"
      << "flavor = \"mariadb\"\n"
      << "status-addr = \"\"\n"
      << "heartbeat-interval = \"200ms\"\n"
      << top << "[from]\nhost = \"" << server->host() << "\"\nport = " << server->port() << "\n"
      << "user = \"" << MariaDBServer::kReplUser << "\"\npassword = \""
      << MariaDBServer::kReplPassword << "\"\n"
      << "[to]\ntype = \"journal\"\ndir = \"" << dir << "/archive\"\n"
      << to;
  return path;
}

void KillRepeatedly(const std::vector<std::string>& args, const std::string& log, uint32_t seed,
                    int kills, int min_ms) {
  std::mt19937 rng(seed);
  for (int round = 0; round < kills; ++round) {
    pid_t pid = SpawnTool(args, log);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(min_ms + rng() % 400));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "round " << round << " exited by itself: " << WEXITSTATUS(status) << "; log " << log;
  }
}

void RunUntilCaughtUp(const std::vector<std::string>& args, const std::string& log,
                      const std::string& meta_path, const BinlogPosition& end,
                      int timeout_seconds) {
  pid_t pid = SpawnTool(args, log);
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool caught_up = false;
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    auto meta = LoadMeta(Env::Posix(), meta_path);
    caught_up = meta.ok() && *meta && (*meta)->name == end.name && (*meta)->pos >= end.pos;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  ASSERT_TRUE(caught_up) << "the syncer did not catch up; log: " << log;
}

}  // namespace binlog::syncer::testing
