// Damage that is not a torn tail: flipped bits in blocks, footers and headers. Each is reported
// with the file and the byte offset where the bad bytes start, and salvage keeps the evidence.
#include <fmt/format.h>
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

class DamageTest : public ::testing::TestWithParam<bool /*sealed*/> {
 protected:
  void SetUp() override {
    options_.block_bytes = 512;
    options_.index_interval_bytes = 1024;
    std::mt19937_64 rng(501);
    records_ = testing::RandomRecords(rng, 150, 5000, 80);
    path_ = dir_.Sub("binlog-0000000000005000-20240101000000");
    ASSERT_OK_AND_ASSIGN(written_,
                         testing::WriteSegment(env_, path_, options_, records_, 10, GetParam()));
    ASSERT_GE(written_.blocks.size(), 5u);
  }

  // Expects an iterator to return the records before block b, then Corruption naming b.
  void ExpectCorruptionAtBlock(size_t b) {
    testing::ReadOutcome got = ReadAll(env_, path_);
    ASSERT_TRUE(got.status.IsCorruption()) << got.status.ToString();
    EXPECT_THAT(got.status.message(), HasSubstr(path_));
    EXPECT_THAT(got.status.message(),
                HasSubstr("offset " + std::to_string(written_.blocks[b].offset) + ":"));
    EXPECT_EQ(got.records, testing::RecordsOfBlocks(written_, records_, b));
  }

  // Expects a scan to list exactly one damaged region: block b.
  void ExpectScanDamageAtBlock(size_t b) {
    ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
    EXPECT_FALSE(scan.torn_tail_at.has_value());
    ASSERT_EQ(scan.damages.size(), 1u);
    EXPECT_EQ(scan.damages[0].offset, written_.blocks[b].offset);
    EXPECT_EQ(scan.damages[0].length, written_.blocks[b].end - written_.blocks[b].offset);
    EXPECT_FALSE(scan.damages[0].reason.empty());
    // Just past the last good block.
    EXPECT_EQ(scan.valid_end,
              b + 1 == written_.blocks.size() ? written_.blocks[b].offset : written_.blocks_end);
    EXPECT_EQ(scan.footer.totals().block_count, written_.blocks.size() - 1);
  }

  Env* env_ = Env::Posix();
  binlog::testing::TempDir dir_;
  SegmentOptions options_;
  std::vector<OwnedRecord> records_;
  std::string path_;
  testing::WrittenSegment written_;
};

TEST_P(DamageTest, FlippedPayloadBitInAMiddleBlockIsCorruption) {
  testing::FlipBit(path_, written_.blocks[2].offset + kBlockHeaderSize + 3, 5);
  ExpectCorruptionAtBlock(2);
  ExpectScanDamageAtBlock(2);
  testing::ReadOutcome got = ReadAll(env_, path_);
  EXPECT_THAT(got.status.message(), HasSubstr("payload checksum mismatch"));
}

TEST_P(DamageTest, FlippedLengthBitInAMiddleBlockIsCorruptionNotATornTail) {
  const std::string original = testing::ReadBytes(path_);
  for (int bit = 0; bit < 32; ++bit) {  // stored_len: bytes 4..7 of the block header
    SCOPED_TRACE(::testing::Message() << "stored_len bit " << bit);
    testing::WriteBytes(path_, original);
    testing::FlipBit(path_, written_.blocks[2].offset + 4 + bit / 8, bit % 8);
    ExpectCorruptionAtBlock(2);
    ExpectScanDamageAtBlock(2);
  }
}

TEST_P(DamageTest, FlippedMagicInAMiddleBlockIsCorruption) {
  testing::FlipBit(path_, written_.blocks[3].offset, 0);
  ExpectCorruptionAtBlock(3);
  ExpectScanDamageAtBlock(3);
}

TEST_P(DamageTest, DamagedLastBlockIsCorruptionOnlyWhenSealed) {
  size_t last = written_.blocks.size() - 1;
  testing::FlipBit(path_, written_.blocks[last].offset + kBlockHeaderSize, 0);
  if (GetParam()) {
    ExpectCorruptionAtBlock(last);
    ExpectScanDamageAtBlock(last);
    return;
  }
  // Unsealed: a bad last block may be a write in progress or torn by a crash.
  testing::ReadOutcome got = ReadAll(env_, path_);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.end, State::kIncomplete);
  EXPECT_EQ(got.records, testing::RecordsOfBlocks(written_, records_, last));
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
  EXPECT_TRUE(scan.damages.empty());
  ASSERT_TRUE(scan.torn_tail_at.has_value());
  EXPECT_EQ(*scan.torn_tail_at, written_.blocks[last].offset);
}

TEST_P(DamageTest, SalvageKeepsTheBrokenFileAndRewritesOnlyGoodBlocks) {
  testing::FlipBit(path_, written_.blocks[1].offset + kBlockHeaderSize + 1, 2);
  testing::FlipBit(path_, written_.blocks[3].offset + 9, 0);  // raw_len
  const std::string damaged = testing::ReadBytes(path_);
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
  ASSERT_EQ(scan.damages.size(), 2u);

  ASSERT_OK_AND_ASSIGN(ScanResult after, SalvageSegment(env_, path_, scan));
  EXPECT_EQ(testing::ReadBytes(path_ + ".broken"), damaged);
  EXPECT_FALSE(env_->FileExists(path_ + ".tmp"));
  EXPECT_TRUE(after.damages.empty());
  EXPECT_FALSE(after.torn_tail_at.has_value());
  EXPECT_EQ(after.trailer.has_value(), GetParam());
  EXPECT_EQ(after.footer.totals().block_count, written_.blocks.size() - 2);

  std::vector<OwnedRecord> want;
  for (size_t b = 0; b < written_.blocks.size(); ++b) {
    if (b == 1 || b == 3) continue;
    size_t end =
        b + 1 < written_.blocks.size() ? written_.blocks[b + 1].first_record : records_.size();
    for (size_t i = written_.blocks[b].first_record; i < end; ++i) want.push_back(records_[i]);
  }
  testing::ReadOutcome got = ReadAll(env_, path_);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.end, State::kEnd);
  EXPECT_EQ(got.records, want);
  if (GetParam()) {
    EXPECT_EQ(after.trailer->record_count, want.size());
  }
}

TEST_P(DamageTest, ASecondSalvageKeepsTheFirstEvidence) {
  testing::FlipBit(path_, written_.blocks[1].offset + kBlockHeaderSize + 1, 2);
  const std::string first = testing::ReadBytes(path_);
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
  ASSERT_OK(SalvageSegment(env_, path_, scan).status());
  testing::FlipBit(path_, written_.blocks[0].offset + kBlockHeaderSize + 1, 3);
  const std::string second = testing::ReadBytes(path_);
  ASSERT_OK_AND_ASSIGN(scan, ScanSegment(env_, path_, ScanOptions()));
  ASSERT_OK(SalvageSegment(env_, path_, scan).status());
  EXPECT_EQ(testing::ReadBytes(path_ + ".broken"), first);
  EXPECT_EQ(testing::ReadBytes(path_ + ".broken.1"), second);
}

TEST_P(DamageTest, GoodChecksumsOverBadFramingYieldNoRecordsFromThatBlock) {
  // A block whose checks pass but whose header miscounts its records (a writer bug, or forged
  // bytes): none of its records may escape, not even on a later Next.
  const testing::WrittenBlock& b = written_.blocks[2];
  std::string bytes = testing::ReadBytes(path_);
  BlockHeader h = b.header;
  h.record_count += 1;
  EncodeBlockHeader(h, &bytes[b.offset]);
  testing::WriteBytes(path_, bytes);
  ExpectCorruptionAtBlock(2);

  // The same block at the end of an unsealed segment reads as incomplete, and stays so.
  std::string cut = bytes.substr(0, b.end);
  testing::WriteBytes(path_, cut);
  ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(env_, path_));
  SegmentIterator it(reader.get(), 0, UINT64_MAX);
  Record r;
  size_t n = 0;
  State s;
  while (true) {
    ASSERT_OK_AND_ASSIGN(s, it.Next(&r));
    if (s != State::kRecord) break;
    ++n;
  }
  EXPECT_EQ(s, State::kIncomplete);
  EXPECT_EQ(n, b.first_record);
  ASSERT_OK_AND_ASSIGN(s, it.Next(&r));
  EXPECT_EQ(s, State::kIncomplete);
}

INSTANTIATE_TEST_SUITE_P(SealedAndUnsealed, DamageTest, ::testing::Bool(), [](const auto& info) {
  return std::string(info.param ? "Sealed" : "Unsealed");
});

class FooterDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SegmentOptions options;
    options.block_bytes = 512;
    options.index_interval_bytes = 1024;
    std::mt19937_64 rng(502);
    records_ = testing::RandomRecords(rng, 100, 1, 80);
    path_ = dir_.Sub("seg");
    ASSERT_OK_AND_ASSIGN(written_, testing::WriteSegment(env_, path_, options, records_, 10, true));
    ASSERT_GE(written_.totals.index_count, 2u);
  }

  // A damaged footer: the segment reads as unsealed, the footer's bytes as a torn tail.
  void ExpectReadAsUnsealed() {
    ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(env_, path_));
    EXPECT_FALSE(reader->sealed());
    EXPECT_TRUE(reader->footer_status().IsCorruption()) << reader->footer_status().ToString();
    EXPECT_THAT(reader->footer_status().message(), HasSubstr(path_));
    testing::ReadOutcome got = ReadAll(env_, path_);
    ASSERT_OK(got.status);
    EXPECT_EQ(got.records, records_);
    EXPECT_EQ(got.end, State::kIncomplete);
    ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path_, ScanOptions()));
    EXPECT_FALSE(scan.footer_status.ok());
    EXPECT_FALSE(scan.trailer.has_value());
    EXPECT_TRUE(scan.damages.empty());
    ASSERT_TRUE(scan.torn_tail_at.has_value());
    EXPECT_EQ(*scan.torn_tail_at, written_.blocks_end);
    EXPECT_EQ(scan.footer.totals().record_count, records_.size());
  }

  Env* env_ = Env::Posix();
  binlog::testing::TempDir dir_;
  std::vector<OwnedRecord> records_;
  std::string path_;
  testing::WrittenSegment written_;
};

TEST_F(FooterDamageTest, DamagedFooterChecksumIsReadAsUnsealed) {
  testing::FlipBit(path_, written_.size - 1, 7);
  ExpectReadAsUnsealed();
}

TEST_F(FooterDamageTest, DamagedIndexEntryIsReadAsUnsealed) {
  testing::FlipBit(path_, written_.blocks_end + kIndexEntrySize + 9, 0);
  ExpectReadAsUnsealed();
}

// With its magic damaged the trailer no longer says "footer", but the rest of it still checks
// out: the segment was sealed, and the damage must not pass for a torn tail that a crash left.
TEST_F(FooterDamageTest, DamagedTrailerMagicIsReadAsUnsealedAndNamed) {
  testing::FlipBit(path_, written_.size - kTrailerSize, 3);
  ExpectReadAsUnsealed();
  ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(env_, path_));
  EXPECT_THAT(reader->footer_status().message(), HasSubstr("trailer magic is damaged"));
  EXPECT_THAT(reader->footer_status().message(),
              HasSubstr(fmt::format("offset {}", written_.blocks_end)));
}

TEST_F(FooterDamageTest, DamagedTrailerTotalsAreReadAsUnsealed) {
  testing::FlipBit(path_, written_.size - kTrailerSize + 24, 0);  // record_count
  ExpectReadAsUnsealed();
}

}  // namespace
}  // namespace binlog::segment
