// The end of an active segment after a crash: a short, zero-filled or garbage tail is where the
// writer died (ignored, cut on reopen); bad bytes with a good block after them are not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "segment/segment.h"
#include "segment/segment_testutil.h"
#include "testutil/testutil.h"

namespace binlog::segment {
namespace {

using ::testing::HasSubstr;
using testing::OwnedRecord;
using testing::ReadAll;
using State = SegmentIterator::State;

class RecoveryTest : public ::testing::TestWithParam<Compression> {
 protected:
  void SetUp() override {
    options_.compression = GetParam();
    options_.block_bytes = 256;
    options_.index_interval_bytes = 512;
    std::mt19937_64 rng(401);
    records_ = testing::RandomRecords(rng, 120, 1000, 60);
    path_ = dir_.Sub("seg");
    ASSERT_OK_AND_ASSIGN(written_,
                         testing::WriteSegment(env_, path_, options_, records_, 7, false));
    ASSERT_GE(written_.blocks.size(), 6u);
    original_ = testing::ReadBytes(path_);
  }

  // Reopens the segment, appends records after the last one, and closes it unsealed.
  std::vector<OwnedRecord> ReopenAndAppend(const ScanResult& scan) {
    std::vector<OwnedRecord> more = {{records_.back().ts + 1, "after-1"},
                                     {records_.back().ts + 2, "after-2"}};
    auto writer = SegmentWriter::Reopen(env_, path_, options_, scan);
    EXPECT_OK(writer.status());
    if (!writer.ok()) return {};
    BlockEncoder encoder(options_);
    std::vector<EncodedBlock> blocks;
    EXPECT_OK(encoder.Encode(testing::Views(more), &blocks));
    EXPECT_OK((*writer)->Append(blocks));
    EXPECT_OK((*writer)->Close());
    return more;
  }

  Env* env_ = Env::Posix();
  binlog::testing::TempDir dir_;
  SegmentOptions options_;
  std::vector<OwnedRecord> records_;
  std::string path_;
  testing::WrittenSegment written_;
  std::string original_;
};

TEST_P(RecoveryTest, TailTruncatedAtEveryByteIsTornAndReopenable) {
  const size_t n = written_.blocks.size();
  for (uint64_t cut = written_.blocks[n - 3].offset; cut <= original_.size(); ++cut) {
    SCOPED_TRACE(::testing::Message() << "cut at " << cut);
    testing::WriteBytes(path_, original_.substr(0, cut));
    size_t whole = 0;  // blocks wholly before the cut, padding included
    while (whole < n && written_.blocks[whole].end <= cut) ++whole;
    uint64_t whole_end = whole == 0 ? kHeaderSize : written_.blocks[whole - 1].end;

    ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
    EXPECT_TRUE(scan.damages.empty());
    EXPECT_EQ(scan.valid_end, whole_end);
    EXPECT_EQ(scan.file_size, cut);
    if (cut > whole_end) {
      ASSERT_TRUE(scan.torn_tail_at.has_value());
      EXPECT_EQ(*scan.torn_tail_at, whole_end);
    } else {
      EXPECT_FALSE(scan.torn_tail_at.has_value());
    }
    std::vector<OwnedRecord> want = testing::RecordsOfBlocks(written_, records_, whole);
    testing::ReadOutcome got = ReadAll(env_, path_);
    ASSERT_OK(got.status);
    EXPECT_EQ(got.end, cut > whole_end ? State::kIncomplete : State::kEnd);
    ASSERT_EQ(got.records, want);

    std::vector<OwnedRecord> more = ReopenAndAppend(scan);
    want.insert(want.end(), more.begin(), more.end());
    got = ReadAll(env_, path_);
    ASSERT_OK(got.status);
    EXPECT_EQ(got.end, State::kEnd);
    ASSERT_EQ(got.records, want);
  }
}

TEST_P(RecoveryTest, ZeroFilledTailIsTorn) {
  testing::AppendBytes(path_, std::string(4096, '\0'));
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
  EXPECT_TRUE(scan.damages.empty());
  EXPECT_EQ(scan.valid_end, original_.size());
  ASSERT_TRUE(scan.torn_tail_at.has_value());
  EXPECT_EQ(*scan.torn_tail_at, original_.size());
  testing::ReadOutcome got = ReadAll(env_, path_);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.end, State::kIncomplete);
  EXPECT_EQ(got.records, records_);

  std::vector<OwnedRecord> more = ReopenAndAppend(scan);
  ASSERT_OK_AND_ASSIGN(scan, ScanSegment(env_, path_, ScanOptions()));
  EXPECT_FALSE(scan.torn_tail_at.has_value());
  EXPECT_EQ(ReadAll(env_, path_).records.size(), records_.size() + more.size());
}

TEST_P(RecoveryTest, LastBlockZeroedInPlaceIsTorn) {
  // A file system may show a block that was allocated but never written as zeros.
  const testing::WrittenBlock& last = written_.blocks.back();
  std::string bytes = original_;
  std::fill(bytes.begin() + static_cast<long>(last.offset), bytes.end(), '\0');
  testing::WriteBytes(path_, bytes);
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
  EXPECT_TRUE(scan.damages.empty());
  ASSERT_TRUE(scan.torn_tail_at.has_value());
  EXPECT_EQ(*scan.torn_tail_at, last.offset);
}

TEST_P(RecoveryTest, GarbageTailIsIgnored) {
  std::mt19937_64 rng(402);
  for (size_t len : {1, 7, 8, 47, 48, 49, 1000}) {
    SCOPED_TRACE(::testing::Message() << len << " bytes of garbage");
    testing::WriteBytes(path_, original_ + testing::NonZeroGarbage(rng, len));
    ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
    EXPECT_TRUE(scan.damages.empty());
    ASSERT_TRUE(scan.torn_tail_at.has_value());
    EXPECT_EQ(*scan.torn_tail_at, original_.size());
    testing::ReadOutcome got = ReadAll(env_, path_);
    ASSERT_OK(got.status);
    EXPECT_EQ(got.end, State::kIncomplete);
    EXPECT_EQ(got.records, records_);
  }
}

TEST_P(RecoveryTest, GarbageFollowedByAGoodBlockIsNotIgnored) {
  std::mt19937_64 rng(403);
  const testing::WrittenBlock& first = written_.blocks.front();
  std::string copy = original_.substr(first.offset, first.end - first.offset);
  testing::WriteBytes(path_, original_ + testing::NonZeroGarbage(rng, 200) + copy);

  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
  EXPECT_FALSE(scan.torn_tail_at.has_value());
  ASSERT_EQ(scan.damages.size(), 1u);
  EXPECT_EQ(scan.damages[0].offset, original_.size());
  EXPECT_EQ(scan.damages[0].length, 200u);
  EXPECT_EQ(scan.valid_end, original_.size() + 200 + copy.size());

  testing::ReadOutcome got = ReadAll(env_, path_);
  ASSERT_TRUE(got.status.IsCorruption()) << got.status.ToString();
  EXPECT_THAT(got.status.message(), HasSubstr(path_));
  EXPECT_THAT(got.status.message(), HasSubstr("offset " + std::to_string(original_.size())));
  EXPECT_EQ(got.records, records_);

  auto writer = SegmentWriter::Reopen(env_, path_, options_, scan);
  EXPECT_TRUE(writer.status().IsInvalidArgument()) << writer.status().ToString();
}

TEST_P(RecoveryTest, ReopenRefusesASealedSegment) {
  ASSERT_OK(testing::WriteSegment(env_, path_, options_, records_, 7, true).status());
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
  EXPECT_TRUE(SegmentWriter::Reopen(env_, path_, options_, scan).status().IsInvalidArgument());
}

TEST_P(RecoveryTest, ReopenedSegmentSealsWithTheWholeIndex) {
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, [] {
                         ScanOptions o;
                         o.index_interval_bytes = 512;
                         return o;
                       }()));
  ASSERT_OK_AND_ASSIGN(auto writer, SegmentWriter::Reopen(env_, path_, options_, scan));
  ASSERT_OK(writer->Seal());
  // Same footer as writing the segment in one go and sealing it.
  std::string once = dir_.Sub("once");
  ASSERT_OK(testing::WriteSegment(env_, once, options_, records_, 7, true).status());
  EXPECT_EQ(testing::ReadBytes(path_), testing::ReadBytes(once));
}

INSTANTIATE_TEST_SUITE_P(Codecs, RecoveryTest,
                         ::testing::Values(Compression::kZstd, Compression::kNone),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

}  // namespace
}  // namespace binlog::segment
