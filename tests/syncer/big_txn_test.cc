// Big transactions through the syncer into a journal, from a real server: parts with one ts, in
// order, nothing between them, the rows equal upstream's; small transactions around them keep
// their order; a stop inside one and the restart after it lose and repeat nothing; a restart
// from a meta behind the archive skips a transaction in parts as a whole.
#include <gtest/gtest.h>

#include <atomic>

#include "syncer/parts_util.h"
#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;

class BigTxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedMariaDB();
    ASSERT_NE(server_, nullptr);
    db_ = std::string("b_") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_OK(server_->Exec(
        fmt::format("DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0};"
                    "CREATE TABLE {0}.big (id INT PRIMARY KEY, s VARCHAR(200), n BIGINT);"
                    "CREATE TABLE {0}.small (id INT PRIMARY KEY, v INT)",
                    db_)));
    config_ = TestConfig(server_, dir_.path());
    config_.batch = 50;
    ASSERT_OK(SaveMeta(Env::Posix(), config_.meta, EndOfBinlog(server_)));
  }
  std::string T(const std::string& table) { return db_ + "." + table; }
  // One transaction of `rows` inserted rows of about `width` bytes each, from id `from` on.
  Status InsertBig(int from, int rows, int width = 20) {
    return server_->Exec(fmt::format(
        "INSERT INTO {} SELECT seq, CONCAT('row ', seq, ' ', REPEAT('x', {})), seq * 3 FROM "
        "{}.seq_{}_to_{}",
        T("big"), width, db_, from, from + rows - 1));
  }
  Status Small(int id) {
    return server_->Exec(fmt::format("INSERT INTO {} VALUES ({}, {})", T("small"), id, id));
  }
  // The archive checked (parts in sequence, each transaction once, ts growing) and its rows
  // equal to upstream's.
  ArchiveChecker CheckAgainstUpstream() {
    Result<ArchiveChecker> c = CheckArchive(config_.to.dir);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return ArchiveChecker();
    EXPECT_EQ(c->replica().Rows(T("big")), SelectAll(server_, T("big")));
    EXPECT_EQ(c->replica().Rows(T("small")), SelectAll(server_, T("small")));
    return std::move(*c);
  }

  MariaDBServer* server_ = nullptr;
  TempDir dir_;
  std::string db_;
  SyncerConfig config_;
};

TEST_F(BigTxnTest, PartsArriveWholeInOrderBetweenSmallTransactions) {
  SyncerOptions options;
  options.part_bytes = 64 << 10;
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_, options));
  ASSERT_OK(Small(1));
  ASSERT_OK(Small(2));
  // 30k rows, and changes of another table inside: parts name the table each holds.
  ASSERT_OK(server_->Exec(fmt::format(
      "BEGIN; INSERT INTO {0} SELECT seq, CONCAT('r', seq), seq FROM {2}.seq_1_to_15000; "
      "INSERT INTO {1} VALUES (100, 100); UPDATE {0} SET n = -n WHERE id <= 5000; "
      "INSERT INTO {0} SELECT seq, 'second', seq FROM {2}.seq_15001_to_30000; "
      "DELETE FROM {1} WHERE id = 1; COMMIT",
      T("big"), T("small"), db_)));
  ASSERT_OK(Small(3));
  ASSERT_OK(InsertBig(40000, 3000));  // a second big one right after the small one
  ASSERT_OK(Small(4));
  ASSERT_TRUE(running->WaitCaughtUp(server_, 60)) << running->syncer()->Stats().last_error;
  SyncerStats st = running->syncer()->Stats();
  ASSERT_OK(running->StopAndJoin());
  EXPECT_EQ(st.transactions, 6u) << "a transaction in parts counts once";
  EXPECT_EQ(st.rows, 2u + 30000 + 2 + 5000 + 3000 + 2);

  ArchiveChecker archive = CheckAgainstUpstream();
  const auto& txns = archive.transactions();
  ASSERT_EQ(txns.size(), 6u);
  for (size_t i : {0, 1, 3, 5}) EXPECT_EQ(txns[i].parts, 0u) << "small transaction " << i;
  EXPECT_GT(txns[2].parts, 10u);
  EXPECT_EQ(txns[2].rows, 30000u + 2 + 5000);
  EXPECT_GT(txns[4].parts, 1u);
  EXPECT_EQ(txns[4].rows, 3000u);
  ASSERT_OK_AND_ASSIGN(auto meta, LoadMeta(Env::Posix(), config_.meta));
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->pos, txns.back().source.pos());
}

// Over the 32 MiB a journal record holds, with the default part size.
TEST_F(BigTxnTest, TransactionOver32MiBArrivesInParts) {
  ASSERT_OK(Small(1));
  ASSERT_OK(InsertBig(1, 300000, 100));
  ASSERT_OK(Small(2));
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  ASSERT_TRUE(running->WaitCaughtUp(server_, 120)) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());

  uint64_t bytes = 0;
  ASSERT_OK(ForEachRecord(config_.to.dir, [&](ArchivedRecord& r) {
    if (segment::IsPart(r.part)) bytes += r.bytes;
  }));
  EXPECT_GT(bytes, 32u << 20);
  ArchiveChecker archive = CheckAgainstUpstream();
  const auto& txns = archive.transactions();
  ASSERT_EQ(txns.size(), 3u);
  EXPECT_EQ(txns[1].rows, 300000u);
  EXPECT_GE(txns[1].parts, bytes / kDefaultPartBytes);
  EXPECT_LT(txns[1].largest_record, kDefaultPartBytes + (64 << 10));
  EXPECT_EQ(txns[0].parts + txns[2].parts, 0u);
}

// Stopped (the syncer object destroyed) after some parts of a transaction were durable: the
// meta stays where the transaction starts, the restart writes it again, whole, once.
TEST_F(BigTxnTest, StopInsideATransactionAndRestart) {
  ASSERT_OK(Small(1));
  ASSERT_OK(Small(2));
  BinlogPosition before_big = EndOfBinlog(server_);
  ASSERT_OK(InsertBig(1, 120000));  // ~650 parts of 8 KiB: more than the queues hold
  ASSERT_OK(Small(3));

  SyncerOptions options;
  options.part_bytes = 8 << 10;
  std::atomic<Syncer*> target{nullptr};
  std::atomic<bool> stopped{false};
  options.on_durable = [&](const BinlogPosition&) {
    Syncer* s = target.load();
    if (s != nullptr && s->Stats().rows > 2 && !stopped.exchange(true)) s->Stop();
  };
  {
    ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_, options));
    target = running->syncer();
    ASSERT_TRUE(running->WaitFor([&](const SyncerStats&) { return stopped.load(); }, 60));
    ASSERT_OK(running->StopAndJoin());
    SyncerStats st = running->syncer()->Stats();
    EXPECT_EQ(st.transactions, 2u) << "the stop came after the big transaction ended";
    EXPECT_GT(st.rows, 2u) << "no part of it was durable";
    ASSERT_OK_AND_ASSIGN(auto meta, LoadMeta(Env::Posix(), config_.meta));
    EXPECT_EQ(meta->name, before_big.name);
    EXPECT_EQ(meta->pos, before_big.pos) << "the meta points inside a transaction";
    ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(config_.to.dir));
    EXPECT_EQ(archive.size(), 2u) << "the parts written of it are gone";
  }
  options.on_durable = nullptr;
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_, options));
  ASSERT_TRUE(running->WaitCaughtUp(server_, 60)) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());
  ArchiveChecker archive = CheckAgainstUpstream();
  const auto& txns = archive.transactions();
  ASSERT_EQ(txns.size(), 4u);
  EXPECT_GT(txns[2].parts, 400u);
  EXPECT_EQ(txns[2].rows, 120000u);
  EXPECT_GT(txns[2].ts, txns[1].ts);
}

// A crash between the archive write and the meta's, with a transaction in parts the newest
// in the archive: the restart resumes after its last part (the source there is where it ends;
// its other parts name where it starts), and writes nothing of it again.
TEST_F(BigTxnTest, ArchiveAheadOfMetaResumesAfterATransactionInParts) {
  SyncerOptions options;
  options.part_bytes = 16 << 10;
  ASSERT_OK(Small(1));
  BinlogPosition after_first = EndOfBinlog(server_);
  ASSERT_OK(InsertBig(1, 20000));
  {
    ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_, options));
    ASSERT_TRUE(running->WaitCaughtUp(server_, 60)) << running->syncer()->Stats().last_error;
    ASSERT_OK(running->StopAndJoin());
  }
  ASSERT_OK(SaveMeta(Env::Posix(), config_.meta, after_first));  // as if its writes were lost
  ASSERT_OK(InsertBig(100000, 20000));
  ASSERT_OK(Small(3));
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_, options));
  ASSERT_TRUE(running->WaitCaughtUp(server_, 60)) << running->syncer()->Stats().last_error;
  ASSERT_OK(running->StopAndJoin());
  EXPECT_EQ(running->syncer()->Stats().transactions, 2u);
  ArchiveChecker archive = CheckAgainstUpstream();
  const auto& txns = archive.transactions();
  ASSERT_EQ(txns.size(), 4u);
  EXPECT_GT(txns[1].parts, 1u);
  EXPECT_GT(txns[2].parts, 1u);
  ASSERT_OK_AND_ASSIGN(auto meta, LoadMeta(Env::Posix(), config_.meta));
  EXPECT_EQ(meta->pos, txns.back().source.pos());
}

// A row is never cut: one larger than a journal record (32 MiB) still stops the syncer, with
// its transaction named, and nothing of it archived.
TEST_F(BigTxnTest, ARowLargerThanARecordIsRefusedWithItsTransaction) {
  ASSERT_OK(
      server_->Exec(fmt::format("CREATE TABLE {} (id INT PRIMARY KEY, b LONGBLOB)", T("blob"))));
  ASSERT_OK(SaveMeta(Env::Posix(), config_.meta, EndOfBinlog(server_)));
  ASSERT_OK(Small(1));
  ASSERT_OK(
      server_->Exec(fmt::format("INSERT INTO {} VALUES (1, REPEAT('b', 33 << 20))", T("blob"))));
  ASSERT_OK_AND_ASSIGN(std::string gtid, server_->QueryValue("SELECT @@gtid_binlog_pos"));
  ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(config_));
  Status s = running->Join(60);
  EXPECT_TRUE(s.IsUnsupported()) << s.ToString();
  EXPECT_NE(s.message().find("gtid " + gtid), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("larger than a journal record holds"), std::string::npos)
      << s.ToString();
  ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(config_.to.dir));
  EXPECT_EQ(archive.size(), 1u);
}

}  // namespace
}  // namespace binlog::syncer::testing
