// The fixed-width layouts of format.h: where every field sits, what each check covers, and how a
// reader refuses what it does not know.
#include "segment/format.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "segment/segment.h"
#include "segment/segment_testutil.h"
#include "testutil/testutil.h"

namespace binlog::segment {
namespace {

using ::testing::HasSubstr;

TEST(FormatTest, SegmentHeaderPutsEveryFieldAtItsOffset) {
  SegmentHeader h;
  h.compression = Compression::kZstd;
  h.kind = SegmentKind::kArrival;
  h.created_micros = 0x0102030405060708;
  std::string b = EncodeSegmentHeader(h);
  ASSERT_EQ(b.size(), 32u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x89"
                                        "BINLOG\n",
                                        8));
  EXPECT_EQ(GetFixed16(&b[8]), 2u);
  EXPECT_EQ(b[10], 1);
  EXPECT_EQ(b[11], 1);
  EXPECT_EQ(GetFixed32(&b[12]), 0u);
  EXPECT_EQ(b.substr(16, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  EXPECT_EQ(GetFixed32(&b[24]), 0u);
  EXPECT_EQ(GetFixed32(&b[28]),
            static_cast<uint32_t>(Checksum64(std::string_view(b).substr(0, 28))));
  ASSERT_OK_AND_ASSIGN(SegmentHeader back, DecodeSegmentHeader(b));
  EXPECT_EQ(back.version, kFormatVersion);
  EXPECT_EQ(back.compression, Compression::kZstd);
  EXPECT_EQ(back.kind, SegmentKind::kArrival);
  EXPECT_EQ(back.created_micros, 0x0102030405060708);
}

TEST(FormatTest, EveryHeaderBitIsCovered) {
  std::string good = EncodeSegmentHeader(SegmentHeader{});
  for (size_t i = 0; i < kHeaderSize * 8; ++i) {
    std::string b = good;
    b[i / 8] = static_cast<char>(b[i / 8] ^ (1 << (i % 8)));
    EXPECT_FALSE(DecodeSegmentHeader(b).ok()) << "bit " << i;
  }
}

TEST(FormatTest, BlockHeaderPutsEveryFieldAtItsOffset) {
  BlockHeader h;
  h.stored_len = 0x11;
  h.raw_len = 0x22;
  h.record_count = 3;
  h.first_ts = 0x0A0B;
  h.last_ts = 0x0C0D;
  h.codec = Compression::kZstd;
  h.payload_check = 0x1122334455667788;
  char b[kBlockHeaderSize];
  EncodeBlockHeader(h, b);
  EXPECT_EQ(std::string(b, 4), "BLK1");
  EXPECT_EQ(GetFixed32(b + 4), 0x11u);
  EXPECT_EQ(GetFixed32(b + 8), 0x22u);
  EXPECT_EQ(GetFixed32(b + 12), 3u);
  EXPECT_EQ(GetFixed64(b + 16), 0x0A0Bu);
  EXPECT_EQ(GetFixed64(b + 24), 0x0C0Du);
  EXPECT_EQ(b[32], 1);
  EXPECT_EQ(b[33] | b[34] | b[35], 0);  // no part flags, reserved
  EXPECT_EQ(GetFixed32(b + 36), static_cast<uint32_t>(Checksum64(std::string_view(b, 36))));
  EXPECT_EQ(GetFixed64(b + 40), 0x1122334455667788u);
  BlockHeader back;
  ASSERT_EQ(DecodeBlockHeader(std::string_view(b, kBlockHeaderSize), &back), BlockHeaderState::kOk);
  EXPECT_EQ(back.stored_len, h.stored_len);
  EXPECT_EQ(back.record_count, h.record_count);
  EXPECT_EQ(back.last_ts, h.last_ts);
  EXPECT_EQ(back.payload_check, h.payload_check);
}

TEST(FormatTest, BlockHeaderCheckCoversBytesZeroToThirtyFive) {
  BlockHeader h;
  h.stored_len = 100;
  h.raw_len = 200;
  h.record_count = 4;
  h.first_ts = 5;
  h.last_ts = 9;
  char good[kBlockHeaderSize];
  EncodeBlockHeader(h, good);
  for (size_t i = 4 * 8; i < 40 * 8; ++i) {  // past the magic, through the check itself
    char b[kBlockHeaderSize];
    std::memcpy(b, good, sizeof(b));
    b[i / 8] = static_cast<char>(b[i / 8] ^ (1 << (i % 8)));
    BlockHeader out;
    EXPECT_EQ(DecodeBlockHeader(std::string_view(b, sizeof(b)), &out), BlockHeaderState::kBadCheck)
        << "bit " << i;
  }
  char zero[kBlockHeaderSize] = {};
  BlockHeader out;
  EXPECT_EQ(DecodeBlockHeader(std::string_view(zero, sizeof(zero)), &out), BlockHeaderState::kZero);
  good[0] ^= 1;
  EXPECT_EQ(DecodeBlockHeader(std::string_view(good, sizeof(good)), &out),
            BlockHeaderState::kBadMagic);
}

TEST(FormatTest, BlockHeaderWithFieldsOutOfRangeIsBadLength) {
  BlockHeader h;
  h.first_ts = 9;
  h.last_ts = 5;  // first after last
  char b[kBlockHeaderSize];
  EncodeBlockHeader(h, b);
  BlockHeader out;
  EXPECT_EQ(DecodeBlockHeader(std::string_view(b, sizeof(b)), &out), BlockHeaderState::kBadLength);
  h.last_ts = 9;
  h.stored_len = kMaxBlockBytes + 1;
  EncodeBlockHeader(h, b);
  EXPECT_EQ(DecodeBlockHeader(std::string_view(b, sizeof(b)), &out), BlockHeaderState::kBadLength);
}

TEST(FormatTest, BlockFlagsSayAPartAndWhetherMoreFollow) {
  BlockHeader h;
  h.record_count = 1;
  h.flags = kBlockHoldsPart | kBlockPartContinues;
  char b[kBlockHeaderSize];
  EncodeBlockHeader(h, b);
  EXPECT_EQ(b[33], 3);
  BlockHeader out;
  ASSERT_EQ(DecodeBlockHeader(std::string_view(b, sizeof(b)), &out), BlockHeaderState::kOk);
  EXPECT_TRUE(out.continues());
  // An unknown flag, "continues" without "holds a part", or a part block of two records.
  for (uint8_t flags : {uint8_t{4}, uint8_t{0x80}, kBlockPartContinues}) {
    h.flags = flags;
    EncodeBlockHeader(h, b);
    EXPECT_EQ(DecodeBlockHeader(std::string_view(b, sizeof(b)), &out), BlockHeaderState::kBadLength)
        << int{flags};
  }
  h.flags = kBlockHoldsPart;
  h.record_count = 2;
  EncodeBlockHeader(h, b);
  EXPECT_EQ(DecodeBlockHeader(std::string_view(b, sizeof(b)), &out), BlockHeaderState::kBadLength);
}

TEST(FormatTest, PartTagsNumberPartsFromZeroAndMarkTheLast) {
  EXPECT_FALSE(IsPart(kWholeTransaction));
  EXPECT_TRUE(IsLastPart(kWholeTransaction));
  EXPECT_EQ(MakePartTag(0, false), 2u);
  EXPECT_EQ(MakePartTag(0, true), 3u);
  EXPECT_EQ(MakePartTag(6, true), 15u);
  for (uint32_t index : {0u, 1u, 1000u, kMaxPartIndex}) {
    for (bool last : {false, true}) {
      const PartTag t = MakePartTag(index, last);
      EXPECT_TRUE(IsPart(t));
      EXPECT_EQ(PartIndex(t), index);
      EXPECT_EQ(IsLastPart(t), last);
    }
  }
}

TEST(FormatTest, PaddingRoundsBlocksToEightBytes) {
  EXPECT_EQ(PaddedBlockSize(0), 48u);
  EXPECT_EQ(PaddedBlockSize(1), 56u);
  EXPECT_EQ(PaddedBlockSize(8), 56u);
  EXPECT_EQ(PaddedBlockSize(9), 64u);
}

TEST(FormatTest, VarintsRoundTripAndRefuseOverlongOrCutInput) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{16383},
                     uint64_t{16384}, uint64_t{1} << 56, UINT64_MAX}) {
    std::string s;
    PutVarint64(&s, v);
    const char* p = s.data();
    uint64_t got = 0;
    ASSERT_TRUE(GetVarint64(&p, s.data() + s.size(), &got)) << v;
    EXPECT_EQ(got, v);
    EXPECT_EQ(p, s.data() + s.size());
    const char* q = s.data();
    EXPECT_FALSE(GetVarint64(&q, s.data() + s.size() - 1, &got)) << "cut " << v;
  }
  std::string eleven(11, '\x80');
  const char* p = eleven.data();
  uint64_t got = 0;
  EXPECT_FALSE(GetVarint64(&p, eleven.data() + eleven.size(), &got));
}

TEST(FormatTest, TrailerCheckCoversTheIndexToo) {
  Trailer t;
  t.index_count = 1;
  t.index_offset = 32;
  std::string index(kIndexEntrySize, '\x05');
  std::string trailer = EncodeTrailer(t, index);
  ASSERT_EQ(trailer.size(), kTrailerSize);
  EXPECT_EQ(trailer.substr(0, 4), "FTR1");
  EXPECT_OK(DecodeTrailer(trailer, index).status());
  index[3] ^= 1;
  EXPECT_TRUE(DecodeTrailer(trailer, index).status().IsCorruption());
  EXPECT_TRUE(DecodeTrailer(std::string(kTrailerSize, '\0'), "").status().IsNotFound());
}

class FileFormatTest : public ::testing::Test {
 protected:
  std::string WriteSmallSegment() {
    std::string path = dir_.Sub("seg");
    std::vector<testing::OwnedRecord> records = {{1, "one"}, {2, "two"}};
    EXPECT_OK(testing::WriteSegment(env_, path, SegmentOptions(), records, 2, true).status());
    return path;
  }
  Env* env_ = Env::Posix();
  binlog::testing::TempDir dir_;
};

TEST_F(FileFormatTest, WrongMagicIsNotASegmentFile) {
  std::string path = dir_.Sub("notes.txt");
  testing::WriteBytes(path, std::string(200, 'a'));
  auto r = SegmentReader::Open(env_, path);
  ASSERT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("not a segment file"));
  EXPECT_THAT(r.status().message(), HasSubstr(path));
  EXPECT_TRUE(ScanSegment(env_, path, ScanOptions()).status().IsInvalidArgument());
}

TEST_F(FileFormatTest, UnknownVersionIsUnsupportedAndNamesBothVersions) {
  std::string path = WriteSmallSegment();
  std::string bytes = testing::ReadBytes(path);
  for (uint16_t version : {0, 3}) {
    PutFixed16(&bytes[8], version);
    PutFixed32(&bytes[28], Checksum32(std::string_view(bytes).substr(0, 28)));
    testing::WriteBytes(path, bytes);
    auto r = SegmentReader::Open(env_, path);
    ASSERT_TRUE(r.status().IsUnsupported()) << r.status().ToString();
    EXPECT_THAT(r.status().message(),
                HasSubstr(fmt::format("segment format version {} is not supported", version)));
    EXPECT_THAT(r.status().message(), HasSubstr("this build reads versions 1 to 2"));
  }
}

TEST_F(FileFormatTest, UnknownVersionWithAnotherHeaderLayoutIsStillUnsupported) {
  // A later version may lay out bytes 10..31 differently; only magic and version are fixed.
  std::string path = WriteSmallSegment();
  std::string bytes = testing::ReadBytes(path);
  PutFixed16(&bytes[8], 3);
  std::memset(&bytes[10], 0x5A, kHeaderSize - 10);
  testing::WriteBytes(path, bytes);
  auto r = SegmentReader::Open(env_, path);
  ASSERT_TRUE(r.status().IsUnsupported()) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("version 3"));
}

TEST_F(FileFormatTest, DamagedHeaderIsCorruption) {
  std::string path = WriteSmallSegment();
  testing::FlipBit(path, 17, 3);  // in created_micros
  auto r = SegmentReader::Open(env_, path);
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("offset 0"));
}

TEST_F(FileFormatTest, FileShorterThanAHeaderIsCorruption) {
  std::string path = dir_.Sub("short");
  testing::WriteBytes(path, std::string(kSegmentMagic, 8) + "\x01");
  auto r = SegmentReader::Open(env_, path);
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST_F(FileFormatTest, FooterWhoseIndexCannotFitIsReportedNotTrusted) {
  // An index_count and index_offset whose sum wraps around 2^64 to the file size.
  std::string path = WriteSmallSegment();
  std::string bytes = testing::ReadBytes(path);
  char* t = &bytes[bytes.size() - kTrailerSize];
  uint64_t index_bytes = uint64_t{0xFFFFFFFF} * kIndexEntrySize;
  PutFixed32(t + 4, 0xFFFFFFFF);
  PutFixed64(t + 8, bytes.size() - kTrailerSize - index_bytes);  // wraps
  testing::WriteBytes(path, bytes);
  ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(env_, path));
  EXPECT_FALSE(reader->sealed());
  EXPECT_TRUE(reader->footer_status().IsCorruption());
  testing::ReadOutcome got = testing::ReadAll(env_, path);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.records.size(), 2u);
}

}  // namespace
}  // namespace binlog::segment
