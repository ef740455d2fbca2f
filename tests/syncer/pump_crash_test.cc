// kill -9 of the real syncer binary at random points while it writes to a pump, many times
// over: what the pump serves is every transaction exactly once, in order. The pump's
// GetSourceState is what lets each restart skip the batch that was durable on the pump but not
// yet in syncer.meta.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "syncer/crash_util.h"
#include "syncer/pump_fixture.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;
using binlog::testing::ToolPath;

std::string WritePumpConfig(MariaDBServer* server, const TempDir& dir, const std::string& pump) {
  std::string path = dir.Sub("syncer.toml");
  std::ofstream out(path);
  out << "log-level = \"info\"\n"
      << "server-id = 778\n"
      << "meta = \"" << dir.Sub("syncer.meta") << "\"\n"
      << "flavor = \"mariadb\"\n"
      << "status-addr = \"\"\n"
      << "heartbeat-interval = \"200ms\"\n"
      << "batch = 20\n"
      << "[from]\nhost = \"" << server->host() << "\"\nport = " << server->port() << "\n"
      << "user = \"" << MariaDBServer::kReplUser << "\"\npassword = \""
      << MariaDBServer::kReplPassword << "\"\n"
      << "[to]\ntype = \"pump\"\npump-addrs = [\"" << pump << "\"]\n";
  return path;
}

TEST(PumpCrashTest, KillNineOfTheSyncerWritingToAPumpLosesAndRepeatsNothing) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  std::string syncer = ToolPath("syncer");
  ASSERT_EQ(access(syncer.c_str(), X_OK), 0) << "build the syncer tool first: " << syncer;
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto pump, StartPump(dir.path()));
  CrashWorkload workload(server, "pcrash", 11);
  ASSERT_OK(workload.CreateTables());
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(server)));
  std::vector<std::string> args = {syncer, "-config",
                                   WritePumpConfig(server, dir, pump->grpc_addr())};

  workload.Start();
  constexpr int kKills = 12;
  KillRepeatedly(args, dir.Sub("syncer.log"), 43, kKills, /*min_ms=*/100);
  ASSERT_OK(workload.Stop());
  ASSERT_GT(workload.transactions(), 50);

  // A last run catches up, then stops cleanly on SIGTERM.
  RunUntilCaughtUp(args, dir.Sub("syncer.log"), dir.Sub("syncer.meta"), EndOfBinlog(server), 60);

  // How often a kill fell between a durable batch and its meta (the pump's answer then decided):
  // informational, it depends on where the kills landed.
  std::ifstream log(dir.Sub("syncer.log"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  size_t ahead = 0;
  for (size_t at = text.find("archive is ahead"); at != std::string::npos;
       at = text.find("archive is ahead", at + 1)) {
    ++ahead;
  }
  std::cout << "restarts that resumed after what the pump held beyond syncer.meta: " << ahead
            << " of " << kKills << "\n";

  auto id = server->QueryValue("SELECT @@server_id");
  ASSERT_OK(id.status());
  pump::SourceState held = pump->pump()->GetSourceState(static_cast<uint32_t>(std::stoul(*id)));
  ASSERT_TRUE(held.held.has_value());
  ASSERT_OK_AND_ASSIGN(auto served, PullUntil(pump->grpc_addr(), held.held->commit_ts));
  std::vector<pb::Binlog> archived = CheckedTransactions(served);
  EXPECT_EQ(archived.size(), static_cast<size_t>(workload.transactions()));
  Replica replica;
  for (const pb::Binlog& b : archived) replica.Apply(b);
  EXPECT_EQ(replica.Rows("pcrash.a"), SelectAll(server, "pcrash.a"));
  EXPECT_EQ(replica.Rows("pcrash.b"), SelectAll(server, "pcrash.b"));
}

}  // namespace
}  // namespace binlog::syncer::testing
