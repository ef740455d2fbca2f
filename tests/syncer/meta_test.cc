// syncer.meta, and --meta-from over the three backup records: the archive starts with exactly
// the first change after the backup. And the journal sink, what syncer.meta trusts.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>

#include "syncer/syncer_fixture.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;

TEST(MetaTest, RoundTripsAndRefusesBadValues) {
  TempDir dir;
  std::string path = dir.Sub("syncer.meta");
  ASSERT_OK_AND_ASSIGN(auto none, LoadMeta(Env::Posix(), path));
  EXPECT_FALSE(none.has_value());
  BinlogPosition p{"mariadb-bin.000012", 4711, "0-1-1234,1-2-5"};
  ASSERT_OK(SaveMeta(Env::Posix(), path, p));
  ASSERT_OK_AND_ASSIGN(auto back, LoadMeta(Env::Posix(), path));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->name, p.name);
  EXPECT_EQ(back->pos, p.pos);
  EXPECT_EQ(back->gtid, p.gtid);

  ASSERT_OK(WriteFileAtomic(Env::Posix(), path, "binlog-name = \"f.000001\"\nbinlog-pos = 2\n"));
  Result<std::optional<BinlogPosition>> bad = LoadMeta(Env::Posix(), path);
  EXPECT_NE(bad.status().message().find("binlog-pos"), std::string::npos);
  ASSERT_OK(WriteFileAtomic(Env::Posix(), path, "binlog-nmae = \"f.000001\"\n"));
  bad = LoadMeta(Env::Posix(), path);
  EXPECT_NE(bad.status().message().find("binlog-nmae"), std::string::npos);
}

TEST(MetaTest, ComparesPositionsInTheSameBinlog) {
  BinlogPosition a{"mariadb-bin.000009", 500, ""}, b{"mariadb-bin.000010", 4, ""};
  EXPECT_EQ(*ComparePositions(a, b), -1);
  EXPECT_EQ(*ComparePositions(b, a), 1);
  EXPECT_EQ(*ComparePositions(a, a), 0);
  EXPECT_FALSE(ComparePositions(a, BinlogPosition{"other-bin.000010", 4, ""}).has_value());
  EXPECT_FALSE(ComparePositions(a, BinlogPosition{"", 0, "0-1-5"}).has_value());
}

TEST(MetaTest, ParsesMydumperMetadataBothFormats) {
  // The master's lines, not the replica's (mydumper run on a replica writes both).
  ASSERT_OK_AND_ASSIGN(BinlogPosition old,
                       ParseBackupPosition("Started dump at: 2024-01-01 00:00:00\n"
                                           "SHOW MASTER STATUS:\n"
                                           "\tLog: mysql-bin.000002\n"
                                           "\tPos: 930143241\n"
                                           "\tGTID:0-1-77\n\n"
                                           "SHOW SLAVE STATUS:\n"
                                           "\tHost: 10.0.0.1\n"
                                           "\tLog: other-bin.000009\n"
                                           "\tPos: 4\n"
                                           "\tGTID:\n\n"
                                           "Finished dump at: 2024-01-01 00:00:05\n",
                                           "metadata"));
  EXPECT_EQ(old.name, "mysql-bin.000002");
  EXPECT_EQ(old.pos, 930143241u);
  EXPECT_EQ(old.gtid, "0-1-77");
  ASSERT_OK_AND_ASSIGN(BinlogPosition now,
                       ParseBackupPosition("# Started dump at: 2024-01-01 00:00:00\n"
                                           "[config]\nquote_character = BACKTICK\n\n"
                                           "[master]\n"
                                           "# Channel_Name = '' # It can be use to setup "
                                           "replication FOR CHANNEL\n"
                                           "File = mariadb-bin.000003\n"
                                           "Position = 385\n"
                                           "Executed_Gtid_Set = 0-1-9\n",
                                           "metadata"));
  EXPECT_EQ(now.name, "mariadb-bin.000003");
  EXPECT_EQ(now.pos, 385u);
  EXPECT_EQ(now.gtid, "0-1-9");
}

TEST(MetaTest, ParsesDumpsAndXtrabackupInfo) {
  ASSERT_OK_AND_ASSIGN(BinlogPosition d1,
                       ParseBackupPosition("-- MariaDB dump\n"
                                           "CHANGE MASTER TO MASTER_LOG_FILE='m-bin.000004', "
                                           "MASTER_LOG_POS=1234;\n",
                                           "dump.sql"));
  EXPECT_EQ(d1.name, "m-bin.000004");
  EXPECT_EQ(d1.pos, 1234u);
  ASSERT_OK_AND_ASSIGN(BinlogPosition x, ParseBackupPosition("m-bin.000005\t789\t0-1-3,1-1-2\n",
                                                             "xtrabackup_binlog_info"));
  EXPECT_EQ(x.name, "m-bin.000005");
  EXPECT_EQ(x.pos, 789u);
  EXPECT_EQ(x.gtid, "0-1-3,1-1-2");
  ASSERT_OK_AND_ASSIGN(BinlogPosition x2, ParseBackupPosition("m-bin.000006 4\n", "info"));
  EXPECT_EQ(x2.pos, 4u);
  EXPECT_TRUE(x2.gtid.empty());

  Result<BinlogPosition> bad = ParseBackupPosition("hello\nworld\n", "notes.txt");
  EXPECT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_NE(bad.status().message().find("notes.txt"), std::string::npos);
  EXPECT_NE(bad.status().message().find("mydumper"), std::string::npos);
  bad = ParseBackupPosition("-- a dump made without --master-data\nCREATE TABLE t (a INT);\n",
                            "dump.sql");
  EXPECT_FALSE(bad.ok());
  bad = ParseBackupPosition("m-bin.000006 x\n", "info");
  EXPECT_FALSE(bad.ok());
}

class MetaFromTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedMariaDB();
    ASSERT_NE(server_, nullptr);
    ASSERT_OK(
        server_->Exec("DROP DATABASE IF EXISTS bk; CREATE DATABASE bk;"
                      "CREATE TABLE bk.t (id INT PRIMARY KEY, v VARCHAR(10))"));
    for (int i = 1; i <= 5; ++i) {
      ASSERT_OK(server_->Exec(fmt::format("INSERT INTO bk.t VALUES ({0}, 'before{0}')", i)));
    }
  }

  // Writes after the backup, runs the syncer from the backup record, and checks the archive
  // starts with exactly the first change after the backup.
  void ExpectArchiveStartsAfterBackup(const std::string& record) {
    for (int i = 6; i <= 8; ++i) {
      ASSERT_OK(server_->Exec(fmt::format("INSERT INTO bk.t VALUES ({0}, 'after{0}')", i)));
    }
    SyncerConfig c = TestConfig(server_, dir_.path());
    c.meta_from = record;
    ASSERT_OK_AND_ASSIGN(auto running, RunningSyncer::Start(c));
    ASSERT_TRUE(running->WaitCaughtUp(server_)) << running->syncer()->Stats().last_error;
    ASSERT_OK(running->StopAndJoin());
    ASSERT_OK_AND_ASSIGN(auto archive, ReadArchive(c.to.dir));
    auto txns = CheckedTransactions(archive);
    ASSERT_EQ(txns.size(), 3u);
    const pb::Row& first = txns[0].tables(0).mutations(0).row();
    EXPECT_EQ(first.columns(0).int64_value(), 6);
    EXPECT_EQ(first.columns(1).string_value(), "after6");
  }

  MariaDBServer* server_ = nullptr;
  TempDir dir_;
};

TEST_F(MetaFromTest, RealMariadbDumpWithMasterData) {
  std::string dump = dir_.Sub("dump.sql");
  std::string cmd = fmt::format(
      "mariadb-dump --no-defaults -h{} -P{} -uroot --single-transaction --master-data=2 --gtid "
      "bk > {} 2> {}.err",
      server_->host(), server_->port(), dump, dump);
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  ASSERT_OK_AND_ASSIGN(BinlogPosition p, ReadBackupPosition(dump));
  BinlogPosition end = EndOfBinlog(server_);
  EXPECT_EQ(p.name, end.name);
  EXPECT_EQ(p.pos, end.pos);
  EXPECT_FALSE(p.gtid.empty()) << "--gtid writes gtid_slave_pos";
  ExpectArchiveStartsAfterBackup(dump);
}

TEST_F(MetaFromTest, MydumperMetadata) {
  BinlogPosition end = EndOfBinlog(server_);
  ASSERT_OK_AND_ASSIGN(std::string gtid, server_->QueryValue("SELECT @@gtid_binlog_pos"));
  std::string path = dir_.Sub("metadata");
  std::ofstream(path) << "Started dump at: 2024-01-01 00:00:00\nSHOW MASTER STATUS:\n\tLog: "
                      << end.name << "\n\tPos: " << end.pos << "\n\tGTID:" << gtid
                      << "\n\nFinished dump at: 2024-01-01 00:00:01\n";
  ExpectArchiveStartsAfterBackup(path);
}

TEST_F(MetaFromTest, XtrabackupBinlogInfo) {
  BinlogPosition end = EndOfBinlog(server_);
  ASSERT_OK_AND_ASSIGN(std::string gtid, server_->QueryValue("SELECT @@gtid_binlog_pos"));
  std::string path = dir_.Sub("xtrabackup_binlog_info");
  std::ofstream(path) << end.name << "\t" << end.pos << "\t" << gtid << "\n";
  ExpectArchiveStartsAfterBackup(path);
}

// A batch past 1 MiB is compressed in two halves on two threads: the archive still holds every
// record once, in order, and WaitDurable covers them.
TEST(JournalSinkTest, BigBatchComesBackWholeAndInOrder) {
  TempDir dir;
  JournalSinkOptions o;
  o.dir = dir.Sub("archive");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Sink> sink, OpenJournalSink(o));
  std::vector<std::string> payloads;
  std::vector<EncodedBinlog> batch;
  for (int i = 0; i < 40; ++i) {
    pb::Binlog b;
    b.set_tp(pb::COMMIT);
    b.set_commit_ts(1000 + i);
    b.set_ddl_query(
        std::string(static_cast<size_t>(40000 + 977 * i), static_cast<char>('a' + i % 26)));
    payloads.push_back(b.SerializeAsString());
  }
  for (int i = 0; i < 40; ++i) {
    batch.push_back(EncodedBinlog{static_cast<uint64_t>(1000 + i), payloads[static_cast<size_t>(i)],
                                  "f.000001", static_cast<uint64_t>(i), ""});
  }
  ASSERT_OK(sink->Write(batch));
  ASSERT_OK(sink->WaitDurable());
  EXPECT_EQ(sink->LastTS(), 1039u);
  ASSERT_OK(sink->Close());
  ASSERT_OK_AND_ASSIGN(std::vector<pb::Binlog> back, ReadArchive(o.dir));
  ASSERT_EQ(back.size(), payloads.size());
  for (size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i].SerializeAsString(), payloads[i]) << i;
}

}  // namespace
}  // namespace binlog::syncer::testing
