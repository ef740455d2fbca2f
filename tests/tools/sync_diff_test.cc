// sync-diff on two real servers: equal tables pass; a changed, a missing and an extra row are
// each printed and the fix SQL makes the target equal; composite keys, tables without a key,
// integer keys with gaps, NULL against '', bytes and utf8mb4 text.
#include "sync_diff_testutil.h"

namespace binlog::syncdiff::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kOrders[] =
    "CREATE TABLE orders (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT NULL, "
    "price DECIMAL(10,2) NULL, at DATETIME(3) NULL)";

std::string OrdersRows(int rows) {
  std::string sql = "INSERT INTO orders VALUES ";
  for (int i = 1; i <= rows; ++i) {
    sql += fmt::format("{}({}, 'item {}', {}, {}.25, '2024-01-02 03:04:{:02}.5')",
                       i == 1 ? "" : ",", i, i, i % 7, i, i % 60);
  }
  return sql;
}

TEST_F(SyncDiffTest, EqualTablesExitZero) {
  Both(kOrders);
  Both(OrdersRows(250));
  Both("CREATE TABLE empty_one (id BIGINT UNSIGNED PRIMARY KEY)");
  // By default the servers' CHECKSUM TABLE settles equal tables without a chunk.
  DiffRun whole = Diff({"-chunk-size", "20"});
  ASSERT_EQ(whole.code, 0) << whole.out << whole.error;
  EXPECT_THAT(whole.out, HasSubstr(".`orders`: equal (CHECKSUM TABLE, about "));
  EXPECT_THAT(whole.out, HasSubstr("0 rows checked in 0 chunks, 0 chunks re-read; 2 tables equal "
                                   "by CHECKSUM TABLE"));
  // The chunks alone, as for a table whose CHECKSUM TABLE differs.
  for (const char* threads : {"1", "4"}) {
    DiffRun r = Diff({"-chunk-size", "20", "-threads", threads, "-checksum-table=false"});
    ASSERT_EQ(r.code, 0) << r.out << r.error;
    EXPECT_THAT(r.out, HasSubstr(".`orders`: equal (250 rows in "));
    EXPECT_THAT(r.out, HasSubstr(".`empty_one`: equal (0 rows"));
    EXPECT_THAT(r.out, HasSubstr("sync-diff: 2 tables: 2 equal, 0 differ"));
    EXPECT_THAT(r.out, HasSubstr("0 chunks re-read"));
  }
}

// The acceptance case: each difference on its own line, and the fix SQL converges.
TEST_F(SyncDiffTest, ChangedMissingAndExtraRowsArePrintedAndTheFixConverges) {
  Both(kOrders);
  Both(OrdersRows(300));
  ASSERT_OK(Target("UPDATE orders SET qty = 99, name = 'renamed' WHERE id = 42"));
  ASSERT_OK(Target("DELETE FROM orders WHERE id = 150"));
  ASSERT_OK(Target("INSERT INTO orders VALUES (1000, 'stray', NULL, NULL, NULL)"));
  DiffRun r = Diff({"-chunk-size", "25", "-fix-sql", FixPath()});
  ASSERT_EQ(r.code, 1) << r.out << r.error;
  EXPECT_THAT(r.out, HasSubstr("`orders` [id=42]: changed: name \"item 42\" in the source, "
                               "\"renamed\" in the target; qty 0 in the source, 99 in the target"));
  EXPECT_THAT(r.out, HasSubstr("`orders` [id=150]: missing in the target: id=150, name=\"item "
                               "150\", qty=3, price=150.25, at=\"2024-01-02 03:04:30.500\""));
  EXPECT_THAT(r.out, HasSubstr("`orders` [id=1000]: extra in the target: id=1000, "
                               "name=\"stray\", qty=NULL, price=NULL, at=NULL"));
  EXPECT_THAT(r.out, HasSubstr("differs: 1 missing in the target, 1 extra, 1 changed (300 rows"));
  EXPECT_THAT(r.out, HasSubstr("1 with other rows"));
  EXPECT_THAT(r.out, HasSubstr(", 3 chunks re-read"));
  ApplyFix(FixPath());
  DiffRun again = Diff({"-chunk-size", "25"});
  EXPECT_EQ(again.code, 0) << again.out << again.error;
}

// A composite key of an integer and a string is walked; its bounds hold both columns.
TEST_F(SyncDiffTest, CompositeKeyIsWalkedAndFixed) {
  Both(
      "CREATE TABLE stock (shop INT NOT NULL, sku VARCHAR(20) NOT NULL, qty INT NOT NULL, "
      "PRIMARY KEY (shop, sku))");
  std::string sql = "INSERT INTO stock VALUES ";
  for (int i = 0; i < 200; ++i) {
    sql += fmt::format("{}({}, 'sku-{:03}', {})", i == 0 ? "" : ",", i / 20, i % 20, i);
  }
  Both(sql);
  ASSERT_OK(Target("UPDATE stock SET qty = -1 WHERE shop = 3 AND sku = 'sku-007'"));
  ASSERT_OK(Target("DELETE FROM stock WHERE shop = 9 AND sku = 'sku-019'"));
  ASSERT_OK(Target("INSERT INTO stock VALUES (4, 'sku-007x', 5)"));
  DiffRun r = Diff({"-chunk-size", "15", "-threads", "3", "-fix-sql", FixPath()});
  ASSERT_EQ(r.code, 1) << r.out << r.error;
  EXPECT_THAT(r.out, HasSubstr("`stock` [shop=3, sku=\"sku-007\"]: changed: qty 67 in the "
                               "source, -1 in the target"));
  EXPECT_THAT(r.out, HasSubstr("`stock` [shop=9, sku=\"sku-019\"]: missing in the target"));
  EXPECT_THAT(r.out, HasSubstr("`stock` [shop=4, sku=\"sku-007x\"]: extra in the target"));
  EXPECT_THAT(r.out, HasSubstr("(200 rows in 14 chunks, 3 re-read)"));
  ApplyFix(FixPath());
  EXPECT_EQ(Diff({"-chunk-size", "15"}).code, 0);
}

// Without a key the table is one chunk, its rows matched whole: a duplicate counts.
TEST_F(SyncDiffTest, TableWithoutKeyIsComparedWhole) {
  Both("CREATE TABLE log (at INT, msg VARCHAR(20), UNIQUE KEY maybe (msg))");
  Both("INSERT INTO log VALUES (1, 'a'), (2, NULL), (2, NULL), (3, 'c')");
  ASSERT_OK(Target("DELETE FROM log WHERE at = 2 LIMIT 1"));
  ASSERT_OK(Target("INSERT INTO log VALUES (4, 'd')"));
  DiffRun r = Diff({"-fix-sql", FixPath()});
  ASSERT_EQ(r.code, 1) << r.out << r.error;
  EXPECT_THAT(r.out, HasSubstr("`log`: no primary key or unique key on NOT NULL columns: "
                               "compared whole, ordered by every column"));
  EXPECT_THAT(r.out, HasSubstr("`log`: missing in the target: at=2, msg=NULL"));
  EXPECT_THAT(r.out, HasSubstr("`log`: extra in the target: at=4, msg=\"d\""));
  EXPECT_THAT(r.out, HasSubstr("differs: 1 missing in the target, 1 extra, 0 changed"));
  ApplyFix(FixPath());
  EXPECT_EQ(Diff().code, 0);
  ASSERT_OK_AND_ASSIGN(std::string n,
                       target_->QueryValue("SELECT COUNT(*) FROM `" + db_ + "`.log WHERE at = 2"));
  EXPECT_EQ(n, "2");
}

// An integer key is cut by value from the statistics; rows far past the source's MAX fall in
// the last, open chunk, and a differing chunk much larger than chunk-size is walked again.
TEST_F(SyncDiffTest, IntegerKeyRangesReachRowsOutsideTheSourceSpan) {
  Both("CREATE TABLE big (id BIGINT PRIMARY KEY, v INT NOT NULL)");
  Both("INSERT INTO big SELECT seq, seq FROM seq_1_to_2000");
  Both("ANALYZE TABLE big");
  ASSERT_OK(Target("INSERT INTO big VALUES (-5, 0), (1000000000, 1), (1000000001, 2)"));
  ASSERT_OK(Target("UPDATE big SET v = 0 WHERE id = 1234"));
  DiffRun r = Diff({"-chunk-size", "100", "-fix-sql", FixPath()});
  ASSERT_EQ(r.code, 1) << r.out << r.error;
  EXPECT_THAT(r.out, HasSubstr("`big` [id=-5]: extra in the target"));
  EXPECT_THAT(r.out, HasSubstr("`big` [id=1000000001]: extra in the target"));
  EXPECT_THAT(r.out, HasSubstr("`big` [id=1234]: changed: v 1234 in the source, 0 in the target"));
  EXPECT_THAT(r.out, HasSubstr("differs: 0 missing in the target, 3 extra, 1 changed (2000 rows"));
  // Only the chunks that differ were read: the first value range held every source row and
  // was walked again, and of its chunks only those with -5 and 1234 differ; then the last.
  EXPECT_THAT(r.out, HasSubstr(", 3 re-read)"));
  ApplyFix(FixPath());
  EXPECT_EQ(Diff({"-chunk-size", "100"}).code, 0);
}

// The checksum sees NULL against '' (and a NULL that moved to the next column), bytes with
// zeros and 0xff, utf8mb4 text, BIT, ENUM, JSON and float values; the fix writes them back.
TEST_F(SyncDiffTest, NullsBytesAndUtf8mb4AreComparedAndFixed) {
  Both(
      "CREATE TABLE v (id INT PRIMARY KEY, a VARCHAR(10) NULL, b VARCHAR(10) NULL, "
      "bin VARBINARY(16) NULL, blb BLOB NULL, txt TEXT CHARACTER SET utf8mb4 NULL, "
      "flags BIT(10) NULL, e ENUM('x','y') NULL, j JSON NULL, f FLOAT NULL, d DOUBLE NULL, "
      "ts TIMESTAMP NULL)");
  Both(
      "INSERT INTO v VALUES "
      "(1, NULL, 'a', 0x00ff00, 0x0a0d005c27, 'Zoë 🚀 \"q\"', b'1010101010', 'y', "
      "'{\"k\": [1, 2]}', 1.1, 0.30000000000000004, '2024-05-06 07:08:09'),"
      "(2, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
      "(3, 'same', 'same', '', '', '', b'0', 'x', '[]', -0.5, 1e300, NULL)");
  DiffRun equal = Diff();
  ASSERT_EQ(equal.code, 0) << equal.out << equal.error;

  ASSERT_OK(Target("UPDATE v SET a = 'a', b = NULL WHERE id = 1"));  // the NULL moved over
  ASSERT_OK(Target("UPDATE v SET a = NULL WHERE id = 2"));           // '' became NULL
  ASSERT_OK(Target("UPDATE v SET bin = 0x00ff01, txt = 'Zoë 🚀', flags = b'1' WHERE id = 3"));
  DiffRun r = Diff({"-fix-sql", FixPath()});
  ASSERT_EQ(r.code, 1) << r.out << r.error;
  EXPECT_THAT(r.out, HasSubstr("`v` [id=1]: changed: a NULL in the source, \"a\" in the target; "
                               "b \"a\" in the source, NULL in the target"));
  EXPECT_THAT(r.out, HasSubstr("`v` [id=2]: changed: a \"\" in the source, NULL in the target"));
  EXPECT_THAT(r.out, HasSubstr("`v` [id=3]: changed: bin 0x in the source, 0x00ff01 in the "
                               "target; txt \"\" in the source, \"Zoë 🚀\" in the target; flags "
                               "0x0000 in the source, 0x0001 in the target"));
  ApplyFix(FixPath());
  DiffRun fixed = Diff();
  EXPECT_EQ(fixed.code, 0) << fixed.out;
  ASSERT_OK_AND_ASSIGN(std::string hex,
                       target_->QueryValue("SELECT HEX(CONCAT_WS('|', bin, blb, txt, flags + 0)) "
                                           "FROM `" +
                                           db_ + "`.v WHERE id = 1"));
  ASSERT_OK_AND_ASSIGN(std::string want,
                       source_->QueryValue("SELECT HEX(CONCAT_WS('|', bin, blb, txt, flags + 0)) "
                                           "FROM `" +
                                           db_ + "`.v WHERE id = 1"));
  EXPECT_EQ(hex, want);
}

// NULL against '' alone in a chunk, and a NULL moved to the next column alone in another: the
// checksums differ, not only the rows.
TEST_F(SyncDiffTest, TheChecksumTellsNullFromEmpty) {
  Both("CREATE TABLE n (id INT PRIMARY KEY, a VARCHAR(5) NULL, b VARCHAR(5) NULL)");
  ASSERT_OK(Source("INSERT INTO n VALUES (1, '', 'x'), (2, NULL, 'a')"));
  ASSERT_OK(Target("INSERT INTO n VALUES (1, NULL, 'x'), (2, 'a', NULL)"));
  DiffRun r = Diff({"-chunk-size", "1"});
  ASSERT_EQ(r.code, 1) << r.out << r.error;
  EXPECT_THAT(r.out, HasSubstr("[id=1]: changed: a \"\" in the source, NULL in the target"));
  EXPECT_THAT(r.out, HasSubstr("[id=2]: changed: a NULL in the source, \"a\" in the target"));
  // One row per chunk (whether cut by value or walked), each chunk re-read.
  EXPECT_THAT(r.out, HasSubstr(" chunks, 2 re-read)"));
}

// A long value is cut when printed, never in the fix SQL.
TEST_F(SyncDiffTest, LongValuesArePrintedCutAndFixedWhole) {
  Both("CREATE TABLE docs (id INT PRIMARY KEY, body LONGTEXT NOT NULL)");
  Both("INSERT INTO docs VALUES (1, REPEAT('é', 5000))");
  ASSERT_OK(Target("UPDATE docs SET body = CONCAT(body, 'x')"));
  DiffRun r = Diff({"-fix-sql", FixPath()});
  ASSERT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, AllOf(HasSubstr("... (10000 bytes) in the source"),
                           HasSubstr("... (10001 bytes) in the target")));
  ApplyFix(FixPath());
  EXPECT_EQ(Diff().code, 0);
}

}  // namespace
}  // namespace binlog::syncdiff::testing
