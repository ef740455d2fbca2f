// The print sink's text (print_sink.cc has the format), compared with
// testdata/golden/replay/print.txt. After an intended change of the format:
//   BINLOG_REGEN_GOLDEN=1 <build>/tests/replay_test --gtest_filter='PrintTest.*'
// writes the file instead of comparing it; review the diff.
#include <fmt/format.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/tso.h"
#include "replay/replay.h"
#include "replay/values.h"
#include "testutil/testutil.h"

namespace binlog::replay {
namespace {

constexpr int64_t kBaseMs = 1700000000000;  // 2023-11-14 22:13:20 UTC

bool Regenerate() {
  const char* v = std::getenv("BINLOG_REGEN_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pb::Binlog Commit(uint64_t logical) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(static_cast<int64_t>(ComposeTS(kBaseMs - 5, logical)));
  b.set_commit_ts(
      static_cast<int64_t>(ComposeTS(kBaseMs + static_cast<int64_t>(logical), logical)));
  return b;
}

pb::TableChanges* AddTable(pb::Binlog* b, const std::string& schema, const std::string& table) {
  pb::TableChanges* t = b->add_tables();
  t->set_schema_name(schema);
  t->set_table_name(table);
  return t;
}

void AddColumn(pb::TableChanges* t, const std::string& name, const std::string& type) {
  pb::ColumnInfo* c = t->add_columns();
  c->set_name(name);
  c->set_mysql_type(type);
}

using testing::Int;
using testing::Null;
using testing::Str;

pb::TableMutation* AddRow(pb::TableChanges* t, pb::MutationType type,
                          std::initializer_list<pb::Value> row,
                          std::initializer_list<pb::Value> before = {}) {
  pb::TableMutation* m = t->add_mutations();
  m->set_type(type);
  for (const pb::Value& v : row) *m->mutable_row()->add_columns() = v;
  for (const pb::Value& v : before) *m->mutable_before()->add_columns() = v;
  return m;
}

// One value of every kind, with the ones a reader must tell apart: NULL and the text 'NULL',
// an empty string and empty bytes, text that needs escapes, bytes and text of the same letters.
pb::Binlog TypedInsert() {
  pb::Binlog b = Commit(1);
  pb::TableChanges* t = AddTable(&b, "shop", "typed");
  const std::pair<const char*, const char*> columns[] = {{"id", "bigint"},
                                                         {"n_null", "int"},
                                                         {"n_text_null", "varchar(8)"},
                                                         {"i_min", "bigint"},
                                                         {"u_max", "bigint unsigned"},
                                                         {"d", "double"},
                                                         {"d_small", "double"},
                                                         {"d_big", "double"},
                                                         {"d_neg_zero", "double"},
                                                         {"d_nan", "double"},
                                                         {"d_inf", "double"},
                                                         {"f", "float"},
                                                         {"dec", "decimal(10,3)"},
                                                         {"s", "varchar(64)"},
                                                         {"s_empty", "varchar(8)"},
                                                         {"s_utf8", "text"},
                                                         {"s_bad", "text"},
                                                         {"b", "varbinary(8)"},
                                                         {"b_empty", "blob"},
                                                         {"b_text", "binary(3)"},
                                                         {"dt", "datetime(6)"},
                                                         {"e", "enum('a','b')"},
                                                         {"absent", "int"},
                                                         {"unknown", "int"},
                                                         {"not_null", "int"}};
  for (const auto& [name, type] : columns) AddColumn(t, name, type);
  pb::Value d, d_small, d_big, d_neg_zero, d_nan, d_inf, f, dec, b_bin, b_empty, b_text, unknown,
      not_null;
  d.set_double_value(1.5);
  d_small.set_double_value(0.1);
  d_big.set_double_value(1e300);
  d_neg_zero.set_double_value(-0.0);
  d_nan.set_double_value(std::numeric_limits<double>::quiet_NaN());
  d_inf.set_double_value(-std::numeric_limits<double>::infinity());
  f.set_double_value(static_cast<double>(3.14f));
  dec.set_decimal_value("-12.340");
  b_bin.set_bytes_value(std::string("\x00\xff\x10 a", 5));
  b_empty.set_bytes_value("");
  b_text.set_bytes_value("abc");
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(15, 1);  // a newer kind
  not_null.set_is_null(false);
  pb::Value u_max;
  u_max.set_uint64_value(std::numeric_limits<uint64_t>::max());
  AddRow(t, pb::INSERT,
         {Int(1),
          Null(),
          Str("NULL"),
          Int(std::numeric_limits<int64_t>::min()),
          u_max,
          d,
          d_small,
          d_big,
          d_neg_zero,
          d_nan,
          d_inf,
          f,
          dec,
          Str("say \"hi\"\\ \n\r\t\x01\x7f \xc2\x85 end"),
          Str(""),
          Str("caf\xc3\xa9 \xe4\xb8\xad"),
          Str("\xff\xfe"),
          b_bin,
          b_empty,
          b_text,
          Str("2023-11-14 22:13:20.000001"),
          Str("b"),
          pb::Value(),
          unknown,
          not_null});
  return b;
}

// Updates and deletes on two tables, one update from a MINIMAL row image.
pb::Binlog UpdatesAndDeletes() {
  pb::Binlog b = Commit(2);
  pb::TableChanges* users = AddTable(&b, "crm", "users");
  AddColumn(users, "id", "int");
  AddColumn(users, "name", "varchar(20)");
  AddColumn(users, "score", "decimal(5,1)");
  pb::Value score_old, score_new;
  score_old.set_decimal_value("1.0");
  score_new.set_decimal_value("2.5");
  AddRow(users, pb::UPDATE, {Int(7), Str("Ann"), score_new}, {Int(7), Str("Ann"), score_old});
  AddRow(users, pb::UPDATE, {pb::Value(), Str("Bob"), pb::Value()},
         {Int(8), pb::Value(), pb::Value()});
  AddRow(users, pb::DELETE, {Int(9), Null(), score_old});
  pb::TableChanges* orders = AddTable(&b, "shop", "orders");
  AddColumn(orders, "id", "int");
  AddColumn(orders, "user_id", "int");
  AddRow(orders, pb::INSERT, {Int(100), Int(7)});
  AddRow(orders, pb::DELETE, {Int(99), Int(8)});
  return b;
}

pb::Binlog Ddl(uint64_t logical, const std::string& schema, const std::string& query) {
  pb::Binlog b = Commit(logical);
  b.set_ddl_schema(schema);
  b.set_ddl_query(query);
  return b;
}

// Rows that do not fit their table: more values than columns, fewer, a newer mutation type.
pb::Binlog Misfits() {
  pb::Binlog b = Commit(5);
  pb::TableChanges* t = AddTable(&b, "odd\x1b", "t\n1");
  AddColumn(t, "a\tb", "int");
  AddColumn(t, "c", "int");
  AddRow(t, pb::INSERT, {Int(1), Int(2), Int(3)});
  AddRow(t, pb::UPDATE, {Int(1), Int(2)}, {Int(1)});
  AddRow(t, static_cast<pb::MutationType>(7), {Int(4)});
  return b;
}

std::vector<pb::Binlog> GoldenBinlogs() {
  return {Ddl(0, "shop",
              "CREATE TABLE typed (\n  id bigint primary key\t-- the key\n) COMMENT 'a\\'b'"),
          TypedInsert(), UpdatesAndDeletes(), Ddl(3, "", "DROP DATABASE `old`"), Misfits()};
}

TEST(PrintTest, GoldenText) {
  std::string got;
  for (const pb::Binlog& b : GoldenBinlogs()) got += FormatBinlog(b);
  const std::string path = binlog::testing::TestDataPath("golden/replay/print.txt");
  if (Regenerate()) std::ofstream(path, std::ios::binary) << got;
  EXPECT_EQ(got, ReadFile(path)) << "differs from testdata/golden/replay/print.txt";
}

TEST(PrintTest, HeaderAndBlocksAsReparoPrintsThem) {
  pb::Binlog b = Commit(0);
  b.set_commit_ts(static_cast<int64_t>(ComposeTS(kBaseMs + 644, 3)));
  pb::TableChanges* t = AddTable(&b, "db", "t");
  AddColumn(t, "id", "int");
  AddColumn(t, "name", "varchar(20)");
  AddRow(t, pb::INSERT, {Int(1), Str("a")});
  AddRow(t, pb::UPDATE, {Int(1), Str("b")}, {Int(1), Str("a")});
  EXPECT_EQ(FormatBinlog(b), fmt::format("# commit ts {} (2023-11-14 22:13:20.644000 UTC)\n"
                                         "schema: db; table: t; type: Insert\n"
                                         "id(int): 1\n"
                                         "name(varchar(20)): \"a\"\n"
                                         "schema: db; table: t; type: Update\n"
                                         "id(int): 1 => 1\n"
                                         "name(varchar(20)): \"a\" => \"b\"\n",
                                         b.commit_ts()));
  b.set_commit_ts(-1);
  EXPECT_EQ(FormatBinlog(b).substr(0, 17), "# commit ts -1\nsc");
}

TEST(PrintTest, SinkWritesEachTransaction) {
  std::ostringstream out;
  std::unique_ptr<Sink> sink = NewPrintSink(&out);
  EXPECT_EQ(sink->MaxWorkers(), 1);
  ASSERT_OK_AND_ASSIGN(ResumeState resume, sink->LoadResume());
  EXPECT_EQ(resume.low_ts, 0u);
  EXPECT_TRUE(resume.applied.empty());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SinkWorker> worker, sink->NewWorker());

  const std::vector<pb::Binlog> binlogs = GoldenBinlogs();
  ASSERT_OK(worker->ApplyDdl(binlogs[0]));
  const pb::Binlog* group[] = {&binlogs[1], &binlogs[2]};
  ASSERT_OK(worker->Apply(group));
  ASSERT_OK(sink->AdvanceLow(static_cast<uint64_t>(binlogs[2].commit_ts())));
  ASSERT_OK(worker->ApplyDdl(binlogs[3]));
  EXPECT_EQ(out.str(), FormatBinlog(binlogs[0]) + FormatBinlog(binlogs[1]) +
                           FormatBinlog(binlogs[2]) + FormatBinlog(binlogs[3]));
}

// A binlog with both a DDL and rows: ApplyDdl prints the DDL, Apply the rows, each under the
// transaction's header; FormatBinlog prints both under one.
TEST(PrintTest, DdlAndRowsOfOneBinlogPrintApart) {
  pb::Binlog b = UpdatesAndDeletes();
  b.set_ddl_query("TRUNCATE shop.orders");
  const std::string text = FormatBinlog(b);
  const size_t rows_at = text.find("schema: crm");
  ASSERT_NE(rows_at, std::string::npos);
  const std::string header = text.substr(0, text.find('\n') + 1);
  EXPECT_EQ(text.substr(header.size(), rows_at - header.size()),
            "DDL query: TRUNCATE shop.orders\n");

  std::ostringstream out;
  std::unique_ptr<Sink> sink = NewPrintSink(&out);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SinkWorker> worker, sink->NewWorker());
  ASSERT_OK(worker->ApplyDdl(b));
  const pb::Binlog* group[] = {&b};
  ASSERT_OK(worker->Apply(group));
  EXPECT_EQ(out.str(), text.substr(0, rows_at) + header + text.substr(rows_at));
}

TEST(PrintTest, AFailedWriteIsAnError) {
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  std::unique_ptr<Sink> sink = NewPrintSink(&out);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SinkWorker> worker, sink->NewWorker());
  const pb::Binlog b = UpdatesAndDeletes();
  const pb::Binlog* group[] = {&b};
  Status s = worker->Apply(group);
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  s = worker->ApplyDdl(Ddl(1, "", "DROP TABLE x.y"));
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
}

}  // namespace
}  // namespace binlog::replay
