// Transactions in parts (docs/FORMAT.md, "Transactions in parts"): the order the journal
// enforces, rotation that waits for a transaction's end, and recovery that cuts a transaction a
// crash left without its last part.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "journal_test_util.h"
#include "testutil/testutil.h"

namespace binlog::journal {
namespace {

using segment::MakePartTag;
using segment::PartTag;
using testing::PayloadFor;

JournalOptions Small(uint64_t max_file_size = 8 << 10) {
  JournalOptions o;
  o.max_file_size = max_file_size;
  o.segment.block_bytes = 4 << 10;
  o.segment.index_interval_bytes = 4 << 10;
  o.segment.compression = segment::Compression::kNone;  // sizes as written: rotation is tested
  return o;
}

// A part's payload: what PayloadFor gives for its ts, with the part index in front.
std::string PartPayload(uint64_t ts, uint32_t index) {
  return "part" + std::to_string(index) + ":" + PayloadFor(ts, 3000);
}

Status AppendPart(Journal* j, uint64_t ts, uint32_t index, bool last) {
  const std::string payload = PartPayload(ts, index);
  return j->Append(Record{ts, payload, MakePartTag(index, last)});
}

Status AppendWhole(Journal* j, uint64_t ts) {
  const std::string payload = PayloadFor(ts);
  return j->Append(Record{ts, payload});
}

struct Seen {
  uint64_t ts;
  PartTag part;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> ReadTags(const std::string& dir) {
  std::vector<Seen> out;
  auto reader = JournalReader::Open(Env::Posix(), dir, ReadOptions());
  EXPECT_OK(reader.status());
  if (!reader.ok()) return out;
  Record r;
  while (true) {
    auto more = (*reader)->Next(&r);
    EXPECT_OK(more.status());
    if (!more.ok() || !*more) break;
    const bool good = segment::IsPart(r.part)
                          ? r.payload == PartPayload(r.ts, segment::PartIndex(r.part))
                          : r.payload == PayloadFor(r.ts);
    EXPECT_TRUE(good) << "ts " << r.ts << " part tag " << r.part;
    out.push_back(Seen{r.ts, r.part});
  }
  return out;
}

TEST(JournalPartsTest, PartsShareTheirTsAndComeBackInOrderWithTheirTags) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(1 << 20)));
  ASSERT_OK(AppendWhole(j.get(), 10));
  for (uint32_t k = 0; k < 4; ++k) ASSERT_OK(AppendPart(j.get(), 20, k, k == 3));
  ASSERT_OK(AppendWhole(j.get(), 30));
  // Several parts in one call, and a transaction of one part.
  std::vector<std::string> payloads{PartPayload(40, 0), PartPayload(40, 1), PartPayload(50, 0)};
  std::vector<Record> batch{{40, payloads[0], MakePartTag(0, false)},
                            {40, payloads[1], MakePartTag(1, true)},
                            {50, payloads[2], MakePartTag(0, true)}};
  ASSERT_OK(j->Append(batch));
  EXPECT_EQ(j->last_ts(), 50u);
  ASSERT_OK(j->Close());
  std::vector<Seen> want{{10, 0},
                         {20, MakePartTag(0, false)},
                         {20, MakePartTag(1, false)},
                         {20, MakePartTag(2, false)},
                         {20, MakePartTag(3, true)},
                         {30, 0},
                         {40, MakePartTag(0, false)},
                         {40, MakePartTag(1, true)},
                         {50, MakePartTag(0, true)}};
  EXPECT_EQ(ReadTags(dir.path()), want);
}

TEST(JournalPartsTest, ABrokenSequenceOfPartsIsRefusedAndNothingOfTheCallIsWritten) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(1 << 20)));
  ASSERT_OK(AppendWhole(j.get(), 10));
  EXPECT_TRUE(AppendPart(j.get(), 20, 1, false).IsInvalidArgument());  // not part 0
  ASSERT_OK(AppendPart(j.get(), 20, 0, false));
  EXPECT_TRUE(AppendWhole(j.get(), 30).IsInvalidArgument());           // inside it
  EXPECT_TRUE(AppendPart(j.get(), 30, 0, false).IsInvalidArgument());  // another ts
  EXPECT_TRUE(AppendPart(j.get(), 20, 2, false).IsInvalidArgument());  // a part skipped
  EXPECT_TRUE(AppendPart(j.get(), 20, 0, false).IsInvalidArgument());  // a part again
  Status s = AppendWhole(j.get(), 30);
  EXPECT_NE(s.message().find("the transaction at ts 20 is open: its part 1 must come next"),
            std::string::npos)
      << s.ToString();
  ASSERT_OK(AppendPart(j.get(), 20, 1, true));
  EXPECT_TRUE(AppendPart(j.get(), 20, 2, true).IsInvalidArgument());  // after its last part
  ASSERT_OK(AppendWhole(j.get(), 30));
  ASSERT_OK(j->Close());
  std::vector<Seen> want{{10, 0}, {20, MakePartTag(0, false)}, {20, MakePartTag(1, true)}, {30, 0}};
  EXPECT_EQ(ReadTags(dir.path()), want);
}

TEST(JournalPartsTest, ASegmentNeverRotatesInsideATransaction) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(8 << 10)));
  ASSERT_OK(AppendWhole(j.get(), 10));
  // ~3 KiB a part: 12 parts are four times max-file-size, and a rotation asked in between.
  for (uint32_t k = 0; k < 12; ++k) {
    ASSERT_OK(AppendPart(j.get(), 20, k, k == 11));
    if (k == 5) ASSERT_OK(j->Rotate());
  }
  ASSERT_OK(AppendWhole(j.get(), 30));
  ASSERT_OK(j->Close());
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].ts, 10u);  // ts 10 and every part of ts 20
  EXPECT_EQ(segments[1].ts, 30u);
  ASSERT_OK_AND_ASSIGN(auto first,
                       segment::SegmentReader::Open(Env::Posix(), dir.Sub(segments[0].name)));
  ASSERT_TRUE(first->sealed());
  EXPECT_EQ(first->trailer()->record_count, 13u);
  EXPECT_GT(first->trailer()->index_offset, 4 * (8u << 10) - 4096);
}

TEST(JournalPartsTest, ReopenCutsATransactionThatLostItsLastPartAndItCanBeWrittenAgain) {
  binlog::testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(1 << 20)));
    ASSERT_OK(AppendWhole(j.get(), 10));
    for (uint32_t k = 0; k < 3; ++k) ASSERT_OK(AppendPart(j.get(), 20, k, false));
    ASSERT_OK(j->Close());  // as a crash leaves it: durable parts, no last one
  }
  const std::vector<Seen> before_cut = ReadTags(dir.path());
  EXPECT_EQ(before_cut.size(), 4u);  // a reader of the directory sees the parts meanwhile
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(1 << 20)));
  EXPECT_EQ(j->last_ts(), 10u);
  for (uint32_t k = 0; k < 2; ++k) ASSERT_OK(AppendPart(j.get(), 20, k, k == 1));
  ASSERT_OK(AppendWhole(j.get(), 30));
  ASSERT_OK(j->Close());
  std::vector<Seen> want{{10, 0}, {20, MakePartTag(0, false)}, {20, MakePartTag(1, true)}, {30, 0}};
  EXPECT_EQ(ReadTags(dir.path()), want);
}

TEST(JournalPartsTest, ATornTailInsideTheLastPartsCutsTheWholeTransaction) {
  binlog::testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(1 << 20)));
    ASSERT_OK(AppendWhole(j.get(), 10));
    for (uint32_t k = 0; k < 3; ++k) ASSERT_OK(AppendPart(j.get(), 20, k, k == 2));
    ASSERT_OK(j->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  ASSERT_EQ(segments.size(), 1u);
  const std::string path = dir.Sub(segments[0].name);
  ASSERT_OK_AND_ASSIGN(uint64_t size, Env::Posix()->GetFileSize(path));
  // The crash took the end of the last part: its block is torn, the first two are whole.
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size - 100)), 0);
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(1 << 20)));
  EXPECT_EQ(j->last_ts(), 10u);
  ASSERT_OK(j->Close());
  EXPECT_EQ(ReadTags(dir.path()), (std::vector<Seen>{{10, 0}}));
}

TEST(JournalPartsTest, ATransactionCutToNothingRemovesItsSegment) {
  binlog::testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(8 << 10)));
    ASSERT_OK(AppendWhole(j.get(), 10));
    for (int i = 0; i < 29; ++i) ASSERT_OK(AppendWhole(j.get(), 11 + i));
    ASSERT_OK(j->Rotate());
    ASSERT_OK(AppendPart(j.get(), 50, 0, false));  // starts the newest segment
    ASSERT_OK(j->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  ASSERT_GE(segments.size(), 2u);
  EXPECT_EQ(segments.back().ts, 50u);
  const size_t before = segments.size();
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(8 << 10)));
  EXPECT_EQ(j->last_ts(), 39u);
  ASSERT_OK_AND_ASSIGN(segments, ListSegments(Env::Posix(), dir.path()));
  EXPECT_EQ(segments.size(), before - 1);
  EXPECT_NE(segments.back().ts, 50u);
}

TEST(JournalPartsTest, AnActiveSegmentOfFormatVersionOneIsSealedAndReadOn) {
  binlog::testing::TempDir dir;
  const std::string old_name = "binlog-0445644800001310721-20231114221320";
  ASSERT_OK(Env::Posix()->CopyFile(binlog::testing::TestDataPath("golden/v1/ordered-active.seg"),
                                   dir.Sub(old_name)));
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(1 << 20)));
  const uint64_t next = j->last_ts() + 1;
  ASSERT_OK(AppendPart(j.get(), next, 0, false));
  ASSERT_OK(AppendPart(j.get(), next, 1, true));
  ASSERT_OK(j->Close());
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  ASSERT_EQ(segments.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto old, segment::SegmentReader::Open(Env::Posix(), dir.Sub(old_name)));
  EXPECT_EQ(old->header().version, 1);
  EXPECT_TRUE(old->sealed());
  ASSERT_OK_AND_ASSIGN(auto fresh,
                       segment::SegmentReader::Open(Env::Posix(), dir.Sub(segments[1].name)));
  EXPECT_EQ(fresh->header().version, segment::kFormatVersion);
  ReadOptions all;
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(Env::Posix(), dir.path(), all));
  Record r;
  std::vector<PartTag> tags;
  while (true) {
    ASSERT_OK_AND_ASSIGN(bool more, reader->Next(&r));
    if (!more) break;
    tags.push_back(r.part);
  }
  ASSERT_EQ(tags.size(), 26u);  // the golden file's 24 whole records, then two parts
  EXPECT_EQ(tags[23], 0u);
  EXPECT_EQ(tags[24], MakePartTag(0, false));
  EXPECT_EQ(tags[25], MakePartTag(1, true));
}

TEST(JournalPartsTest, AStopAtATransactionsTsReadsAllOfItsParts) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), Small(1 << 20)));
  ASSERT_OK(AppendWhole(j.get(), 10));
  for (uint32_t k = 0; k < 3; ++k) ASSERT_OK(AppendPart(j.get(), 20, k, k == 2));
  ASSERT_OK(AppendWhole(j.get(), 30));
  ReadOptions o;
  o.stop_ts = 20;
  o.follow = true;  // a follower ends at the stop too, after the transaction's last part
  ASSERT_OK_AND_ASSIGN(auto reader, JournalReader::Open(Env::Posix(), dir.path(), o));
  Record r;
  std::vector<Seen> got;
  while (true) {
    ASSERT_OK_AND_ASSIGN(bool more, reader->Next(&r, std::chrono::milliseconds(50)));
    if (!more) break;
    got.push_back(Seen{r.ts, r.part});
  }
  std::vector<Seen> want{{10, 0},
                         {20, MakePartTag(0, false)},
                         {20, MakePartTag(1, false)},
                         {20, MakePartTag(2, true)}};
  EXPECT_EQ(got, want);
}

TEST(JournalPartsTest, AnArrivalJournalRotatesInsideATransaction) {
  binlog::testing::TempDir dir;
  JournalOptions o = Small(8 << 10);
  o.segment.kind = segment::SegmentKind::kArrival;
  ASSERT_OK_AND_ASSIGN(auto j, Journal::Open(dir.path(), o));
  // A wal/ interleaves the parts of many prewrites: one that never ends must not hold rotation.
  for (uint32_t k = 0; k < 12; ++k) ASSERT_OK(AppendPart(j.get(), 20, k, false));
  ASSERT_OK(j->Close());
  ASSERT_OK_AND_ASSIGN(auto segments, ListSegments(Env::Posix(), dir.path()));
  EXPECT_GE(segments.size(), 3u);
}

}  // namespace
}  // namespace binlog::journal
