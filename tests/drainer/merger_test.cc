#include "drainer/merger.h"

#include <gtest/gtest.h>

#include <thread>

namespace binlog::drainer {
namespace {

using std::chrono::milliseconds;

pb::Binlog Commit(uint64_t ts) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_commit_ts(static_cast<int64_t>(ts));
  b.set_start_ts(static_cast<int64_t>(ts - 1));
  return b;
}

pb::Binlog Fake(uint64_t ts) {
  pb::Binlog b;
  b.set_tp(pb::FAKE);
  b.set_commit_ts(static_cast<int64_t>(ts));
  return b;
}

std::vector<uint64_t> PopTs(Merger* m, size_t max = 100) {
  std::vector<MergedBinlog> out;
  m->Pop(&out, max, milliseconds(10));
  std::vector<uint64_t> ts;
  for (const MergedBinlog& item : out) {
    const pb::Binlog& b = item.binlog;
    ts.push_back(static_cast<uint64_t>(b.commit_ts()) | (b.tp() == pb::FAKE ? 1ull << 63 : 0));
  }
  return ts;
}

constexpr uint64_t kFake = 1ull << 63;

TEST(MergerTest, ABinlogWaitsUntilEveryPumpIsPastIt) {
  Merger m(0, 1 << 20);
  m.AddPump("a");
  m.AddPump("b");
  ASSERT_TRUE(m.Push("a", Commit(10)));
  ASSERT_TRUE(m.Push("a", Commit(30)));
  EXPECT_TRUE(PopTs(&m).empty());  // b may still send something below 10
  EXPECT_EQ(m.Status().waiting_on, "b");
  ASSERT_TRUE(m.Push("b", Commit(20)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{10, 20}));  // 30 waits for b past 30
  ASSERT_TRUE(m.Push("b", Fake(40)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{30}));
  // Nothing queued, both past 40 now? a is at 30: the checkpoint may move to 30 only.
  EXPECT_TRUE(PopTs(&m).empty());
  ASSERT_TRUE(m.Push("a", Fake(50)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{40 | kFake}));  // the idle pumps move the checkpoint
  EXPECT_EQ(m.Status().binlogs, 3u);
}

TEST(MergerTest, TheSameCommitTsFromTwoPumpsIsHandedOutOnce) {
  Merger m(0, 1 << 20);
  m.AddPump("a");
  m.AddPump("b");
  ASSERT_TRUE(m.Push("a", Commit(10)));
  ASSERT_TRUE(m.Push("b", Commit(10)));
  ASSERT_TRUE(m.Push("a", Fake(20)));
  ASSERT_TRUE(m.Push("b", Fake(20)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{10}));
  EXPECT_EQ(m.Status().duplicates, 1u);
  EXPECT_EQ(m.Status().disorder, 0u);
}

TEST(MergerTest, ABinlogBelowWhatWasHandedOutIsCountedAndNotApplied) {
  Merger m(0, 1 << 20);
  m.AddPump("a");
  ASSERT_TRUE(m.Push("a", Commit(10)));
  ASSERT_TRUE(m.Push("a", Commit(20)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{10, 20}));
  m.AddPump("late");  // joins with an old binlog
  ASSERT_TRUE(m.Push("late", Commit(15)));
  ASSERT_TRUE(m.Push("late", Commit(25)));
  ASSERT_TRUE(m.Push("a", Fake(30)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{25}));
  EXPECT_EQ(m.Status().disorder, 1u);
}

TEST(MergerTest, AnOfflinePumpIsDroppedOnceReadToItsEnd) {
  Merger m(0, 1 << 20);
  m.AddPump("a");
  m.AddPump("gone");
  ASSERT_TRUE(m.Push("gone", Commit(5)));
  ASSERT_TRUE(m.Push("a", Commit(10)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{5}));  // 10 waits for "gone"
  m.Drain("gone");
  EXPECT_TRUE(PopTs(&m).empty());  // draining, not yet read to its end
  m.Finished("gone");
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{10}));
  EXPECT_EQ(m.Status().pumps.size(), 1u);
}

TEST(MergerTest, OutputStartsAboveTheCheckpoint) {
  Merger m(100, 1 << 20);
  m.AddPump("a");
  ASSERT_TRUE(m.Push("a", Commit(100)));  // at the checkpoint: applied already
  ASSERT_TRUE(m.Push("a", Commit(101)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{101}));
}

TEST(MergerTest, AFullQueueBlocksItsPumpOnlyUntilPopped) {
  Merger m(0, 1000);  // bytes: one binlog of 2000 fills it
  m.AddPump("a");
  pb::Binlog big = Commit(1);
  big.set_ddl_query(std::string(2000, 'x'));
  ASSERT_TRUE(m.Push("a", big));
  std::atomic<bool> pushed{false};
  std::thread t([&] {
    EXPECT_TRUE(m.Push("a", Commit(2)));
    pushed = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(pushed);
  EXPECT_EQ(PopTs(&m, 1), (std::vector<uint64_t>{1}));
  t.join();
  EXPECT_TRUE(pushed);
  m.Stop();
  EXPECT_FALSE(m.Push("a", Commit(3)));
}

TEST(MergerTest, NothingNewerThanTheLastRegistryReadIsHandedOut) {
  Merger m(0, 1 << 20, /*horizon=*/0);
  m.AddPump("a");
  ASSERT_TRUE(m.Push("a", Commit(10)));
  ASSERT_TRUE(m.Push("a", Commit(30)));
  EXPECT_TRUE(PopTs(&m).empty());
  EXPECT_EQ(m.Status().waiting_on, "registry");
  m.SetHorizon(20);  // a pump that registers now commits above 20
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{10}));
  m.AddPump("new");
  ASSERT_TRUE(m.Push("new", Commit(25)));
  ASSERT_TRUE(m.Push("new", Fake(40)));
  m.SetHorizon(50);
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{25, 30}));
  EXPECT_EQ(m.Status().disorder, 0u);
}

TEST(MergerTest, ManyPumpsInterleavedComeOutInOrder) {
  Merger m(0, 4096);
  const int kPumps = 3, kEach = 2000;
  std::vector<std::thread> threads;
  for (int p = 0; p < kPumps; ++p) m.AddPump("p" + std::to_string(p));
  for (int p = 0; p < kPumps; ++p) {
    threads.emplace_back([&m, p] {
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(
            m.Push("p" + std::to_string(p), Commit(static_cast<uint64_t>(i * kPumps + p + 1))));
      }
      ASSERT_TRUE(m.Push("p" + std::to_string(p), Fake(1u << 30)));
    });
  }
  std::vector<uint64_t> got;
  while (got.size() < static_cast<size_t>(kPumps * kEach)) {
    for (uint64_t ts : PopTs(&m, 64)) {
      if (!(ts & kFake)) got.push_back(ts);
    }
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i + 1);
}

// Parts of a transaction (docs/FORMAT.md) leave in order from their pump, nothing between them.
TEST(MergerTest, ATransactionInPartsLeavesWholeWithNothingBetweenItsParts) {
  using segment::MakePartTag;
  Merger m(0, 1 << 20);
  m.AddPump("a");
  m.AddPump("b");
  ASSERT_TRUE(m.Push("a", Commit(10), MakePartTag(0, false)));
  ASSERT_TRUE(m.Push("b", Commit(11)));
  ASSERT_TRUE(m.Push("b", Fake(30)));
  // a's watermark is 10: its first part may go, then the merge waits for a's next part, though
  // b's 11 is ready and a heartbeat moves a past it.
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{10}));
  ASSERT_TRUE(m.Push("a", Fake(20)));
  EXPECT_EQ(PopTs(&m), (std::vector<uint64_t>{}));
  ASSERT_TRUE(m.Push("a", Commit(10), MakePartTag(1, false)));
  ASSERT_TRUE(m.Push("a", Commit(10), MakePartTag(2, true)));
  std::vector<MergedBinlog> out;
  m.Pop(&out, 100, milliseconds(10));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].part, MakePartTag(1, false));
  EXPECT_EQ(out[1].part, MakePartTag(2, true));
  EXPECT_EQ(out[2].binlog.commit_ts(), 11);
  EXPECT_EQ(m.Status().binlogs, 2u);  // the transaction in parts counts once
  EXPECT_EQ(m.Status().duplicates, 0u);
}

TEST(MergerTest, ATransactionInPartsFromASecondPumpIsADuplicateAppliedOnce) {
  using segment::MakePartTag;
  Merger m(0, 1 << 20);
  m.AddPump("a");
  m.AddPump("b");
  for (const char* pump : {"a", "b"}) {
    for (uint32_t k = 0; k < 3; ++k) ASSERT_TRUE(m.Push(pump, Commit(10), MakePartTag(k, k == 2)));
    ASSERT_TRUE(m.Push(pump, Fake(20)));
  }
  std::vector<MergedBinlog> out;
  m.Pop(&out, 100, milliseconds(10));
  ASSERT_EQ(out.size(), 3u);
  for (uint32_t k = 0; k < 3; ++k) EXPECT_EQ(out[k].part, MakePartTag(k, k == 2));
  EXPECT_EQ(m.Status().duplicates, 1u);
  EXPECT_EQ(m.Status().disorder, 0u);
}

}  // namespace
}  // namespace binlog::drainer
