// Integers, DECIMAL, FLOAT/DOUBLE, BIT and YEAR through a real server's binlog: every archived
// value equals what SELECT returns.
#include <gtest/gtest.h>

#include "syncer/syncer_test_util.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;

std::vector<ColumnCheck> Checks(std::initializer_list<const char*> names,
                                Compare compare = Compare::kText) {
  std::vector<ColumnCheck> out = {{"id", "id"}};
  for (const char* n : names) out.push_back({n, n, compare});
  return out;
}

TEST(DecodeNumericTest, SignedIntegers) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "signed_ints";
  c.columns = "t TINYINT, s SMALLINT, m MEDIUMINT, i INT, b BIGINT";
  c.checks = Checks({"t", "s", "m", "i", "b"});
  c.insert_values =
      "(1, -128, -32768, -8388608, -2147483648, -9223372036854775808),"
      "(2, 127, 32767, 8388607, 2147483647, 9223372036854775807),"
      "(3, 0, 0, 0, 0, 0), (4, -1, -1, -1, -1, -1), (5, NULL, NULL, NULL, NULL, NULL)";
  c.update_set = "t = t DIV 2, s = NULL, m = -m - 1, i = 7, b = b DIV 3";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 6);
  EXPECT_EQ(t.columns(1).mysql_type(), "tinyint");
  EXPECT_EQ(t.columns(3).mysql_type(), "mediumint");
  EXPECT_EQ(t.columns(5).mysql_type(), "bigint");
  EXPECT_FALSE(t.columns(5).is_unsigned());
  EXPECT_TRUE(t.columns(0).is_primary_key());
  EXPECT_FALSE(t.columns(0).is_nullable());
  EXPECT_TRUE(t.columns(1).is_nullable());
  EXPECT_EQ(t.mutations(0).row().columns(5).value_case(), pb::Value::kInt64Value);
}

TEST(DecodeNumericTest, UnsignedIntegers) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "unsigned_ints";
  c.columns =
      "t TINYINT UNSIGNED, s SMALLINT UNSIGNED, m MEDIUMINT UNSIGNED, i INT UNSIGNED, "
      "b BIGINT UNSIGNED";
  c.checks = Checks({"t", "s", "m", "i", "b"});
  c.insert_values =
      "(1, 255, 65535, 16777215, 4294967295, 18446744073709551615),"
      "(2, 0, 0, 0, 0, 0), (3, 128, 32768, 8388608, 2147483648, 9223372036854775808),"
      "(4, NULL, 1, NULL, 1, NULL)";
  c.update_set = "t = 1, b = 18446744073709551614";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 6);
  EXPECT_EQ(t.columns(4).mysql_type(), "int unsigned");
  EXPECT_TRUE(t.columns(5).is_unsigned());
  EXPECT_EQ(t.mutations(0).row().columns(5).value_case(), pb::Value::kUint64Value);
}

TEST(DecodeNumericTest, Decimals) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "decimals";
  c.columns =
      "a DECIMAL(10,2), b DECIMAL(65,30), c DECIMAL(5,0), d DECIMAL(18,9), e DECIMAL(9,9), "
      "f DECIMAL(20,10) UNSIGNED, g DECIMAL(1,0)";
  c.checks = Checks({"a", "b", "c", "d", "e", "f", "g"});
  c.insert_values =
      "(1, -12.34, 12345678901234567890123456789012345.123456789012345678901234567890, "
      "-99999, -123456789.123456789, -0.999999999, 9999999999.9999999999, -9),"
      "(2, 99999999.99, -99999999999999999999999999999999999.999999999999999999999999999999, "
      "0, 0.000000001, 0.000000001, 0, 9),"
      "(3, 0, 0, 1, -0.000000001, 0, 1234.5, 0),"
      "(4, -0.01, -1.5, -1, 1, -0.5, 0.0000000001, NULL),"
      "(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";
  c.update_set = "a = -a, b = b / 3, d = d * 10";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 8);
  EXPECT_EQ(t.columns(1).mysql_type(), "decimal(10,2)");
  EXPECT_EQ(t.columns(2).mysql_type(), "decimal(65,30)");
  EXPECT_EQ(t.columns(6).mysql_type(), "decimal(20,10) unsigned");
  EXPECT_EQ(t.mutations(0).row().columns(1).decimal_value(), "-12.34");
}

TEST(DecodeNumericTest, FloatAndDouble) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "floats";
  c.columns = "f FLOAT, d DOUBLE";
  // SELECT prints FLOAT with 6 significant digits: compare the float widened to a double (as
  // the archive holds it), not the text. DOUBLE text is compared as the double it parses to.
  c.checks = {
      {"id", "id"}, {"f", "CAST(f AS DOUBLE)", Compare::kDouble}, {"d", "d", Compare::kDouble}};
  c.insert_values =
      "(1, 3.14, 2.718281828459045), (2, -3.4e38, -1.7976931348623157e308),"
      "(3, 1.17549e-38, 2.2250738585072014e-308), (4, 0, -0.0), (5, NULL, NULL),"
      "(6, 123456.7, 0.1)";
  c.update_set = "f = f * 2, d = d / 3";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 3);
  EXPECT_EQ(t.columns(1).mysql_type(), "float");
  EXPECT_EQ(t.columns(2).mysql_type(), "double");
  EXPECT_EQ(t.mutations(0).row().columns(2).double_value(), 2.718281828459045);
}

TEST(DecodeNumericTest, BitAndYear) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "bits";
  c.columns = "b1 BIT(1), b7 BIT(7), b9 BIT(9), b64 BIT(64), y YEAR";
  c.checks = {{"id", "id"},
              {"b1", "b1+0", Compare::kBitInteger},
              {"b7", "b7+0", Compare::kBitInteger},
              {"b9", "b9+0", Compare::kBitInteger},
              {"b64", "b64+0", Compare::kBitInteger},
              {"y", "y+0"}};
  c.insert_values =
      "(1, b'1', b'1111111', b'100000001', b'1111111111111111111111111111111111111111111111111111"
      "111111111111', 2155),"
      "(2, b'0', b'0', b'0', b'0', 1901), (3, NULL, b'1010101', 256, 9223372036854775807, 0),"
      "(4, 1, 5, NULL, NULL, NULL)";
  c.update_set = "b7 = b7 >> 1, y = 2024";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 6);
  EXPECT_EQ(t.columns(3).mysql_type(), "bit(9)");
  EXPECT_EQ(t.columns(4).mysql_type(), "bit(64)");
  EXPECT_EQ(t.columns(5).mysql_type(), "year");
  // BIT(64) with the top bit set does not fit int64: its 8 bytes.
  EXPECT_EQ(t.mutations(0).row().columns(4).value_case(), pb::Value::kBytesValue);
  EXPECT_EQ(t.mutations(0).row().columns(5).int64_value(), 2155);
}

}  // namespace
}  // namespace binlog::syncer::testing
