// segdump's text and JSON output of a fixture segment that holds every kind of value and
// record, compared with testdata/golden/segdump/ (docs/SEGDUMP.md shows these outputs).
//
// The fixture is written here, deterministically (uncompressed, fixed times), and must equal
// typed.seg byte for byte. After an intended change of the output or of the fixture:
//   BINLOG_REGEN_GOLDEN=1 <build>/tests/tools_test --gtest_filter='SegdumpGoldenTest.*'
// writes the files instead of comparing them; review the diff.
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "common/tso.h"
#include "segdump_testutil.h"

namespace binlog::segdump {
namespace {

using namespace testing;  // NOLINT: segdump's test helpers

constexpr int64_t kBaseMs = 1700000000000;  // 2023-11-14 22:13:20 UTC

bool Regenerate() {
  const char* v = std::getenv("BINLOG_REGEN_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

std::string Golden(const std::string& name) {
  return binlog::testing::TestDataPath("golden/segdump/" + name);
}

pb::ColumnInfo* AddColumn(pb::TableChanges* t, const std::string& name, const std::string& type,
                          const std::string& charset = "") {
  pb::ColumnInfo* c = t->add_columns();
  c->set_name(name);
  c->set_mysql_type(type);
  c->set_charset(charset);
  c->set_is_nullable(true);
  return c;
}

void SetSource(pb::Binlog* b, uint64_t pos, const std::string& gtid, uint32_t event_time) {
  pb::SourcePosition* s = b->mutable_source();
  s->set_server_id(1);
  s->set_file("mariadb-bin.000012");
  s->set_pos(pos);
  s->set_gtid(gtid);
  s->set_event_time(event_time);
}

// An INSERT with one value of each kind, including the pairs a reader must tell apart.
pb::Binlog TypedInsert(uint64_t ts) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(static_cast<int64_t>(ts - 1));
  b.set_commit_ts(static_cast<int64_t>(ts));
  SetSource(&b, 1234, "0-1-1234", 1700000000);
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("shop");
  t->set_table_name("typed");
  pb::ColumnInfo* id = AddColumn(t, "id", "bigint unsigned");
  id->set_is_primary_key(true);
  id->set_is_unsigned(true);
  id->set_is_nullable(false);
  AddColumn(t, "neg", "bigint");
  AddColumn(t, "s", "varchar(20)", "utf8mb4");
  AddColumn(t, "b", "varbinary(20)", "binary");
  AddColumn(t, "l", "varchar(20)", "latin1");
  AddColumn(t, "d", "decimal(10,3)");
  AddColumn(t, "f", "double");
  AddColumn(t, "nan", "double");
  AddColumn(t, "inf", "float");
  AddColumn(t, "n", "int");
  AddColumn(t, "txt", "text", "utf8mb4");
  AddColumn(t, "dt", "datetime(6)");
  pb::Row* row = t->add_mutations()->mutable_row();
  row->add_columns()->set_uint64_value(UINT64_MAX);
  row->add_columns()->set_int64_value(INT64_MIN);
  row->add_columns()->set_string_value("0x41");
  row->add_columns()->set_bytes_value("A");
  row->add_columns()->set_bytes_value("caf\xe9");
  row->add_columns()->set_decimal_value("-12.340");
  row->add_columns()->set_double_value(0.1);
  row->add_columns()->set_double_value(NAN);
  row->add_columns()->set_double_value(-INFINITY);
  row->add_columns()->set_is_null(true);
  row->add_columns()->set_string_value("it's a \"quote\"\n\ttab \x01 Zoë 😀");
  row->add_columns()->set_string_value("2023-11-14 22:13:20.123456");
  return b;
}

// A MINIMAL row image: the before image holds the key, the after image the changed column; the
// other columns are absent, not NULL. Then a DELETE of a row whose k is NULL.
pb::Binlog MinimalUpdate(uint64_t ts) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(static_cast<int64_t>(ts - 1));
  b.set_commit_ts(static_cast<int64_t>(ts));
  SetSource(&b, 1789, "0-1-1235", 1700000001);
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("shop");
  t->set_table_name("minimal");
  AddColumn(t, "id", "int")->set_is_primary_key(true);
  AddColumn(t, "k", "int");
  AddColumn(t, "c", "varchar(10)", "utf8mb4");
  pb::TableMutation* u = t->add_mutations();
  u->set_type(pb::UPDATE);
  u->mutable_before()->add_columns()->set_int64_value(7);
  u->mutable_before()->add_columns();
  u->mutable_before()->add_columns();
  u->mutable_row()->add_columns();
  u->mutable_row()->add_columns()->set_int64_value(8);
  u->mutable_row()->add_columns();
  pb::TableMutation* d = t->add_mutations();
  d->set_type(pb::DELETE);
  d->mutable_row()->add_columns()->set_int64_value(9);
  d->mutable_row()->add_columns()->set_is_null(true);
  d->mutable_row()->add_columns()->set_string_value("NULL");
  return b;
}

pb::Binlog Ddl(uint64_t ts, const std::string& query, uint64_t pos) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(static_cast<int64_t>(ts - 1));
  b.set_commit_ts(static_cast<int64_t>(ts));
  b.set_ddl_schema("shop");
  b.set_ddl_query(query);
  SetSource(&b, pos, "", 0);
  return b;
}

// What a build of this tool does not know: a mutation type past DELETE, a value kind past the
// oneof, a column without a name and a value past the column list.
pb::Binlog Unknowns(uint64_t ts) {
  pb::Binlog b;
  b.set_tp(pb::PREWRITE);
  b.set_start_ts(static_cast<int64_t>(ts));
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("shop");
  t->set_table_name("odd");
  AddColumn(t, "", "int");
  AddColumn(t, "@1", "int");
  pb::TableMutation* m = t->add_mutations();
  m->set_type(static_cast<pb::MutationType>(7));
  m->mutable_row()->add_columns()->set_int64_value(1);
  m->mutable_row()->add_columns()->set_int64_value(2);
  pb::Value* future = m->mutable_row()->add_columns();
  future->GetReflection()->MutableUnknownFields(future)->AddVarint(8, 1);
  return b;
}

std::vector<std::string> FixturePayloads() {
  std::vector<std::string> out;
  auto ts = [](int i) { return ComposeTS(kBaseMs + i * 1000, static_cast<uint64_t>(i)); };
  out.push_back(TypedInsert(ts(0)).SerializeAsString());
  out.push_back(MinimalUpdate(ts(1)).SerializeAsString());
  out.push_back(Ddl(ts(2), "ALTER TABLE typed ADD COLUMN note TEXT", 2000).SerializeAsString());
  out.push_back(Ddl(ts(3), "ALTER TABLE typed COMMENT 'caf\xe9'", 2100).SerializeAsString());
  pb::Binlog fake;
  fake.set_tp(pb::FAKE);
  fake.set_commit_ts(static_cast<int64_t>(ts(4)));
  out.push_back(fake.SerializeAsString());
  out.push_back(Unknowns(ts(5)).SerializeAsString());
  pb::Binlog rollback;
  rollback.set_tp(pb::ROLLBACK);
  rollback.set_start_ts(static_cast<int64_t>(ts(5)));
  rollback.set_commit_ts(static_cast<int64_t>(ts(6)));
  out.push_back(rollback.SerializeAsString());
  return out;
}

// Writes the fixture: one uncompressed sealed segment, records at ts(0), ts(1), ...
void WriteFixture(const std::string& path) {
  std::vector<std::string> payloads = FixturePayloads();
  segment::SegmentOptions so;
  so.compression = segment::Compression::kNone;
  so.block_bytes = 600;
  std::vector<segment::Record> records;
  for (size_t i = 0; i < payloads.size(); ++i) {
    records.push_back({ComposeTS(kBaseMs + static_cast<int64_t>(i) * 1000, i), payloads[i]});
  }
  segment::BlockEncoder encoder(so);
  std::vector<segment::EncodedBlock> blocks;
  ASSERT_OK(encoder.Encode(records, &blocks));
  ASSERT_OK_AND_ASSIGN(auto writer,
                       segment::SegmentWriter::Create(Env::Posix(), path, so, kBaseMs * 1000));
  ASSERT_OK(writer->Append(blocks));
  ASSERT_OK(writer->Seal());
}

class SegdumpGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string fresh = tmp_.Sub("typed.seg");
    ASSERT_NO_FATAL_FAILURE(WriteFixture(fresh));
    if (Regenerate()) WriteBytes(Golden("typed.seg"), ReadBytes(fresh));
    ASSERT_EQ(ReadBytes(fresh), ReadBytes(Golden("typed.seg")))
        << "the fixture writer no longer makes testdata/golden/segdump/typed.seg";
  }

  // Runs a mode over the golden segment; the path in the output reads "typed.seg".
  void Check(ModeFn mode, Options o, const std::string& golden) {
    const std::string path = Golden("typed.seg");
    o.paths = {path};
    o.tz = "UTC";
    RunResult r = RunMode(mode, o);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    std::string got = r.out;
    for (size_t at; (at = got.find(path)) != std::string::npos;)
      got.replace(at, path.size(), "typed.seg");
    if (Regenerate()) WriteBytes(Golden(golden), got);
    EXPECT_EQ(got, ReadBytes(Golden(golden))) << "differs from testdata/golden/segdump/" << golden;
  }

  binlog::testing::TempDir tmp_;
};

TEST_F(SegdumpGoldenTest, Text) { Check(RunDump, Options(), "typed.txt"); }

TEST_F(SegdumpGoldenTest, TextVerbose) {
  Options o;
  o.verbose = true;
  Check(RunDump, o, "typed-v.txt");
}

TEST_F(SegdumpGoldenTest, Json) {
  Options o;
  o.format = Format::kJson;
  Check(RunDump, o, "typed.jsonl");
}

TEST_F(SegdumpGoldenTest, JsonVerbose) {
  Options o;
  o.format = Format::kJson;
  o.verbose = true;
  Check(RunDump, o, "typed-v.jsonl");
}

TEST_F(SegdumpGoldenTest, Stats) {
  Options o;
  o.format = Format::kJson;
  Check(RunStats, o, "typed-stats.json");
  Check(RunStats, Options(), "typed-stats.txt");
}

TEST_F(SegdumpGoldenTest, Verify) {
  Options o;
  o.verbose = true;
  Check(RunVerify, o, "typed-verify.txt");
}

}  // namespace
}  // namespace binlog::segdump
