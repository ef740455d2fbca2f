// The decoder cutting a big transaction into parts as it reads it, from a real server's binlog:
// the parts are protobuf's own bytes, self-describing, share one ts, carry the rows of the whole
// record in order, and only the last moves the position; small and DDL transactions stay whole.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "syncer/decoder.h"
#include "syncer/syncer_test_util.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;

// The transactions of raw events as a decoder cutting parts at part_bytes hands them on.
std::vector<StreamItem> DecodeItems(const RawEvents& raw, const BinlogPosition& from,
                                    size_t part_bytes) {
  StreamDecoder d(from, raw.checksum, 0, 1, true, part_bytes);
  std::vector<StreamItem> items, out;
  for (const std::string& ev : raw.events) {
    items.clear();
    Status s = d.Feed(ev, 0, &items);
    EXPECT_OK(s);
    if (!s.ok()) break;
    for (StreamItem& i : items) {
      if (i.kind == StreamItem::kTransaction) out.push_back(std::move(i));
    }
  }
  return out;
}

// Every row change of a binlog as (table, the mutation's bytes), in order.
using Changes = std::vector<std::pair<std::string, std::string>>;
void AppendChanges(const pb::Binlog& b, Changes* out) {
  for (const pb::TableChanges& t : b.tables()) {
    for (const pb::TableMutation& m : t.mutations()) {
      out->emplace_back(t.schema_name() + "." + t.table_name(), m.SerializeAsString());
    }
  }
}

class DecoderPartsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedMariaDB();
    ASSERT_NE(server_, nullptr);
    ASSERT_OK(
        server_->Exec("DROP DATABASE IF EXISTS dp; CREATE DATABASE dp;"
                      "CREATE TABLE dp.t (id INT PRIMARY KEY, s VARCHAR(100), n BIGINT);"
                      "CREATE TABLE dp.u (id INT PRIMARY KEY, v INT)"));
  }
  MariaDBServer* server_ = nullptr;
};

TEST_F(DecoderPartsTest, BigTransactionIsCutIntoSelfDescribingParts) {
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec("INSERT INTO dp.u VALUES (1, 1)"));
  // Two tables, interleaved, all three kinds of change.
  std::string big = "BEGIN; INSERT INTO dp.t VALUES ";
  for (int i = 0; i < 4000; ++i) {
    big += fmt::format("{}({}, 'row {} {}', {})", i ? "," : "", i, i, std::string(40, 'x'), i);
  }
  big +=
      "; UPDATE dp.u SET v = 2; UPDATE dp.t SET n = n + 1 WHERE id < 1500; INSERT INTO dp.u "
      "VALUES (3, 3); DELETE FROM dp.t WHERE id >= 3000; COMMIT";
  ASSERT_OK(server_->Exec(big));
  ASSERT_OK(server_->Exec("INSERT INTO dp.u VALUES (2, 2)"));
  ASSERT_OK_AND_ASSIGN(RawEvents raw, ReadRawEvents(server_, from, 3));

  std::vector<StreamItem> whole = DecodeItems(raw, from, SIZE_MAX);
  ASSERT_EQ(whole.size(), 3u);
  for (const StreamItem& i : whole) EXPECT_EQ(i.part, segment::kWholeTransaction);
  pb::Binlog whole_big = ParseItem(whole[1]);
  Changes want;
  AppendChanges(whole_big, &want);
  ASSERT_EQ(want.size(), 4000u + 1 + 1500 + 1 + 1000);

  // 16 KiB: parts between row events; 700 bytes: several parts inside one row event.
  for (size_t part_bytes : {size_t{16} << 10, size_t{700}}) {
    SCOPED_TRACE(fmt::format("part size {}", part_bytes));
    std::vector<StreamItem> items = DecodeItems(raw, from, part_bytes);
    ASSERT_GT(items.size(), 5u);
    const StreamItem& before = items.front();
    const StreamItem& after = items.back();
    EXPECT_EQ(before.part, segment::kWholeTransaction);
    EXPECT_EQ(after.part, segment::kWholeTransaction);
    const size_t parts = items.size() - 2;
    Changes got;
    uint64_t rows = 0;
    for (size_t k = 0; k < parts; ++k) {
      const StreamItem& p = items[k + 1];
      SCOPED_TRACE(fmt::format("part {} of {}", k, parts));
      EXPECT_EQ(p.part, segment::MakePartTag(static_cast<uint32_t>(k), k + 1 == parts));
      pb::Binlog b = ParseItem(p);  // protobuf's own bytes
      EXPECT_EQ(b.tp(), pb::COMMIT);
      EXPECT_EQ(b.start_ts(), b.commit_ts());
      EXPECT_EQ(p.commit_ts, items[1].commit_ts) << "the parts share one ts";
      EXPECT_GT(p.commit_ts, before.commit_ts);
      EXPECT_LT(p.commit_ts, after.commit_ts);
      EXPECT_EQ(b.source().gtid(), whole[1].gtid);
      EXPECT_GT(b.tables_size(), 0);
      for (const pb::TableChanges& t : b.tables()) {
        EXPECT_EQ(t.schema_name(), "dp");
        EXPECT_EQ(t.columns_size(), t.table_name() == "t" ? 3 : 2) << "self-describing";
      }
      // Cut once past the size: one row, its table's head and the record's fields beyond.
      EXPECT_LT(p.payload().size(), part_bytes + 512);
      // The position (syncer.meta) moves only with the last part; a part before it names
      // where the transaction starts, which is where a restart reads it again.
      if (k + 1 < parts) {
        EXPECT_EQ(p.position.ToString(), before.position.ToString());
        EXPECT_EQ(b.source().file(), before.position.name);
        EXPECT_EQ(b.source().pos(), before.position.pos);
      } else {
        EXPECT_EQ(p.position.ToString(), whole[1].position.ToString());
        EXPECT_EQ(b.source().ShortDebugString(), whole_big.source().ShortDebugString());
      }
      rows += p.rows;
      AppendChanges(b, &got);
    }
    EXPECT_EQ(rows, want.size());
    EXPECT_EQ(got, want) << "the parts hold the whole record's row changes, in order";
  }
}

TEST_F(DecoderPartsTest, SmallAndDdlTransactionsStayWhole) {
  std::string rows;
  for (int i = 0; i < 2000; ++i) rows += fmt::format("{}({}, 'r{}', {})", i ? "," : "", i, i, i);
  ASSERT_OK(server_->Exec("INSERT INTO dp.t VALUES " + rows));
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec("INSERT INTO dp.u VALUES (1, 1)"));
  // Its statement and its rows in one transaction: a DDL transaction is not cut.
  ASSERT_OK(server_->Exec("CREATE TABLE dp.c SELECT * FROM dp.t"));
  ASSERT_OK(server_->Exec("ALTER TABLE dp.u ADD COLUMN w INT"));
  ASSERT_OK_AND_ASSIGN(RawEvents raw, ReadRawEvents(server_, from, 3));
  std::vector<StreamItem> items = DecodeItems(raw, from, 700);
  ASSERT_EQ(items.size(), 3u);
  for (const StreamItem& i : items) EXPECT_EQ(i.part, segment::kWholeTransaction);
  pb::Binlog ctas = ParseItem(items[1]);
  EXPECT_NE(ctas.ddl_query().find("CREATE TABLE"), std::string::npos);
  ASSERT_EQ(ctas.tables_size(), 1);
  EXPECT_EQ(ctas.tables(0).mutations_size(), 2000);
  EXPECT_NE(ParseItem(items[2]).ddl_query().find("ADD COLUMN w"), std::string::npos);
}

}  // namespace
}  // namespace binlog::syncer::testing
