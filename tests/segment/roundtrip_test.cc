// What goes in comes out: every combination of codec, kind and sealing, seeks, and limits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>

#include "segment/segment.h"
#include "segment/segment_testutil.h"
#include "testutil/testutil.h"

namespace binlog::segment {
namespace {

using ::testing::HasSubstr;
using testing::OwnedRecord;
using testing::ReadAll;
using testing::WriteSegment;
using State = SegmentIterator::State;

constexpr uint64_t kFirstTs = uint64_t{1700000000000} << 18;

SegmentOptions SmallBlocks(Compression c, SegmentKind kind) {
  SegmentOptions o;
  o.compression = c;
  o.kind = kind;
  o.block_bytes = 2048;
  o.index_interval_bytes = 1024;
  return o;
}

class RoundTripTest
    : public ::testing::TestWithParam<std::tuple<Compression, SegmentKind, bool /*sealed*/>> {
 protected:
  Compression compression() const { return std::get<0>(GetParam()); }
  SegmentKind kind() const { return std::get<1>(GetParam()); }
  bool sealed() const { return std::get<2>(GetParam()); }
  Env* env_ = Env::Posix();
  binlog::testing::TempDir dir_;
};

TEST_P(RoundTripTest, RecordsReadBackExactlyInWrittenOrder) {
  std::mt19937_64 rng(301);
  auto records = testing::RandomRecords(rng, 600, kFirstTs, 300, kind() == SegmentKind::kArrival);
  records.push_back(OwnedRecord{records.back().ts + (kind() == SegmentKind::kArrival ? 0 : 1),
                                ""});  // an empty payload is a record too
  std::string path = dir_.Sub("seg");
  ASSERT_OK_AND_ASSIGN(
      auto w, WriteSegment(env_, path, SmallBlocks(compression(), kind()), records, 37, sealed()));
  ASSERT_GT(w.blocks.size(), 10u);

  testing::ReadOutcome got = ReadAll(env_, path);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.end, State::kEnd);
  EXPECT_EQ(got.records, records);

  ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(env_, path));
  EXPECT_EQ(reader->header().version, kFormatVersion);
  EXPECT_EQ(reader->header().compression, compression());
  EXPECT_EQ(reader->header().kind, kind());
  EXPECT_EQ(reader->header().created_micros, 1700000000000000);
  EXPECT_EQ(reader->sealed(), sealed());
  EXPECT_OK(reader->footer_status());
  if (compression() == Compression::kNone) {
    for (const auto& b : w.blocks) EXPECT_EQ(b.header.codec, Compression::kNone);
  }
}

TEST_P(RoundTripTest, ScanFindsEveryBlockAndTheWritersTotals) {
  std::mt19937_64 rng(302);
  auto records = testing::RandomRecords(rng, 400, kFirstTs, 200, kind() == SegmentKind::kArrival);
  std::string path = dir_.Sub("seg");
  ASSERT_OK_AND_ASSIGN(
      auto w, WriteSegment(env_, path, SmallBlocks(compression(), kind()), records, 50, sealed()));
  ScanOptions options;
  options.keep_block_offsets = true;
  options.index_interval_bytes = 1024;
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(env_, path, options));
  EXPECT_TRUE(scan.damages.empty());
  EXPECT_FALSE(scan.torn_tail_at.has_value());
  EXPECT_EQ(scan.valid_end, w.blocks_end);
  EXPECT_EQ(scan.file_size, w.size);
  EXPECT_EQ(scan.trailer.has_value(), sealed());
  ASSERT_EQ(scan.good_block_offsets.size(), w.blocks.size());
  for (size_t i = 0; i < w.blocks.size(); ++i) {
    EXPECT_EQ(scan.good_block_offsets[i], w.blocks[i].offset) << i;
  }

  const Trailer& rebuilt = scan.footer.totals();
  uint64_t min_ts = UINT64_MAX, max_ts = 0, raw = 0;
  for (const auto& r : records) {
    min_ts = std::min(min_ts, r.ts);
    max_ts = std::max(max_ts, r.ts);
    std::string framed;
    PutVarint64(&framed, r.ts);
    PutVarint64(&framed, r.part);
    PutVarint64(&framed, r.payload.size());
    raw += framed.size() + r.payload.size();
  }
  EXPECT_EQ(rebuilt.block_count, w.blocks.size());
  EXPECT_EQ(rebuilt.record_count, records.size());
  EXPECT_EQ(rebuilt.first_ts, min_ts);
  EXPECT_EQ(rebuilt.last_ts, max_ts);
  EXPECT_EQ(rebuilt.raw_bytes, raw);
  EXPECT_EQ(rebuilt.index_count, w.totals.index_count);
  EXPECT_GT(rebuilt.index_count, 2u);
  if (sealed()) {
    EXPECT_EQ(scan.trailer->index_offset, w.blocks_end);
    EXPECT_EQ(scan.trailer->block_count, rebuilt.block_count);
    EXPECT_EQ(scan.trailer->record_count, rebuilt.record_count);
    EXPECT_EQ(scan.trailer->first_ts, min_ts);
    EXPECT_EQ(scan.trailer->last_ts, max_ts);
    EXPECT_EQ(scan.trailer->raw_bytes, raw);
    EXPECT_EQ(w.size, w.blocks_end + rebuilt.index_count * kIndexEntrySize + kTrailerSize);
  }
}

TEST_P(RoundTripTest, SeekWithStartAndStopEqualsALinearFilter) {
  std::mt19937_64 rng(303);
  auto records = testing::RandomRecords(rng, 500, kFirstTs, 120, kind() == SegmentKind::kArrival);
  std::string path = dir_.Sub("seg");
  ASSERT_OK(
      WriteSegment(env_, path, SmallBlocks(compression(), kind()), records, 25, sealed()).status());
  uint64_t lo = kFirstTs - 10, hi = kFirstTs;
  for (const auto& r : records) hi = std::max(hi, r.ts + 10);
  for (int i = 0; i < 150; ++i) {
    uint64_t a = lo + rng() % (hi - lo);
    uint64_t b = i % 10 == 0 ? UINT64_MAX : a + rng() % ((hi - lo) / 4);
    if (i % 7 == 0) a = records[rng() % records.size()].ts;  // exactly a record's ts
    std::vector<OwnedRecord> want;
    for (const auto& r : records) {
      if (r.ts >= a && r.ts <= b) want.push_back(r);
    }
    testing::ReadOutcome got = ReadAll(env_, path, a, b);
    ASSERT_OK(got.status);
    ASSERT_EQ(got.records, want) << "start " << a << " stop " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllShapes, RoundTripTest,
    ::testing::Combine(::testing::Values(Compression::kZstd, Compression::kNone),
                       ::testing::Values(SegmentKind::kOrdered, SegmentKind::kArrival),
                       ::testing::Bool()),
    [](const auto& info) {
      return std::string(CompressionName(std::get<0>(info.param))) +
             (std::get<1>(info.param) == SegmentKind::kOrdered ? "Ordered" : "Arrival") +
             (std::get<2>(info.param) ? "Sealed" : "Unsealed");
    });

TEST(SegmentTest, EmptySegmentSeals) {
  binlog::testing::TempDir dir;
  std::string path = dir.Sub("seg");
  ASSERT_OK_AND_ASSIGN(auto w, WriteSegment(Env::Posix(), path, SegmentOptions(), {}, 1, true));
  EXPECT_EQ(w.size, kHeaderSize + kTrailerSize);
  ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(Env::Posix(), path));
  ASSERT_TRUE(reader->sealed());
  EXPECT_EQ(reader->trailer()->block_count, 0u);
  EXPECT_EQ(reader->trailer()->record_count, 0u);
  EXPECT_EQ(reader->trailer()->index_count, 0u);
  EXPECT_EQ(reader->trailer()->index_offset, kHeaderSize);
  testing::ReadOutcome got = ReadAll(Env::Posix(), path);
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.records.empty());
  EXPECT_EQ(got.end, State::kEnd);
}

TEST(SegmentTest, EmptyUnsealedSegmentEndsCleanly) {
  binlog::testing::TempDir dir;
  std::string path = dir.Sub("seg");
  ASSERT_OK_AND_ASSIGN(auto w, WriteSegment(Env::Posix(), path, SegmentOptions(), {}, 1, false));
  EXPECT_EQ(w.size, kHeaderSize);
  testing::ReadOutcome got = ReadAll(Env::Posix(), path);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.end, State::kEnd);
  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(Env::Posix(), path, ScanOptions()));
  EXPECT_EQ(scan.valid_end, kHeaderSize);
  EXPECT_FALSE(scan.torn_tail_at.has_value());
}

TEST(SegmentTest, SeekHintUsesTheIndexAndNeverSkipsARecord) {
  binlog::testing::TempDir dir;
  std::string path = dir.Sub("seg");
  std::mt19937_64 rng(304);
  auto records = testing::RandomRecords(rng, 800, kFirstTs, 100);
  ASSERT_OK_AND_ASSIGN(auto w, WriteSegment(Env::Posix(), path,
                                            SmallBlocks(Compression::kZstd, SegmentKind::kOrdered),
                                            records, 20, true));
  ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(Env::Posix(), path));
  EXPECT_EQ(reader->SeekHint(0), kHeaderSize);
  EXPECT_EQ(reader->SeekHint(records.front().ts), kHeaderSize);
  // The hint for the last record lands in the last quarter of the file: the index is used.
  EXPECT_GT(reader->SeekHint(records.back().ts), w.blocks_end * 3 / 4);
  for (int i = 0; i < 300; ++i) {
    uint64_t target = records.front().ts + rng() % (records.back().ts - records.front().ts + 2);
    uint64_t hint = reader->SeekHint(target);
    // The block holding the first record with ts >= target starts at or after the hint.
    auto first = std::find_if(records.begin(), records.end(),
                              [&](const OwnedRecord& r) { return r.ts >= target; });
    if (first == records.end()) continue;
    size_t index = static_cast<size_t>(first - records.begin());
    auto block = std::find_if(w.blocks.rbegin(), w.blocks.rend(),
                              [&](const auto& b) { return b.first_record <= index; });
    EXPECT_LE(hint, block->offset) << "target " << target;
    bool on_block = std::any_of(w.blocks.begin(), w.blocks.end(),
                                [&](const auto& b) { return b.offset == hint; });
    EXPECT_TRUE(on_block) << hint;
  }
}

TEST(SegmentTest, StopTsEndsAnOrderedSegmentWithPastStop) {
  binlog::testing::TempDir dir;
  std::string path = dir.Sub("seg");
  std::mt19937_64 rng(305);
  auto records = testing::RandomRecords(rng, 100, kFirstTs, 50);
  ASSERT_OK(WriteSegment(Env::Posix(), path, SegmentOptions(), records, 100, true).status());
  testing::ReadOutcome got = ReadAll(Env::Posix(), path, 0, records[49].ts);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.end, State::kPastStop);
  EXPECT_EQ(got.records.size(), 50u);
}

TEST(SegmentTest, RecordTooLargeForABlockIsInvalidArgument) {
  BlockEncoder encoder(SegmentOptions{});
  std::string big(kMaxBlockBytes / 2 + 1, 'x');
  Record r{7, big};
  std::vector<EncodedBlock> blocks;
  Status s = encoder.Encode(std::span<const Record>(&r, 1), &blocks);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("ts 7"));
}

TEST(SegmentTest, RecordLargerThanBlockBytesGetsABlockOfItsOwn) {
  SegmentOptions o;
  o.block_bytes = 100;
  BlockEncoder encoder(o);
  std::string big(1000, 'y');
  std::vector<Record> in = {{1, "a"}, {2, big}, {3, "b"}};
  std::vector<EncodedBlock> blocks;
  ASSERT_OK(encoder.Encode(in, &blocks));
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[1].header.record_count, 1u);
  EXPECT_EQ(blocks[1].header.first_ts, 2u);
}

TEST(SegmentTest, BlockBytesAboveTheFormatMaximumStillMakeReadableBlocks) {
  SegmentOptions o;
  o.block_bytes = size_t{256} << 20;  // larger than any block may be
  BlockEncoder encoder(o);
  std::string part(24u << 20, 'z');
  std::vector<Record> in = {{1, part}, {2, part}, {3, part}};
  std::vector<EncodedBlock> blocks;
  ASSERT_OK(encoder.Encode(in, &blocks));
  ASSERT_GE(blocks.size(), 2u);
  for (const auto& b : blocks) {
    BlockHeader h;
    EXPECT_EQ(DecodeBlockHeader(std::string_view(b.bytes).substr(0, kBlockHeaderSize), &h),
              BlockHeaderState::kOk);
    EXPECT_LE(b.header.raw_len, kMaxBlockBytes);
  }
}

TEST(SegmentTest, IncompressibleBlocksAreStoredRawInAZstdSegment) {
  binlog::testing::TempDir dir;
  std::string path = dir.Sub("seg");
  std::mt19937_64 rng(306);
  std::vector<OwnedRecord> records;
  for (uint64_t ts = 1; ts <= 20; ++ts) {
    records.push_back(OwnedRecord{ts, testing::NonZeroGarbage(rng, 200)});
  }
  ASSERT_OK_AND_ASSIGN(auto w,
                       WriteSegment(Env::Posix(), path, SegmentOptions(), records, 20, true));
  ASSERT_EQ(w.blocks.size(), 1u);
  EXPECT_EQ(w.blocks[0].header.codec, Compression::kNone);
  EXPECT_EQ(w.blocks[0].header.stored_len, w.blocks[0].header.raw_len);
  testing::ReadOutcome got = ReadAll(Env::Posix(), path);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.records, records);
}

TEST(SegmentTest, ReaderAtTheEndSeesBlocksAppendedLater) {
  binlog::testing::TempDir dir;
  std::string path = dir.Sub("seg");
  ASSERT_OK_AND_ASSIGN(auto writer, SegmentWriter::Create(Env::Posix(), path, SegmentOptions(), 1));
  BlockEncoder encoder(SegmentOptions{});
  std::vector<EncodedBlock> blocks;
  std::vector<Record> first = {{10, "ten"}};
  ASSERT_OK(encoder.Encode(first, &blocks));
  ASSERT_OK(writer->Append(blocks));
  ASSERT_OK(writer->Sync());

  ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(Env::Posix(), path));
  SegmentIterator it(reader.get(), 0, UINT64_MAX);
  Record r;
  ASSERT_OK_AND_ASSIGN(State s, it.Next(&r));
  ASSERT_EQ(s, State::kRecord);
  EXPECT_EQ(r.ts, 10u);
  ASSERT_OK_AND_ASSIGN(s, it.Next(&r));
  EXPECT_EQ(s, State::kEnd);

  blocks.clear();
  std::vector<Record> second = {{11, "eleven"}};
  ASSERT_OK(encoder.Encode(second, &blocks));
  ASSERT_OK(writer->Append(blocks));
  ASSERT_OK(writer->Sync());
  ASSERT_OK_AND_ASSIGN(s, it.Next(&r));
  ASSERT_EQ(s, State::kRecord);
  EXPECT_EQ(r.ts, 11u);
  EXPECT_EQ(r.payload, "eleven");
  ASSERT_OK(writer->Close());
}

TEST(SegmentTest, SealedSegmentTakesNoMoreAppends) {
  binlog::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto writer,
                       SegmentWriter::Create(Env::Posix(), dir.Sub("seg"), SegmentOptions(), 1));
  ASSERT_OK(writer->Seal());
  BlockEncoder encoder(SegmentOptions{});
  std::vector<EncodedBlock> blocks;
  std::vector<Record> one = {{1, "x"}};
  ASSERT_OK(encoder.Encode(one, &blocks));
  EXPECT_TRUE(writer->Append(blocks).IsAborted());
}

}  // namespace
}  // namespace binlog::segment
