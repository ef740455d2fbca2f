// kill -9 of the real syncer binary at random points while the upstream is written, many times
// over: the archive ends up with every transaction exactly once, in order.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::MariaDBConnection;
using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;
using binlog::testing::ToolPath;

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string WriteConfig(MariaDBServer* server, const TempDir& dir) {
  std::string path = dir.Sub("syncer.toml");
  std::ofstream out(path);
  out << "log-level = \"info\"\n"
      << "server-id = 777\n"
      << "meta = \"" << dir.Sub("syncer.meta") << "\"\n"
      << "flavor = \"mariadb\"\n"
      << "status-addr = \"\"\n"
      << "heartbeat-interval = \"200ms\"\n"
      << "batch = 50\n"
      << "[from]\nhost = \"" << server->host() << "\"\nport = " << server->port() << "\n"
      << "user = \"" << MariaDBServer::kReplUser << "\"\npassword = \""
      << MariaDBServer::kReplPassword << "\"\n"
      << "[to]\ntype = \"journal\"\ndir = \"" << dir.Sub("archive") << "\"\n"
      << "max-file-size = \"64KiB\"\n";
  return path;
}

TEST(CrashTest, KillNineAtRandomPointsLosesAndRepeatsNothing) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  std::string syncer = ToolPath("syncer");
  ASSERT_EQ(access(syncer.c_str(), X_OK), 0) << "build the syncer tool first: " << syncer;
  TempDir dir;
  ASSERT_OK(
      server->Exec("DROP DATABASE IF EXISTS crash; CREATE DATABASE crash;"
                   "CREATE TABLE crash.a (id INT PRIMARY KEY, v VARCHAR(20));"
                   "CREATE TABLE crash.b (id INT PRIMARY KEY, n BIGINT)"));
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(server)));
  std::string config = WriteConfig(server, dir);
  std::vector<std::string> args = {syncer, "-config", config};

  // The workload runs through all the kills, on its own connection.
  std::atomic<bool> stop{false};
  std::atomic<int> txns{0};
  Status workload_status;
  std::thread workload([&] {
    auto conn = MariaDBConnection::Open(server->host(), server->port(), "root", "");
    if (!conn.ok()) {
      workload_status = conn.status();
      return;
    }
    std::mt19937 rng(7);
    for (int id = 0; !stop; ++id) {
      int rows = 1 + static_cast<int>(rng() % 20);
      std::string sql = "BEGIN; INSERT INTO crash.a VALUES ";
      for (int r = 0; r < rows; ++r) {
        sql += fmt::format("{}({}, 'v{}')", r ? "," : "", id * 100 + r, r);
      }
      sql += fmt::format(
          "; INSERT INTO crash.b VALUES ({0}, {0}); UPDATE crash.b SET n = n + 1 "
          "WHERE id = {1}; COMMIT",
          id, id / 2);
      Status s = (*conn)->Exec(sql);
      if (!s.ok()) {
        workload_status = s;
        return;
      }
      txns++;
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 4));
    }
  });

  std::mt19937 rng(42);
  constexpr int kKills = 12;
  for (int round = 0; round < kKills; ++round) {
    pid_t pid = Spawn(args, dir.Sub("syncer.log"));
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(60 + rng() % 400));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "round " << round << " exited by itself: " << WEXITSTATUS(status);
  }
  stop = true;
  workload.join();
  ASSERT_OK(workload_status);
  ASSERT_GT(txns.load(), 50);

  // A last run catches up, then stops cleanly on SIGTERM.
  BinlogPosition end = EndOfBinlog(server);
  pid_t pid = Spawn(args, dir.Sub("syncer.log"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool caught_up = false;
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    auto meta = LoadMeta(Env::Posix(), dir.Sub("syncer.meta"));
    caught_up = meta.ok() && *meta && (*meta)->name == end.name && (*meta)->pos >= end.pos;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  ASSERT_TRUE(caught_up) << "the syncer did not catch up; log: " << dir.Sub("syncer.log");

  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(dir.Sub("archive")));
  std::vector<pb::Binlog> archived = CheckedTransactions(archive);
  EXPECT_EQ(archived.size(), static_cast<size_t>(txns.load()));
  Replica replica;
  for (const pb::Binlog& b : archived) replica.Apply(b);
  EXPECT_EQ(replica.Rows("crash.a"), SelectAll(server, "crash.a"));
  EXPECT_EQ(replica.Rows("crash.b"), SelectAll(server, "crash.b"));
}

}  // namespace
}  // namespace binlog::syncer::testing
