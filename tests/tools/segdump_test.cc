#include "segdump/segdump.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "common/tso.h"
#include "segdump/printer.h"
#include "segment/segment.h"
#include "testutil/testutil.h"

namespace binlog::segdump {
namespace {

pb::Value Val(auto set) {
  pb::Value v;
  set(v);
  return v;
}

TEST(ValueTextTest, RendersEachKind) {
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_is_null(true); })), "NULL");
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_int64_value(-5); })), "-5");
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_uint64_value(UINT64_MAX); })),
            "18446744073709551615");
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_double_value(0.5); })), "0.5");
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_decimal_value("-12.340"); })), "-12.340");
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_bytes_value(std::string("\x00\xff", 2)); })),
            "x'00ff'");
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_string_value("it's\n\x01 Zoë"); })),
            "'it\\'s\\n\\x01 Zoë'");
  EXPECT_EQ(ValueText(pb::Value()), "<unset>");
}

TEST(ValueJsonTest, KeepsTypesAndNeverBreaksJson) {
  EXPECT_TRUE(ValueJson(Val([](pb::Value& v) { v.set_is_null(true); })).is_null());
  EXPECT_EQ(ValueJson(Val([](pb::Value& v) { v.set_uint64_value(UINT64_MAX); })).get<uint64_t>(),
            UINT64_MAX);
  EXPECT_EQ(ValueJson(Val([](pb::Value& v) { v.set_double_value(NAN); })), "NaN");
  EXPECT_EQ(ValueJson(Val([](pb::Value& v) { v.set_bytes_value("\x01\x02"); })), "0x0102");
  EXPECT_EQ(ValueJson(Val([](pb::Value& v) { v.set_decimal_value("1.50"); })), "1.50");
}

TEST(OneLineTest, EscapesLineBreaks) { EXPECT_EQ(OneLine("a\nb\tc"), "a\\nb\\x09c"); }

// Writes a sealed segment with these payloads at ts 1, 2, 3 ...
void WriteSegment(const std::string& path, const std::vector<std::string>& payloads) {
  segment::SegmentOptions so;
  auto writer = segment::SegmentWriter::Create(Env::Posix(), path, so, 0);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  std::vector<segment::Record> records;
  for (size_t i = 0; i < payloads.size(); ++i) records.push_back({i + 1, payloads[i]});
  segment::BlockEncoder encoder(so);
  std::vector<segment::EncodedBlock> blocks;
  ASSERT_OK(encoder.Encode(records, &blocks));
  ASSERT_OK((*writer)->Append(blocks));
  ASSERT_OK((*writer)->Seal());
}

std::string Commit(const std::string& table) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(1);
  auto* t = b.add_tables();
  t->set_schema_name("db");
  t->set_table_name(table);
  t->add_columns()->set_name("id");
  auto* m = t->add_mutations();
  m->set_type(pb::INSERT);
  m->mutable_row()->add_columns()->set_int64_value(7);
  m->mutable_row()->add_columns()->set_is_null(true);  // a value the columns do not name
  return b.SerializeAsString();
}

TEST(RunDumpTest, UnparseablePayloadIsReportedAndFailsTheRun) {
  testing::TempDir tmp;
  std::string path = tmp.Sub("any-name.seg");
  ASSERT_NO_FATAL_FAILURE(WriteSegment(path, {Commit("t1"), "\xff\xff\xff", Commit("t3")}));
  Options o;
  o.paths = {path};
  o.tz = "UTC";
  o.verbose = true;
  std::ostringstream out;
  EXPECT_EQ(RunDump(o, out), 1);
  EXPECT_EQ(out.str(),
            "1 1970-01-01 00:00:00.000000 COMMIT start_ts=1 db.t1 +1 ~0 -0\n"
            "  INSERT db.t1: id=7, @2=NULL\n"
            "3 1970-01-01 00:00:00.000000 COMMIT start_ts=1 db.t3 +1 ~0 -0\n"
            "  INSERT db.t3: id=7, @2=NULL\n");
}

TEST(RunDumpTest, JsonNamesSegmentAndBlock) {
  testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  ASSERT_NO_FATAL_FAILURE(WriteSegment(path, {Commit("t1"), Commit("t2")}));
  Options o;
  o.paths = {path};
  o.format = Format::kJson;
  o.from = 2;
  std::ostringstream out;
  ASSERT_EQ(RunDump(o, out), 0);
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["ts"], 2);
  EXPECT_EQ(j["segment"], path);
  EXPECT_EQ(j["block_offset"], segment::kHeaderSize);
  EXPECT_EQ(j["tables"][0]["table"], "t2");
  EXPECT_TRUE(j["ddl"].is_null());
}

TEST(RunStatsTest, SealedTotalsComeFromTheFooter) {
  testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  ASSERT_NO_FATAL_FAILURE(WriteSegment(path, {Commit("t1"), Commit("t2"), Commit("t3")}));
  Options o;
  o.paths = {path};
  o.format = Format::kJson;
  o.tz = "UTC";
  std::ostringstream out;
  ASSERT_EQ(RunStats(o, out), 0);
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["segments"], 1);
  EXPECT_EQ(j["sealed"], 1);
  EXPECT_EQ(j["records"], 3);
  EXPECT_EQ(j["first_ts"], 1);
  EXPECT_EQ(j["last_ts"], 3);
  EXPECT_EQ(j["first_datetime"], "1970-01-01 00:00:00.000000");
}

}  // namespace
}  // namespace binlog::segdump
