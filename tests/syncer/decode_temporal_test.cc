// DATE, TIME, DATETIME and TIMESTAMP with fractional seconds, zero dates and range ends,
// through a real server's binlog. TIMESTAMP is archived in UTC: the test sessions use
// time_zone '+00:00', so SELECT prints the same text.
#include <gtest/gtest.h>

#include "syncer/syncer_test_util.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;

std::vector<ColumnCheck> Checks(std::initializer_list<const char*> names) {
  std::vector<ColumnCheck> out = {{"id", "id"}};
  for (const char* n : names) out.push_back({n, n});
  return out;
}

TEST(DecodeTemporalTest, DateAndDatetime) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "datetimes";
  c.columns = "d DATE, dt DATETIME, dt1 DATETIME(1), dt3 DATETIME(3), dt6 DATETIME(6)";
  c.checks = Checks({"d", "dt", "dt1", "dt3", "dt6"});
  c.insert_values =
      "(1, '2024-02-29', '2024-02-29 23:59:59', '2024-02-29 23:59:59.9', "
      "'2024-02-29 23:59:59.123', '2024-02-29 23:59:59.999999'),"
      "(2, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.0', "
      "'0000-00-00 00:00:00.000', '0000-00-00 00:00:00.000000'),"
      "(3, '1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.1', "
      "'1000-01-01 00:00:00.001', '1000-01-01 00:00:00.000001'),"
      "(4, '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.9', "
      "'9999-12-31 23:59:59.999', '9999-12-31 23:59:59.999999'),"
      "(5, '2024-00-15', '2024-01-00 12:00:00', NULL, NULL, NULL),"
      "(6, NULL, NULL, NULL, NULL, NULL)";
  c.update_set = "d = d + INTERVAL 1 DAY, dt6 = '1970-01-01 00:00:00.5'";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 6);
  EXPECT_EQ(t.columns(1).mysql_type(), "date");
  EXPECT_EQ(t.columns(2).mysql_type(), "datetime");
  EXPECT_EQ(t.columns(5).mysql_type(), "datetime(6)");
  EXPECT_EQ(t.mutations(0).row().columns(5).string_value(), "2024-02-29 23:59:59.999999");
}

TEST(DecodeTemporalTest, TimeWithFractionsAndNegatives) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "times";
  c.columns = "t TIME, t1 TIME(1), t2 TIME(2), t3 TIME(3), t4 TIME(4), t6 TIME(6)";
  c.checks = Checks({"t", "t1", "t2", "t3", "t4", "t6"});
  c.insert_values =
      "(1, '838:59:59', '838:59:59.9', '838:59:59.99', '838:59:59.999', '838:59:59.9999', "
      "'838:59:59.999999'),"
      "(2, '-838:59:59', '-838:59:59.9', '-838:59:59.99', '-838:59:59.999', "
      "'-838:59:59.9999', '-838:59:59.999999'),"
      "(3, '00:00:00', '-00:00:00.1', '-00:00:00.01', '-00:00:00.001', '-00:00:01.0001', "
      "'-00:00:00.000001'),"
      "(4, '-01:02:03', '12:34:56.7', '-12:34:56.78', '12:34:56.789', '-23:59:59.5', "
      "'100:00:00.000100'),"
      "(5, NULL, NULL, NULL, NULL, NULL, NULL)";
  c.update_set = "t = '-00:00:01', t6 = '-00:00:00.5'";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 7);
  EXPECT_EQ(t.columns(1).mysql_type(), "time");
  EXPECT_EQ(t.columns(4).mysql_type(), "time(3)");
}

TEST(DecodeTemporalTest, TimestampInUtc) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "timestamps";
  c.columns =
      "ts TIMESTAMP NULL, ts2 TIMESTAMP(2) NULL, ts3 TIMESTAMP(3) NULL, "
      "ts6 TIMESTAMP(6) NULL";
  c.checks = Checks({"ts", "ts2", "ts3", "ts6"});
  c.session = "SET SESSION sql_mode = '', time_zone = '+00:00'";
  c.insert_values =
      "(1, '1970-01-01 00:00:01', '1970-01-01 00:00:01.01', '1970-01-01 00:00:01.001', "
      "'1970-01-01 00:00:01.000001'),"
      "(2, '2038-01-19 03:14:07', '2038-01-19 03:14:07.99', '2038-01-19 03:14:07.999', "
      "'2038-01-19 03:14:07.999999'),"
      "(3, '0000-00-00 00:00:00', '0000-00-00 00:00:00.00', '0000-00-00 00:00:00', "
      "'0000-00-00 00:00:00'),"
      "(4, '2024-06-30 12:00:00', '2000-02-29 00:00:00.5', '2024-06-30 12:00:00.25', "
      "'1999-12-31 23:59:59.123456'),"
      "(5, NULL, NULL, NULL, NULL)";
  c.update_set = "ts = '2001-09-09 01:46:40', ts6 = '2001-09-09 01:46:40.000001'";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 5);
  EXPECT_EQ(t.columns(1).mysql_type(), "timestamp");
  EXPECT_EQ(t.columns(4).mysql_type(), "timestamp(6)");
}

// A session in another time zone writes the same instant: the archive still says UTC.
TEST(DecodeTemporalTest, TimestampFromAnotherZoneIsUtc) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  ASSERT_OK(server->Exec("CREATE DATABASE IF NOT EXISTS types"));
  ASSERT_OK(server->Exec("DROP TABLE IF EXISTS types.ts_zone"));
  ASSERT_OK(server->Exec("CREATE TABLE types.ts_zone (id INT PRIMARY KEY, ts TIMESTAMP(3))"));
  BinlogPosition from = EndOfBinlog(server);
  ASSERT_OK(server->Exec("SET SESSION time_zone = '+05:30'"));
  ASSERT_OK(server->Exec("INSERT INTO types.ts_zone VALUES (1, '2024-01-01 05:30:00.250')"));
  ASSERT_OK(server->Exec("SET SESSION time_zone = '+00:00'"));
  ASSERT_OK_AND_ASSIGN(auto items, ReadTransactions(server, from, 1));
  ASSERT_EQ(items.size(), 1u);
  const pb::Row& row = items[0].tables(0).mutations(0).row();
  EXPECT_EQ(row.columns(1).string_value(), "2024-01-01 00:00:00.250");
}

}  // namespace
}  // namespace binlog::syncer::testing
