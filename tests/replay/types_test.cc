// The type matrix: every common column type with its edge values and NULL, written on A
// (inserted, every row updated, a key changed, rows deleted), archived by the syncer and
// replayed into B through the engine; every table the same afterwards, byte for byte
// (CHECKSUM TABLE). Each type is in three tables: with an id primary key (rows found by it),
// without any key (rows found by every column of the before image, so each value must compare
// equal to itself as a literal) and, where the type can be one, as the primary key itself.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "replay/replay_test_util.h"

namespace binlog::replay::testing {
namespace {

using binlog::testing::MariaDBConnection;
using binlog::testing::MariaDBOptions;

struct Column {
  std::string name;
  std::string type;                 // as CREATE TABLE spells it
  std::vector<std::string> values;  // SQL expressions A's session takes, NULL among them
  bool keyable = true;              // can be a primary key as it is
};

struct Group {
  std::string name;
  std::vector<Column> columns;
};

std::string Hex(std::string_view bytes) {
  std::string out = "X'";
  for (char c : bytes) out += fmt::format("{:02X}", static_cast<unsigned char>(c));
  return out + "'";
}

std::string Bytes(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) out.push_back(static_cast<char>(i));
  return out;
}

// Every byte a string literal escapes, in one value.
const std::string kSpecial =
    "CONCAT('q''b\\\\s\\n\\r\\t\"', CHAR(0 USING utf8mb4), CHAR(26 USING utf8mb4), 'end')";

std::vector<Group> Matrix() {
  const std::string nines35(35, '9'), nines30(30, '9');
  const std::string dmax = nines35 + "." + nines30;
  return {
      {"ints",
       {{"ti", "TINYINT", {"-128", "127", "0", "-1", "NULL"}},
        {"tiu", "TINYINT UNSIGNED", {"0", "255", "1", "NULL"}},
        {"si", "SMALLINT", {"-32768", "32767", "NULL"}},
        {"siu", "SMALLINT UNSIGNED", {"0", "65535", "NULL"}},
        {"mi", "MEDIUMINT", {"-8388608", "8388607", "NULL"}},
        {"miu", "MEDIUMINT UNSIGNED", {"0", "16777215", "NULL"}},
        {"i", "INT", {"-2147483648", "2147483647", "0", "NULL"}},
        {"iu", "INT UNSIGNED", {"0", "4294967295", "NULL"}},
        {"bi", "BIGINT", {"-9223372036854775808", "9223372036854775807", "0", "-1", "NULL"}},
        {"biu", "BIGINT UNSIGNED", {"0", "18446744073709551615", "9223372036854775808", "NULL"}}}},
      {"nums",
       {{"d65",
         "DECIMAL(65,30)",
         {dmax, "-" + dmax, "0", "-0.000000000000000000000000000001", "-12345.678", "NULL"}},
        {"d10", "DECIMAL(10,0)", {"9999999999", "-9999999999", "0", "NULL"}},
        {"d52", "DECIMAL(5,2)", {"-999.99", "999.99", "0.01", "NULL"}},
        {"f",
         "FLOAT",
         {"1.1", "-3.4028234e38", "3.4028234e38", "1.1754944e-38", "0", "16777217", "-0.5",
          "NULL"}},
        {"dbl",
         "DOUBLE",
         {"1.1", "1e308", "-1.7976931348623157e308", "2.2250738585072014e-308", "5e-324",
          "0.1e0 + 0.2e0", "123456789012345678", "NULL"}}}},
      {"bits",
       {{"b1", "BIT(1)", {"b'0'", "b'1'", "NULL"}},
        {"b13", "BIT(13)", {"b'1111111111111'", "0", "b'1000000000001'", "NULL"}},
        {"b64",
         "BIT(64)",
         {"b'1" + std::string(63, '0') + "'", "0xFFFFFFFFFFFFFFFF", "0x7FFFFFFFFFFFFFFF", "1", "0",
          "NULL"}},
        {"y", "YEAR", {"0", "1901", "2155", "2000", "NULL"}}}},
      {"temporal",
       {{"d",
         "DATE",
         {"'0000-00-00'", "'1000-01-01'", "'9999-12-31'", "'2024-02-29'", "'2020-00-00'", "NULL"}},
        {"t0", "TIME", {"'-838:59:59'", "'838:59:59'", "'00:00:00'", "NULL"}},
        {"t1", "TIME(1)", {"'-00:00:00.1'", "'-01:00:00.9'", "'838:59:58.9'", "NULL"}},
        {"t3", "TIME(3)", {"'-00:00:00.001'", "'-838:59:58.999'", "'12:00:00.5'", "NULL"}},
        {"t6",
         "TIME(6)",
         {"'-838:59:59.000000'", "'838:59:59.000000'", "'-00:00:00.000001'", "'-12:34:56.500000'",
          "'12:34:56.123456'", "NULL"}},
        {"dt0", "DATETIME", {"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'", "NULL"}},
        {"dt3", "DATETIME(3)", {"'0000-00-00 00:00:00.000'", "'2024-02-29 12:34:56.789'", "NULL"}},
        {"dt6",
         "DATETIME(6)",
         {"'1000-01-01 00:00:00.000000'", "'9999-12-31 23:59:59.999999'", "'0000-00-00 00:00:00'",
          "'2000-01-01 00:00:00.000001'", "NULL"}},
        // A's session is at +05:30: these are 1970-01-01 00:00:01 and 2038-01-19 03:14:07 UTC.
        {"ts0", "TIMESTAMP NULL", {"'1970-01-01 05:30:01'", "'2038-01-19 08:44:07'", "NULL"}},
        {"ts6",
         "TIMESTAMP(6) NULL",
         {"'1970-01-01 05:30:01.000000'", "'2038-01-19 08:44:07.999999'", "'0000-00-00 00:00:00'",
          "'2024-06-01 12:00:00.5'", "NULL"}}}},
      {"texts",
       {{"c", "CHAR(10)", {"'a'", "'😀🎉'", "''", "'x  '", "NULL"}},
        {"vc",
         "VARCHAR(300)",
         {"'😀 4-byte 𝄞 ü'", kSpecial, "'trailing  '", "REPEAT('ü', 300)", "''", "NULL"}},
        {"tx", "TEXT", {"'𝄞𝄞𝄞'", kSpecial, "REPEAT('😀', 5000)", "NULL"}, false},
        {"lc", "CHAR(10) CHARACTER SET latin1", {Hex("\x80\xff"), "'a'", "''", "NULL"}},
        {"lv",
         "VARCHAR(200) CHARACTER SET latin1",
         {Hex(Bytes(0x80, 0xff)), Hex("caf\xe9"), "'plain'", "NULL"}},
        {"lt", "TEXT CHARACTER SET latin1", {Hex(Bytes(0x80, 0xff)), "''", "NULL"}, false}}},
      {"binaries",
       {{"bn",
         "BINARY(8)",
         {"X'0102000000000000'", "X'0000000000000000'", "X'FFFFFFFFFFFFFFFF'", "''", "NULL"}},
        {"vb", "VARBINARY(300)", {"X'00'", "X'000100'", "''", "X'FF00FF'", "NULL"}},
        {"bl", "BLOB", {Hex(Bytes(0, 255)), "''", "X'00'", "NULL"}, false},
        {"tb", "TINYBLOB", {"X'00FF'", "NULL"}, false},
        {"mb", "MEDIUMBLOB", {"REPEAT(X'00FF27', 100000)", "X'5C'", "NULL"}, false}}},
      {"docs",
       {{"j",
         "JSON",
         {"'{\"a\": [1, 2.5, \"x\\\\\"y\", null, true]}'", "'[]'", "'\"😀\"'", "NULL"},
         false},
        {"e", "ENUM('a','b','c d','é')", {"'a'", "'c d'", "'é'", "NULL"}},
        {"s", "SET('x','y','z')", {"''", "'x,z'", "'x,y,z'", "NULL"}}}},
      {"geometry",
       {{"g",
         "GEOMETRY",
         {"ST_GeomFromText('LINESTRING(0 0,1 1,2 1)')", "ST_GeomFromText('POINT(1 2)', 4326)",
          "NULL"},
         false},
        {"p", "POINT", {"ST_GeomFromText('POINT(-1.5 1e10)')", "NULL"}, false},
        {"pg",
         "POLYGON",
         {"ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))')", "NULL"},
         false}}},
      {"ids",
       {{"u",
         "UUID",
         {"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
          "'123e4567-e89b-12d3-a456-426614174000'", "NULL"}},
        {"ip",
         "INET6",
         {"'::'", "'::1'", "'2001:db8::ff00:42:8329'", "'::ffff:192.0.2.1'", "NULL"}}}},
  };
}

size_t Rows(const Group& g) {
  size_t n = 0;
  for (const Column& c : g.columns) n = std::max(n, c.values.size());
  return n;
}

const std::string& Value(const Column& c, size_t row) { return c.values[row % c.values.size()]; }

// The group's two tables on A: rows, every row updated to the next row's values, an id changed,
// every third row deleted.
void WriteGroup(MariaDBConnection* a, const Group& g) {
  const size_t n = Rows(g);
  std::string cols, defs;
  for (const Column& c : g.columns) {
    cols += ", `" + c.name + "`";
    defs += ", `" + c.name + "` " + c.type;
  }
  for (const char* kind : {"pk", "nokey"}) {
    const std::string t = fmt::format("tm.`{}_{}`", g.name, kind);
    const bool pk = std::string_view(kind) == "pk";
    ASSERT_OK(a->Exec(
        fmt::format("CREATE TABLE {} (id INT NOT NULL{}{})", t, pk ? " PRIMARY KEY" : "", defs)));
    std::string insert = fmt::format("INSERT INTO {} (id{}) VALUES ", t, cols);
    for (size_t r = 0; r < n; ++r) {
      insert += fmt::format("{}({}", r > 0 ? ", " : "", r + 1);
      for (const Column& c : g.columns) insert += ", " + Value(c, r);
      insert += ")";
    }
    ASSERT_OK(a->Exec(insert));
    // One transaction of updates for the keyed table, one per statement for the other.
    std::string updates = pk ? "START TRANSACTION; " : "";
    for (size_t r = 0; r < n; ++r) {
      std::string set;
      for (const Column& c : g.columns) {
        set += fmt::format("{}`{}` = {}", set.empty() ? "" : ", ", c.name, Value(c, r + 1));
      }
      updates += fmt::format("UPDATE {} SET {} WHERE id = {}; ", t, set, r + 1);
    }
    ASSERT_OK(a->Exec(updates + (pk ? "COMMIT" : "DO 0")));
    ASSERT_OK(a->Exec(fmt::format("UPDATE {} SET id = id + 100 WHERE id = 1", t)));
    ASSERT_OK(a->Exec(fmt::format("DELETE FROM {} WHERE id % 3 = 0", t)));
  }
}

// The column as the primary key of its own table: rows found by its values.
void WriteKeyTable(MariaDBConnection* a, const Column& c) {
  std::vector<std::string> values;
  for (const std::string& v : c.values) {
    if (v != "NULL") values.push_back(v);
  }
  const std::string t = fmt::format("tm.`k_{}`", c.name);
  std::string type = c.type;
  if (type.ends_with(" NULL")) type.resize(type.size() - 5);
  ASSERT_OK(a->Exec(
      fmt::format("CREATE TABLE {} (v {} NOT NULL, n INT NOT NULL, PRIMARY KEY (v))", t, type)));
  // IGNORE: values equal as keys (BINARY's '' and its zeros) keep the first.
  std::string insert = fmt::format("INSERT IGNORE INTO {} (v, n) VALUES ", t);
  for (size_t i = 0; i < values.size(); ++i) {
    insert += fmt::format("{}({}, {})", i > 0 ? ", " : "", values[i], i);
  }
  ASSERT_OK(a->Exec(insert));
  // A finds rows by n; the binlog names them by v, which the replay finds them by.
  ASSERT_OK(a->Exec(fmt::format("UPDATE {} SET n = n + 100", t)));
  ASSERT_OK(a->Exec(fmt::format("DELETE FROM {} WHERE n = 100", t)));
  ASSERT_OK(a->Exec(fmt::format("UPDATE IGNORE {} SET v = {} WHERE n = 101", t, values[0])));
  ASSERT_OK(a->Exec(fmt::format("DELETE FROM {} WHERE n % 2 = 0", t)));
}

class TypesTest : public TwoServersTest {
 protected:
  TypesTest() : TwoServersTest(MariaDBOptions{{"--max-allowed-packet=256M"}}) {}

  // A session on A that is not the destination's: another time zone, and strict, so a value
  // A would change fails the test instead.
  std::unique_ptr<MariaDBConnection> Upstream() {
    auto c = a_->Connect();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    EXPECT_OK((*c)->Exec("SET SESSION time_zone = '+05:30', sql_mode = 'STRICT_ALL_TABLES'"));
    return std::move(*c);
  }

  // Replays into a B without tm and without any progress, once plain and once in safe mode
  // (where every update is a DELETE by the before image and a REPLACE).
  void ReplayTwiceAndCompare(const std::vector<pb::Binlog>& binlogs) {
    for (bool safe : {false, true}) {
      SCOPED_TRACE(safe ? "safe mode" : "plain");
      ASSERT_OK(b_->Exec("DROP DATABASE IF EXISTS tm; DROP DATABASE IF EXISTS tidb_binlog"));
      auto st = Replay(binlogs, b_.get(), 4, safe);
      ASSERT_TRUE(st.ok()) << st.status().ToString();
      EXPECT_GT(st->rows, 0u);
      ExpectSameDatabase(a_.get(), b_.get(), "tm");
    }
  }
};

TEST_F(TypesTest, EveryTypeWithEdgeValuesAndNulls) {
  auto a = Upstream();
  ASSERT_TRUE(a);
  ASSERT_OK(a->Exec("CREATE DATABASE tm"));
  for (const Group& g : Matrix()) {
    SCOPED_TRACE(g.name);
    WriteGroup(a.get(), g);
    for (const Column& c : g.columns) {
      if (c.keyable) WriteKeyTable(a.get(), c);
    }
  }
  std::vector<pb::Binlog> binlogs = Archive();
  ASSERT_GT(RowChanges(binlogs), 400u);
  ReplayTwiceAndCompare(binlogs);
}

TEST_F(TypesTest, SixteenMebibyteLongblob) {
  auto a = Upstream();
  ASSERT_TRUE(a);
  // 16 MiB of every byte value (quotes, backslashes and NULs included); 8 MiB of another.
  const std::string big = "REPEAT(" + Hex(Bytes(0, 255)) + ", 65536)";
  const std::string other = "REPEAT(" + Hex(Bytes(0, 255) + "x") + ", 32640)";
  ASSERT_OK(a->Exec("CREATE DATABASE tm"));
  for (const char* t : {"tm.big_pk", "tm.big_nokey"}) {
    const bool pk = std::string_view(t) == "tm.big_pk";
    ASSERT_OK(a->Exec(fmt::format("CREATE TABLE {} (id INT NOT NULL{}, b LONGBLOB)", t,
                                  pk ? " PRIMARY KEY" : "")));
    ASSERT_OK(a->Exec(fmt::format("INSERT INTO {} VALUES (1, {})", t, big)));
    ASSERT_OK(a->Exec(fmt::format("INSERT INTO {} VALUES (2, NULL), (3, ''), (4, X'00')", t)));
    ASSERT_OK(a->Exec(fmt::format("INSERT INTO {} VALUES (5, REVERSE({}))", t, big)));
    // A record holds at most 32 MiB: before (16) and after (8) images fit.
    ASSERT_OK(a->Exec(fmt::format("UPDATE {} SET b = {} WHERE id = 1", t, other)));
    ASSERT_OK(a->Exec(fmt::format("UPDATE {} SET b = {} WHERE id = 2", t, big)));
    ASSERT_OK(a->Exec(fmt::format("DELETE FROM {} WHERE id IN (3, 5)", t)));
  }
  ASSERT_EQ(*a_->QueryValue("SELECT LENGTH(b) FROM tm.big_pk WHERE id = 2"), "16777216");
  std::vector<pb::Binlog> binlogs = Archive();
  ReplayTwiceAndCompare(binlogs);
}

// An ENUM value a non-strict upstream takes (stored as index 0, read back as ''): the
// destination's strict session refuses '' and 0 alike, so its statements run non-strict.
TEST_F(TypesTest, EnumIndexZeroFromANonStrictUpstream) {
  auto a = Upstream();
  ASSERT_TRUE(a);
  ASSERT_OK(
      a->Exec("CREATE DATABASE tm; CREATE TABLE tm.e (id INT PRIMARY KEY, e ENUM('a', 'b')); "
              "SET SESSION sql_mode = ''; INSERT INTO tm.e VALUES (1, 'nope'), (2, 'a')"));
  ASSERT_EQ(*a_->QueryValue("SELECT CONCAT('[', e, ']') FROM tm.e WHERE id = 1"), "[]");
  ReplayTwiceAndCompare(Archive());
}

}  // namespace
}  // namespace binlog::replay::testing
