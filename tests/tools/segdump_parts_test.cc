// segdump and transactions in parts (docs/FORMAT.md, "Transactions in parts"): the dump shows
// each part, --verify checks that every transaction is whole.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "segdump/segdump.h"
#include "segdump_testutil.h"

namespace binlog::segdump {
namespace {

using segment::MakePartTag;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing;  // NOLINT: segdump's test helpers

// Writes records (ts, part tag) as one segment, each payload a one-row COMMIT.
void WriteTagged(const std::string& path, const std::vector<std::pair<uint64_t, uint32_t>>& recs,
                 bool sealed) {
  segment::SegmentOptions so;
  std::vector<std::string> payloads;
  for (size_t i = 0; i < recs.size(); ++i) payloads.push_back(Commit("t", static_cast<int>(i)));
  std::vector<segment::Record> records;
  for (size_t i = 0; i < recs.size(); ++i) {
    records.push_back({recs[i].first, payloads[i], recs[i].second});
  }
  segment::BlockEncoder encoder(so);
  std::vector<segment::EncodedBlock> blocks;
  ASSERT_OK(encoder.Encode(records, &blocks));
  ASSERT_OK_AND_ASSIGN(auto writer,
                       segment::SegmentWriter::Create(Env::Posix(), path, so, 1700000000000000));
  ASSERT_OK(writer->Append(blocks));
  ASSERT_OK(sealed ? writer->Seal() : writer->Close());
}

std::string Golden(const std::string& name) {
  return binlog::testing::TestDataPath("golden/" + name);
}

TEST(SegdumpPartsTest, TheDumpShowsEachPartAndVerifyCountsWholeTransactions) {
  Options o = For({Golden("parts.seg")});
  RunResult dump = RunMode(RunDump, o);
  ASSERT_EQ(dump.code, 0) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr(" COMMIT part=0 start_ts="));
  EXPECT_THAT(dump.out, HasSubstr(" COMMIT part=1 start_ts="));
  EXPECT_THAT(dump.out, HasSubstr(" COMMIT part=2 last start_ts="));

  o.format = Format::kJson;
  RunResult json = RunMode(RunDump, o);
  ASSERT_EQ(json.code, 0);
  std::istringstream lines(json.out);
  std::string line;
  int parts = 0, last = 0, whole = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["part"].is_null()) {
      ++whole;
      continue;
    }
    ++parts;
    last += j["part"]["last"].get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(whole, 22);
  EXPECT_EQ(parts, 6);
  EXPECT_EQ(last, 2);

  Options v = For({Golden("parts.seg")});
  v.verbose = true;
  RunResult verify = RunMode(RunVerify, v);
  EXPECT_EQ(verify.code, 0) << verify.out;
  EXPECT_THAT(verify.out, HasSubstr("28 records, ts "));
  EXPECT_THAT(verify.out, HasSubstr(", 2 transactions in parts, each whole"));
}

TEST(SegdumpPartsTest, ANewestSegmentEndingInsideATransactionIsAWarning) {
  RunResult r = RunMode(RunVerify, For({Golden("parts-open.seg")}));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("WARNING"));
  EXPECT_THAT(r.out, HasSubstr("(2 parts from offset"));
  EXPECT_THAT(r.out, HasSubstr("cut by the writer when it next opens"));
}

TEST(SegdumpPartsTest, ATransactionWithoutItsLastPartBeforeANewerSegmentIsAnError) {
  binlog::testing::TempDir dir;
  WriteTagged(dir.Sub(SegmentName(10)), {{10, 0}, {20, MakePartTag(0, false)}}, false);
  WriteTagged(dir.Sub(SegmentName(30)), {{30, 0}}, false);
  RunResult r = RunMode(RunVerify, For({dir.path()}));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("ends inside the transaction at ts 20 (1 parts from offset"));
  EXPECT_THAT(r.out, HasSubstr("not the newest: its last part is lost"));
}

TEST(SegdumpPartsTest, PartsOutOfOrderOrCutByAnotherTransactionAreErrorsInEveryMode) {
  binlog::testing::TempDir dir;
  const std::string skipped = dir.Sub("skipped.seg");
  WriteTagged(skipped, {{20, MakePartTag(0, false)}, {20, MakePartTag(2, true)}}, true);
  const std::string cut = dir.Sub("cut.seg");
  WriteTagged(cut, {{20, MakePartTag(0, false)}, {30, 0}}, true);
  const std::string headless = dir.Sub("headless.seg");
  WriteTagged(headless, {{20, MakePartTag(1, true)}}, true);
  for (auto mode : {RunDump, RunVerify, RunStats}) {
    RunResult r = RunMode(mode, For({skipped, cut, headless}));
    EXPECT_EQ(r.code, 1);
    const std::string all = r.out + r.err;
    EXPECT_THAT(all, HasSubstr("part 2 where part 1 of the transaction at ts 20 belongs"));
    EXPECT_THAT(all, HasSubstr("the transaction at ts 20 (1 parts from offset 32) ends without "
                               "its last part: ts 30 follows"));
    EXPECT_THAT(all, HasSubstr("part 1 of the transaction at ts 20 without the parts before it"));
  }
}

TEST(SegdumpPartsTest, VersionOneSegmentsStillRead) {
  Options o = For({Golden("v1/ordered-sealed.seg")});
  o.verbose = true;
  RunResult r = RunMode(RunVerify, o);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("sealed, 7 blocks, 24 records"));
  EXPECT_THAT(r.out, Not(HasSubstr("transactions in parts")));
}

}  // namespace
}  // namespace binlog::segdump
