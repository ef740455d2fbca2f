// CHAR/VARCHAR/TEXT/BLOB in several charsets, ENUM/SET, JSON and GEOMETRY through a real
// server's binlog: every value equals what SELECT returns, with the column's charset.
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

TEST(DecodeStringTest, CharAndVarcharInCharsets) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "chars";
  // c255 is 1020 bytes in utf8mb4: its length prefix takes 2 bytes, and its maximum length is
  // split across the metadata's type byte.
  c.columns =
      "c CHAR(10) CHARACTER SET utf8mb4, c255 CHAR(255) CHARACTER SET utf8mb4, "
      "v VARCHAR(300) CHARACTER SET utf8mb4, vs VARCHAR(20) CHARACTER SET utf8mb4, "
      "l VARCHAR(20) CHARACTER SET latin1, a CHAR(5) CHARACTER SET ascii, "
      "bn BINARY(4), vb VARBINARY(300)";
  c.checks = Checks({"c", "c255", "v", "vs", "a", "bn", "vb"});
  // SELECT converts latin1 to the connection's utf8mb4; the archive keeps the stored bytes.
  c.checks.push_back({"l", "HEX(l)", Compare::kHex});
  c.insert_values =
      "(1, 'héllo', REPEAT('日', 255), REPEAT('🎉', 300), '', 'caf\xc3\xa9', 'abc', 'ab', "
      "X'00FF00'),"
      "(2, '', '', '', 'x', '', '', X'00000000', ''),"
      "(3, 'trailing  ', 'a', 'Ωmega', 'multi ✓ byte', 'plain', 'z', X'01020304', "
      "REPEAT(X'AB', 300)),"
      "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";
  c.update_set = "c = 'ünïcödé', v = CONCAT(v, '…'), bn = X'FFFFFFFF'";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 9);
  EXPECT_EQ(t.columns(1).mysql_type(), "char(10)");
  EXPECT_EQ(t.columns(2).mysql_type(), "char(255)");
  EXPECT_EQ(t.columns(3).mysql_type(), "varchar(300)");
  EXPECT_EQ(t.columns(1).charset(), "utf8mb4");
  EXPECT_EQ(t.columns(5).charset(), "latin1");
  EXPECT_EQ(t.columns(7).mysql_type(), "binary(4)");
  EXPECT_EQ(t.columns(7).charset(), "binary");
  EXPECT_EQ(t.columns(8).mysql_type(), "varbinary(300)");
  const pb::Row& row = t.mutations(0).row();
  EXPECT_EQ(row.columns(1).string_value(), "héllo");
  EXPECT_EQ(row.columns(5).value_case(), pb::Value::kBytesValue) << "latin1 stays bytes";
  EXPECT_EQ(row.columns(6).value_case(), pb::Value::kStringValue) << "ascii is UTF-8";
  EXPECT_EQ(row.columns(7).bytes_value(), std::string("ab\0\0", 4)) << "BINARY pads with 0";
}

TEST(DecodeStringTest, TextAndBlobIncludingLarge) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "blobs";
  c.columns =
      "tt TINYTEXT, t TEXT, mt MEDIUMTEXT, lt LONGTEXT, tb TINYBLOB, b BLOB, mb MEDIUMBLOB, "
      "lb LONGBLOB";
  c.checks = Checks({"tt", "t", "mt", "lt", "tb", "b", "mb", "lb"});
  c.insert_values =
      "(1, '', '', '', '', '', '', '', ''),"
      "(2, REPEAT('x', 255), REPEAT('ü', 30000), REPEAT('日本', 100000), "
      "REPEAT('🎉', 300000), REPEAT(X'00', 255), REPEAT(X'FE', 65535), "
      "REPEAT(X'01', 1000000), REPEAT(X'7F', 2000000)),"
      "(3, 'short', 'text', 'medium', 'long', X'00', X'0102', X'03', X'04'),"
      "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";
  c.update_set = "t = CONCAT(t, 'ß'), lb = REPEAT(X'AA', 1500000)";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 9);
  EXPECT_EQ(t.columns(1).mysql_type(), "tinytext");
  EXPECT_EQ(t.columns(2).mysql_type(), "text");
  EXPECT_EQ(t.columns(3).mysql_type(), "mediumtext");
  EXPECT_EQ(t.columns(4).mysql_type(), "longtext");
  EXPECT_EQ(t.columns(5).mysql_type(), "tinyblob");
  EXPECT_EQ(t.columns(8).mysql_type(), "longblob");
  EXPECT_EQ(t.mutations(1).row().columns(8).bytes_value().size(), 2000000u);
}

TEST(DecodeStringTest, EnumAndSetAsNames) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "enums";
  std::string many;  // an ENUM over 255 members is stored in 2 bytes
  for (int i = 0; i < 300; ++i)
    many += (i ? "," : "") + std::string("'m") + std::to_string(i) + "'";
  c.columns = "e ENUM('a','b','ç''s'), e2 ENUM(" + many +
              "), s SET('x','y','z'), s64 SET('a0','a1','a2','a3','a4','a5','a6','a7','a8',"
              "'a9','b0','b1','b2','b3','b4','b5','b6','b7','b8','b9','c0','c1','c2','c3','c4',"
              "'c5','c6','c7','c8','c9','d0','d1','d2','d3','d4','d5','d6','d7','d8','d9','e0',"
              "'e1','e2','e3','e4','e5','e6','e7','e8','e9','f0','f1','f2','f3','f4','f5','f6',"
              "'f7','f8','f9','g0','g1','g2','g3')";
  c.checks = Checks({"e", "e2", "s", "s64"});
  c.insert_values =
      "(1, 'a', 'm0', '', 'a0'), (2, 'ç''s', 'm299', 'x,y,z', 'a0,g3'),"
      "(3, '', 'm255', 'z', 'b5,c6,d7'), (4, NULL, NULL, NULL, NULL)";
  c.update_set = "e = 'b', s = 'x,z'";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 5);
  EXPECT_EQ(t.columns(1).mysql_type(), "enum('a','b','ç''s')");
  EXPECT_EQ(t.columns(3).mysql_type(), "set('x','y','z')");
  EXPECT_EQ(t.mutations(1).row().columns(1).string_value(), "ç's");
}

// Members of an ENUM/SET in another charset are stored in it: its values stay bytes, but the
// type's text is a protobuf string, which must be UTF-8 or the record does not parse.
TEST(DecodeStringTest, EnumAndSetMembersInOtherCharsetsAreUtf8InTheType) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "enums_latin1";
  c.columns =
      "e ENUM('é','ü','€') CHARACTER SET latin1, s SET('à','ö') CHARACTER SET latin1, "
      "g ENUM('Ω','λ') CHARACTER SET greek";
  c.checks = {{"id", "id"},
              {"e", "HEX(e)", Compare::kHex},
              {"s", "HEX(s)", Compare::kHex},
              {"g", "HEX(g)", Compare::kHex}};
  c.insert_values = "(1, 'é', 'à,ö', 'Ω'), (2, '€', '', 'λ'), (3, NULL, NULL, NULL)";
  c.update_set = "e = 'ü', s = 'ö'";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 4);
  EXPECT_EQ(t.columns(1).mysql_type(), "enum('é','ü','€')");
  EXPECT_EQ(t.columns(2).mysql_type(), "set('à','ö')");
  EXPECT_EQ(t.columns(3).mysql_type(), "enum('Ω','λ')");
  EXPECT_EQ(t.columns(1).charset(), "latin1");
  EXPECT_EQ(t.mutations(0).row().columns(1).bytes_value(), "\xE9") << "the value stays latin1";
}

TEST(DecodeStringTest, JsonAndGeometry) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  TypeCase c;
  c.table = "json_geo";
  c.columns = "j JSON, g GEOMETRY";
  c.checks = {{"id", "id"}, {"j", "j"}, {"g", "HEX(g)", Compare::kHex}};
  c.insert_values =
      "(1, '{\"a\": [1, 2.5, \"ü\"], \"b\": null}', ST_GeomFromText('POINT(1 2)')),"
      "(2, '[]', ST_GeomFromText('LINESTRING(0 0, 1 1, 2 3)')), (3, NULL, NULL)";
  c.update_set = "j = JSON_SET(j, '$.c', 'new')";
  c.session = "SET SESSION sql_mode = DEFAULT";
  pb::TableChanges t = RunTypeCase(server, c);
  ASSERT_EQ(t.columns_size(), 3);
  EXPECT_EQ(t.columns(1).mysql_type(), "longtext") << "MariaDB's JSON is a LONGTEXT";
  EXPECT_EQ(t.columns(2).mysql_type(), "geometry");
  EXPECT_EQ(t.mutations(0).row().columns(1).value_case(), pb::Value::kStringValue);
}

}  // namespace
}  // namespace binlog::syncer::testing
