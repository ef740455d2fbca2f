// Event framing and the decoder's edges: checksums, v2 and compressed row events, partial row
// images, refusals that must name what to fix, and the value formats in isolation.
#include <gtest/gtest.h>
#include <zlib.h>

#include <functional>

#include "syncer/buffer_pool.h"
#include "syncer/byte_reader.h"
#include "syncer/event.h"
#include "syncer/rows_event.h"
#include "syncer/syncer_test_util.h"
#include "syncer/value.h"
#include "syncer/wire.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;

void RewriteCrc(std::string* ev) {
  uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(ev->data()), static_cast<uInt>(ev->size() - 4)));
  for (int i = 0; i < 4; ++i) (*ev)[ev->size() - 4 + i] = static_cast<char>(crc >> (8 * i));
}

void SetU32(std::string* ev, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*ev)[at + i] = static_cast<char>(v >> (8 * i));
}

// Decodes raw events and returns the transactions, parsed.
Result<std::vector<pb::Binlog>> Decode(const RawEvents& raw) {
  StreamDecoder d(BinlogPosition{"x.000001", 4, ""}, raw.checksum, 0, 1);
  std::vector<pb::Binlog> out;
  std::vector<StreamItem> items;
  for (const std::string& ev : raw.events) {
    items.clear();
    RETURN_IF_ERROR(d.Feed(ev, 0, &items));
    for (const StreamItem& i : items) {
      if (i.kind == StreamItem::kTransaction) out.push_back(ParseItem(i));
    }
  }
  return out;
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedMariaDB();
    ASSERT_NE(server_, nullptr);
    ASSERT_OK(server_->Exec("CREATE DATABASE IF NOT EXISTS ev"));
    ASSERT_OK(server_->Exec("DROP TABLE IF EXISTS ev.t"));
    ASSERT_OK(server_->Exec(
        "CREATE TABLE ev.t (id INT PRIMARY KEY, name VARCHAR(20), n BIGINT, b BLOB) DEFAULT "
        "CHARSET = utf8mb4"));
  }
  MariaDBServer* server_ = nullptr;
};

TEST_F(EventsTest, ChecksumMismatchIsCorruption) {
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec("INSERT INTO ev.t VALUES (1, 'a', 1, 'x')"));
  ASSERT_OK_AND_ASSIGN(RawEvents raw, ReadRawEvents(server_, from, 1));
  ASSERT_TRUE(raw.checksum) << "MariaDB 10.11 defaults to CRC32";
  bool flipped = false;
  for (std::string& ev : raw.events) {
    if (static_cast<uint8_t>(ev[4]) == kWriteRowsV1) {
      ev[ev.size() - 6] ^= 0x01;
      flipped = true;
    }
  }
  ASSERT_TRUE(flipped);
  Result<std::vector<pb::Binlog>> out = Decode(raw);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.status().IsCorruption()) << out.status().ToString();
  EXPECT_NE(out.status().message().find("CRC32 mismatch"), std::string::npos);
}

TEST_F(EventsTest, TruncatedEventIsCorruption) {
  std::string ev(10, '\0');
  Result<Event> e = ParseEvent(ev, false);
  EXPECT_TRUE(e.status().IsCorruption());
}

// MariaDB writes version 1 row events; MySQL writes version 2 (with an extra-data header).
// The same rows rewritten as v2 decode to the same changes.
TEST_F(EventsTest, VersionTwoRowEventsDecodeLikeVersionOne) {
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec("INSERT INTO ev.t VALUES (1, 'a', -5, 'x'), (2, NULL, 7, '')"));
  ASSERT_OK(server_->Exec("UPDATE ev.t SET name = 'bb' WHERE id = 1"));
  ASSERT_OK(server_->Exec("DELETE FROM ev.t WHERE id = 2"));
  ASSERT_OK_AND_ASSIGN(RawEvents raw, ReadRawEvents(server_, from, 3));
  ASSERT_OK_AND_ASSIGN(auto v1, Decode(raw));
  int rewritten = 0;
  for (std::string& ev : raw.events) {
    uint8_t type = static_cast<uint8_t>(ev[4]);
    if (type < kWriteRowsV1 || type > kDeleteRowsV1) continue;
    // Post header: table id (6) and flags (2), then v2's extra data length (2, itself).
    ev.insert(kEventHeaderLen + 8, std::string("\x02\x00", 2));
    ev[4] = static_cast<char>(type + (kWriteRowsV2 - kWriteRowsV1));
    SetU32(&ev, 9, static_cast<uint32_t>(ev.size()));
    RewriteCrc(&ev);
    rewritten++;
  }
  EXPECT_EQ(rewritten, 3);
  ASSERT_OK_AND_ASSIGN(auto v2, Decode(raw));
  ASSERT_EQ(v1.size(), v2.size());
  for (size_t i = 0; i < v1.size(); ++i) {
    EXPECT_EQ(v1[i].tables(0).SerializeAsString(), v2[i].tables(0).SerializeAsString());
  }
}

// log_bin_compress makes MariaDB write *_COMPRESSED row and query events.
TEST_F(EventsTest, CompressedEventsDecode) {
  ASSERT_OK(
      server_->Exec("SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10"));
  BinlogPosition from = EndOfBinlog(server_);
  Status s = server_->Exec(
      "INSERT INTO ev.t VALUES (1, 'compressed', 1, REPEAT('z', 5000)), (2, 'b', 2, 'y');"
      "CREATE TABLE ev.compressed_ddl (id INT PRIMARY KEY, note VARCHAR(100) DEFAULT "
      "'a default long enough to be compressed')");
  ASSERT_OK(server_->Exec("SET GLOBAL log_bin_compress = OFF"));
  ASSERT_OK(s);
  ASSERT_OK_AND_ASSIGN(RawEvents raw, ReadRawEvents(server_, from, 2));
  bool saw_rows = false, saw_query = false;
  for (const std::string& ev : raw.events) {
    uint8_t type = static_cast<uint8_t>(ev[4]);
    saw_rows |= type == kWriteRowsCompressedV1 || type == kWriteRowsCompressedV2;
    saw_query |= type == kQueryCompressedEvent;
  }
  EXPECT_TRUE(saw_rows);
  EXPECT_TRUE(saw_query);
  ASSERT_OK_AND_ASSIGN(auto txns, Decode(raw));
  ASSERT_EQ(txns.size(), 2u);
  const pb::TableChanges& t = txns[0].tables(0);
  ASSERT_EQ(t.mutations_size(), 2);
  EXPECT_EQ(t.mutations(0).row().columns(1).string_value(), "compressed");
  EXPECT_EQ(t.mutations(0).row().columns(3).bytes_value(), std::string(5000, 'z'));
  EXPECT_NE(txns[1].ddl_query().find("CREATE TABLE ev.compressed_ddl"), std::string::npos);
  ASSERT_OK(server_->Exec("DROP TABLE ev.compressed_ddl"));
}

// A session may log MINIMAL images: absent columns are Values with nothing set.
TEST_F(EventsTest, PartialRowImagesLeaveAbsentColumnsUnset) {
  ASSERT_OK(server_->Exec("INSERT INTO ev.t VALUES (1, 'a', 10, 'blob')"));
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec("SET SESSION binlog_row_image = MINIMAL"));
  ASSERT_OK(server_->Exec("UPDATE ev.t SET n = 11 WHERE id = 1"));
  ASSERT_OK(server_->Exec("SET SESSION binlog_row_image = FULL"));
  ASSERT_OK_AND_ASSIGN(auto txns, ReadTransactions(server_, from, 1));
  const pb::TableMutation& m = txns[0].tables(0).mutations(0);
  ASSERT_EQ(m.type(), pb::UPDATE);
  // Before image: the key only. After image: the changed column only.
  EXPECT_EQ(m.before().columns(0).int64_value(), 1);
  EXPECT_EQ(m.before().columns(1).value_case(), pb::Value::VALUE_NOT_SET);
  EXPECT_EQ(m.before().columns(2).value_case(), pb::Value::VALUE_NOT_SET);
  EXPECT_EQ(m.row().columns(0).value_case(), pb::Value::VALUE_NOT_SET);
  EXPECT_EQ(m.row().columns(2).int64_value(), 11);
  EXPECT_EQ(m.row().columns(3).value_case(), pb::Value::VALUE_NOT_SET);
}

// Without FULL row metadata there are no column names: refused with the statement to run.
TEST_F(EventsTest, NoColumnNamesIsRefusedWithTheFix) {
  ASSERT_OK(server_->Exec("SET GLOBAL binlog_row_metadata = NO_LOG"));
  BinlogPosition from = EndOfBinlog(server_);
  // A new connection: the server takes the global value per statement.
  Status s = server_->Exec("INSERT INTO ev.t VALUES (5, 'e', 5, 'e')");
  ASSERT_OK(server_->Exec("SET GLOBAL binlog_row_metadata = FULL"));
  ASSERT_OK(s);
  Result<std::vector<pb::Binlog>> out = ReadTransactions(server_, from, 1, 5);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("SET GLOBAL binlog_row_metadata = FULL"), std::string::npos)
      << out.status().ToString();
  EXPECT_NE(out.status().message().find("ev.t"), std::string::npos);
}

// A type the decoder does not know stops it with table, column and position.
TEST_F(EventsTest, UndecodableTypeNamesTableColumnAndPosition) {
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec("INSERT INTO ev.t VALUES (6, 'f', 6, 'f')"));
  ASSERT_OK_AND_ASSIGN(RawEvents raw, ReadRawEvents(server_, from, 1));
  for (std::string& ev : raw.events) {
    if (static_cast<uint8_t>(ev[4]) != kTableMapEvent) continue;
    // Column types follow: table id (6), flags (2), "ev" (1+2+1), "t" (1+1+1), count (1).
    size_t types = kEventHeaderLen + 8 + 4 + 3 + 1;
    ASSERT_EQ(static_cast<uint8_t>(ev[types + 2]), kTypeLongLong);
    ev[types + 2] = static_cast<char>(kTypeNull);  // same metadata size (none), no decoder
    RewriteCrc(&ev);
  }
  Result<std::vector<pb::Binlog>> out = Decode(raw);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.status().IsUnsupported()) << out.status().ToString();
  const std::string& msg = out.status().message();
  EXPECT_NE(msg.find("table ev.t column n"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Write_rows_v1 event at " + from.name + ":"), std::string::npos) << msg;
}

// XA transactions commit in two binlog groups; the syncer refuses them rather than guess.
TEST_F(EventsTest, XaTransactionsAreRefused) {
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(
      server_->Exec("XA START 'x1'; INSERT INTO ev.t VALUES (9, 'xa', 9, ''); XA END 'x1';"
                    "XA PREPARE 'x1'; XA COMMIT 'x1'"));
  Result<std::vector<pb::Binlog>> out = ReadTransactions(server_, from, 1, 5);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.status().IsUnsupported()) << out.status().ToString();
  EXPECT_NE(out.status().message().find("XA"), std::string::npos);
}

// MariaDB's COMPRESSED columns store their own zlib format: refused with table and column.
TEST_F(EventsTest, CompressedColumnsAreRefusedByName) {
  ASSERT_OK(server_->Exec("CREATE TABLE ev.cc (id INT PRIMARY KEY, big TEXT COMPRESSED)"));
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec("INSERT INTO ev.cc VALUES (1, REPEAT('a', 1000))"));
  Result<std::vector<pb::Binlog>> out = ReadTransactions(server_, from, 1, 5);
  ASSERT_OK(server_->Exec("DROP TABLE ev.cc"));
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.status().IsUnsupported()) << out.status().ToString();
  EXPECT_NE(out.status().message().find("table ev.cc column big"), std::string::npos)
      << out.status().ToString();
}

TEST(ValueTest, DecimalTextEdges) {
  // DECIMAL(4,2) 12.34: 2 digits -> 1 byte each side, sign bit set for positive.
  EXPECT_EQ(*DecimalToString(std::string("\x8c\x22", 2), 4, 2), "12.34");
  // Negative: every byte inverted.
  EXPECT_EQ(*DecimalToString(std::string("\x73\xdd", 2), 4, 2), "-12.34");
  EXPECT_EQ(*DecimalToString(std::string("\x80\x00", 2), 4, 2), "0.00");
  EXPECT_EQ(DecimalBinarySize(65, 30), 30u);
  EXPECT_TRUE(DecimalToString(std::string("\x80", 1), 4, 2).status().IsCorruption());
  // A digit group above 99 in 1 byte is damage, not a number.
  EXPECT_TRUE(DecimalToString(std::string("\xff\x22", 2), 4, 2).status().IsCorruption());
}

TEST(ValueTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("héllo 日本 🎉"));
  EXPECT_FALSE(IsValidUtf8(std::string("\xc3", 1)));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  // Past the eight-byte ASCII fast path: damage in every position of a long value is seen.
  const std::string ascii(40, 'a');
  for (size_t at = 0; at < ascii.size(); ++at) {
    std::string bad = ascii, good = ascii;
    bad[at] = '\xc3';
    good.replace(at, 1, "\xc3\xa9");
    EXPECT_FALSE(IsValidUtf8(bad)) << at;
    EXPECT_TRUE(IsValidUtf8(good)) << at;
  }
}

TEST(BufferPoolTest, ReusesBuffersAndOutlivesThePool) {
  auto pool = BufferPool::Make();
  BufferPool::Lease a = pool->Get();
  a->assign(1 << 20, 'q');
  const char* first = a->data();
  a.reset();
  BufferPool::Lease again = pool->Get();  // the same buffer, empty, its capacity kept
  EXPECT_TRUE(again->empty());
  EXPECT_GE(again->capacity(), size_t{1} << 20);
  EXPECT_EQ(again->data(), first);
  BufferPool::Lease held = pool->Get();
  pool.reset();
  held.reset();  // frees its buffer itself
  again.reset();
}

// Each ValueOut setter writes what protobuf writes for a Row holding that one Value.
TEST(WireTest, ValuesAreProtobufsBytes) {
  auto expect_same = [](const std::function<void(ValueOut*)>& set,
                        const std::function<void(pb::Value*)>& want) {
    std::string buf;
    ValueOut out(&buf);
    set(&out);
    pb::Row row;
    want(row.add_columns());
    EXPECT_EQ(buf, row.SerializeAsString()) << row.ShortDebugString();
  };
  expect_same([](ValueOut* o) { o->Absent(); }, [](pb::Value*) {});
  expect_same([](ValueOut* o) { o->set_is_null(true); },
              [](pb::Value* v) { v->set_is_null(true); });
  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{-1}, INT64_MIN, INT64_MAX, int64_t{300}}) {
    expect_same([i](ValueOut* o) { o->set_int64_value(i); },
                [i](pb::Value* v) { v->set_int64_value(i); });
  }
  expect_same([](ValueOut* o) { o->set_uint64_value(UINT64_MAX); },
              [](pb::Value* v) { v->set_uint64_value(UINT64_MAX); });
  expect_same([](ValueOut* o) { o->set_double_value(-0.5); },
              [](pb::Value* v) { v->set_double_value(-0.5); });
  expect_same([](ValueOut* o) { o->set_string_value(""); },
              [](pb::Value* v) { v->set_string_value(""); });
  const std::string big(300, 'x');
  expect_same([&](ValueOut* o) { o->set_string_value(big); },
              [&](pb::Value* v) { v->set_string_value(big); });
  expect_same([](ValueOut* o) { o->set_bytes_value(std::string_view("\0\xff", 2)); },
              [](pb::Value* v) { v->set_bytes_value(std::string("\0\xff", 2)); });
  expect_same([](ValueOut* o) { o->set_decimal_value("-1.50"); },
              [](pb::Value* v) { v->set_decimal_value("-1.50"); });
}

// A nested message's length takes the bytes it needs whatever the guess: the payload moves.
TEST(WireTest, CloseFixesAWrongGuess) {
  for (size_t guess : {1, 2, 4}) {
    for (size_t len : {0, 5, 127, 128, 16383, 16384, 70000}) {
      std::string buf = "a";
      wire::Mark m = wire::Open(&buf, 10, guess);
      buf.append(len, 'z');
      size_t n = wire::Close(&buf, m);
      EXPECT_EQ(n, wire::VarintSize(len));
      ASSERT_EQ(buf.size(), 2 + n + len) << guess << " " << len;
      EXPECT_EQ(buf[0], 'a');
      EXPECT_EQ(buf[1], static_cast<char>(10 << 3 | wire::kLen));
      uint64_t got = 0;
      for (size_t i = 0; i < n; ++i) {
        got |= uint64_t{static_cast<uint8_t>(buf[2 + i]) & 0x7fu} << (7 * i);
      }
      EXPECT_EQ(got, len);
    }
  }
}

TEST(ValueTest, TruncatedValueIsCorruption) {
  ColumnDef col;
  col.type = col.real_type = kTypeLongLong;
  ByteReader r(std::string_view("\x01\x02\x03", 3));
  std::string buf;
  ValueOut v(&buf);
  EXPECT_TRUE(DecodeValue(col, &r, &v).IsCorruption());
}

}  // namespace
}  // namespace binlog::syncer::testing
