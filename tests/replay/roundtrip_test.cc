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

}  // namespace
}  // namespace binlog::replay::testing
