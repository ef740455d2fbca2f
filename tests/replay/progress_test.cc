// The progress record in a real destination: what one run writes, the next reads back; what no
// run writes (an edited table) is Corruption naming the table, not a resume from a wrong place.
#include "replay/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/mariadb_server.h"
#include "testutil/testutil.h"

namespace binlog::replay {
namespace {

using ::binlog::testing::MariaDBServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(server_, MariaDBServer::Start());
    ASSERT_OK(server_->Exec(kCreateProgressTables));
  }

  Result<Progress> Read(const std::string& task) {
    return ReadProgress(task, [this](std::string_view sql) { return server_->Query(sql); });
  }

  static pb::Binlog Commit(uint64_t ts) {
    pb::Binlog b;
    b.set_tp(pb::COMMIT);
    b.set_commit_ts(static_cast<int64_t>(ts));
    return b;
  }

  std::unique_ptr<MariaDBServer> server_;
};

TEST_F(ProgressTest, WhatOneRunRecordsTheNextReadsBack) {
  const pb::Binlog a = Commit(1000), b = Commit(1003), c = Commit(1007), d = Commit(2000);
  const pb::Binlog* group[] = {&a, &c, &b};  // a group's top is its highest, wherever it is
  const pb::Binlog* alone[] = {&d};
  ASSERT_OK(server_->Exec(AdvanceLowSql("t1", 900)));
  ASSERT_OK(server_->Exec(AppliedRecordSql("t1", group)));
  ASSERT_OK(server_->Exec(AppliedRecordSql("t1", alone)));
  ASSERT_OK(server_->Exec(DdlUnderWaySql("t1", 1500)));
  ASSERT_OK(server_->Exec(AppliedRecordSql("other", alone)));

  ASSERT_OK_AND_ASSIGN(Progress p, Read("t1"));
  EXPECT_EQ(p.resume.low_ts, 900u);
  EXPECT_EQ(p.ddl_ts, 1500u);
  EXPECT_THAT(p.resume.applied, ElementsAre(1000, 1003, 1007, 2000));

  // Recording the same group twice is a duplicate key: how a retry learns it committed.
  EXPECT_FALSE(server_->Exec(AppliedRecordSql("t1", group)).ok());

  // Raising the low ts drops the records below it; the low ts never goes back.
  ASSERT_OK(server_->Exec(AdvanceLowSql("t1", 1007)));
  ASSERT_OK(server_->Exec(AdvanceLowSql("t1", 950)));
  ASSERT_OK_AND_ASSIGN(p, Read("t1"));
  EXPECT_EQ(p.resume.low_ts, 1007u);
  EXPECT_THAT(p.resume.applied, ElementsAre(2000));
  EXPECT_TRUE(p.resume.Contains(1003));
  EXPECT_FALSE(p.resume.Contains(1500));

  ASSERT_OK_AND_ASSIGN(Progress none, Read("never-ran"));
  EXPECT_EQ(none.resume.low_ts, 0u);
  EXPECT_TRUE(none.resume.applied.empty());
}

TEST_F(ProgressTest, AnEditedRecordIsCorruptionNamingTheTable) {
  const pb::Binlog a = Commit(1000), b = Commit(1003);
  const pb::Binlog* group[] = {&a, &b};
  ASSERT_OK(server_->Exec(AppliedRecordSql("t1", group)));

  ASSERT_OK(server_->Exec("UPDATE tidb_binlog.replay_applied SET below_ts = '3,x'"));
  Result<Progress> p = Read("t1");
  ASSERT_TRUE(p.status().IsCorruption()) << p.status().ToString();
  EXPECT_THAT(p.status().ToString(), HasSubstr("tidb_binlog.replay_applied holds \"x\""));

  ASSERT_OK(server_->Exec("UPDATE tidb_binlog.replay_applied SET below_ts = '1004'"));
  p = Read("t1");
  ASSERT_TRUE(p.status().IsCorruption()) << p.status().ToString();
  EXPECT_THAT(p.status().ToString(), HasSubstr("below_ts"));
}

// Split mode's position inside a transaction in parts: written in a step's transaction, read
// back by the next run, cleared by the commit of the transaction's end.
TEST_F(ProgressTest, ThePositionInsideATransactionInPartsIsReadBackAndCleared) {
  ASSERT_OK(server_->Exec(AdvanceLowSql("t1", 900)));
  ASSERT_OK(server_->Exec(InsideSql("t1", PartPosition{1000, 3, 250})));
  ASSERT_OK(server_->Exec(InsideSql("t1", PartPosition{1000, 4, 0})));
  ASSERT_OK(server_->Exec(AdvanceLowSql("t1", 950)));  // the low ts moves on beside it
  ASSERT_OK_AND_ASSIGN(Progress p, Read("t1"));
  EXPECT_EQ(p.resume.low_ts, 950u);
  EXPECT_EQ(p.resume.inside, (PartPosition{1000, 4, 0}));
  EXPECT_TRUE(p.resume.ContainsPart(1000, 3));
  EXPECT_FALSE(p.resume.ContainsPart(1000, 4));
  EXPECT_FALSE(p.resume.Contains(1000));

  ASSERT_OK(server_->Exec(ClearInsideSql("t1", 999)));  // another transaction's: nothing
  ASSERT_OK_AND_ASSIGN(p, Read("t1"));
  EXPECT_EQ(p.resume.inside.commit_ts, 1000u);
  ASSERT_OK(server_->Exec(ClearInsideSql("t1", 1000)));
  ASSERT_OK_AND_ASSIGN(p, Read("t1"));
  EXPECT_EQ(p.resume.inside, PartPosition{});
  EXPECT_EQ(p.resume.low_ts, 950u);
}

// A replay_progress an older build made (no part_* columns) gets them, its rows kept; a table
// with some of them only is Corruption.
TEST_F(ProgressTest, AnOlderProgressTableIsUpgradedInPlace) {
  ASSERT_OK(server_->Exec(
      "DROP TABLE tidb_binlog.replay_progress; CREATE TABLE tidb_binlog.replay_progress (task "
      "VARCHAR(128) NOT NULL PRIMARY KEY, low_ts BIGINT UNSIGNED NOT NULL DEFAULT 0, ddl_ts "
      "BIGINT UNSIGNED NOT NULL DEFAULT 0, updated TIMESTAMP(6) NOT NULL DEFAULT "
      "CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)) ENGINE = InnoDB; INSERT INTO "
      "tidb_binlog.replay_progress (task, low_ts, ddl_ts) VALUES ('old', 1234, 1200)"));
  EXPECT_FALSE(Read("old").ok()) << "read the part_* columns of a table without them";
  mysql::ConnectOptions o;
  o.host = server_->host();
  o.port = server_->port();
  ASSERT_OK_AND_ASSIGN(auto conn, mysql::Connection::Open(o));
  ASSERT_OK(EnsureProgressTables(conn.get()));
  ASSERT_OK(EnsureProgressTables(conn.get()));  // once is enough
  ASSERT_OK_AND_ASSIGN(Progress p, Read("old"));
  EXPECT_EQ(p.resume.low_ts, 1234u);
  EXPECT_EQ(p.ddl_ts, 1200u);
  EXPECT_EQ(p.resume.inside, PartPosition{});
  // What an older build writes, naming its columns, still goes in.
  ASSERT_OK(
      server_->Exec("INSERT INTO tidb_binlog.replay_progress (task, low_ts) VALUES ('old', "
                    "1300) ON DUPLICATE KEY UPDATE low_ts = VALUES(low_ts)"));
  ASSERT_OK_AND_ASSIGN(p, Read("old"));
  EXPECT_EQ(p.resume.low_ts, 1300u);

  ASSERT_OK(server_->Exec("ALTER TABLE tidb_binlog.replay_progress DROP COLUMN part_row"));
  Status s = EnsureProgressTables(conn.get());
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_THAT(s.ToString(), HasSubstr("tidb_binlog.replay_progress has some of the columns"));
}

}  // namespace
}  // namespace binlog::replay
