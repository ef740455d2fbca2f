// Golden segment files (testdata/golden/*.seg): bytes this build must decode to exactly the
// records below, and must write again byte for byte from the same input. Files of an earlier
// format version (testdata/golden/v1/) must still decode; they are never written again.
//
// To regenerate them after an intended change of the format or the writer (docs/FORMAT.md says
// when that is allowed):
//   BINLOG_REGEN_GOLDEN=1 <build>/tests/segment_test --gtest_filter='*GoldenTest.*'
// The test then writes the files instead of comparing, and still decodes them. A format change
// also bumps kFormatVersion; a new zstd or protobuf release may change the bytes without changing
// the format (the decode checks must still pass on the old files).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "common/tso.h"
#include "segment/segment.h"
#include "segment/segment_testutil.h"
#include "testutil/testutil.h"

namespace binlog::segment {
namespace {

using testing::OwnedRecord;

constexpr int64_t kCreatedMicros = 1700000000000000;  // 2023-11-14 22:13:20 UTC
constexpr int64_t kBaseMs = 1700000000000;

pb::Binlog OrderTxn(int i, pb::BinlogType type) {
  pb::Binlog b;
  b.set_tp(type);
  b.set_start_ts(static_cast<int64_t>(ComposeTS(kBaseMs + 10 * i, 0)));
  if (type != pb::PREWRITE)
    b.set_commit_ts(static_cast<int64_t>(ComposeTS(kBaseMs + 10 * i + 5, 1)));
  if (type == pb::ROLLBACK) return b;
  if (i % 6 == 5) {
    b.set_ddl_query("ALTER TABLE orders ADD COLUMN note" + std::to_string(i) + " varchar(64)");
    b.set_ddl_schema("shop");
  } else {
    pb::TableChanges* t = b.add_tables();
    t->set_schema_name("shop");
    t->set_table_name("orders");
    const char* cols[][2] = {{"id", "bigint"}, {"item", "varchar(32)"}, {"qty", "int"}};
    for (const auto& c : cols) {
      pb::ColumnInfo* col = t->add_columns();
      col->set_name(c[0]);
      col->set_mysql_type(c[1]);
      col->set_is_primary_key(std::string(c[0]) == "id");
    }
    pb::TableMutation* m = t->add_mutations();
    m->set_type(i % 3 == 1 ? pb::UPDATE : pb::INSERT);
    pb::Row* row = m->mutable_row();
    row->add_columns()->set_int64_value(i);
    row->add_columns()->set_string_value("item-" + std::to_string(i));
    row->add_columns()->set_int64_value(3 * i);
    if (m->type() == pb::UPDATE) {
      *m->mutable_before() = *row;
      m->mutable_before()->mutable_columns(2)->set_int64_value(3 * i - 1);
    }
  }
  pb::SourcePosition* src = b.mutable_source();
  src->set_server_id(1);
  src->set_file("mariadb-bin.000001");
  src->set_pos(4 + 200 * static_cast<uint64_t>(i));
  src->set_gtid("0-1-" + std::to_string(i + 1));
  return b;
}

// 24 committed transactions in commit-ts order, as a pump's binlog/ or a file sink holds them.
std::vector<OwnedRecord> OrderedRecords() {
  std::vector<OwnedRecord> out;
  for (int i = 0; i < 24; ++i) {
    pb::Binlog b = OrderTxn(i, i % 8 == 7 ? pb::FAKE : pb::COMMIT);
    if (b.tp() == pb::FAKE) {  // a heartbeat: commit_ts only
      b.clear_tables();
      b.clear_ddl_query();
      b.clear_ddl_schema();
      b.clear_source();
      b.clear_start_ts();
    }
    out.push_back(OwnedRecord{static_cast<uint64_t>(b.commit_ts()), b.SerializeAsString()});
  }
  return out;
}

// A wal/: prewrites, then commits and rollbacks, in arrival (not ts) order.
std::vector<OwnedRecord> ArrivalRecords() {
  std::vector<OwnedRecord> out;
  auto add = [&](const pb::Binlog& b) {
    uint64_t ts = static_cast<uint64_t>(b.tp() == pb::PREWRITE ? b.start_ts() : b.commit_ts());
    out.push_back(OwnedRecord{ts, b.SerializeAsString()});
  };
  for (int i = 0; i < 12; ++i) {
    add(OrderTxn(i, pb::PREWRITE));
    // The second half of transaction i-2 arrives after the prewrite of i: ts go back.
    if (i >= 2) add(OrderTxn(i - 2, (i - 2) % 5 == 4 ? pb::ROLLBACK : pb::COMMIT));
  }
  add(OrderTxn(10, pb::COMMIT));
  add(OrderTxn(11, pb::COMMIT));
  return out;
}

// Transaction i of OrderTxn as `parts` records of one row each (ids 1000 + 10 i + k), the
// shape a big transaction takes (docs/FORMAT.md, "Transactions in parts").
std::vector<OwnedRecord> PartsOf(int i, int parts, int written) {
  std::vector<OwnedRecord> out;
  for (int k = 0; k < written; ++k) {
    pb::Binlog b = OrderTxn(i, pb::COMMIT);
    pb::TableMutation* m = b.mutable_tables(0)->mutable_mutations(0);
    m->mutable_row()->mutable_columns(0)->set_int64_value(1000 + 10 * i + k);
    out.push_back(OwnedRecord{static_cast<uint64_t>(b.commit_ts()), b.SerializeAsString(),
                              MakePartTag(static_cast<uint32_t>(k), k + 1 == parts)});
  }
  return out;
}

// OrderedRecords with transactions 9 and 15 in 3 parts each: 28 records.
std::vector<OwnedRecord> OrderedPartsRecords() {
  std::vector<OwnedRecord> out;
  std::vector<OwnedRecord> whole = OrderedRecords();
  for (int i = 0; i < 24; ++i) {
    if (i != 9 && i != 15) {
      out.push_back(whole[i]);
      continue;
    }
    for (OwnedRecord& r : PartsOf(i, 3, 3)) out.push_back(std::move(r));
  }
  return out;
}

// A segment a crash left inside a transaction: transactions 0..11, then 2 of 3 parts of 12.
std::vector<OwnedRecord> OpenPartsRecords() {
  std::vector<OwnedRecord> out = OrderedRecords();
  out.resize(12);
  for (OwnedRecord& r : PartsOf(12, 3, 2)) out.push_back(std::move(r));
  return out;
}

struct GoldenCase {
  const char* file;  // under testdata/golden/, version 1 files under v1/
  uint16_t version;  // version 1 files are only read: this build writes version 2
  Compression compression;
  SegmentKind kind;
  bool sealed;
  std::vector<OwnedRecord> (*records)();
  size_t count;  // records, pinned apart from the generators
};

const GoldenCase kCases[] = {
    {"v1/ordered-sealed.seg", 1, Compression::kZstd, SegmentKind::kOrdered, true, OrderedRecords,
     24},
    {"v1/ordered-active.seg", 1, Compression::kZstd, SegmentKind::kOrdered, false, OrderedRecords,
     24},
    {"v1/uncompressed.seg", 1, Compression::kNone, SegmentKind::kOrdered, true, OrderedRecords, 24},
    {"v1/arrival.seg", 1, Compression::kZstd, SegmentKind::kArrival, true, ArrivalRecords, 24},
    {"ordered-sealed.seg", 2, Compression::kZstd, SegmentKind::kOrdered, true, OrderedRecords, 24},
    {"ordered-active.seg", 2, Compression::kZstd, SegmentKind::kOrdered, false, OrderedRecords, 24},
    {"uncompressed.seg", 2, Compression::kNone, SegmentKind::kOrdered, true, OrderedRecords, 24},
    {"arrival.seg", 2, Compression::kZstd, SegmentKind::kArrival, true, ArrivalRecords, 24},
    {"parts.seg", 2, Compression::kZstd, SegmentKind::kOrdered, true, OrderedPartsRecords, 28},
    {"parts-open.seg", 2, Compression::kZstd, SegmentKind::kOrdered, false, OpenPartsRecords, 14},
};

SegmentOptions GoldenOptions(const GoldenCase& c) {
  SegmentOptions o;
  o.compression = c.compression;
  o.kind = c.kind;
  o.block_bytes = 700;
  o.index_interval_bytes = 400;
  return o;
}
constexpr size_t kBatch = 5;  // records per Encode + Append

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.file; }

bool Regenerate() {
  const char* v = std::getenv("BINLOG_REGEN_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {
 protected:
  std::string GoldenPath() const {
    return binlog::testing::TestDataPath(std::string("golden/") + GetParam().file);
  }
  void SetUp() override {
    if (!Regenerate() || GetParam().version != kFormatVersion) return;
    ASSERT_OK(Env::Posix()->CreateDirs(DirName(GoldenPath())));
    const GoldenCase& c = GetParam();
    ASSERT_OK(testing::WriteSegment(Env::Posix(), GoldenPath(), GoldenOptions(c), c.records(),
                                    kBatch, c.sealed, kCreatedMicros)
                  .status());
  }
};

TEST_P(GoldenTest, DecodesToTheExactRecordsHeaderAndTotals) {
  const GoldenCase& c = GetParam();
  const std::string path = GoldenPath();
  ASSERT_TRUE(Env::Posix()->FileExists(path)) << path << " is missing; see the top of this file";
  ASSERT_OK_AND_ASSIGN(uint64_t size, Env::Posix()->GetFileSize(path));
  EXPECT_LT(size, 16u << 10);

  ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(Env::Posix(), path));
  EXPECT_EQ(reader->header().version, c.version);
  EXPECT_EQ(reader->header().compression, c.compression);
  EXPECT_EQ(reader->header().kind, c.kind);
  EXPECT_EQ(reader->header().created_micros, kCreatedMicros);
  EXPECT_EQ(reader->sealed(), c.sealed);
  EXPECT_OK(reader->footer_status());

  const std::vector<OwnedRecord> want = c.records();
  testing::ReadOutcome got = testing::ReadAll(Env::Posix(), path);
  ASSERT_OK(got.status);
  EXPECT_EQ(got.end, SegmentIterator::State::kEnd);
  ASSERT_EQ(got.records, want);
  for (const OwnedRecord& r : got.records) {
    pb::Binlog b;
    ASSERT_TRUE(b.ParseFromString(r.payload)) << r.ts;
    EXPECT_EQ(r.ts, static_cast<uint64_t>(b.tp() == pb::PREWRITE ? b.start_ts() : b.commit_ts()));
  }
  // Pinned independently of the generators above, so both cannot drift together.
  EXPECT_EQ(got.records.size(), c.count);
  EXPECT_EQ(got.records.front().ts,
            c.kind == SegmentKind::kOrdered ? 445644800001310721ull : 445644800000000000ull);

  ASSERT_OK_AND_ASSIGN(ScanResult scan, ScanSegment(Env::Posix(), path, ScanOptions()));
  EXPECT_TRUE(scan.damages.empty());
  EXPECT_FALSE(scan.torn_tail_at.has_value());
  // Only parts-open.seg ends inside a transaction: at the block of its first part.
  EXPECT_EQ(scan.open_transaction.has_value(), !IsLastPart(want.back().part));
  if (scan.open_transaction) {
    EXPECT_EQ(scan.open_transaction->ts, want.back().ts);
    EXPECT_EQ(scan.open_transaction->parts, 2u);
    EXPECT_EQ(scan.open_transaction->footer_before.totals().record_count, want.size() - 2);
  }
  const Trailer& blocks = scan.footer.totals();
  EXPECT_GE(blocks.block_count, 4u);
  EXPECT_EQ(blocks.record_count, want.size());
  uint64_t raw = 0, lo = UINT64_MAX, hi = 0;
  for (const OwnedRecord& r : want) {
    std::string framing;
    PutVarint64(&framing, r.ts);
    if (c.version >= 2) PutVarint64(&framing, r.part);
    PutVarint64(&framing, r.payload.size());
    raw += framing.size() + r.payload.size();
    lo = std::min(lo, r.ts);
    hi = std::max(hi, r.ts);
  }
  EXPECT_EQ(blocks.raw_bytes, raw);
  if (!c.sealed) {
    EXPECT_EQ(scan.valid_end, size);
    return;
  }
  const Trailer& t = *reader->trailer();
  EXPECT_EQ(t.block_count, blocks.block_count);
  EXPECT_EQ(t.record_count, want.size());
  EXPECT_EQ(t.first_ts, lo);
  EXPECT_EQ(t.last_ts, hi);
  EXPECT_EQ(t.raw_bytes, raw);
  EXPECT_GE(t.index_count, 3u);
  EXPECT_EQ(t.index_offset + t.index_count * kIndexEntrySize + kTrailerSize, size);
}

TEST_P(GoldenTest, WriterReproducesTheFileByteForByte) {
  const GoldenCase& c = GetParam();
  binlog::testing::TempDir dir;
  const std::string fresh = dir.Sub("fresh.seg");
  if (c.version != kFormatVersion) {
    // An earlier version is a reading contract only: the same input is now written in the
    // current version and reads back to the same records.
    ASSERT_OK(testing::WriteSegment(Env::Posix(), fresh, GoldenOptions(c), c.records(), kBatch,
                                    c.sealed, kCreatedMicros)
                  .status());
    ASSERT_OK_AND_ASSIGN(auto reader, SegmentReader::Open(Env::Posix(), fresh));
    EXPECT_EQ(reader->header().version, kFormatVersion);
    testing::ReadOutcome now = testing::ReadAll(Env::Posix(), fresh);
    testing::ReadOutcome then = testing::ReadAll(Env::Posix(), GoldenPath());
    ASSERT_OK(now.status);
    ASSERT_OK(then.status);
    EXPECT_EQ(now.records, then.records);
    return;
  }
  ASSERT_OK(testing::WriteSegment(Env::Posix(), fresh, GoldenOptions(c), c.records(), kBatch,
                                  c.sealed, kCreatedMicros)
                .status());
  const std::string want = testing::ReadBytes(GoldenPath());
  const std::string got = testing::ReadBytes(fresh);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << "first difference at byte " << i << " of " << c.file;
  }
}

INSTANTIATE_TEST_SUITE_P(Files, GoldenTest, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string name = info.param.file;
  name = name.substr(0, name.find('.'));
  std::erase(name, '-');
  std::erase(name, '/');
  return name;
});

}  // namespace
}  // namespace binlog::segment
