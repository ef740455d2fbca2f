// kill -9 of the real syncer binary at random points while the upstream is written, many times
// over: the archive ends up with every transaction exactly once, in order.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "syncer/crash_util.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;
using binlog::testing::ToolPath;

TEST(CrashTest, KillNineAtRandomPointsLosesAndRepeatsNothing) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  std::string syncer = ToolPath("syncer");
  ASSERT_EQ(access(syncer.c_str(), X_OK), 0) << "build the syncer tool first: " << syncer;
  TempDir dir;
  CrashWorkload workload(server, "crash", 7);
  ASSERT_OK(workload.CreateTables());
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(server)));
  std::string config =
      WriteJournalConfig(server, dir.path(), "batch = 50\n", "max-file-size = \"64KiB\"\n");
  std::vector<std::string> args = {syncer, "-config", config};

  // The workload runs through all the kills, on its own connection.
  workload.Start();
  KillRepeatedly(args, dir.Sub("syncer.log"), 42, /*kills=*/12, /*min_ms=*/60);
  ASSERT_OK(workload.Stop());
  ASSERT_GT(workload.transactions(), 50);

  // A last run catches up, then stops cleanly on SIGTERM.
  RunUntilCaughtUp(args, dir.Sub("syncer.log"), dir.Sub("syncer.meta"), EndOfBinlog(server), 30);

  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(dir.Sub("archive")));
  std::vector<pb::Binlog> archived = CheckedTransactions(archive);
  EXPECT_EQ(archived.size(), static_cast<size_t>(workload.transactions()));
  Replica replica;
  for (const pb::Binlog& b : archived) replica.Apply(b);
  EXPECT_EQ(replica.Rows("crash.a"), SelectAll(server, "crash.a"));
  EXPECT_EQ(replica.Rows("crash.b"), SelectAll(server, "crash.b"));
}

}  // namespace
}  // namespace binlog::syncer::testing
