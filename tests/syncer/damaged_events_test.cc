// Damaged events the decoder's fuzzer (tests/fuzz/decoder_fuzz.cc) found it mishandling, built
// by hand: each must be refused with a Corruption naming the damage, never loop, read out of
// bounds or become a record that does not parse.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "syncer/decoder.h"
#include "syncer/event.h"
#include "syncer/syncer_test_util.h"

namespace binlog::syncer::testing {
namespace {

void PutLE(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// A version 4 event without checksum; a stream without a format description reads 6-byte table
// ids (event.h).
std::string Ev(uint8_t type, std::string_view body) {
  std::string ev;
  PutLE(&ev, 1700000000, 4);
  ev.push_back(static_cast<char>(type));
  PutLE(&ev, 1, 4);  // server id
  PutLE(&ev, kEventHeaderLen + body.size(), 4);
  PutLE(&ev, 1000, 4);  // log_pos
  PutLE(&ev, 0, 2);     // flags
  return ev.append(body);
}

std::string Gtid(uint64_t seq) {
  std::string body;
  PutLE(&body, seq, 8);
  PutLE(&body, 0, 4);  // domain
  body.push_back('\0');
  return Ev(kGtidEvent, body);
}

std::string Xid() { return Ev(kXidEvent, std::string(8, '\x07')); }

struct Column {
  uint8_t type;
  std::string meta;  // its type metadata
  std::string name;
};

std::string TableMap(std::string_view schema, std::string_view table,
                     const std::vector<Column>& columns) {
  std::string body, types, meta, names;
  PutLE(&body, 1, 6);  // table id
  PutLE(&body, 0, 2);  // flags
  body.push_back(static_cast<char>(schema.size()));
  body.append(schema).push_back('\0');
  body.push_back(static_cast<char>(table.size()));
  body.append(table).push_back('\0');
  for (const Column& c : columns) {
    types.push_back(static_cast<char>(c.type));
    meta += c.meta;
    names.push_back(static_cast<char>(c.name.size()));
    names += c.name;
  }
  body.push_back(static_cast<char>(columns.size()));
  body += types;
  body.push_back(static_cast<char>(meta.size()));
  body += meta;
  body.append((columns.size() + 7) / 8, '\xff');  // all nullable
  body.push_back('\x04');                         // optional metadata: column names
  body.push_back(static_cast<char>(names.size()));
  return Ev(kTableMapEvent, body + names);
}

std::string WriteRows(size_t width, std::string_view present, std::string_view rows) {
  std::string body;
  PutLE(&body, 1, 6);       // table id
  PutLE(&body, 0x0001, 2);  // flags: end of statement
  body.push_back(static_cast<char>(width));
  body.append(present);
  return Ev(kWriteRowsV1, body.append(rows));
}

// Feeds the events; the first error, or OK with the transactions parsed.
Status Feed(const std::vector<std::string>& events, std::vector<pb::Binlog>* out = nullptr) {
  StreamDecoder decoder(BinlogPosition{"mariadb-bin.000001", 4, ""}, false, 0, 1);
  std::vector<StreamItem> items;
  for (const std::string& ev : events) {
    items.clear();
    RETURN_IF_ERROR(decoder.Feed(ev, 0, &items));
    for (const StreamItem& item : items) {
      if (out != nullptr && item.kind == StreamItem::kTransaction) out->push_back(ParseItem(item));
    }
  }
  return Status::OK();
}

void ExpectCorruption(const Status& s, std::string_view what) {
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.ToString();
}

// The builders above make a stream the decoder takes: the refusals below are for their damage.
// A compressed payload that states 4 GiB uncompressed from a few bytes: refused before anything
// that size is allocated.
TEST(DamagedEventsTest, ACompressedPayloadStatingMoreThanZlibCanExpandIsRefused) {
  std::string payload = "\x84";  // zlib, 4 length bytes
  payload += std::string("\xff\xff\xff\xf0", 4);
  payload += std::string(10, 'x');
  Result<std::string> out = Uncompress(payload);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.status().IsCorruption()) << out.status().ToString();
  EXPECT_NE(out.status().message().find("more than zlib can expand"), std::string::npos);
}

TEST(DamagedEventsTest, TheHandBuiltStreamDecodes) {
  std::vector<pb::Binlog> txns;
  ASSERT_OK(Feed(
      {Gtid(1), TableMap("db", "t", {{kTypeLong, "", "a"}, {kTypeNewDecimal, "\x05\x02", "d"}}),
       WriteRows(2, "\x03", std::string("\x00\x07\x00\x00\x00\x80\x0c\x22", 8)), Xid()},
      &txns));
  ASSERT_EQ(txns.size(), 1u);
  const pb::TableChanges& t = txns[0].tables(0);
  EXPECT_EQ(t.columns(1).mysql_type(), "decimal(5,2)");
  EXPECT_EQ(t.mutations(0).row().columns(0).int64_value(), 7);
  EXPECT_EQ(t.mutations(0).row().columns(1).decimal_value(), "12.34");
}

// Column bitmaps naming no column make row images of no bytes: the decoder read the same empty
// row forever (and grew its record until memory ran out).
TEST(DamagedEventsTest, RowImagesNamingNoColumnAreRefusedNotReadForever) {
  Status s = Feed({Gtid(1), TableMap("db", "t", {{kTypeLong, "", "a"}}),
                   WriteRows(1, std::string(1, '\0'), "\x01\x02\x03\x04")});
  ExpectCorruption(s, "names no column");
}

// DECIMAL's size comes from its precision and scale in the table map: a scale above the
// precision indexed a table with a negative number.
TEST(DamagedEventsTest, DecimalScaleAbovePrecisionIsRefused) {
  Status s = Feed({Gtid(1), TableMap("db", "t", {{kTypeNewDecimal, "\x05\x0a", "d"}}),
                   WriteRows(1, "\x01", std::string("\x00\x80\x00\x00\x00\x00\x00\x00", 8))});
  ExpectCorruption(s, "DECIMAL(5,10) is not a valid type");
}

// Names become protobuf strings: bytes that are not UTF-8 made records no reader can parse.
// MariaDB writes names in UTF-8, so anything else is damage.
TEST(DamagedEventsTest, NamesThatAreNotUtf8AreRefused) {
  ExpectCorruption(Feed({Gtid(1), TableMap("d\xff", "t", {{kTypeLong, "", "a"}})}), "not UTF-8");
  ExpectCorruption(Feed({Gtid(1), TableMap("db", "t\xc3", {{kTypeLong, "", "a"}})}), "not UTF-8");
  ExpectCorruption(Feed({Gtid(1), TableMap("db", "t", {{kTypeLong, "", "\x80"}})}), "not UTF-8");

  std::string query(13, '\0');  // thread id, time, database length, error code, status length
  query[8] = 2;
  query += std::string("\xfe\x01", 2) + '\0' + "CREATE TABLE x (a INT)";
  ExpectCorruption(Feed({Ev(kQueryEvent, query)}), "not UTF-8");

  std::string rotate;
  PutLE(&rotate, 4, 8);
  ExpectCorruption(Feed({Ev(kRotateEvent, rotate + "mariadb-bin.\xff")}), "not UTF-8");
}

}  // namespace
}  // namespace binlog::syncer::testing
