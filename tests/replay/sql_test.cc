// SQL planned from row changes against a destination table: literals, statement shapes, keys.
#include "replay/sql.h"

#include "replay/conflict.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "replay/values.h"
#include "testutil/testutil.h"

namespace binlog::replay {
namespace {

using ::testing::ElementsAre;

using testing::Int;
using testing::Null;
using testing::Str;
using testing::Bytes;

std::string Lit(const pb::Value& v) {
  std::string out;
  EXPECT_OK(AppendLiteral(v, &out));
  return out;
}

TEST(SqlLiteralTest, EveryValueReachesTheServerExactly) {
  EXPECT_EQ(Lit(Int(-9223372036854775807LL - 1)), "-9223372036854775808");
  pb::Value u;
  u.set_uint64_value(18446744073709551615ull);
  EXPECT_EQ(Lit(u), "18446744073709551615");
  pb::Value d;
  d.set_double_value(0.1);
  EXPECT_EQ(Lit(d), "0.1");
  d.set_double_value(static_cast<double>(1.1f));  // a FLOAT, widened exactly
  EXPECT_EQ(Lit(d), "1.100000023841858");
  pb::Value dec;
  dec.set_decimal_value("-12345678901234567890123456789012345.123456789012345678901234567890");
  EXPECT_EQ(Lit(dec), dec.decimal_value());
  dec.set_decimal_value("1); DROP TABLE t; --");
  std::string out;
  EXPECT_FALSE(AppendLiteral(dec, &out).ok());
  EXPECT_EQ(Lit(Str("it's a \\ test\n\r\x1a")), "'it\\'s a \\\\ test\\n\\r\\Z'");
  EXPECT_EQ(Lit(Bytes(std::string("a\0b\xff", 4))), std::string("_binary'a\\0b\xff'"));
  EXPECT_EQ(Lit(Null()), "NULL");
  EXPECT_FALSE(AppendLiteral(pb::Value(), &out).ok());  // absent from the image
}

TEST(SqlLiteralTest, IdentifiersAreQuoted) {
  std::string out;
  AppendIdentifier("we`ird", &out);
  EXPECT_EQ(out, "`we``ird`");
}

// A table t(id INT PRIMARY KEY, u VARCHAR UNIQUE NOT NULL (case-insensitive), v INT).
TableSchema KeyedTable() {
  TableSchema t;
  t.db = "db";
  t.table = "t";
  t.columns = {{"id", false, "", "int"},
               {"u", false, "utf8mb4_general_ci", "varchar"},
               {"v", true, "", "int"}};
  t.unique_keys = {{"PRIMARY", {0}, true}, {"u", {1}, true}};
  t.row_key = 0;
  return t;
}

pb::TableChanges Changes(const TableSchema& t) {
  pb::TableChanges c;
  c.set_schema_name(t.db);
  c.set_table_name(t.table);
  for (const ColumnSchema& col : t.columns) c.add_columns()->set_name(col.name);
  return c;
}

void Row(pb::Row* row, std::initializer_list<pb::Value> values) {
  for (const pb::Value& v : values) *row->add_columns() = v;
}

// The statements' text; their row counts in `rows` when given.
Status Build(const pb::TableChanges& c, const TableSchema& t, const SqlOptions& o,
             std::vector<std::string>* sql, std::vector<uint64_t>* rows = nullptr) {
  std::vector<Statement> built;
  RETURN_IF_ERROR(BuildStatements(c, t, o, &built));
  for (const Statement& st : built) {
    sql->push_back(st.sql);
    if (rows != nullptr) rows->push_back(st.rows);
  }
  return Status::OK();
}

pb::TableMutation* Add(pb::TableChanges* c, pb::MutationType type) {
  pb::TableMutation* m = c->add_mutations();
  m->set_type(type);
  return m;
}

TEST(SqlPlanTest, ConsecutiveInsertsAndDeletesBecomeMultiRowStatements) {
  TableSchema t = KeyedTable();
  pb::TableChanges c = Changes(t);
  Row(Add(&c, pb::INSERT)->mutable_row(), {Int(1), Str("a"), Int(10)});
  Row(Add(&c, pb::INSERT)->mutable_row(), {Int(2), Str("b"), Null()});
  Row(Add(&c, pb::DELETE)->mutable_row(), {Int(1), Str("a"), Int(10)});
  Row(Add(&c, pb::DELETE)->mutable_row(), {Int(2), Str("b"), Null()});
  std::vector<std::string> sql;
  std::vector<uint64_t> rows;
  ASSERT_OK(Build(c, t, SqlOptions{}, &sql, &rows));
  EXPECT_THAT(sql, ElementsAre("INSERT INTO `db`.`t` (`id`, `u`, `v`) VALUES (1, 'a', 10), "
                               "(2, 'b', NULL)",
                               "DELETE FROM `db`.`t` WHERE `id` IN (1, 2)"));
  EXPECT_THAT(rows, ElementsAre(0, 2)) << "a DELETE must find each of its rows";
}

TEST(SqlPlanTest, StatementsWithTheSameHeadMerge) {
  TableSchema t = KeyedTable();
  std::vector<Statement> built;
  for (int id : {1, 2}) {
    pb::TableChanges c = Changes(t);
    Row(Add(&c, pb::INSERT)->mutable_row(), {Int(id), Str("x"), Null()});
    Row(Add(&c, pb::DELETE)->mutable_row(), {Int(id + 10), Str("y"), Null()});
    ASSERT_OK(BuildStatements(c, t, SqlOptions{}, &built));
  }
  ASSERT_EQ(built.size(), 4u);
  EXPECT_FALSE(MergeStatements(&built[0], built[1], 1 << 20)) << "an INSERT and a DELETE";
  ASSERT_TRUE(MergeStatements(&built[0], built[2], 1 << 20));
  ASSERT_TRUE(MergeStatements(&built[1], built[3], 1 << 20));
  EXPECT_EQ(built[0].sql, "INSERT INTO `db`.`t` (`id`, `u`, `v`) VALUES (1, 'x', NULL), "
                          "(2, 'x', NULL)");
  EXPECT_EQ(built[1].sql, "DELETE FROM `db`.`t` WHERE `id` IN (11, 12)");
  EXPECT_EQ(built[1].rows, 2u);
  EXPECT_FALSE(MergeStatements(&built[0], built[2], built[0].sql.size() + 10)) << "too big";
  Statement update;
  update.sql = "UPDATE `db`.`t` SET `v` = 1 WHERE `id` = 1";
  update.rows = 1;
  EXPECT_FALSE(MergeStatements(&update, update, 1 << 20));
}

// t(id INT PRIMARY KEY, c VARCHAR, f DOUBLE): no other unique key.
TableSchema PrimaryKeyOnly() {
  TableSchema t;
  t.db = "db";
  t.table = "p";
  t.columns = {{"id", false, "", "int"},
               {"c", true, "utf8mb4_general_ci", "varchar"},
               {"f", true, "", "double"}};
  t.unique_keys = {{"PRIMARY", {0}, true}};
  t.row_key = 0;
  return t;
}

std::vector<Statement> Updates(const TableSchema& t,
                               std::initializer_list<std::pair<pb::Row, pb::Row>> images) {
  std::vector<Statement> built;
  for (const auto& [before, after] : images) {
    pb::TableChanges c = Changes(t);
    pb::TableMutation* m = Add(&c, pb::UPDATE);
    *m->mutable_before() = before;
    *m->mutable_row() = after;
    EXPECT_OK(BuildStatements(c, t, SqlOptions{}, &built));
  }
  return built;
}

pb::Row Image(std::initializer_list<pb::Value> values) {
  pb::Row row;
  Row(&row, values);
  return row;
}

TEST(SqlPlanTest, UpdatesByAnIntegerKeyOfTheSameColumnsMergeIntoOneCase) {
  TableSchema t = PrimaryKeyOnly();
  std::vector<Statement> built =
      Updates(t, {{Image({Int(1), Str("a"), Null()}), Image({Int(1), Str("b"), Null()})},
                  {Image({Int(2), Str("a"), Null()}), Image({Int(2), Str("it's"), Null()})},
                  {Image({Int(3), Str("a"), Null()}), Image({Int(3), Bytes("\xff"), Null()})},
                  {Image({Int(1), Str("b"), Null()}), Image({Int(1), Str("c"), Null()})}});
  ASSERT_EQ(built.size(), 4u);
  EXPECT_EQ(built[0].sql, "UPDATE `db`.`p` SET `c` = 'b' WHERE `id` = 1") << "one row: plain";
  ASSERT_TRUE(MergeStatements(&built[0], built[1], 1 << 20));
  EXPECT_EQ(built[0].sql,
            "UPDATE `db`.`p` SET `c` = CASE `id` WHEN 1 THEN 'b' WHEN 2 THEN 'it\\'s' END "
            "WHERE `id` IN (1, 2)");
  EXPECT_EQ(built[0].rows, 2u) << "each row must be found";
  EXPECT_FALSE(MergeStatements(&built[0], built[2], 1 << 20))
      << "bytes and text in one CASE would make the text bytes too";
  EXPECT_FALSE(MergeStatements(&built[0], built[3], 1 << 20))
      << "a row twice would take its first value only";
}

TEST(SqlPlanTest, UpdatesThatCannotBeOneCaseStayApart) {
  TableSchema t = PrimaryKeyOnly();
  auto kind = [](const TableSchema& table, const pb::Row& before, const pb::Row& after) {
    std::vector<Statement> built = Updates(table, {{before, after}});
    return built.empty() ? Statement::Kind::kInsert : built[0].kind;
  };
  const pb::Row before = Image({Int(1), Str("a"), Null()});
  EXPECT_EQ(kind(t, before, Image({Int(1), Str("b"), Null()})), Statement::Kind::kUpdateByKey);
  EXPECT_EQ(kind(t, before, Image({Int(9), Str("a"), Null()})), Statement::Kind::kOther)
      << "a key change";
  pb::Value half;
  half.set_double_value(0.5);
  EXPECT_EQ(kind(t, before, Image({Int(1), Str("a"), half})), Statement::Kind::kOther)
      << "a DOUBLE (its literals may be DECIMAL or DOUBLE)";
  TableSchema linked = PrimaryKeyOnly();
  linked.linked_tables = {"db.child"};
  EXPECT_EQ(kind(linked, before, Image({Int(1), Str("b"), Null()})), Statement::Kind::kOther)
      << "a table in a foreign key";
  TableSchema unique = PrimaryKeyOnly();
  unique.unique_keys.push_back({"c", {1}, false});
  EXPECT_EQ(kind(unique, before, Image({Int(1), Str("b"), Null()})), Statement::Kind::kOther)
      << "another unique key, where rows updated in another order could collide";
  TableSchema text_key = PrimaryKeyOnly();
  text_key.unique_keys = {{"PRIMARY", {1}, true}};
  EXPECT_EQ(kind(text_key, before, Image({Int(2), Str("a"), Null()})), Statement::Kind::kOther)
      << "a string key, where 'a' and 'A' may be one row";

  std::vector<Statement> two_columns =
      Updates(t, {{before, Image({Int(1), Str("b"), Null()})},
                  {Image({Int(2), Str("a"), Null()}), Image({Int(2), Str("a"), Int(3)})}});
  EXPECT_FALSE(MergeStatements(&two_columns[0], two_columns[1], 1 << 20)) << "other columns";
}

TEST(SqlPlanTest, UpdatesGoByKeyAlsoWhenTheyChangeIt) {
  TableSchema t = KeyedTable();
  pb::TableChanges c = Changes(t);
  pb::TableMutation* plain = Add(&c, pb::UPDATE);
  Row(plain->mutable_before(), {Int(1), Str("a"), Int(10)});
  Row(plain->mutable_row(), {Int(1), Str("a"), Int(11)});
  pb::TableMutation* moved = Add(&c, pb::UPDATE);
  Row(moved->mutable_before(), {Int(1), Str("a"), Int(11)});
  Row(moved->mutable_row(), {Int(1), Str("z"), Int(11)});  // the unique key u changes
  std::vector<std::string> sql;
  std::vector<uint64_t> rows;
  ASSERT_OK(Build(c, t, SqlOptions{}, &sql, &rows));
  EXPECT_THAT(sql, ElementsAre("UPDATE `db`.`t` SET `v` = 11 WHERE `id` = 1",
                               "UPDATE `db`.`t` SET `u` = 'z' WHERE `id` = 1"));
  EXPECT_THAT(rows, ElementsAre(1, 1));

  SqlOptions safe;
  safe.safe_mode = true;
  sql.clear();
  rows.clear();
  ASSERT_OK(Build(c, t, safe, &sql, &rows));
  EXPECT_THAT(rows, ElementsAre(0, 0, 0, 0)) << "safe mode takes rows as they are";
  EXPECT_THAT(sql, ElementsAre("DELETE FROM `db`.`t` WHERE `id` = 1",
                               "REPLACE INTO `db`.`t` (`id`, `u`, `v`) VALUES (1, 'a', 11)",
                               "DELETE FROM `db`.`t` WHERE `id` = 1",
                               "REPLACE INTO `db`.`t` (`id`, `u`, `v`) VALUES (1, 'z', 11)"));
}

// A REPLACE or DELETE of a parent row would run its children's ON DELETE rule.
TEST(SqlPlanTest, SafeModeOnATableInAForeignKeyUpdatesInPlaceAndUpserts) {
  TableSchema t = KeyedTable();
  t.linked_tables = {"db.child"};
  pb::TableChanges c = Changes(t);
  Row(Add(&c, pb::INSERT)->mutable_row(), {Int(1), Str("a"), Int(10)});
  pb::TableMutation* u = Add(&c, pb::UPDATE);
  Row(u->mutable_before(), {Int(1), Str("a"), Int(10)});
  Row(u->mutable_row(), {Int(2), Str("a"), Int(10)});
  SqlOptions safe;
  safe.safe_mode = true;
  std::vector<std::string> sql;
  ASSERT_OK(Build(c, t, safe, &sql));
  EXPECT_THAT(
      sql, ElementsAre("INSERT INTO `db`.`t` (`id`, `u`, `v`) VALUES (1, 'a', 10) ON DUPLICATE KEY "
                       "UPDATE `id` = VALUES(`id`), `u` = VALUES(`u`), `v` = VALUES(`v`)",
                       "UPDATE `db`.`t` SET `id` = 2, `u` = 'a', `v` = 10 WHERE `id` = 1",
                       "INSERT INTO `db`.`t` (`id`, `u`, `v`) VALUES (2, 'a', 10) ON DUPLICATE KEY "
                       "UPDATE `id` = VALUES(`id`), `u` = VALUES(`u`), `v` = VALUES(`v`)"));
}

// '' in an ENUM that has no such member: what a non-strict upstream stores for a bad value.
TEST(SqlPlanTest, AnEnumsEmptyValueIsWrittenWithoutStrictMode) {
  TableSchema t = KeyedTable();
  t.columns[2].data_type = "enum";
  pb::TableChanges c = Changes(t);
  Row(Add(&c, pb::INSERT)->mutable_row(), {Int(1), Str("a"), Str("x")});
  Row(Add(&c, pb::INSERT)->mutable_row(), {Int(2), Str("b"), Str("")});
  pb::TableMutation* u = Add(&c, pb::UPDATE);
  Row(u->mutable_before(), {Int(3), Str("c"), Str("x")});
  Row(u->mutable_row(), {Int(3), Str("c"), Str("")});
  std::vector<Statement> built;
  ASSERT_OK(BuildStatements(c, t, SqlOptions{}, &built));
  ASSERT_EQ(built.size(), 2u);
  const std::string relax =
      "SET STATEMENT sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION' FOR ";
  EXPECT_EQ(built[0].sql, relax + "INSERT INTO `db`.`t` (`id`, `u`, `v`) VALUES (1, 'a', 'x'), "
                                  "(2, 'b', '')");
  EXPECT_EQ(built[0].sql.substr(0, built[0].head), relax + "INSERT INTO `db`.`t` (`id`, `u`, "
                                                           "`v`) VALUES ");
  EXPECT_EQ(built[1].sql, relax + "UPDATE `db`.`t` SET `v` = '' WHERE `id` = 3");
}

TEST(SqlPlanTest, WithoutAUsableKeyRowsAreMatchedOnEveryColumn) {
  TableSchema t = KeyedTable();
  t.unique_keys.clear();
  t.row_key = -1;
  pb::TableChanges c = Changes(t);
  Row(Add(&c, pb::DELETE)->mutable_row(), {Int(1), Str("a"), Null()});
  pb::TableMutation* u = Add(&c, pb::UPDATE);
  Row(u->mutable_before(), {Int(2), Str("b"), Int(3)});
  Row(u->mutable_row(), {Int(2), Str("b"), Int(4)});
  std::vector<std::string> sql;
  ASSERT_OK(Build(c, t, SqlOptions{}, &sql));
  EXPECT_THAT(sql, ElementsAre("DELETE FROM `db`.`t` WHERE `id` <=> 1 AND `u` <=> 'a' AND `v` <=> "
                               "NULL LIMIT 1",
                               "UPDATE `db`.`t` SET `v` = 4 WHERE `id` <=> 2 AND `u` <=> 'b' AND "
                               "`v` <=> 3 LIMIT 1"));
}

// Found by the type matrix (types_test): a BIT(64) value with the top bit set comes as its
// bytes, which BIT stores but never compares equal to (strict mode even refuses the UPDATE).
TEST(SqlPlanTest, AWideBitValueIsWrittenAsTheUnsignedIntegerItIs) {
  TableSchema t;
  t.db = "db";
  t.table = "t";
  t.columns = {{"b", true, "", "bit"}, {"x", true, "", "varbinary"}};
  pb::TableChanges c = Changes(t);
  const std::string top("\x80\0\0\0\0\0\0\x01", 8);
  pb::TableMutation* u = Add(&c, pb::UPDATE);
  Row(u->mutable_before(), {Bytes(top), Bytes(top)});
  Row(u->mutable_row(), {Bytes(std::string(8, '\xff')), Bytes(top)});
  std::vector<std::string> sql;
  ASSERT_OK(Build(c, t, SqlOptions{}, &sql));
  EXPECT_THAT(sql,
              ElementsAre("UPDATE `db`.`t` SET `b` = 18446744073709551615 WHERE `b` <=> "
                          "9223372036854775809 AND `x` <=> _binary'\x80\\0\\0\\0\\0\\0\\0\x01' "
                          "LIMIT 1"));
}

TEST(SqlPlanTest, AColumnTheDestinationLacksIsNamed) {
  TableSchema t = KeyedTable();
  pb::TableChanges c = Changes(t);
  c.add_columns()->set_name("extra");
  Row(Add(&c, pb::INSERT)->mutable_row(), {Int(1), Str("a"), Int(1), Int(2)});
  std::vector<std::string> sql;
  Status s = Build(c, t, SqlOptions{}, &sql);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), ::testing::HasSubstr("column `extra` of `db`.`t`"));
}

std::vector<std::string> Keys(const pb::TableChanges& c, const TableSchema& t, bool* whole_table) {
  std::vector<ConflictKey> keys;
  ConflictKeys(c, t, &keys);
  std::vector<std::string> out;
  *whole_table = false;
  for (const ConflictKey& k : keys) {
    if (k.key == "t:db.t") {
      *whole_table = k.exclusive;
      continue;
    }
    out.push_back(k.key);
  }
  return out;
}

TEST(SqlKeysTest, CaseInsensitiveKeysConflictAcrossCaseAndNonAsciiTakesTheTable) {
  TableSchema t = KeyedTable();
  pb::TableChanges a = Changes(t);
  Row(Add(&a, pb::INSERT)->mutable_row(), {Int(1), Str("abc"), Int(1)});
  pb::TableChanges b = Changes(t);
  Row(Add(&b, pb::INSERT)->mutable_row(), {Int(2), Str("ABC  "), Int(1)});
  bool whole = false;
  std::vector<std::string> ka = Keys(a, t, &whole);
  EXPECT_FALSE(whole);
  std::vector<std::string> kb = Keys(b, t, &whole);
  EXPECT_FALSE(whole);
  // Different primary keys, the same unique key under a _ci collation.
  EXPECT_NE(ka[0], kb[0]);
  EXPECT_EQ(ka[1], kb[1]);

  pb::TableChanges c = Changes(t);
  Row(Add(&c, pb::INSERT)->mutable_row(), {Int(3), Str("caf\xc3\xa9"), Int(1)});
  Keys(c, t, &whole);
  EXPECT_TRUE(whole) << "a non-ASCII value under a _ci collation must conflict with the table";
}

// Found by the random workload (workload_test, 16 workers): rows of a table whose only unique
// key is nullable, with NULL there, are found by every column; they ran out of order when they
// held the table only shared.
TEST(SqlKeysTest, ARowWithNullInEveryUniqueKeyTakesTheTable) {
  TableSchema t = KeyedTable();
  t.columns[1].nullable = true;
  t.unique_keys = {{"u", {1}, false}};
  t.row_key = -1;
  pb::TableChanges keyed = Changes(t);
  Row(Add(&keyed, pb::DELETE)->mutable_row(), {Int(1), Str("a"), Int(1)});
  bool whole = true;
  EXPECT_THAT(Keys(keyed, t, &whole), ElementsAre(::testing::HasSubstr("k:db.t/0/")));
  EXPECT_FALSE(whole);
  pb::TableChanges null = Changes(t);
  Row(Add(&null, pb::DELETE)->mutable_row(), {Int(1), Null(), Int(1)});
  Keys(null, t, &whole);
  EXPECT_TRUE(whole);
}

}  // namespace
}  // namespace binlog::replay
