#include "loadgen/workload.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "common/tso.h"
#include "journal/journal.h"
#include "loadgen/committer.h"
#include "testutil/testutil.h"

namespace binlog::workload {
namespace {

std::vector<std::string> Generate(const WorkloadOptions& options, int n) {
  Workload w(options);
  std::vector<std::string> out;
  pb::Binlog b;
  for (int i = 0; i < n; ++i) {
    w.Next(&b);
    out.push_back(b.SerializeAsString());
  }
  return out;
}

TEST(RngTest, UniformStaysInRange) {
  Rng r(42);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_LT(r.Uniform(7), 7u);
    int64_t v = r.Range(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
  }
}

TEST(WorkloadTest, SameSeedGivesSameTransactions) {
  WorkloadOptions o;
  o.seed = 99;
  o.ddl_ratio = 0.01;
  EXPECT_EQ(Generate(o, 500), Generate(o, 500));
  WorkloadOptions other = o;
  other.seed = 100;
  EXPECT_NE(Generate(o, 50), Generate(other, 50));
}

TEST(WorkloadTest, ShardsNeverTouchTheSameRow) {
  for (int shard = 0; shard < 3; ++shard) {
    WorkloadOptions o;
    o.shard = shard;
    o.shards = 3;
    Workload w(o);
    pb::Binlog b;
    for (int i = 0; i < 300; ++i) {
      w.Next(&b);
      for (const auto& t : b.tables()) {
        for (const auto& m : t.mutations()) {
          const pb::Value& id = m.row().columns(0);
          uint64_t v =
              id.has_uint64_value() ? id.uint64_value() : static_cast<uint64_t>(id.int64_value());
          ASSERT_EQ((v - 1) % 3, static_cast<uint64_t>(shard)) << t.table_name();
        }
      }
    }
  }
}

TEST(WorkloadTest, RowsAreSelfDescribingAndUpdatesCarryTheBeforeImage) {
  WorkloadOptions o;
  o.ddl_ratio = 0;
  Workload w(o);
  pb::Binlog b;
  int updates = 0;
  size_t rows = 0;
  const int kTxns = 2000;
  for (int i = 0; i < kTxns; ++i) {
    rows += w.Next(&b);
    ASSERT_EQ(b.tp(), pb::COMMIT);
    ASSERT_TRUE(b.ddl_query().empty());
    for (const auto& t : b.tables()) {
      ASSERT_FALSE(t.columns().empty());
      ASSERT_TRUE(t.columns(0).is_primary_key());
      for (const auto& m : t.mutations()) {
        ASSERT_EQ(m.row().columns_size(), t.columns_size());
        if (m.type() != pb::UPDATE) continue;
        ++updates;
        ASSERT_EQ(m.before().columns_size(), t.columns_size());
        EXPECT_EQ(m.before().columns(0).SerializeAsString(),
                  m.row().columns(0).SerializeAsString());
      }
    }
  }
  EXPECT_GT(updates, 0);
  double avg = static_cast<double>(rows) / kTxns;
  EXPECT_GT(avg, 3.7);
  EXPECT_LT(avg, 4.3);
}

TEST(WorkloadTest, DdlRatioOneGivesOnlyDdl) {
  WorkloadOptions o;
  o.ddl_ratio = 1;
  Workload w(o);
  pb::Binlog b;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(w.Next(&b), 0u);
    EXPECT_FALSE(b.ddl_query().empty());
    EXPECT_FALSE(b.ddl_schema().empty());
    EXPECT_TRUE(b.tables().empty());
  }
}

TEST(TsSequencerTest, StrictlyIncreasingWhenTheClockStallsOrGoesBack) {
  int64_t now = 1000;
  TsSequencer seq([&] { return now; });
  uint64_t a = seq.Next();
  EXPECT_EQ(a, ComposeTS(1000, 0));
  uint64_t b = seq.Next();
  EXPECT_EQ(b, a + 1);
  now = 900;  // the clock steps back
  uint64_t c = seq.NextN(5);
  EXPECT_EQ(c, b + 1);
  EXPECT_EQ(seq.Next(), c + 5);
  now = 2000;
  EXPECT_EQ(seq.Next(), ComposeTS(2000, 0));
}

TEST(TsSequencerTest, LogicalOverflowCarriesIntoTheNextMillisecond) {
  TsSequencer seq([] { return int64_t{5}; });
  uint64_t first = seq.NextN(kLogicalMask + 1);
  EXPECT_EQ(first, ComposeTS(5, 0));
  EXPECT_EQ(seq.Next(), ComposeTS(6, 0));
}

}  // namespace
}  // namespace binlog::workload

namespace binlog::loadgen {
namespace {

TEST(CommitterTest, AppendedCommitTsParses) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(123);
  b.set_ddl_query("CREATE INDEX i ON t (k)");
  std::string payload = b.SerializeAsString();
  AppendCommitTs(470629313517977600ull, &payload);
  pb::Binlog parsed;
  ASSERT_TRUE(parsed.ParseFromString(payload));
  EXPECT_EQ(parsed.commit_ts(), 470629313517977600);
  EXPECT_EQ(parsed.start_ts(), 123);
  EXPECT_EQ(parsed.ddl_query(), b.ddl_query());
}

// Threads commit concurrently; the journal must see increasing ts, every payload must carry
// its record's ts as commit_ts, and the ack log must list exactly what was appended.
TEST(CommitterTest, ConcurrentThreadsAppendInTsOrder) {
  testing::TempDir tmp;
  journal::JournalOptions jo;
  jo.sync = false;
  ASSERT_OK_AND_ASSIGN(auto j, journal::Journal::Open(tmp.Sub("j"), jo));
  ASSERT_OK_AND_ASSIGN(auto ack, AckLog::Open(Env::Posix(), tmp.Sub("ack")));
  workload::TsSequencer seq;
  Committer committer(j.get(), &seq, ack.get());
  constexpr int kThreads = 4, kBatches = 50, kPerBatch = 5;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Batch batch;
      for (int i = 0; i < kBatches; ++i) {
        batch.payloads.clear();
        for (int k = 0; k < kPerBatch; ++k) {
          pb::Binlog b;
          b.set_tp(pb::COMMIT);
          b.set_ddl_schema(std::to_string(t));
          batch.payloads.push_back(b.SerializeAsString());
        }
        if (!committer.Commit(&batch).ok()) ++failures;
        if (batch.commit_ts.size() != kPerBatch) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_OK(j->Close());
  ASSERT_OK(ack->Close());

  ASSERT_OK_AND_ASSIGN(auto reader, journal::JournalReader::Open(Env::Posix(), tmp.Sub("j"), {}));
  std::vector<uint64_t> seen;
  segment::Record r;
  while (true) {
    ASSERT_OK_AND_ASSIGN(bool more, reader->Next(&r));
    if (!more) break;
    pb::Binlog b;
    ASSERT_TRUE(b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size())));
    EXPECT_EQ(static_cast<uint64_t>(b.commit_ts()), r.ts);
    if (!seen.empty()) {
      EXPECT_GT(r.ts, seen.back());
    }
    seen.push_back(r.ts);
  }
  EXPECT_EQ(seen.size(), size_t{kThreads * kBatches * kPerBatch});
  ASSERT_OK_AND_ASSIGN(std::string acked, ReadFileToString(Env::Posix(), tmp.Sub("ack")));
  std::string expected;
  for (uint64_t ts : seen) expected += std::to_string(ts) + "\n";
  EXPECT_EQ(acked, expected);
}

}  // namespace
}  // namespace binlog::loadgen
