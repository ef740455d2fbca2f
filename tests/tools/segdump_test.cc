#include "segdump/segdump.h"

#include <gmock/gmock.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/tso.h"
#include "segdump/printer.h"
#include "segdump_testutil.h"

namespace binlog::segdump {
namespace {

using ::testing::HasSubstr;
using namespace testing;  // NOLINT: segdump's test helpers

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
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_string_value("0x41"); })), "'0x41'");
  EXPECT_EQ(ValueText(Val([](pb::Value& v) { v.set_bytes_value("A"); })), "x'41'");
  EXPECT_EQ(ValueText(pb::Value()), "<absent>");
}

// Every kind says what it is: the string '0x41' and the bytes 0x41 ('A') differ, SQL NULL and a
// column the row image left out differ, and no 64-bit integer loses digits in a JSON parser.
TEST(ValueJsonTest, EachValueSaysWhatItIs) {
  auto json = [](auto set) { return ValueJson(Val(set)); };
  EXPECT_EQ(json([](pb::Value& v) { v.set_string_value("0x41"); }), R"({"string":"0x41"})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_bytes_value("A"); }), R"({"bytes":"41"})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_is_null(true); }), R"({"null":true})");
  EXPECT_EQ(ValueJson(pb::Value()), R"({"absent":true})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_uint64_value(UINT64_MAX); }),
            R"({"uint":"18446744073709551615"})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_int64_value(INT64_MIN); }),
            R"({"int":"-9223372036854775808"})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_int64_value(7); }), R"({"int":"7"})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_decimal_value("1.50"); }), R"({"decimal":"1.50"})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_double_value(0.1); }), R"({"double":0.1})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_double_value(NAN); }), R"({"double":"NaN"})");
  EXPECT_EQ(json([](pb::Value& v) { v.set_double_value(-INFINITY); }), R"({"double":"-Infinity"})");
  // A kind a newer writer added to the oneof: shown as its bytes, not taken for "absent".
  pb::Value future;
  future.GetReflection()->MutableUnknownFields(&future)->AddVarint(8, 1);
  EXPECT_EQ(ValueJson(future), R"({"unknown":"4001"})");
  EXPECT_EQ(ValueText(future), "<unknown>");
}

TEST(OneLineTest, EscapesLineBreaksControlsAndBytesThatAreNotUtf8) {
  EXPECT_EQ(OneLine("a\nb\tc"), "a\\nb\\x09c");
  EXPECT_EQ(OneLine("caf\xe9 Zoë \xed\xa0\x80"), "caf\\xe9 Zoë \\xed\\xa0\\x80");
}

TEST(RunDumpTest, UnparseablePayloadIsReportedAndFailsTheRun) {
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("any-name.seg");
  WriteSegment(path, 3, true, 1, 600, {Commit("t1", 7), "\xff\xff\xff", Commit("t3", 7)});
  Options o = For({path});
  o.verbose = true;
  RunResult r = RunMode(RunDump, o);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out,
            "1 1970-01-01 00:00:00.000000 COMMIT start_ts=1 db.t1 +1 ~0 -0\n"
            "  INSERT db.t1: id=7, @2=NULL\n"
            "3 1970-01-01 00:00:00.000000 COMMIT start_ts=1 db.t3 +1 ~0 -0\n"
            "  INSERT db.t3: id=7, @2=NULL\n");
  EXPECT_THAT(r.err, HasSubstr(path + ": offset 32: record 1 of the block (ts 2, 3 bytes)"));
}

TEST(RunDumpTest, JsonIsVersionedAndNamesSegmentAndBlock) {
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  WriteSegment(path, 2, true, ComposeTS(1700000000000, 1));
  Options o = For({path});
  o.format = Format::kJson;
  o.from = ComposeTS(1700000000000, 2);
  RunResult r = RunMode(RunDump, o);
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["ts"], "445644800000000002");  // beyond 2^53: a string, exact
  EXPECT_EQ(j["segment"], path);
  EXPECT_EQ(j["block_offset"], segment::kHeaderSize);
  EXPECT_EQ(j["tables"][0]["table"], "t1");
  EXPECT_TRUE(j["ddl"].is_null());
  EXPECT_TRUE(j["source"].is_null());
}

TEST(RunDumpTest, PrintsTheUpstreamPosition) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_commit_ts(5);
  auto* s = b.mutable_source();
  s->set_server_id(3);
  s->set_file("mariadb-bin.000012");
  s->set_pos(1234);
  s->set_gtid("0-3-77");
  s->set_event_time(1700000000);
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  WriteSegment(path, 1, true, 5, 600, {b.SerializeAsString()});
  Options o = For({path});
  o.verbose = true;
  EXPECT_EQ(RunMode(RunDump, o).out,
            "5 1970-01-01 00:00:00.000000 COMMIT\n"
            "  SOURCE server_id=3 file=mariadb-bin.000012 pos=1234 gtid=0-3-77 "
            "event_time=1700000000 (2023-11-14 22:13:20)\n");
  o.format = Format::kJson;
  auto j = nlohmann::ordered_json::parse(RunMode(RunDump, o).out);
  EXPECT_EQ(j["source"].dump(),
            R"({"server_id":3,"file":"mariadb-bin.000012","pos":"1234","gtid":"0-3-77",)"
            R"("event_time":1700000000,"event_datetime":"2023-11-14 22:13:20"})");
}

TEST(RunStatsTest, TotalsOfWhatIsReadable) {
  binlog::testing::TempDir tmp;
  std::string path = tmp.Sub("seg");
  WriteSegment(path, 3, true);
  Options o = For({path});
  o.format = Format::kJson;
  RunResult r = RunMode(RunStats, o);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["segments"], 1);
  EXPECT_EQ(j["sealed"], 1);
  EXPECT_EQ(j["records"], 3);
  EXPECT_EQ(j["first_ts"], "1");
  EXPECT_EQ(j["last_ts"], "3");
  EXPECT_EQ(j["first_datetime"], "1970-01-01 00:00:00.000000");
  EXPECT_EQ(j["errors"], 0);
}

}  // namespace
}  // namespace binlog::segdump
