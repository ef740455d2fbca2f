#include "pump/sorter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "binlog.pb.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

std::vector<uint64_t> CommitTs(const std::vector<ReadyTxn>& ready) {
  std::vector<uint64_t> out;
  for (const auto& r : ready) out.push_back(r.commit_ts);
  return out;
}

TEST(SorterTest, CommitWaitsForOlderPendingPrewrite) {
  Sorter s;
  s.AddPrewrite(100, "t100", 1, 0);
  s.AddPrewrite(110, "t110", 1, 0);
  ASSERT_OK(s.CheckCommit(110, 120));
  s.AddCommit(110, 120, 1);
  EXPECT_EQ(s.Watermark(), 99u);
  EXPECT_TRUE(s.TakeReady().empty());  // 100 could still commit below 120
  s.AddCommit(100, 130, 2);
  EXPECT_EQ(s.Watermark(), 130u);
  auto ready = s.TakeReady();
  EXPECT_EQ(CommitTs(ready), (std::vector<uint64_t>{120, 130}));
  EXPECT_EQ(ready[0].prewrite, "t110");
  EXPECT_EQ(s.emitted(), 130u);
}

TEST(SorterTest, RollbackReleasesTheWatermark) {
  Sorter s;
  s.AddPrewrite(100, "a", 1, 0);
  s.AddPrewrite(105, "b", 1, 0);
  s.AddCommit(105, 107, 1);
  EXPECT_TRUE(s.TakeReady().empty());
  ASSERT_OK(s.CheckRollback(100));
  s.AddRollback(100);
  EXPECT_EQ(CommitTs(s.TakeReady()), (std::vector<uint64_t>{107}));
  EXPECT_EQ(s.pending(), 0u);
}

TEST(SorterTest, InvalidSequencesAreRefusedWithoutChangingState) {
  Sorter s;
  EXPECT_TRUE(s.CheckCommit(5, 10).IsInvalidArgument());  // commit without prewrite
  EXPECT_TRUE(s.CheckRollback(5).IsInvalidArgument());    // rollback without prewrite
  EXPECT_TRUE(s.CheckPrewrite(0).IsInvalidArgument());
  s.AddPrewrite(5, "x", 1, 0);
  EXPECT_TRUE(s.CheckPrewrite(5).IsInvalidArgument());   // duplicate prewrite
  EXPECT_TRUE(s.CheckCommit(5, 5).IsInvalidArgument());  // commit_ts must be after start_ts
  s.AddCommit(5, 9, 1);
  ASSERT_EQ(s.TakeReady().size(), 1u);
  EXPECT_TRUE(s.CheckCommitted(9).IsInvalidArgument());  // at or below emitted
  EXPECT_TRUE(s.CheckCommitted(8).IsInvalidArgument());
  ASSERT_OK(s.CheckCommitted(10));
  s.AddCommitted(10, "one-shot", 2);
  EXPECT_TRUE(s.CheckCommitted(10).IsInvalidArgument());  // commit ts taken, not yet emitted
}

TEST(SorterTest, HeartbeatAdvancesWhenIdleAndYieldsToACommitAtTheSameTs) {
  Sorter s;
  s.AddHeartbeat(50);
  auto ready = s.TakeReady();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0].heartbeat);
  EXPECT_EQ(s.Watermark(), 50u);
  s.AddPrewrite(60, "p", 1, 0);
  s.AddHeartbeat(70);  // waits: the prewrite may still commit below 70
  EXPECT_TRUE(s.TakeReady().empty());
  s.AddCommit(60, 70, 1);  // the commit takes the heartbeat's place
  ready = s.TakeReady();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_FALSE(ready[0].heartbeat);
  EXPECT_EQ(ready[0].commit_ts, 70u);
  s.AddHeartbeat(40);  // stale: dropped
  EXPECT_TRUE(s.TakeReady().empty());
}

TEST(SorterTest, WalSegmentsAreHeldUntilTheirRecordsAreEmitted) {
  Sorter s;
  EXPECT_EQ(s.OldestWalSegmentNeeded(), UINT64_MAX);
  s.AddPrewrite(10, "a", 3, 0);
  s.AddPrewrite(20, "b", 4, 0);
  s.AddCommit(20, 25, 5);
  EXPECT_EQ(s.OldestWalSegmentNeeded(), 3u);
  s.AddRollback(10);
  EXPECT_EQ(s.OldestWalSegmentNeeded(), 4u);
  ASSERT_EQ(s.TakeReady().size(), 1u);
  EXPECT_EQ(s.OldestWalSegmentNeeded(), UINT64_MAX);
}

TEST(SorterTest, TakeReadyStopsAfterMaxBytesAndGoesOnNextTime) {
  Sorter s;
  for (uint64_t start = 10; start < 20; ++start) {
    s.AddPrewrite(start, std::string(100, 'x'), 1, 0);
    s.AddCommit(start, start + 100, 1);
  }
  std::vector<uint64_t> got;
  size_t takes = 0;
  for (auto ready = s.TakeReady(250); !ready.empty(); ready = s.TakeReady(250)) {
    EXPECT_LE(ready.size(), 3u);  // the one that reaches the bound is the last one taken
    for (const ReadyTxn& t : ready) got.push_back(t.commit_ts);
    ++takes;
  }
  EXPECT_EQ(takes, 4u);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  EXPECT_EQ(s.emitted(), 119u);
}

TEST(SorterTest, ExpiredListsOnlyOldPrewrites) {
  Sorter s;
  s.AddPrewrite(1, "a", 1, 1000);
  s.AddPrewrite(2, "b", 1, 5000);
  EXPECT_EQ(s.Expired(2000), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(s.Expired(500).empty());
}

TEST(SorterTest, RandomInterleavingsEmitEveryCommitOnceInOrder) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    Sorter s;
    uint64_t clock = 1000;
    std::vector<uint64_t> open;
    std::vector<uint64_t> committed;
    std::vector<uint64_t> emitted;
    for (int step = 0; step < 400; ++step) {
      int action = rng() % 4;
      if (action == 0 || open.empty()) {
        uint64_t start = ++clock;
        ASSERT_OK(s.CheckPrewrite(start));
        s.AddPrewrite(start, "p", 1, 0);
        open.push_back(start);
      } else {
        size_t i = rng() % open.size();
        uint64_t start = open[i];
        open.erase(open.begin() + i);
        if (action == 3) {
          s.AddRollback(start);
        } else {
          uint64_t commit = ++clock;  // taken after the prewrite was acknowledged
          ASSERT_OK(s.CheckCommit(start, commit));
          s.AddCommit(start, commit, 1);
          committed.push_back(commit);
        }
      }
      for (const auto& r : s.TakeReady()) emitted.push_back(r.commit_ts);
    }
    for (uint64_t start : open) s.AddRollback(start);
    for (const auto& r : s.TakeReady()) emitted.push_back(r.commit_ts);
    std::sort(committed.begin(), committed.end());
    EXPECT_TRUE(std::is_sorted(emitted.begin(), emitted.end()));
    EXPECT_EQ(emitted, committed);
  }
}

// What the emitter did before CommittedRecord: parse, set, serialize.
std::string Reserialized(const std::string& prewrite, uint64_t commit_ts) {
  pb::Binlog b;
  EXPECT_TRUE(b.ParseFromString(prewrite));
  b.set_tp(pb::COMMIT);
  b.set_commit_ts(static_cast<int64_t>(commit_ts));
  return b.SerializeAsString();
}

pb::Binlog Transaction() {
  pb::Binlog b;
  b.set_start_ts(446000000000000001);
  b.set_ddl_query("ALTER TABLE t ADD c INT");
  b.set_ddl_schema("db");
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("db");
  t->set_table_name("t");
  t->add_columns()->set_name("id");
  pb::TableMutation* m = t->add_mutations();
  m->set_type(pb::UPDATE);
  m->mutable_row()->add_columns()->set_int64_value(-7);
  m->mutable_before()->add_columns()->set_string_value("x");
  b.mutable_source()->set_file("mariadb-bin.000001");
  return b;
}

TEST(CommittedRecordTest, SameBytesAsReserializing) {
  pb::Binlog unknown;  // fields this proto does not know (TiDB's prewrite_key, ddl_job_id, ...)
  ASSERT_TRUE(unknown.ParseFromString(Transaction().SerializeAsString() +
                                      std::string("\x22\x03key\x38\x07\xc0\x0c\x05", 10)));
  pb::Binlog one_shot = Transaction();
  one_shot.set_tp(pb::COMMIT);
  one_shot.set_commit_ts(446000000000000009);
  pb::Binlog bare;
  bare.set_start_ts(5);
  pb::Binlog negative = Transaction();
  negative.set_start_ts(-3);
  for (const pb::Binlog& b : {Transaction(), unknown, one_shot, bare, negative, pb::Binlog()}) {
    std::string prewrite = b.SerializeAsString();
    for (uint64_t commit_ts : {uint64_t{0}, uint64_t{6}, uint64_t{446000000000000009}}) {
      std::string out;
      ASSERT_TRUE(CommittedRecord(prewrite, commit_ts, &out)) << b.ShortDebugString();
      EXPECT_EQ(out, Reserialized(prewrite, commit_ts)) << b.ShortDebugString();
    }
  }
}

TEST(CommittedRecordTest, RefusesWhatItCannotRewrite) {
  std::string prewrite = Transaction().SerializeAsString();
  std::string out = "untouched";
  // tp again after the changes: it would override the rewritten one.
  EXPECT_FALSE(CommittedRecord(prewrite + std::string("\x08\x02", 2), 9, &out));
  // Fields out of order at the front, a truncated field, a bad wire type for start_ts.
  EXPECT_FALSE(CommittedRecord(std::string("\x10\x05\x08\x01", 4), 9, &out));
  EXPECT_FALSE(CommittedRecord(prewrite.substr(0, prewrite.size() - 3), 9, &out));
  EXPECT_FALSE(CommittedRecord(std::string("\x11\x05\x00\x00\x00\x00\x00\x00\x00", 9), 9, &out));
  EXPECT_EQ(out, "untouched");
}

}  // namespace
}  // namespace binlog::pump
