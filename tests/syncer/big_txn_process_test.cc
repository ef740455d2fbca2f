// The syncer binary with big transactions: kill -9 while the archive ends inside one (the
// journal's Open cuts it, the restart writes it again: nothing lost, nothing twice), and its
// peak RSS, read from /proc, not growing with the size of the transaction.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "syncer/crash_util.h"
#include "syncer/parts_util.h"
#include "syncer/pump_fixture.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;
using binlog::testing::ToolPath;

class BigTxnProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedMariaDB();
    ASSERT_NE(server_, nullptr);
    syncer_ = ToolPath("syncer");
    ASSERT_EQ(access(syncer_.c_str(), X_OK), 0) << "build the syncer tool first: " << syncer_;
    ASSERT_OK(
        server_->Exec("DROP DATABASE IF EXISTS bigp; CREATE DATABASE bigp;"
                      "CREATE TABLE bigp.big (id INT PRIMARY KEY, s VARCHAR(1000), n BIGINT);"
                      "CREATE TABLE bigp.small (id INT PRIMARY KEY, v INT)"));
  }
  // One transaction of `rows` rows of about `width` bytes, ids from `from` on.
  Status InsertBig(int from, int rows, int width) {
    return server_->Exec(fmt::format(
        "INSERT INTO bigp.big SELECT seq, CONCAT(seq, REPEAT('y', {})), seq FROM bigp.seq_{}_to_{}",
        width, from, from + rows - 1));
  }
  // Whether the syncer's meta at path has reached end (or a later binlog file).
  static bool MetaAt(const std::string& path, const BinlogPosition& end) {
    auto meta = LoadMeta(Env::Posix(), path);
    if (!meta.ok() || !*meta) return false;
    std::optional<int> cmp = ComparePositions(**meta, end);
    return cmp && *cmp >= 0;
  }
  uint64_t PeakRssThrough(int mib);

  MariaDBServer* server_ = nullptr;
  std::string syncer_;
};

// Each round queues a big transaction (~25 MiB, 6 parts) between small ones, starts the syncer
// and kills it once the archive's newest record is a part before the last; a round where the
// syncer got through first does not count. The restart after each kill reads the cut
// transaction again from its start.
TEST_F(BigTxnProcessTest, KillNineInsideBigTransactionsLosesAndRepeatsNothing) {
  TempDir dir;
  ASSERT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), EndOfBinlog(server_)));
  std::vector<std::string> args = {syncer_, "-config",
                                   WriteJournalConfig(server_, dir.path(), "batch = 50\n", "")};
  const std::string archive = dir.Sub("archive");
  int hits = 0, rounds = 0, small = 0;
  for (; rounds < 12 && hits < 5; ++rounds) {
    for (int i = 0; i < 3; ++i, ++small) {
      ASSERT_OK(server_->Exec(fmt::format("INSERT INTO bigp.small VALUES ({0}, {0})", small)));
    }
    ASSERT_OK(InsertBig(rounds * 1000000, 150000, 150));
    for (int i = 0; i < 3; ++i, ++small) {
      ASSERT_OK(server_->Exec(fmt::format("INSERT INTO bigp.small VALUES ({0}, {0})", small)));
    }
    const BinlogPosition end = EndOfBinlog(server_);
    pid_t pid = SpawnTool(args, dir.Sub("syncer.log"));
    ASSERT_GT(pid, 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && !MetaAt(dir.Sub("syncer.meta"), end)) {
      Result<ArchivedRecord> newest = NewestRecord(archive);
      if (newest.ok() && !segment::IsLastPart(newest->part)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "round " << rounds << " exited by itself; log " << dir.Sub("syncer.log");
    // What the killed process left on disk, not what the poll saw a moment before.
    ASSERT_OK_AND_ASSIGN(ArchivedRecord left, NewestRecord(archive));
    hits += !segment::IsLastPart(left.part);
  }
  std::cout << "kill -9 inside a transaction in " << hits << " of " << rounds << " rounds\n";
  EXPECT_GE(hits, 5);

  RunUntilCaughtUp(args, dir.Sub("syncer.log"), dir.Sub("syncer.meta"), EndOfBinlog(server_), 120);
  ASSERT_OK_AND_ASSIGN(ArchiveChecker checked, CheckArchive(archive));
  const auto& txns = checked.transactions();
  EXPECT_EQ(txns.size(), static_cast<size_t>(rounds) * 7);
  for (size_t i = 3; i < txns.size(); i += 7) {
    EXPECT_GT(txns[i].parts, 3u) << "transaction " << i;
    EXPECT_EQ(txns[i].rows, 150000u) << "transaction " << i;
  }
  EXPECT_EQ(checked.replica().Rows("bigp.big"), SelectAll(server_, "bigp.big"));
  EXPECT_EQ(checked.replica().Rows("bigp.small"), SelectAll(server_, "bigp.small"));
}

// The syncer's peak RSS over one transaction of `mib` MiB of records (rows of ~1 KB), read
// from a fresh process that catches up through it with the default settings.
uint64_t BigTxnProcessTest::PeakRssThrough(int mib) {
  MariaDBServer* server = server_;
  EXPECT_OK(server->Exec("TRUNCATE TABLE bigp.big"));
  const BinlogPosition start = EndOfBinlog(server);
  const int rows = mib * 1024;  // a row's record is ~1 KiB
  EXPECT_OK(server->Exec(fmt::format(
      "INSERT INTO bigp.big SELECT seq, CONCAT(seq, REPEAT('z', 990)), seq FROM bigp.seq_1_to_{}",
      rows)));
  const BinlogPosition end = EndOfBinlog(server);
  TempDir dir;
  EXPECT_OK(SaveMeta(Env::Posix(), dir.Sub("syncer.meta"), start));
  std::vector<std::string> args = {syncer_, "-config",
                                   WriteJournalConfig(server, dir.path(), "", "")};
  pid_t pid = SpawnTool(args, dir.Sub("syncer.log"));
  EXPECT_GT(pid, 0);
  if (pid <= 0) return 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  bool caught_up = false;
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    caught_up = MetaAt(dir.Sub("syncer.meta"), end);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Result<uint64_t> peak = PeakRss(pid);
  kill(pid, SIGTERM);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_TRUE(caught_up) << "log: " << dir.Sub("syncer.log");
  EXPECT_TRUE(peak.ok()) << peak.status().ToString();

  Result<ArchiveChecker> checked = CheckArchive(dir.Sub("archive"), /*replicate=*/false);
  EXPECT_TRUE(checked.ok()) << checked.status().ToString();
  if (checked.ok()) {
    EXPECT_EQ(checked->transactions().size(), 1u);
    if (!checked->transactions().empty()) {
      EXPECT_EQ(checked->transactions()[0].rows, static_cast<uint64_t>(rows));
      EXPECT_GE(checked->transactions()[0].parts, static_cast<uint32_t>(mib / 5));
    }
  }
  return peak.ok() ? *peak : 0;
}

TEST_F(BigTxnProcessTest, PeakRssDoesNotGrowWithTheTransaction) {
  binlog::testing::SmallAsanQuarantineForChildren(16);
  const uint64_t small = PeakRssThrough(64);
  const uint64_t big = PeakRssThrough(256);
  std::cout << "syncer peak RSS: 64 MiB transaction " << (small >> 20) << " MiB, 256 MiB "
            << (big >> 20) << " MiB\n";
  ASSERT_GT(small, 0u);
  // Holding the transaction would add 192 MiB. Both runs reach the queues' bounds (~30 MiB of
  // records); what is left is when a run happens to peak (measured: 0 to 16 MiB apart).
  EXPECT_LT(big, small + (32u << 20));
}

}  // namespace
}  // namespace binlog::syncer::testing
