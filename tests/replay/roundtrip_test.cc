// MariaDB A -> syncer -> journal -> replay engine -> MariaDB B: every table equal afterwards.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>

#include "replay/replay_test_util.h"

namespace binlog::replay::testing {
namespace {

using RoundTripTest = TwoServersTest;

TEST_F(RoundTripTest, KeysOfEveryKindAndADdlInTheMiddle) {
  ASSERT_OK(
      a_->Exec("CREATE DATABASE rt; "
               "CREATE TABLE rt.pk (id INT PRIMARY KEY, v VARCHAR(20), n INT); "
               "CREATE TABLE rt.uk (u VARCHAR(20) NOT NULL, v INT, UNIQUE KEY (u)); "
               "CREATE TABLE rt.composite (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b)); "
               "CREATE TABLE rt.nokey (x INT, y VARCHAR(10))"));
  ASSERT_OK(
      a_->Exec("INSERT INTO rt.pk VALUES (1, 'one', 1), (2, 'two', NULL), (3, 'three', 3); "
               "INSERT INTO rt.uk VALUES ('a', 1), ('B', 2); "
               "INSERT INTO rt.composite VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3); "
               "INSERT INTO rt.nokey VALUES (1, 'dup'), (1, 'dup'), (2, NULL)"));
  ASSERT_OK(a_->Exec(
      "UPDATE rt.pk SET v = 'uno' WHERE id = 1; UPDATE rt.pk SET id = 10 WHERE id = 2; "
      "DELETE FROM rt.pk WHERE id = 3; UPDATE rt.uk SET u = 'c' WHERE u = 'a'; "
      "UPDATE rt.composite SET v = v * 10; DELETE FROM rt.composite WHERE a = 2; "
      "DELETE FROM rt.nokey WHERE x = 1 LIMIT 1; UPDATE rt.nokey SET y = 'set' WHERE x = 2"));
  ASSERT_OK(a_->Exec("ALTER TABLE rt.pk ADD COLUMN extra INT NOT NULL DEFAULT 7"));
  ASSERT_OK(
      a_->Exec("INSERT INTO rt.pk VALUES (20, 'twenty', 20, 21); "
               "UPDATE rt.pk SET extra = 8 WHERE id = 1"));
  std::vector<pb::Binlog> binlogs = Archive();
  ASSERT_GT(binlogs.size(), 10u);
  ASSERT_OK_AND_ASSIGN(EngineStats st, Replay(binlogs, b_.get(), 4, false));
  EXPECT_EQ(st.ddl, 6u);
  for (const char* t : {"pk", "uk", "composite", "nokey"})
    ExpectSameTable(a_.get(), b_.get(), "rt", t);
  // What was applied is recorded: a second replay of the same task applies nothing.
  ASSERT_OK_AND_ASSIGN(EngineStats again, Replay(binlogs, b_.get(), 4, false));
  EXPECT_EQ(again.transactions, 0u);
  EXPECT_GT(again.already, 10u);
  // rt.nokey has two equal rows: a transaction applied twice would show there.
  for (const char* t : {"pk", "uk", "composite", "nokey"})
    ExpectSameTable(a_.get(), b_.get(), "rt", t);
}

// A native replica stops when a row an UPDATE or DELETE changes is not there; so does the
// replay, naming the transaction, and applies none of its group. Safe mode applies it anyway.
TEST_F(RoundTripTest, ARowTheDestinationLacksStopsTheReplay) {
  ASSERT_OK(b_->Exec("CREATE DATABASE miss; CREATE TABLE miss.t (id INT PRIMARY KEY, v INT)"));
  ASSERT_OK(a_->Exec("CREATE DATABASE miss; CREATE TABLE miss.t (id INT PRIMARY KEY, v INT); "
                     "INSERT INTO miss.t VALUES (1, 1), (2, 2)"));
  from_ = *binlog::testing::EndOfServerBinlog(a_.get());
  ASSERT_OK(b_->Exec("INSERT INTO miss.t VALUES (1, 1)"));  // row 2 is missing downstream
  ASSERT_OK(a_->Exec("INSERT INTO miss.t VALUES (3, 3); UPDATE miss.t SET v = 20 WHERE id = 2; "
                     "INSERT INTO miss.t VALUES (4, 4)"));
  std::vector<pb::Binlog> binlogs = Archive();
  Result<EngineStats> stopped = Replay(binlogs, b_.get(), 1, false, "strict");
  ASSERT_FALSE(stopped.ok());
  const std::string message = stopped.status().ToString();
  EXPECT_NE(message.find("has 0 of the 1 rows"), std::string::npos) << message;
  EXPECT_NE(message.find("miss.t"), std::string::npos) << message;
  EXPECT_NE(message.find("UPDATE `miss`.`t` SET `v` = 20 WHERE `id` = 2"), std::string::npos)
      << message;
  auto rows = b_->Query("SELECT COUNT(*) FROM miss.t WHERE id = 4");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0][0].value_or(""), "0") << "a change after the update was applied";

  ASSERT_OK_AND_ASSIGN(EngineStats safe, Replay(binlogs, b_.get(), 1, true, "safe"));
  EXPECT_EQ(safe.transactions, 3u);
  ExpectSameTable(a_.get(), b_.get(), "miss", "t");
}

// An UPDATE that leaves an ON UPDATE CURRENT_TIMESTAMP column as it was (same second) must not
// let the destination stamp it with its own clock.
TEST_F(RoundTripTest, AnOnUpdateTimestampKeepsTheSourcesValue) {
  ASSERT_OK(a_->Exec(
      "CREATE DATABASE stamp; CREATE TABLE stamp.t (id INT PRIMARY KEY, v INT, "
      "ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP); "
      "SET timestamp = 1700000000; INSERT INTO stamp.t (id, v) VALUES (1, 1); "
      "UPDATE stamp.t SET v = 2 WHERE id = 1; SET timestamp = DEFAULT"));
  std::vector<pb::Binlog> binlogs = Archive();
  ASSERT_OK_AND_ASSIGN(EngineStats st, Replay(binlogs, b_.get(), 1, false));
  EXPECT_EQ(st.rows, 2u);
  ExpectSameTable(a_.get(), b_.get(), "stamp", "t");
}

// A parent's key changes upstream and ON UPDATE CASCADE moves its children there; the replay's
// UPDATE of the key does the same downstream (a DELETE would run ON DELETE instead).
TEST_F(RoundTripTest, AParentsKeyChangeCascadesAsUpstream) {
  const char* schema =
      "CREATE DATABASE fam; CREATE TABLE fam.p (id INT PRIMARY KEY, v INT); "
      "CREATE TABLE fam.c (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES fam.p (id) "
      "ON UPDATE CASCADE ON DELETE CASCADE)";
  ASSERT_OK(a_->Exec(schema));
  ASSERT_OK(a_->Exec("INSERT INTO fam.p VALUES (1, 1), (2, 2); INSERT INTO fam.c VALUES (10, 1), "
                     "(11, 1), (12, 2); UPDATE fam.p SET id = 5 WHERE id = 1"));
  std::vector<pb::Binlog> binlogs = Archive();
  ASSERT_OK_AND_ASSIGN(EngineStats st, Replay(binlogs, b_.get(), 4, false));
  ExpectSameTable(a_.get(), b_.get(), "fam", "p");
  ExpectSameTable(a_.get(), b_.get(), "fam", "c");
}

// The server computes generated columns: statements name none of them, also when a row is
// found by all its columns.
TEST_F(RoundTripTest, GeneratedColumnsAreLeftToTheServer) {
  ASSERT_OK(a_->Exec(
      "CREATE DATABASE gen; "
      "CREATE TABLE gen.pk (id INT PRIMARY KEY, a INT, v INT AS (a + 1) VIRTUAL, "
      "s INT AS (a * 2) STORED, UNIQUE KEY (s)); "
      "CREATE TABLE gen.nokey (a INT, b VARCHAR(10), v VARCHAR(20) AS (CONCAT(b, '!')) VIRTUAL)"));
  ASSERT_OK(a_->Exec(
      "INSERT INTO gen.pk (id, a) VALUES (1, 10), (2, 20), (3, 30); "
      "INSERT INTO gen.nokey (a, b) VALUES (1, 'x'), (1, 'x'), (2, 'y'); "
      "UPDATE gen.pk SET a = 11 WHERE id = 1; UPDATE gen.pk SET id = 4 WHERE id = 2; "
      "DELETE FROM gen.pk WHERE id = 3; UPDATE gen.nokey SET b = 'z' WHERE a = 2; "
      "DELETE FROM gen.nokey WHERE a = 1 LIMIT 1"));
  std::vector<pb::Binlog> binlogs = Archive();
  ASSERT_OK_AND_ASSIGN(EngineStats st, Replay(binlogs, b_.get(), 2, false));
  EXPECT_EQ(st.rows, 11u);
  ExpectSameTable(a_.get(), b_.get(), "gen", "pk");
  ExpectSameTable(a_.get(), b_.get(), "gen", "nokey");
}

// A backup taken after the window's first changes: safe mode takes the DDL whose result the
// destination already holds as applied and overwrites the rows; without it the DDL is refused.
TEST_F(RoundTripTest, SafeModeReplaysOverWhatABackupAlreadyHolds) {
  ASSERT_OK(
      a_->Exec("CREATE DATABASE sm; CREATE TABLE sm.t (id INT PRIMARY KEY, v INT); "
               "INSERT INTO sm.t VALUES (1, 1), (2, 2); ALTER TABLE sm.t ADD COLUMN w INT; "
               "UPDATE sm.t SET v = 10, w = 1 WHERE id = 1; INSERT INTO sm.t VALUES (3, 3, 3)"));
  std::vector<pb::Binlog> binlogs = Archive();
  ASSERT_OK(
      b_->Exec("CREATE DATABASE sm; CREATE TABLE sm.t (id INT PRIMARY KEY, v INT, w INT); "
               "INSERT INTO sm.t VALUES (1, 10, 1), (2, 2, NULL)"));
  Result<EngineStats> refused = Replay(binlogs, b_.get(), 2, false, "plain");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().ToString().find("exists"), std::string::npos)
      << refused.status().ToString();
  ASSERT_OK_AND_ASSIGN(EngineStats st, Replay(binlogs, b_.get(), 2, true, "safe"));
  EXPECT_EQ(st.ddl, 3u);
  ExpectSameTable(a_.get(), b_.get(), "sm", "t");
}

// Updates by an integer key become one UPDATE ... SET c = CASE id WHEN ... END per table and
// set of columns in a group: every value must land as its own UPDATE would have put it.
TEST_F(RoundTripTest, UpdatesMergedIntoOneCaseLandExactly) {
  ASSERT_OK(a_->Exec(
      "CREATE DATABASE cu; CREATE TABLE cu.t (id BIGINT UNSIGNED PRIMARY KEY, "
      "l VARCHAR(10) CHARACTER SET latin1, u VARCHAR(10) CHARACTER SET utf8mb4, b VARBINARY(8), "
      "d DECIMAL(65, 30), dt DATETIME(6), tm TIME(6), ts TIMESTAMP(3) NULL, k INT)"));
  std::string sql;
  for (int i = 0; i < 40; ++i) {
    sql += fmt::format(
        "INSERT INTO cu.t VALUES ({}, 'a', 'a', x'00', 0, '2000-01-01', '00:00:00', "
        "'2000-01-01 00:00:00', 0); ",
        18446744073709551615ull - i);
  }
  ASSERT_OK(a_->Exec(sql + "DO 0"));
  sql = "START TRANSACTION; ";  // one transaction: neighbouring updates merge
  for (int i = 0; i < 40; ++i) {
    sql += fmt::format(
        "UPDATE cu.t SET l = 'é{0}', u = '😀{0}', b = x'00ff{0:02x}00', "
        "d = '-12345678901234567890123456789012345.12345678901234567890123456789{1}', "
        "dt = '2024-02-29 23:59:59.99999{1}', tm = '-837:59:5{1}.{0}', "
        "ts = '2001-01-01 00:00:01.{0:03}', k = {0} WHERE id = {2}; ",
        i, i % 10, 18446744073709551615ull - i);
  }
  ASSERT_OK(a_->Exec(sql + "COMMIT"));
  for (int i = 0; i < 40; ++i) {  // single-row transactions on different rows merge too
    ASSERT_OK(a_->Exec(
        fmt::format("UPDATE cu.t SET k = k + 1000 WHERE id = {}", 18446744073709551615ull - i)));
  }
  std::vector<pb::Binlog> binlogs = Archive();
  constexpr const char* kUpdates =
      "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = "
      "'COM_UPDATE'";
  ASSERT_OK_AND_ASSIGN(std::string before, b_->QueryValue(kUpdates));
  ASSERT_OK_AND_ASSIGN(EngineStats st, Replay(binlogs, b_.get(), 1, false));
  EXPECT_EQ(st.rows, 120u);
  ExpectSameTable(a_.get(), b_.get(), "cu", "t");
  ASSERT_OK_AND_ASSIGN(std::string after, b_->QueryValue(kUpdates));
  EXPECT_LE(std::stoull(after) - std::stoull(before), 10u) << "80 updates, merged";
}

}  // namespace
}  // namespace binlog::replay::testing
