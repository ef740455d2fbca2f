// kill -9 of the real syncer binary, applying to a downstream MariaDB, at random points while
// the upstream is written: after a last run the downstream equals the upstream, with no
// transaction applied twice (a table without a primary key and a counter would show it, and a
// row inserted twice by key would stop the syncer) and none missing; syncer.meta ends where
// the downstream's position does.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string_view>
#include <utility>

#include "syncer/crash_util.h"
#include "syncer/mysql_fixture.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;
using binlog::testing::ToolPath;

TEST(MysqlCrashTest, KillNineAtRandomPointsAppliesEachTransactionOnce) {
  MariaDBServer* up = SharedMariaDB();
  ASSERT_NE(up, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MariaDBServer> down, MariaDBServer::Start());
  std::string syncer = ToolPath("syncer");
  ASSERT_EQ(access(syncer.c_str(), X_OK), 0) << "build the syncer tool first: " << syncer;
  TempDir dir;
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(up)));
  // Small batches and groups: more downstream transactions and positions for a kill to cut.
  std::string text = SeedStyleConfig(up, down.get(), dir.path(), 301);
  for (auto [from, to] : {std::pair{"batch = 1000", "batch = 7"},
                          std::pair{"worker-count = 16", "worker-count = 4"}}) {
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, std::string_view(from).size(), to);
  }
  std::string config = dir.Sub("syncer.toml");
  std::ofstream(config) << text;
  std::vector<std::string> args = {syncer, "-config", config};

  ApplyWorkload work(up, "crash_down");
  ASSERT_OK(work.CreateTables());
  work.Start(/*pause_ms=*/4);
  KillRepeatedly(args, dir.Sub("syncer.out"), 7, /*kills=*/12, /*min_ms=*/150);
  ASSERT_OK(work.Stop());
  ASSERT_GT(work.transactions(), 100);

  RunUntilCaughtUp(args, dir.Sub("syncer.out"), dir.Sub("syncer.meta"), EndOfBinlog(up), 60);
  ExpectSameDatabase(up, down.get(), "crash_down");
  ExpectPositionsAt(down.get(), 301, dir.Sub("syncer.meta"), EndOfBinlog(up));
}

}  // namespace
}  // namespace binlog::syncer::testing
